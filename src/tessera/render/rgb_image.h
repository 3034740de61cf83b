// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <vector>

namespace tessera::render {

/// An 8-bit sRGB colour.
struct Rgb {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;

  friend bool operator==(const Rgb&, const Rgb&) = default;
};

inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};

/// Return `under` blended towards `over` by `alpha` in [0, 1] (sRGB, rounded).
Rgb Blend(Rgb under, Rgb over, double alpha);

/// An 8-bit RGB raster, row-major, 3 bytes per pixel, (0, 0) at the top left.
struct RgbImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // height * width * 3 bytes

  /// Make a `height` x `width` image filled with `colour`; throws kInvalidArgument ("height",
  /// "width") for negative sizes or more than kMaxPixels pixels.
  static RgbImage Filled(int64_t height, int64_t width, Rgb colour = kWhite);

  /// Return whether (y, x) lies inside the image.
  bool Contains(int64_t y, int64_t x) const { return y >= 0 && y < height && x >= 0 && x < width; }
  /// Set one pixel; (y, x) must lie inside (TESSERA_DCHECK).
  void Set(int64_t y, int64_t x, Rgb c);
  /// Return one pixel; (y, x) must lie inside (TESSERA_DCHECK).
  Rgb Get(int64_t y, int64_t x) const;
  /// Blend `c` over the pixel with coverage `alpha`; pixels outside are ignored (clipping).
  void BlendPixel(int64_t y, int64_t x, Rgb c, double alpha);
};

/// The largest raster the layer makes (2^28 pixels, 768 MiB of RGB).
inline constexpr int64_t kMaxPixels = int64_t{1} << 28;

}  // namespace tessera::render
