// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/roi.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/ops/stats/frame_sum_udf.h"
#include "tessera/ops/stats/noop_udf.h"
#include "tessera/ops/stats/stats_udf.h"
#include "tessera/ops/stats/sum_udf.h"
#include "tessera/ops/testing_internal.h"

namespace tessera::ops {
namespace {

using testing::Get;
using testing::RunConfig;
using testing::Values;

constexpr int64_t kNy = 5, kNx = 7, kSy = 6, kSx = 9;
constexpr int64_t kFrames = kNy * kNx, kPixels = kSy * kSx;

/// Data with a large mean and a small spread, to expose naive variance formulas.
NdArray MakeData(DType dtype) {
  NdArray data = testing::MakeRandomArray(dtype, {kNy, kNx, kSy, kSx}, 7, 50.0);
  for (int64_t i = 0; i < data.size(); ++i) {
    const double v = data.GetAsDouble(i) + 10000.0;
    if (dtype == DType::kFloat32) data.flat<float>()[static_cast<size_t>(i)] = static_cast<float>(v);
    if (dtype == DType::kUint16) data.flat<uint16_t>()[static_cast<size_t>(i)] = static_cast<uint16_t>(v);
  }
  return data;
}

dataset::Roi MakeRoi() {
  std::vector<uint8_t> mask(kFrames, 0);
  for (int64_t f = 0; f < kFrames; ++f) mask[static_cast<size_t>(f)] = (f % 3 != 1) && f != 20;
  const int64_t nav[2] = {kNy, kNx};
  return dataset::Roi::FromMask(nav, mask);
}

struct Reference {
  std::vector<double> sum, frame_sum, mean, var, min, max;
};

/// Brute force in float64, two-pass variance.
Reference Compute(const NdArray& data, const dataset::Roi* roi) {
  Reference ref;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ref.sum.assign(kPixels, 0);
  ref.frame_sum.assign(kFrames, nan);
  ref.mean.assign(kPixels, 0);
  ref.var.assign(kPixels, 0);
  ref.min.assign(kPixels, std::numeric_limits<double>::infinity());
  ref.max.assign(kPixels, -std::numeric_limits<double>::infinity());
  auto at = [&](int64_t f, int64_t p) { return data.GetAsDouble(f * kPixels + p); };
  double n = 0;
  for (int64_t f = 0; f < kFrames; ++f) {
    if (roi != nullptr && !roi->selected(f)) continue;
    n += 1;
    double s = 0;
    for (int64_t p = 0; p < kPixels; ++p) {
      s += at(f, p);
      ref.sum[p] += at(f, p);
      ref.min[p] = std::min(ref.min[p], at(f, p));
      ref.max[p] = std::max(ref.max[p], at(f, p));
    }
    ref.frame_sum[f] = s;
  }
  for (int64_t p = 0; p < kPixels; ++p) ref.mean[p] = ref.sum[p] / n;
  for (int64_t f = 0; f < kFrames; ++f) {
    if (roi != nullptr && !roi->selected(f)) continue;
    for (int64_t p = 0; p < kPixels; ++p) ref.var[p] += (at(f, p) - ref.mean[p]) * (at(f, p) - ref.mean[p]);
  }
  for (auto& v : ref.var) v /= n;
  return ref;
}

void ExpectNear(const std::vector<double>& actual, const std::vector<double>& expected,
                double rel_tol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << what << "[" << i << "]";
      continue;
    }
    EXPECT_LE(std::abs(actual[i] - expected[i]), rel_tol * std::abs(expected[i]) + 1e-300)
        << what << "[" << i << "] = " << actual[i] << ", expected " << expected[i];
  }
}

struct Case {
  DType dtype;
  bool tiny_tiles;
  bool small_partitions;
  bool roi;
};

class StatsOps : public ::testing::TestWithParam<Case> {};

TEST_P(StatsOps, AgreeWithBruteForce) {
  const Case c = GetParam();
  NdArray data = MakeData(c.dtype);
  const dataset::Roi roi = MakeRoi();
  const Reference ref = Compute(data, c.roi ? &roi : nullptr);
  auto ds = dataset::MakeMemoryDataset(data.Clone(), 2);
  RunConfig config{.roi = c.roi ? &roi : nullptr,
                   .partition_bytes = c.small_partitions ? 4 * kPixels * 4 : dataset::kDefaultPartitionBytes,
                   .tiny_tiles = c.tiny_tiles};
  SumUdf sum;
  FrameSumUdf frame_sum;
  StatsUdf stats;
  ExpectNear(Values(Get(testing::Run(*ds, sum, config), "sum")), ref.sum, 1e-13, "sum");
  const auto fs = testing::Run(*ds, frame_sum, config);
  EXPECT_EQ(Get(fs, "frame_sum").data.shape(), (std::vector<int64_t>{kNy, kNx}));
  ExpectNear(Values(Get(fs, "frame_sum")), ref.frame_sum, 1e-13, "frame_sum");
  const auto st = testing::Run(*ds, stats, config);
  ASSERT_EQ(st.size(), 5u);
  EXPECT_EQ(st[0].name, "mean");
  EXPECT_EQ(Get(st, "mean").data.shape(), (std::vector<int64_t>{kSy, kSx}));
  ExpectNear(Values(Get(st, "mean")), ref.mean, 1e-12, "mean");
  ExpectNear(Values(Get(st, "var")), ref.var, 1e-6, "var");
  std::vector<double> ref_std(ref.var.size());
  std::transform(ref.var.begin(), ref.var.end(), ref_std.begin(), [](double v) { return std::sqrt(v); });
  ExpectNear(Values(Get(st, "std")), ref_std, 1e-6, "std");
  ExpectNear(Values(Get(st, "min")), ref.min, 0, "min");
  ExpectNear(Values(Get(st, "max")), ref.max, 0, "max");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StatsOps,
    ::testing::Values(Case{DType::kFloat32, false, false, false}, Case{DType::kFloat32, true, false, false},
                      Case{DType::kFloat32, true, true, true}, Case{DType::kFloat32, false, true, false},
                      Case{DType::kUint16, false, false, false}, Case{DType::kUint16, true, true, false},
                      Case{DType::kUint16, false, false, true}, Case{DType::kFloat64, true, true, true}));

TEST(StatsOps, VarianceIsAccurateForLargeOffsets) {
  // 1e6 + small noise in float32: a naive sum-of-squares formula loses every digit here.
  NdArray data(DType::kFloat32, {40, 4, 4});
  auto flat = data.flat<float>();
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = 1.0e6f + static_cast<float>((i * 37) % 11) * 0.125f;
  auto ds = dataset::MakeMemoryDataset(data.Clone(), 2);
  StatsUdf stats;
  const auto results = testing::Run(*ds, stats, {.partition_bytes = 7 * 16 * 4, .tiny_tiles = true});
  const auto var = Values(Get(results, "var"));
  for (int64_t p = 0; p < 16; ++p) {
    double mean = 0, m2 = 0;
    for (int64_t f = 0; f < 40; ++f) mean += flat[static_cast<size_t>(f * 16 + p)];
    mean /= 40;
    for (int64_t f = 0; f < 40; ++f) {
      const double d = flat[static_cast<size_t>(f * 16 + p)] - mean;
      m2 += d * d;
    }
    EXPECT_NEAR(var[static_cast<size_t>(p)], m2 / 40, 1e-9 * m2 / 40);
  }
}

TEST(StatsOps, BitIdenticalOnEveryExecutor) {
  auto ds = dataset::MakeMemoryDataset(MakeData(DType::kFloat32), 2);
  const int64_t partition_bytes = 3 * kPixels * 4;
  for (const char* name : {"sum", "frame-sum", "stats"}) {
    OperatorRegistry registry;
    RegisterStatsOps(registry);
    auto reference_udf = registry.Make(name, {});
    const auto reference = testing::Run(*ds, *reference_udf, {.partition_bytes = partition_bytes});
    for (RunConfig config : testing::AllExecutors()) {
      config.partition_bytes = partition_bytes;
      auto udf = registry.Make(name, {});
      testing::ExpectBitIdentical(reference, testing::Run(*ds, *udf, config));
    }
  }
}

TEST(StatsOps, EmptyRoiGivesNan) {
  auto ds = dataset::MakeMemoryDataset(MakeData(DType::kUint16), 2);
  const int64_t nav[2] = {kNy, kNx};
  const auto roi = dataset::Roi::FromMask(nav, std::vector<uint8_t>(kFrames, 0));
  StatsUdf stats;
  const auto results = testing::Run(*ds, stats, {.roi = &roi});
  for (const auto& result : results) {
    for (double v : Values(result)) EXPECT_TRUE(std::isnan(v)) << result.name;
  }
}

TEST(StatsOps, NoopRunsAndProducesNothing) {
  auto ds = dataset::MakeMemoryDataset(MakeData(DType::kUint16), 2);
  NoopUdf noop;
  EXPECT_TRUE(testing::Run(*ds, noop, {.tiny_tiles = true}).empty());
}

}  // namespace
}  // namespace tessera::ops
