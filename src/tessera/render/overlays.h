// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tessera/core/nd_array.h"
#include "tessera/render/rgb_image.h"

namespace tessera::render {

/// Draw an anti-aliased line `width` pixels wide from (y0, x0) to (y1, x1), in canvas pixels with
/// pixel centres at integers. Parts outside the canvas are clipped; a line with a non-finite end
/// draws nothing. Throws kInvalidArgument ("width") outside (0, 256].
void DrawLine(RgbImage& canvas, double y0, double x0, double y1, double x1, Rgb colour,
              double width = 1.0);

/// Draw a marker at each point (ys[i], xs[i]) given in pixels of an image that was rendered with
/// `coordinate_scale` canvas pixels per image pixel (ImageOptions::scale), pixel centres at
/// integers. `marker` is "circle" (outline), "disc" (filled), "cross" (x) or "plus" (+), `radius`
/// in canvas pixels. Points with NaN coordinates are skipped; markers are clipped to the canvas.
/// Throws kInvalidArgument ("xs", "coordinate_scale", "radius", "marker").
void DrawPoints(RgbImage& canvas, std::span<const double> ys, std::span<const double> xs,
                double coordinate_scale, Rgb colour, int64_t radius, std::string_view marker);

/// Draw the 2-D vector field (vy, vx) (e.g. centre-of-mass shifts, in image pixels) as arrows
/// over an image rendered with `coordinate_scale` canvas pixels per image pixel: one arrow from
/// every `step`-th pixel (starting at step / 2, so arrows sit in the middle of their cell), of
/// length |v| * length_scale image pixels. Non-finite vectors are skipped.
/// Throws kInvalidArgument ("vy", "vx", "coordinate_scale", "step", "length_scale").
void DrawVectors(RgbImage& canvas, const NdArray& vy, const NdArray& vx, double coordinate_scale,
                 int64_t step, double length_scale, Rgb colour);

}  // namespace tessera::render
