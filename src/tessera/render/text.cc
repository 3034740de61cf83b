// SPDX-License-Identifier: MIT
#include "tessera/render/text.h"

#include <fmt/format.h>

#include "tessera/core/error.h"
#include "tessera/render/font_internal.h"

namespace tessera::render {
namespace {

using internal::kGlyphAdvance;
using internal::kGlyphHeight;
using internal::kGlyphWidth;

void CheckScale(int64_t scale) {
  if (scale < 1 || scale > 64) {
    throw Error::InvalidArgument(fmt::format("text scale {} is outside [1, 64]", scale), "scale");
  }
}

// Width of `count` glyphs in unscaled pixels, without the blank column after the last one.
int64_t RunLength(size_t count) {
  return count == 0 ? 0 : static_cast<int64_t>(count) * kGlyphAdvance - 1;
}

// Fill the scale x scale block of font pixel (row, column) of a run `length` pixels long.
void FillBlock(RgbImage& canvas, int64_t y, int64_t x, int64_t row, int64_t column, int64_t length,
               int64_t scale, TextDirection direction, Rgb colour) {
  for (int64_t dy = 0; dy < scale; ++dy) {
    for (int64_t dx = 0; dx < scale; ++dx) {
      const int64_t along = column * scale + dx;  // along the text
      const int64_t across = row * scale + dy;    // from the top of the glyphs downwards
      const int64_t py = direction == TextDirection::kRight ? y + across : y + length - 1 - along;
      const int64_t px = direction == TextDirection::kRight ? x + along : x + across;
      if (canvas.Contains(py, px)) canvas.Set(py, px, colour);
    }
  }
}

}  // namespace

TextSize MeasureText(std::string_view text, int64_t scale, TextDirection direction) {
  CheckScale(scale);
  const int64_t length = RunLength(internal::DecodeUtf8(text).size()) * scale;
  const int64_t thickness = kGlyphHeight * scale;
  if (direction == TextDirection::kRight) return {.height = thickness, .width = length};
  return {.height = length, .width = thickness};
}

void DrawText(RgbImage& canvas, int64_t y, int64_t x, std::string_view text, Rgb colour,
              int64_t scale, TextDirection direction) {
  CheckScale(scale);
  const std::vector<char32_t> codes = internal::DecodeUtf8(text);
  const int64_t length = RunLength(codes.size()) * scale;
  const TextSize box = MeasureText(text, scale, direction);
  // Also keeps the pixel arithmetic below far from overflow for absurd positions.
  if (y >= canvas.height || x >= canvas.width || y < -box.height || x < -box.width) return;
  for (size_t i = 0; i < codes.size(); ++i) {
    const internal::GlyphRows& glyph = internal::Glyph(codes[i]);
    const int64_t pen = static_cast<int64_t>(i) * kGlyphAdvance;
    for (int row = 0; row < kGlyphHeight; ++row) {
      for (int column = 0; column < kGlyphWidth; ++column) {
        if ((glyph[static_cast<size_t>(row)] >> (kGlyphWidth - 1 - column) & 1) == 0) continue;
        FillBlock(canvas, y, x, row, pen + column, length, scale, direction, colour);
      }
    }
  }
}

}  // namespace tessera::render
