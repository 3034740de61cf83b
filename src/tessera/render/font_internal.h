// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tessera::render::internal {

/// Glyph cell of the built-in font: 5 columns; 7 rows above the baseline and 2 below it.
inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 9;
/// Horizontal distance from one glyph to the next (one blank column between glyphs).
inline constexpr int kGlyphAdvance = 6;

/// One glyph: a row per bit pattern, bit 4 is the leftmost column.
using GlyphRows = std::array<uint8_t, kGlyphHeight>;

/// Return the glyph of a code point: printable ASCII, plus U+00B0 (degree), U+00B5 and U+03BC
/// (micro), U+00C5 and U+212B (angstrom); anything else is drawn as '?'.
const GlyphRows& Glyph(char32_t code);

/// Decode UTF-8 into code points; a malformed byte becomes U+FFFD (drawn as '?').
std::vector<char32_t> DecodeUtf8(std::string_view text);

}  // namespace tessera::render::internal
