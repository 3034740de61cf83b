// SPDX-License-Identifier: MIT
#include "tessera/render/render_image.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "tessera/render/colormap.h"
#include "tessera/render/test_util_internal.h"

namespace tessera::render {
namespace {

using testing::ExpectInvalid;
using testing::MakeArray;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

ImageOptions Fixed(const char* colormap, double vmin, double vmax) {
  ImageOptions options;
  options.colormap = colormap;
  options.vmin = vmin;
  options.vmax = vmax;
  return options;
}

TEST(RenderImage, FixedRangeGivesExactEndColours) {
  const NdArray image = MakeArray({2, 3}, {0, 10, 5, -3, 12, 7.5});
  const RgbImage out = RenderImage(image, Fixed("viridis", 0, 10));
  ASSERT_EQ(out.height, 2);
  ASSERT_EQ(out.width, 3);
  EXPECT_EQ(out.Get(0, 0), MapColour("viridis", 0.0));
  EXPECT_EQ(out.Get(0, 1), MapColour("viridis", 1.0));
  EXPECT_EQ(out.Get(0, 2), MapColour("viridis", 0.5));
  EXPECT_EQ(out.Get(1, 0), MapColour("viridis", 0.0));  // below vmin
  EXPECT_EQ(out.Get(1, 1), MapColour("viridis", 1.0));  // above vmax
  EXPECT_EQ(out.Get(1, 2), MapColour("viridis", 0.75));
}

TEST(RenderImage, GrayRampIsExact) {
  std::vector<double> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<size_t>(i)] = i;
  const RgbImage out = RenderImage(MakeArray({16, 16}, ramp), Fixed("gray", 0, 255));
  for (int i = 0; i < 256; ++i) {
    const auto level = static_cast<uint8_t>(i);
    ASSERT_EQ(out.Get(i / 16, i % 16), (Rgb{level, level, level})) << i;
  }
}

TEST(RenderImage, AutoscalesBetweenPercentilesOfFiniteValues) {
  std::vector<double> values(100);
  for (int i = 0; i < 100; ++i) values[static_cast<size_t>(i)] = i;
  values.push_back(kNaN);
  values.push_back(kInf);
  values.push_back(-kInf);
  values.push_back(0.0);
  const NdArray image = MakeArray({2, 52}, values);
  ImageOptions options;
  options.percentile_low = 10;
  options.percentile_high = 90;
  // The 101 finite values sorted are 0, 0, 1, ..., 99: np.percentile gives 9 and 89.
  const DisplayRange range = ResolveDisplayRange(image, options);
  EXPECT_DOUBLE_EQ(range.low, 9.0);
  EXPECT_DOUBLE_EQ(range.high, 89.0);
  const RgbImage out = RenderImage(image, options);
  EXPECT_EQ(out.Get(0, 5), MapColour("gray", 0.0));   // 5 < p10
  EXPECT_EQ(out.Get(0, 49), MapColour("gray", 0.5));  // (49 - 9) / 80
  EXPECT_EQ(out.Get(1, 43), MapColour("gray", 1.0));  // 95 > p90
  EXPECT_EQ(out.Get(1, 48), kBadColour);              // NaN
  EXPECT_EQ(out.Get(1, 49), MapColour("gray", 1.0));  // +inf
  EXPECT_EQ(out.Get(1, 50), MapColour("gray", 0.0));  // -inf
}

TEST(RenderImage, InterpolatesPercentilesLikeNumpy) {
  const NdArray image = MakeArray({1, 4}, {10, 0, 30, 20});
  ImageOptions options;
  options.percentile_low = 25;   // np.percentile([0, 10, 20, 30], 25) == 7.5
  options.percentile_high = 90;  // == 27.0
  const DisplayRange range = ResolveDisplayRange(image, options);
  EXPECT_DOUBLE_EQ(range.low, 7.5);
  EXPECT_DOUBLE_EQ(range.high, 27.0);
  const DisplayRange full = ResolveDisplayRange(image, ImageOptions{});
  EXPECT_EQ(full.low, 0.0);
  EXPECT_EQ(full.high, 30.0);
}

TEST(RenderImage, ConstantAndEmptyRangesTakeTheMiddleColour) {
  const NdArray flat = MakeArray({3, 3}, std::vector<double>(9, 4.25));
  for (const char* colormap : {"gray", "magma", "coolwarm"}) {
    ImageOptions options;
    options.colormap = colormap;
    const RgbImage out = RenderImage(flat, options);
    EXPECT_EQ(out.Get(1, 1), MapColour(colormap, 0.5)) << colormap;
  }
  const NdArray all_nan = MakeArray({1, 2}, {kNaN, kNaN});
  EXPECT_EQ(RenderImage(all_nan, ImageOptions{}).Get(0, 1), kBadColour);
  // vmin above every value: the range collapses onto vmin, all values fall below it.
  ImageOptions above;
  above.vmin = 10;
  const RgbImage low = RenderImage(MakeArray({1, 3}, {1, 2, 3}), above);
  EXPECT_EQ(low.Get(0, 2), MapColour("gray", 0.0));
  EXPECT_EQ(ResolveDisplayRange(MakeArray({1, 3}, {1, 2, 3}), above).high, 10.0);
}

TEST(RenderImage, LogScaleMapsDecadesEvenly) {
  const NdArray image = MakeArray({2, 4}, {1, 10, 100, 1000, 0, -5, kNaN, 1e6});
  ImageOptions options = Fixed("gray", 1, 1000);
  options.log_scale = true;
  const RgbImage out = RenderImage(image, options);
  EXPECT_EQ(out.Get(0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(out.Get(0, 1), (Rgb{85, 85, 85}));
  EXPECT_EQ(out.Get(0, 2), (Rgb{170, 170, 170}));
  EXPECT_EQ(out.Get(0, 3), (Rgb{255, 255, 255}));
  EXPECT_EQ(out.Get(1, 0), (Rgb{0, 0, 0}));  // zero and negative values: the low end
  EXPECT_EQ(out.Get(1, 1), (Rgb{0, 0, 0}));
  EXPECT_EQ(out.Get(1, 2), kBadColour);
  EXPECT_EQ(out.Get(1, 3), (Rgb{255, 255, 255}));
  ImageOptions autoscale;
  autoscale.log_scale = true;  // the range comes from the positive values only
  const DisplayRange range = ResolveDisplayRange(image, autoscale);
  EXPECT_EQ(range.low, 1.0);
  EXPECT_EQ(range.high, 1e6);
}

TEST(RenderImage, UpscalesByPixelReplication) {
  NdArray image(DType::kUint16, {2, 3});
  auto flat = image.flat<uint16_t>();
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<uint16_t>(i * 100);
  ImageOptions options;
  options.scale = 3;
  const RgbImage out = RenderImage(image, options);
  ASSERT_EQ(out.height, 6);
  ASSERT_EQ(out.width, 9);
  for (int64_t y = 0; y < 6; ++y) {
    for (int64_t x = 0; x < 9; ++x) {
      const double t = static_cast<double>((y / 3) * 3 + x / 3) / 5.0;
      EXPECT_EQ(out.Get(y, x), MapColour("gray", t)) << y << ", " << x;
    }
  }
}

TEST(RenderImage, AcceptsEveryRealDtype) {
  for (const DType dtype : {DType::kBool, DType::kInt8, DType::kUint8, DType::kInt16,
                            DType::kUint16, DType::kInt32, DType::kUint32, DType::kInt64,
                            DType::kUint64, DType::kFloat32, DType::kFloat64}) {
    NdArray image(dtype, {1, 2});
    image.Fill(1.0);  // pixel 0 stays 0
    NdArray zero(dtype, {1, 1});
    std::memcpy(image.raw(), zero.raw(), static_cast<size_t>(SizeOf(dtype)));
    const RgbImage out = RenderImage(image, ImageOptions{});
    EXPECT_EQ(out.Get(0, 0), (Rgb{0, 0, 0})) << Name(dtype);
    EXPECT_EQ(out.Get(0, 1), (Rgb{255, 255, 255})) << Name(dtype);
  }
}

TEST(RenderImage, RejectsBadInput) {
  const NdArray image = MakeArray({2, 2}, {1, 2, 3, 4});
  ExpectInvalid([] { RenderImage(MakeArray({4}, {1, 2, 3, 4}), {}); }, "image");
  ExpectInvalid([] { RenderImage(MakeArray({1, 2, 2}, {1, 2, 3, 4}), {}); }, "image");
  ExpectInvalid([] { RenderImage(NdArray(DType::kComplex128, {2, 2}), {}); }, "image");
  ExpectInvalid([] { RenderImage(NdArray(DType::kFloat32, {0, 5}), {}); }, "image");
  ExpectInvalid([&] { RenderImage(image, {.colormap = "jet"}); }, "colormap");
  ExpectInvalid([&] { RenderImage(image, {.scale = 0}); }, "scale");
  ExpectInvalid([&] { RenderImage(image, {.scale = 65}); }, "scale");
  ExpectInvalid([&] { RenderImage(image, Fixed("gray", 2, 1)); }, "vmax");
  ExpectInvalid([&] { RenderImage(image, {.vmin = kNaN}); }, "vmin");
  ExpectInvalid([&] { RenderImage(image, {.vmax = kInf}); }, "vmax");
  ExpectInvalid([&] { RenderImage(image, {.vmin = 0.0, .log_scale = true}); }, "vmin");
  ExpectInvalid([&] { RenderImage(image, {.percentile_low = -1}); }, "percentile_low");
  ExpectInvalid([&] { RenderImage(image, {.percentile_low = 60, .percentile_high = 50}); },
                "percentile_high");
  ExpectInvalid([&] { RenderImage(image, {.percentile_high = kNaN}); }, "percentile_high");
}

TEST(Colourbar, AppendsABarWithLabels) {
  const NdArray image = MakeArray({1, 2}, {283.47, 310.21});
  ImageOptions options;
  options.colormap = "magma";
  options.scale = 60;
  const RgbImage rendered = RenderImage(image, options);
  const DisplayRange range = ResolveDisplayRange(image, options);
  const RgbImage out = AppendColourbar(rendered, "magma", range);
  ASSERT_EQ(out.height, rendered.height);
  ASSERT_GT(out.width, rendered.width + 30);
  EXPECT_EQ(out.Get(30, 30), rendered.Get(30, 30));
  EXPECT_EQ(out.Get(30, 90), rendered.Get(30, 90));
  // The bar starts 12 pixels to the right of the image, 16 wide; its top is the high end.
  const int64_t bar_x = rendered.width + 12 + 8;
  EXPECT_EQ(out.Get(6, bar_x), MapColour("magma", 1.0));
  EXPECT_EQ(out.Get(out.height - 7, bar_x), MapColour("magma", 0.0));
  // Labels: dark text pixels right of the bar.
  int64_t ink = 0;
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = rendered.width + 12 + 16 + 4; x < out.width; ++x)
      ink += out.Get(y, x) == kBlack;
  }
  EXPECT_GT(ink, 50);
}

TEST(Colourbar, RejectsBadRanges) {
  const RgbImage image = RgbImage::Filled(50, 50);
  ExpectInvalid([&] { AppendColourbar(image, "gray", {.low = 1, .high = 0}); }, "range");
  ExpectInvalid([&] { AppendColourbar(image, "gray", {.low = 0, .high = 1, .log_scale = true}); },
                "range");
  ExpectInvalid([&] { AppendColourbar(RgbImage{}, "gray", {}); }, "image");
  ExpectInvalid([&] { AppendColourbar(image, "nope", {}); }, "colormap");
  RgbImage canvas = RgbImage::Filled(50, 50);
  ExpectInvalid([&] { DrawColourbar(canvas, 0, 0, 1, 10, "gray", {}); }, "height");
}

}  // namespace
}  // namespace tessera::render
