// SPDX-License-Identifier: MIT
#include "tessera/render/text.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>

#include "tessera/render/font_internal.h"
#include "tessera/render/test_util_internal.h"

namespace tessera::render {
namespace {

using testing::CountNot;
using testing::ExpectInvalid;

constexpr Rgb kInk{200, 10, 30};

// Expect every changed pixel inside the box at (top, left) of `size`, and some changed.
void ExpectInkInsideOnly(const RgbImage& canvas, int64_t top, int64_t left, TextSize size) {
  int64_t inside = 0;
  for (int64_t y = 0; y < canvas.height; ++y) {
    for (int64_t x = 0; x < canvas.width; ++x) {
      if (canvas.Get(y, x) == kWhite) continue;
      EXPECT_EQ(canvas.Get(y, x), kInk);
      const bool in_box = y >= top && y < top + size.height && x >= left && x < left + size.width;
      EXPECT_TRUE(in_box) << "ink at (" << y << ", " << x << ")";
      inside += in_box;
    }
  }
  EXPECT_GT(inside, 0);
}

TEST(Text, MeasuresGlyphCells) {
  EXPECT_EQ(MeasureText("AB").width, 11);
  EXPECT_EQ(MeasureText("AB").height, 9);
  EXPECT_EQ(MeasureText("AB", 3).width, 33);
  EXPECT_EQ(MeasureText("AB", 3).height, 27);
  EXPECT_EQ(MeasureText("AB", 2, TextDirection::kUp).width, 18);
  EXPECT_EQ(MeasureText("AB", 2, TextDirection::kUp).height, 22);
  EXPECT_EQ(MeasureText("").width, 0);
  EXPECT_EQ(MeasureText("\u00b5m").width, 11);  // one glyph per code point, not per byte
}

TEST(Text, DrawsInsideItsBoxOnly) {
  const std::string text = "Tessera 0-9 {gjpqy} |_| \u00c5 \u00b5m 90\u00b0";
  for (const int64_t scale : {1, 2}) {
    for (const TextDirection direction : {TextDirection::kRight, TextDirection::kUp}) {
      RgbImage canvas = RgbImage::Filled(400, 400);
      DrawText(canvas, 13, 7, text, kInk, scale, direction);
      ExpectInkInsideOnly(canvas, 13, 7, MeasureText(text, scale, direction));
    }
  }
}

TEST(Text, ClipsAtTheCanvasEdges) {
  RgbImage canvas = RgbImage::Filled(20, 30);
  DrawText(canvas, -4, -10, "clipped text", kInk, 2);
  DrawText(canvas, 15, 25, "clipped text", kInk, 2, TextDirection::kUp);
  EXPECT_GT(CountNot(canvas, kWhite), 0);
  const int64_t huge = std::numeric_limits<int64_t>::max();
  for (const auto& [y, x] : {std::pair{huge, huge}, {-huge, -huge}, {huge, 0L}, {0L, -huge}}) {
    RgbImage blank = RgbImage::Filled(20, 30);
    DrawText(blank, y, x, "far away", kInk, 64, TextDirection::kUp);
    EXPECT_EQ(CountNot(blank, kWhite), 0);
  }
}

TEST(Text, EveryPrintableGlyphIsDistinct) {
  std::set<internal::GlyphRows> seen;
  for (char32_t code = 33; code <= 126; ++code) {
    const internal::GlyphRows& glyph = internal::Glyph(code);
    EXPECT_NE(glyph, internal::GlyphRows{}) << "no ink in " << static_cast<char>(code);
    EXPECT_TRUE(seen.insert(glyph).second) << "duplicate glyph " << static_cast<char>(code);
  }
  EXPECT_EQ(internal::Glyph(U' '), internal::GlyphRows{});
  EXPECT_EQ(internal::Glyph(U'\u20ac'), internal::Glyph(U'?'));  // no euro sign
  EXPECT_EQ(internal::Glyph(U'\u03bc'), internal::Glyph(U'\u00b5'));
}

TEST(Text, DescendersUseTheLowRowsOnly) {
  for (const char32_t code : {U'g', U'j', U'p', U'q', U'y'}) {
    EXPECT_NE(internal::Glyph(code)[8] | internal::Glyph(code)[7], 0) << static_cast<char>(code);
  }
  for (char32_t code = U'A'; code <= U'Z'; ++code) {
    EXPECT_EQ(internal::Glyph(code)[7] | internal::Glyph(code)[8], 0) << static_cast<char>(code);
  }
}

TEST(Text, DecodesUtf8AndReplacesMalformedBytes) {
  EXPECT_EQ(internal::DecodeUtf8("a\u00b5\u212b"), (std::vector<char32_t>{U'a', 0xB5, 0x212B}));
  EXPECT_EQ(internal::DecodeUtf8("\xff"
                                 "b"),
            (std::vector<char32_t>{0xFFFD, U'b'}));
  EXPECT_EQ(internal::DecodeUtf8("\xc2"), (std::vector<char32_t>{0xFFFD}));  // cut short
  EXPECT_EQ(internal::DecodeUtf8("\xe2\x28\xa1"), (std::vector<char32_t>{0xFFFD, U'(', 0xFFFD}));
}

TEST(Text, RejectsBadScales) {
  RgbImage canvas = RgbImage::Filled(10, 10);
  ExpectInvalid([&] { DrawText(canvas, 0, 0, "x", kInk, 0); }, "scale");
  ExpectInvalid([] { MeasureText("x", 65); }, "scale");
}

}  // namespace
}  // namespace tessera::render
