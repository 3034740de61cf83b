// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tessera/core/nd_array.h"
#include "tessera/render/rgb_image.h"

namespace tessera::render {

/// How RenderImage maps values to colours.
struct ImageOptions {
  std::string colormap = "gray";
  std::optional<double> vmin;      // value at the low end of the colormap; default: percentile_low
  std::optional<double> vmax;      // value at the high end; default: percentile_high
  double percentile_low = 0.0;     // of the finite values (positive ones with log_scale), in %
  double percentile_high = 100.0;  // e.g. 0.5 / 99.5 to ignore hot and dead pixels
  bool log_scale = false;          // map log10(value); values <= 0 take the low end
  int64_t scale = 1;               // integer upscaling (nearest neighbour), 1..64
};

/// The values at the two ends of the colormap.
struct DisplayRange {
  double low = 0.0;
  double high = 1.0;
  bool log_scale = false;
};

/// Return the range RenderImage uses: vmin and vmax where set, otherwise the percentiles of the
/// finite values (NumPy's linear interpolation). When no value qualifies the range is [0, 1]
/// ([1, 10] for log). When one end is set and the data lie beyond it, the range collapses there.
/// Throws kInvalidArgument ("image", "vmin", "vmax", "percentile_low", "percentile_high").
DisplayRange ResolveDisplayRange(const NdArray& image2d, const ImageOptions& options);

/// Render a real 2-D array through a colormap, row 0 at the top. NaN becomes kBadColour; values
/// outside the range take the colour of the nearer end; an empty range (low == high, e.g. a
/// constant image) maps values equal to it to the middle colour, never dividing by zero.
/// Throws kInvalidArgument ("image" for rank != 2, complex data or no pixels; "colormap",
/// "scale" and the fields of ResolveDisplayRange).
RgbImage RenderImage(const NdArray& image2d, const ImageOptions& options);

/// Draw a vertical colour bar (high end at the top) filling the box at (top, left) of
/// `height` x `width` pixels, outlined in black, with tick marks and labels for the ends and for
/// nice values in between to the right of the box (clipped to the canvas).
/// Throws kInvalidArgument ("colormap", "height", "width", "range").
void DrawColourbar(RgbImage& canvas, int64_t top, int64_t left, int64_t height, int64_t width,
                   std::string_view colormap, const DisplayRange& range);

/// Return `image` widened on the right by a white strip holding a colour bar of its full height
/// and its labels (DrawColourbar). Throws kInvalidArgument ("image", "colormap", "range").
RgbImage AppendColourbar(const RgbImage& image, std::string_view colormap,
                         const DisplayRange& range);

}  // namespace tessera::render
