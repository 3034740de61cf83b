// SPDX-License-Identifier: MIT
#include "tessera/render/rgb_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tessera/core/error.h"

namespace tessera::render {
namespace {

uint8_t Mix(uint8_t under, uint8_t over, double alpha) {
  return static_cast<uint8_t>(std::lround(under + (over - under) * alpha));
}

size_t Offset(const RgbImage& image, int64_t y, int64_t x) {
  return static_cast<size_t>((y * image.width + x) * 3);
}

}  // namespace

Rgb Blend(Rgb under, Rgb over, double alpha) {
  if (!(alpha > 0.0)) return under;  // also NaN
  if (alpha >= 1.0) return over;
  return {Mix(under.r, over.r, alpha), Mix(under.g, over.g, alpha), Mix(under.b, over.b, alpha)};
}

RgbImage RgbImage::Filled(int64_t height, int64_t width, Rgb colour) {
  if (height < 0) throw Error::InvalidArgument(fmt::format("negative height {}", height), "height");
  if (width < 0) throw Error::InvalidArgument(fmt::format("negative width {}", width), "width");
  if (width > 0 && height > kMaxPixels / width) {
    throw Error::InvalidArgument(
        fmt::format("{} x {} pixels exceed the limit of {}", height, width, kMaxPixels), "width");
  }
  RgbImage image{.height = height, .width = width};
  image.pixels.resize(static_cast<size_t>(height * width * 3));
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    image.pixels[i] = colour.r;
    image.pixels[i + 1] = colour.g;
    image.pixels[i + 2] = colour.b;
  }
  return image;
}

void RgbImage::Set(int64_t y, int64_t x, Rgb c) {
  TESSERA_DCHECK(Contains(y, x), "pixel outside the image");
  const size_t at = Offset(*this, y, x);
  pixels[at] = c.r;
  pixels[at + 1] = c.g;
  pixels[at + 2] = c.b;
}

Rgb RgbImage::Get(int64_t y, int64_t x) const {
  TESSERA_DCHECK(Contains(y, x), "pixel outside the image");
  const size_t at = Offset(*this, y, x);
  return {pixels[at], pixels[at + 1], pixels[at + 2]};
}

void RgbImage::BlendPixel(int64_t y, int64_t x, Rgb c, double alpha) {
  if (!Contains(y, x)) return;
  Set(y, x, Blend(Get(y, x), c, alpha));
}

}  // namespace tessera::render
