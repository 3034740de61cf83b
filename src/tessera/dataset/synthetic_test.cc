// SPDX-License-Identifier: MIT
#include "tessera/dataset/synthetic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tessera/core/error.h"

namespace tessera::dataset {
namespace {

SyntheticParams Small() {
  SyntheticParams params;
  params.scan = {8, 6};
  params.frame = {64, 48};
  params.seed = 3;
  return params;
}

TEST(Synthetic, DeterministicForASeed) {
  auto a = Synthetic4dstem::Make(Small());
  auto b = Synthetic4dstem::Make(Small());
  auto params = Small();
  params.seed = 4;
  auto c = Synthetic4dstem::Make(params);
  std::vector<float> fa(64 * 48), fb(64 * 48), fc(64 * 48);
  a->ReadFrames(17, 18, {0, 64 * 48}, fa.data(), DType::kFloat32);
  b->ReadFrames(17, 18, {0, 64 * 48}, fb.data(), DType::kFloat32);
  c->ReadFrames(17, 18, {0, 64 * 48}, fc.data(), DType::kFloat32);
  EXPECT_EQ(fa, fb);
  EXPECT_NE(fa, fc);
  // Reading a band gives the same pixels as the whole frame.
  std::vector<float> band(48 * 10);
  a->ReadFrames(17, 18, {48 * 5, 48 * 15}, band.data(), DType::kFloat32);
  EXPECT_TRUE(std::equal(band.begin(), band.end(), fa.begin() + 48 * 5));
}

TEST(Synthetic, CentreOfMassFollowsImposedShift) {
  auto params = Small();
  params.num_hot_pixels = 0;
  params.bf_counts = 2000;  // low relative noise
  auto ds = Synthetic4dstem::Make(params);
  std::vector<double> frame(64 * 48);
  for (int64_t f : {0, 13, 29, 47}) {
    ds->ReadFrames(f, f + 1, {0, 64 * 48}, frame.data(), DType::kFloat64);
    double total = 0, my = 0, mx = 0;
    for (int64_t y = 0; y < 64; ++y)
      for (int64_t x = 0; x < 48; ++x) {
        const double v = frame[static_cast<size_t>(y * 48 + x)];
        total += v;
        my += v * static_cast<double>(y);
        mx += v * static_cast<double>(x);
      }
    const auto [cy, cx] = ds->PatternCentre(f / 6, f % 6);
    EXPECT_NEAR(my / total, cy, 0.1) << f;
    EXPECT_NEAR(mx / total, cx, 0.1) << f;
  }
}

TEST(Synthetic, HotPixelsAndBadParameters) {
  auto ds = Synthetic4dstem::Make(Small());
  ASSERT_EQ(ds->hot_pixels().size(), 5u);
  std::vector<uint16_t> frame(64 * 48);
  ds->ReadFrames(0, 1, {0, 64 * 48}, frame.data(), DType::kUint16);
  EXPECT_EQ(frame[static_cast<size_t>(ds->hot_pixels()[0])], 4000);
  auto bad = Small();
  bad.scan = {4};
  EXPECT_THROW(Synthetic4dstem::Make(bad), Error);
  bad = Small();
  bad.dtype = DType::kComplex64;
  EXPECT_THROW(Synthetic4dstem::Make(bad), Error);
}

}  // namespace
}  // namespace tessera::dataset
