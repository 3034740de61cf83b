// SPDX-License-Identifier: MIT
#include "tessera/ops/com/com_udf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "tessera/dataset/corrections.h"
#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/roi.h"
#include "tessera/dataset/synthetic.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/ops/testing_internal.h"

namespace tessera::ops {
namespace {

using testing::ExpectInvalidArgument;
using testing::Get;
using testing::Values;

/// Read a whole dataset into an array (nav..., sig...) of its dtype.
NdArray Materialise(const dataset::Dataset& ds) {
  const auto& shape = ds.meta().shape;
  NdArray array(ds.meta().dtype, shape.dims());
  ds.ReadFrames(0, shape.nav_size(), {0, shape.sig_size()}, array.raw(), ds.meta().dtype);
  return array;
}

std::unique_ptr<dataset::Synthetic4dstem> MakeSynthetic(DType dtype, int hot_pixels) {
  dataset::SyntheticParams params;
  params.scan = {5, 6};
  params.frame = {64, 64};
  params.dtype = dtype;
  params.seed = 11;
  params.bf_counts = 40;
  params.num_hot_pixels = hot_pixels;
  return dataset::Synthetic4dstem::Make(params);
}

void ExpectCentresMatch(const std::vector<udf::Result>& results,
                        const dataset::Synthetic4dstem& synthetic, double tolerance) {
  const auto com_y = Values(Get(results, "com_y"));
  const auto com_x = Values(Get(results, "com_x"));
  const auto field_y = Values(Get(results, "field_y"));
  const auto field_x = Values(Get(results, "field_x"));
  const auto& scan = synthetic.params().scan;
  double error_sum = 0;
  for (int64_t y = 0; y < scan[0]; ++y) {
    for (int64_t x = 0; x < scan[1]; ++x) {
      const auto i = static_cast<size_t>(y * scan[1] + x);
      const auto [cy, cx] = synthetic.PatternCentre(y, x);
      const auto [dy, dx] = synthetic.Shift(y, x);
      EXPECT_NEAR(com_y[i], cy, tolerance) << y << "," << x;
      EXPECT_NEAR(com_x[i], cx, tolerance) << y << "," << x;
      EXPECT_NEAR(field_y[i], dy, tolerance);
      EXPECT_NEAR(field_x[i], dx, tolerance);
      error_sum += std::abs(com_y[i] - cy) + std::abs(com_x[i] - cx);
    }
  }
  // Poisson noise moves single centres by ~0.05 px; a systematic bias would show in the mean.
  EXPECT_LT(error_sum / static_cast<double>(2 * scan[0] * scan[1]), tolerance / 3);
}

TEST(Com, FindsTheImposedCentreInsideADisk) {
  for (DType dtype : {DType::kFloat32, DType::kUint16}) {
    auto synthetic = MakeSynthetic(dtype, 0);
    // BF disk radius 8 + shift 2 < 11 < nearest Bragg disk edge 16 - 2.7 - 2.
    ComUdf com({.r = 11.0});
    ExpectCentresMatch(testing::Run(*synthetic, com), *synthetic, 0.12);
    // The same on band-split tiles of the materialised data.
    auto memory = dataset::MakeMemoryDataset(Materialise(*synthetic), 2);
    ComUdf banded({.r = 11.0});
    ExpectCentresMatch(testing::Run(*memory, banded, {.tiny_tiles = true}), *synthetic, 0.12);
  }
}

TEST(Com, WholeFrameWithHotPixelsExcluded) {
  auto synthetic = MakeSynthetic(DType::kUint16, 5);
  const auto corrections = dataset::CorrectionSet::Make(synthetic->meta().shape, NdArray(), NdArray(),
                                                        synthetic->hot_pixels());
  ComUdf com;
  // Bragg disks far out add noise to the whole-frame centre: ~0.055 px rms here.
  ExpectCentresMatch(testing::Run(*synthetic, com, {.corrections = &corrections}), *synthetic, 0.25);
}

/// Brute-force centre of mass in float64.
std::pair<std::vector<double>, std::vector<double>> BruteForceCom(const NdArray& data, int64_t frames,
                                                                  int64_t sy, int64_t sx) {
  std::vector<double> ys, xs;
  for (int64_t f = 0; f < frames; ++f) {
    double s = 0, my = 0, mx = 0;
    for (int64_t y = 0; y < sy; ++y) {
      for (int64_t x = 0; x < sx; ++x) {
        const double v = data.GetAsDouble((f * sy + y) * sx + x);
        s += v;
        my += v * static_cast<double>(y);
        mx += v * static_cast<double>(x);
      }
    }
    ys.push_back(my / s);
    xs.push_back(mx / s);
  }
  return {ys, xs};
}

TEST(Com, AgreesWithBruteForceOnEveryTiling) {
  for (DType dtype : {DType::kFloat32, DType::kUint16}) {
    NdArray data = testing::MakeRandomArray(dtype, {4, 5, 9, 37}, 5, 3000.0);
    const auto [ys, xs] = BruteForceCom(data, 20, 9, 37);
    auto ds = dataset::MakeMemoryDataset(data.Clone(), 2);
    for (bool tiny : {false, true}) {
      ComUdf com;
      const auto results = testing::Run(*ds, com, {.partition_bytes = 3 * 9 * 37 * 4, .tiny_tiles = tiny});
      const auto com_y = Values(Get(results, "com_y"));
      const auto com_x = Values(Get(results, "com_x"));
      for (size_t i = 0; i < ys.size(); ++i) {
        EXPECT_NEAR(com_y[i], ys[i], 1e-5);
        EXPECT_NEAR(com_x[i], xs[i], 1e-5);
      }
    }
  }
}

/// Frames holding one bright pixel at ref + (fy, fx) with a linear field
/// fy = 1*y + 2*x, fx = 3*y + 1*x: divergence 1 + 1 = 2, curl 2 - 3 = -1 everywhere.
NdArray LinearFieldFrames(int64_t ny, int64_t nx, int64_t s) {
  NdArray data(DType::kFloat32, {ny, nx, s, s});
  auto flat = data.flat<float>();
  for (int64_t y = 0; y < ny; ++y) {
    for (int64_t x = 0; x < nx; ++x) {
      const int64_t py = 8 + y + 2 * x, px = 8 + 3 * y + x;
      flat[static_cast<size_t>(((y * nx + x) * s + py) * s + px)] = 5.0f;
    }
  }
  return data;
}

TEST(Com, DivergenceAndCurlOfALinearField) {
  auto ds = dataset::MakeMemoryDataset(LinearFieldFrames(4, 5, 32), 2);
  ComUdf com({.ref_y = 8.0, .ref_x = 8.0});
  const auto results = testing::Run(*ds, com);
  ASSERT_EQ(results.size(), 7u);
  for (double v : Values(Get(results, "divergence"))) EXPECT_NEAR(v, 2.0, 1e-9);
  for (double v : Values(Get(results, "curl"))) EXPECT_NEAR(v, -1.0, 1e-9);
  const auto fy = Values(Get(results, "field_y"));
  const auto magnitude = Values(Get(results, "magnitude"));
  EXPECT_NEAR(fy[1 * 5 + 2], 1 + 4, 1e-9);
  EXPECT_NEAR(magnitude[1 * 5 + 2], std::hypot(5.0, 5.0), 1e-9);
}

TEST(Com, GradientMatchesNumpy) {
  // np.gradient([[1, 2, 4], [7, 11, 16]], axis=1) = [[1, 1.5, 2], [4, 4.5, 5]]; axis=0 = 6, 9, 12.
  const std::vector<double> f{1, 2, 4, 7, 11, 16};
  EXPECT_EQ(Gradient2d(f, 2, 3, 1), (std::vector<double>{1, 1.5, 2, 4, 4.5, 5}));
  EXPECT_EQ(Gradient2d(f, 2, 3, 0), (std::vector<double>{6, 9, 12, 6, 9, 12}));
}

TEST(Com, RotationAndFlip) {
  auto ds = dataset::MakeMemoryDataset(LinearFieldFrames(3, 3, 32), 2);
  ComUdf plain({.ref_y = 8.0, .ref_x = 8.0});
  ComUdf rotated({.ref_y = 8.0, .ref_x = 8.0, .scan_rotation_deg = 90});
  ComUdf flipped({.ref_y = 8.0, .ref_x = 8.0, .flip_y = true});
  ComUdf both({.ref_y = 8.0, .ref_x = 8.0, .scan_rotation_deg = 30, .flip_y = true});
  const auto p = testing::Run(*ds, plain), r = testing::Run(*ds, rotated), f = testing::Run(*ds, flipped),
             b = testing::Run(*ds, both);
  const auto py = Values(Get(p, "field_y")), px = Values(Get(p, "field_x"));
  const auto ry = Values(Get(r, "field_y")), rx = Values(Get(r, "field_x"));
  const auto fy = Values(Get(f, "field_y")), fx = Values(Get(f, "field_x"));
  const auto by = Values(Get(b, "field_y")), bx = Values(Get(b, "field_x"));
  const double c = std::cos(std::numbers::pi / 6), s = std::sin(std::numbers::pi / 6);
  for (size_t i = 0; i < py.size(); ++i) {
    // LiberTEM: (y', x') = R(a) F (y, x), R(a) = [[cos, sin], [-sin, cos]], F = diag(-1, 1).
    EXPECT_NEAR(ry[i], px[i], 1e-9);
    EXPECT_NEAR(rx[i], -py[i], 1e-9);
    EXPECT_NEAR(fy[i], -py[i], 1e-12);
    EXPECT_NEAR(fx[i], px[i], 1e-12);
    EXPECT_NEAR(by[i], c * -py[i] + s * px[i], 1e-9);
    EXPECT_NEAR(bx[i], -s * -py[i] + c * px[i], 1e-9);
  }
  // The raw centre does not depend on the transform.
  EXPECT_EQ(Values(Get(p, "com_y")), Values(Get(b, "com_y")));
}

TEST(Com, RoiGivesNanOutsideAndNextToIt) {
  auto ds = dataset::MakeMemoryDataset(LinearFieldFrames(4, 5, 32), 2);
  const auto roi = dataset::Roi::Parse(std::vector<int64_t>{4, 5}, "0:4,0:3");
  ComUdf com({.ref_y = 8.0, .ref_x = 8.0});
  const auto results = testing::Run(*ds, com, {.roi = &roi});
  const auto com_y = Values(Get(results, "com_y"));
  const auto div = Values(Get(results, "divergence"));
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 0; x < 5; ++x) {
      const auto i = static_cast<size_t>(y * 5 + x);
      EXPECT_EQ(std::isnan(com_y[i]), x >= 3);
      if (x <= 1) {
        EXPECT_NEAR(div[i], 2.0, 1e-9);
      } else {
        EXPECT_TRUE(std::isnan(div[i]));  // x = 2 needs x = 3
      }
    }
  }
}

TEST(Com, BitIdenticalOnEveryExecutor) {
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kUint16, {4, 5, 16, 16}, 4), 2);
  ComUdf reference_udf({.r = 6.0, .scan_rotation_deg = 13});
  const auto reference = testing::Run(*ds, reference_udf, {.partition_bytes = 3 * 256 * 4});
  for (testing::RunConfig config : testing::AllExecutors()) {
    config.partition_bytes = 3 * 256 * 4;
    ComUdf udf({.r = 6.0, .scan_rotation_deg = 13});
    testing::ExpectBitIdentical(reference, testing::Run(*ds, udf, config));
  }
}

TEST(Com, BadParams) {
  OperatorRegistry registry;
  RegisterComOps(registry);
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {2, 2, 16, 16}, 4), 2);
  auto run = [&](std::map<std::string, std::string> params) {
    auto udf = registry.Make("com", params);
    testing::Run(*ds, *udf);
  };
  ExpectInvalidArgument([&] { run({{"r", "abc"}}); }, "r");
  ExpectInvalidArgument([&] { run({{"r", "-1"}}); }, "r");
  ExpectInvalidArgument([&] { run({{"r", "4"}, {"cy", "30"}}); }, "cy");
  ExpectInvalidArgument([&] { run({{"r", "4"}, {"ri", "5"}}); }, "ri");
  ExpectInvalidArgument([&] { run({{"ri", "1"}}); }, "ri");
  ExpectInvalidArgument([&] { run({{"flip_y", "sometimes"}}); }, "flip_y");
  ExpectInvalidArgument([&] { run({{"rotation", "3"}}); }, "rotation");
  run({{"r", "4"}, {"ri", "1"}, {"scan_rotation", "-12.5"}, {"flip_y", "true"}});
}

}  // namespace
}  // namespace tessera::ops
