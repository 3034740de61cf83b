// SPDX-License-Identifier: MIT
#include "tessera/render/overlays.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tessera/render/test_util_internal.h"

namespace tessera::render {
namespace {

using testing::CountNot;
using testing::ExpectInvalid;
using testing::MakeArray;

constexpr Rgb kRed{255, 0, 0};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Expect every changed pixel within `reach` of (y, x) (Chebyshev distance), and some changed.
void ExpectInkNear(const RgbImage& canvas, double y, double x, double reach) {
  int64_t changed = 0;
  for (int64_t py = 0; py < canvas.height; ++py) {
    for (int64_t px = 0; px < canvas.width; ++px) {
      if (canvas.Get(py, px) == kWhite) continue;
      ++changed;
      EXPECT_LE(std::abs(py - y), reach) << "ink at (" << py << ", " << px << ")";
      EXPECT_LE(std::abs(px - x), reach) << "ink at (" << py << ", " << px << ")";
    }
  }
  EXPECT_GT(changed, 0);
}

TEST(DrawLine, CoversItsPixelsFully) {
  RgbImage canvas = RgbImage::Filled(10, 20);
  DrawLine(canvas, 4, 2, 4, 17, kRed, 1.0);
  for (int64_t x = 2; x <= 17; ++x) EXPECT_EQ(canvas.Get(4, x), kRed) << x;
  EXPECT_EQ(canvas.Get(4, 0), kWhite);
  EXPECT_EQ(canvas.Get(2, 10), kWhite);
  EXPECT_EQ(canvas.Get(6, 10), kWhite);
}

TEST(DrawLine, ClipsHugeAndSkipsNonFiniteEnds) {
  RgbImage canvas = RgbImage::Filled(10, 20);
  DrawLine(canvas, 5, -1e300, 5, 1e300, kRed, 1.0);  // crosses the whole canvas
  for (int64_t x = 0; x < 20; ++x) EXPECT_EQ(canvas.Get(5, x), kRed) << x;
  RgbImage blank = RgbImage::Filled(10, 20);
  DrawLine(blank, 5, 5, kNaN, 5, kRed);
  DrawLine(blank, 5, 5, 5, kInf, kRed);
  DrawLine(blank, -1e300, -1e300, -1e299, -1e300, kRed);
  DrawLine(blank, 1e308, -1e308, -1e308, 1e308, kRed);  // differences overflow: skipped
  EXPECT_EQ(CountNot(blank, kWhite), 0);
}

TEST(DrawPoints, DrawsEachMarkerAroundItsPoint) {
  for (const char* marker : {"circle", "disc", "cross", "plus"}) {
    RgbImage canvas = RgbImage::Filled(50, 60);
    const double ys[] = {20};
    const double xs[] = {30};
    DrawPoints(canvas, ys, xs, 1.0, kRed, 5, marker);
    ExpectInkNear(canvas, 20, 30, 5 + 1.5);
    const Rgb centre = std::string_view(marker) == "circle" ? kWhite : kRed;  // a ring is hollow
    EXPECT_EQ(canvas.Get(20, 30), centre) << marker;
  }
}

TEST(DrawPoints, ScalesImageCoordinatesToTheCanvas) {
  RgbImage canvas = RgbImage::Filled(40, 40);
  const double ys[] = {2};
  const double xs[] = {3};
  DrawPoints(canvas, ys, xs, 4.0, kRed, 2, "disc");
  // Image pixel (2, 3) covers canvas rows 8..11 and columns 12..15; its centre is (9.5, 13.5).
  EXPECT_EQ(canvas.Get(9, 13), kRed);
  EXPECT_EQ(canvas.Get(10, 14), kRed);
  EXPECT_EQ(canvas.Get(9, 14), kRed);
  EXPECT_EQ(canvas.Get(10, 13), kRed);
  ExpectInkNear(canvas, 9.5, 13.5, 3.5);
}

TEST(DrawPoints, ClipsAndSkipsPointsOutsideOrNotFinite) {
  RgbImage canvas = RgbImage::Filled(30, 30);
  const double ys[] = {-2, kNaN, 1e300, -1e300, kInf, 15, 29, 5e18};
  const double xs[] = {-2, 3, 4, 5, 6, kNaN, 31, -9e18};
  for (const char* marker : {"circle", "disc", "cross", "plus"}) {
    DrawPoints(canvas, ys, xs, 1.0, kRed, 3, marker);
  }
  // Only the points at (-2, -2) and (29, 31) reach into the canvas, at its corners.
  for (int64_t y = 0; y < 30; ++y) {
    for (int64_t x = 0; x < 30; ++x) {
      if (canvas.Get(y, x) == kWhite) continue;
      EXPECT_TRUE((y <= 2 && x <= 2) || (y >= 25 && x >= 26)) << y << ", " << x;
    }
  }
  EXPECT_NE(canvas.Get(0, 0), kWhite);
  EXPECT_NE(canvas.Get(29, 29), kWhite);
}

TEST(DrawVectors, DrawsOneArrowPerCell) {
  // A uniform field pointing along +x, one arrow every 4 pixels, rendered at scale 2.
  const NdArray vy = MakeArray({8, 8}, std::vector<double>(64, 0.0));
  const NdArray vx = MakeArray({8, 8}, std::vector<double>(64, 1.0));
  RgbImage canvas = RgbImage::Filled(16, 16);
  DrawVectors(canvas, vy, vx, 2.0, 4, 2.5, kRed);
  // Arrows start at image pixels (2, 2), (2, 6), (6, 2), (6, 6): canvas (4.5, 4.5) and so on,
  // and run 5 canvas pixels to the right.
  for (const double y0 : {4.5, 12.5}) {
    for (const double x0 : {4.5, 12.5}) {
      for (double x = x0 + 0.5; x <= std::min(x0 + 4.5, 15.0); x += 1.0) {
        const Rgb below = canvas.Get(static_cast<int64_t>(y0 + 0.5), static_cast<int64_t>(x));
        const Rgb above = canvas.Get(static_cast<int64_t>(y0 - 0.5), static_cast<int64_t>(x));
        EXPECT_TRUE(below != kWhite && above != kWhite) << y0 << ", " << x;
      }
    }
  }
  EXPECT_EQ(canvas.Get(8, 1), kWhite);  // between the rows of arrows
}

TEST(DrawVectors, ClipsHugeAndSkipsNonFiniteVectors) {
  const NdArray vy = MakeArray({2, 3}, {kNaN, 1e300, -1e300, 0, kInf, 0.1});
  const NdArray vx = MakeArray({2, 3}, {1, -1e300, 1e300, 0, 1, kNaN});
  RgbImage canvas = RgbImage::Filled(12, 12);
  DrawVectors(canvas, vy, vx, 4.0, 1, 1e6, kRed);
  EXPECT_GT(CountNot(canvas, kWhite), 0);  // the two huge ones cross the canvas, clipped
  RgbImage small = RgbImage::Filled(3, 3);
  DrawVectors(small, vy, vx, 100.0, 1, 1.0, kRed);  // every start lies outside the canvas
}

TEST(Overlays, RejectBadArguments) {
  RgbImage canvas = RgbImage::Filled(8, 8);
  const double one[] = {1};
  const double two[] = {1, 2};
  ExpectInvalid([&] { DrawPoints(canvas, one, two, 1.0, kRed, 2, "disc"); }, "xs");
  ExpectInvalid([&] { DrawPoints(canvas, one, one, 0.0, kRed, 2, "disc"); }, "coordinate_scale");
  ExpectInvalid([&] { DrawPoints(canvas, one, one, kNaN, kRed, 2, "disc"); }, "coordinate_scale");
  ExpectInvalid([&] { DrawPoints(canvas, one, one, 1.0, kRed, 0, "disc"); }, "radius");
  ExpectInvalid([&] { DrawPoints(canvas, one, one, 1.0, kRed, 2, "star"); }, "marker");
  ExpectInvalid([&] { DrawLine(canvas, 0, 0, 1, 1, kRed, 0.0); }, "width");
  const NdArray field = MakeArray({4, 4}, std::vector<double>(16, 1.0));
  const NdArray other = MakeArray({4, 5}, std::vector<double>(20, 1.0));
  const NdArray cube = MakeArray({2, 2, 2}, std::vector<double>(8, 1.0));
  const NdArray complex(DType::kComplex64, {4, 4});
  ExpectInvalid([&] { DrawVectors(canvas, cube, field, 1.0, 1, 1.0, kRed); }, "vy");
  ExpectInvalid([&] { DrawVectors(canvas, complex, field, 1.0, 1, 1.0, kRed); }, "vy");
  ExpectInvalid([&] { DrawVectors(canvas, field, other, 1.0, 1, 1.0, kRed); }, "vx");
  ExpectInvalid([&] { DrawVectors(canvas, field, field, -1.0, 1, 1.0, kRed); }, "coordinate_scale");
  ExpectInvalid([&] { DrawVectors(canvas, field, field, 1.0, 0, 1.0, kRed); }, "step");
  ExpectInvalid([&] { DrawVectors(canvas, field, field, 1.0, 1, kInf, kRed); }, "length_scale");
}

}  // namespace
}  // namespace tessera::render
