// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string_view>

#include "tessera/render/rgb_image.h"

namespace tessera::render {

/// Which way text runs: left to right, or bottom to top (rotated a quarter turn
/// counter-clockwise, for vertical axis labels).
enum class TextDirection : uint8_t { kRight, kUp };

/// The size of a text's box in pixels.
struct TextSize {
  int64_t height = 0;
  int64_t width = 0;
};

/// Return the box DrawText fills for `text` (UTF-8). Glyphs are 5 x 9 pixels (2 rows below the
/// baseline) times `scale`, 6 x `scale` apart. Throws kInvalidArgument ("scale") outside [1, 64].
TextSize MeasureText(std::string_view text, int64_t scale = 1,
                     TextDirection direction = TextDirection::kRight);

/// Draw `text` (UTF-8) with the built-in bitmap font into the box whose top left corner is
/// (y, x); pixels outside the canvas are clipped. Printable ASCII plus degree, micro and angstrom
/// signs have glyphs; other characters are drawn as '?'. Throws kInvalidArgument ("scale").
void DrawText(RgbImage& canvas, int64_t y, int64_t x, std::string_view text, Rgb colour,
              int64_t scale = 1, TextDirection direction = TextDirection::kRight);

}  // namespace tessera::render
