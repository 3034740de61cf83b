// SPDX-License-Identifier: MIT
#include "tessera/ops/radial/radial_profile_udf.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/roi.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/ops/testing_internal.h"

namespace tessera::ops {
namespace {

using testing::ExpectInvalidArgument;
using testing::Get;
using testing::Values;

constexpr int64_t kNy = 3, kNx = 4, kSy = 11, kSx = 13, kPixels = kSy * kSx;

/// Brute-force mean per bin; NaN for empty bins and frames outside the ROI.
std::vector<double> BruteForce(const NdArray& data, double cy, double cx, double width,
                               int64_t bins, const dataset::Roi* roi) {
  std::vector<double> out;
  for (int64_t f = 0; f < kNy * kNx; ++f) {
    std::vector<double> sum(static_cast<size_t>(bins), 0), count(static_cast<size_t>(bins), 0);
    for (int64_t y = 0; y < kSy; ++y) {
      for (int64_t x = 0; x < kSx; ++x) {
        const auto bin = static_cast<int64_t>(std::floor(std::hypot(y - cy, x - cx) / width));
        if (bin >= bins) continue;
        sum[static_cast<size_t>(bin)] += data.GetAsDouble(f * kPixels + y * kSx + x);
        count[static_cast<size_t>(bin)] += 1;
      }
    }
    for (int64_t b = 0; b < bins; ++b) {
      const bool skip = (roi != nullptr && !roi->selected(f)) || count[static_cast<size_t>(b)] == 0;
      out.push_back(skip ? std::nan("") : sum[static_cast<size_t>(b)] / count[static_cast<size_t>(b)]);
    }
  }
  return out;
}

void ExpectProfile(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << i;
    } else {
      EXPECT_NEAR(actual[i], expected[i], 1e-6 * std::abs(expected[i])) << i;
    }
  }
}

TEST(RadialProfile, AgreesWithBruteForce) {
  const auto roi = dataset::Roi::Parse(std::vector<int64_t>{kNy, kNx}, "1:3,0:3");
  for (DType dtype : {DType::kFloat32, DType::kUint16}) {
    NdArray data = testing::MakeRandomArray(dtype, {kNy, kNx, kSy, kSx}, 8, 500.0);
    auto ds = dataset::MakeMemoryDataset(data.Clone(), 2);
    for (bool tiny : {false, true}) {
      for (const dataset::Roi* r : {static_cast<const dataset::Roi*>(nullptr), &roi}) {
        RadialProfileUdf udf({.cy = 5.2, .cx = 6.1, .bins = 5, .bin_width = 1.5});
        const auto results = testing::Run(*ds, udf, {.roi = r, .partition_bytes = 5 * kPixels * 4, .tiny_tiles = tiny});
        const auto& profile = Get(results, "profile");
        ASSERT_EQ(profile.data.shape(), (std::vector<int64_t>{kNy, kNx, 5}));
        EXPECT_EQ(profile.axes.back().name, "radius");
        EXPECT_DOUBLE_EQ(profile.axes.back().offset, 0.75);
        EXPECT_DOUBLE_EQ(profile.axes.back().scale, 1.5);
        ExpectProfile(Values(profile), BruteForce(data, 5.2, 6.1, 1.5, 5, r));
      }
    }
  }
}

TEST(RadialProfile, DefaultsCoverTheWholeFrame) {
  NdArray data = testing::MakeRandomArray(DType::kFloat32, {kNy, kNx, kSy, kSx}, 8, 500.0);
  auto ds = dataset::MakeMemoryDataset(data.Clone(), 2);
  RadialProfileUdf udf;
  const auto results = testing::Run(*ds, udf);
  // Centre (5, 6): farthest pixel at hypot(5, 6) = 7.8 -> bins 0..7.
  EXPECT_EQ(udf.bins(), 8);
  ExpectProfile(Values(Get(results, "profile")), BruteForce(data, 5, 6, 1, 8, nullptr));
  RadialProfileUdf fixed({.bins = 4, .r_max = 6});
  testing::Run(*ds, fixed);
  EXPECT_DOUBLE_EQ(fixed.bin_width(), 1.5);
}

TEST(RadialProfile, BitIdenticalOnEveryExecutor) {
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kUint16, {kNy, kNx, kSy, kSx}, 3), 2);
  RadialProfileUdf reference_udf({.bin_width = 2});
  const auto reference = testing::Run(*ds, reference_udf, {.partition_bytes = 2 * kPixels * 4});
  for (testing::RunConfig config : testing::AllExecutors()) {
    config.partition_bytes = 2 * kPixels * 4;
    RadialProfileUdf udf({.bin_width = 2});
    testing::ExpectBitIdentical(reference, testing::Run(*ds, udf, config));
  }
}

TEST(RadialProfile, BadParams) {
  OperatorRegistry registry;
  RegisterRadialOps(registry);
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {2, 2, 8, 8}, 4), 2);
  auto run = [&](std::map<std::string, std::string> params) {
    auto udf = registry.Make("radial-profile", params);
    testing::Run(*ds, *udf);
  };
  ExpectInvalidArgument([&] { run({{"cy", "9"}}); }, "cy");
  ExpectInvalidArgument([&] { run({{"cx", "-1"}}); }, "cx");
  ExpectInvalidArgument([&] { run({{"bins", "0"}}); }, "bins");
  ExpectInvalidArgument([&] { run({{"bins", "2.5"}}); }, "bins");
  ExpectInvalidArgument([&] { run({{"bin_width", "-1"}}); }, "bin_width");
  ExpectInvalidArgument([&] { run({{"bins", "3"}, {"r_max", "4"}, {"bin_width", "1"}}); }, "bin_width");
  run({{"bins", "3"}, {"r_max", "4"}});
}

}  // namespace
}  // namespace tessera::ops
