// SPDX-License-Identifier: MIT
#include "tessera/arrayops/peaks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tessera/arrayops/golden_test_data_internal.h"
#include "tessera/arrayops/testing_internal.h"

namespace tessera::arrayops {
namespace {

using testing::ExpectInvalidArgument;
using testing::MakeArray;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Return the (y, x) pairs of a peak table, flattened like the golden lists.
std::vector<int64_t> Coordinates(const Table& table) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < table.rows(); ++i) {
    out.push_back(static_cast<int64_t>(table.Column("y")[i]));
    out.push_back(static_cast<int64_t>(table.Column("x")[i]));
  }
  return out;
}

NdArray GoldenPeakImage(DType dtype = DType::kFloat64) {
  return MakeArray({48, 48}, {std::begin(golden::kPeakImage), std::end(golden::kPeakImage)}, dtype);
}

template <class Array>
std::vector<int64_t> Golden(const Array& values) {
  return {std::begin(values), std::end(values)};
}

TEST(FindPeaksTest, MatchesSkimagePeakLocalMax) {
  const NdArray image = GoldenPeakImage();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Coordinates(FindPeaks(image, {})), Golden(golden::kPeaksDefault));
  EXPECT_EQ(Coordinates(FindPeaks(image, {.min_distance = 3, .threshold_rel = 0.3})),
            Golden(golden::kPeaksMd3Rel));
  EXPECT_EQ(
      Coordinates(FindPeaks(
          image, {.min_distance = 2, .threshold_abs = 20, .max_peaks = 6, .exclude_border = 0})),
      Golden(golden::kPeaksMd2AbsNum));
  EXPECT_EQ(Coordinates(FindPeaks(image, {.min_distance = 0, .threshold_abs = 100})),
            Golden(golden::kPeaksMd0));
  EXPECT_EQ(Coordinates(
                FindPeaks(image, {.min_distance = 5, .threshold_abs = -inf, .exclude_border = 2})),
            Golden(golden::kPeaksMd5Border2));
  EXPECT_EQ(
      Coordinates(FindPeaks(image, {.min_distance = 4, .threshold_abs = 100, .exclude_border = 0})),
      Golden(golden::kPeaksMd4Plateau));
}

/// peak_local_max by brute force: every pixel equal to the maximum of its clamped window and
/// above the image minimum, brightest first (ties in raster order), then greedy spacing.
std::vector<int64_t> BruteForcePeaks(const std::vector<double>& image, int64_t rows, int64_t cols,
                                     int64_t min_distance) {
  const double min = *std::min_element(image.begin(), image.end());
  std::vector<std::array<int64_t, 2>> candidates;
  for (int64_t y = 0; y < rows; ++y) {
    for (int64_t x = 0; x < cols; ++x) {
      double window_max = -std::numeric_limits<double>::infinity();
      for (int64_t dy = -min_distance; dy <= min_distance; ++dy) {
        for (int64_t dx = -min_distance; dx <= min_distance; ++dx) {
          const int64_t yy = std::clamp<int64_t>(y + dy, 0, rows - 1);
          const int64_t xx = std::clamp<int64_t>(x + dx, 0, cols - 1);
          window_max = std::max(window_max, image[yy * cols + xx]);
        }
      }
      if (image[y * cols + x] == window_max && image[y * cols + x] > min) {
        candidates.push_back({y, x});
      }
    }
  }
  std::stable_sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
    return image[a[0] * cols + a[1]] > image[b[0] * cols + b[1]];
  });
  std::vector<int64_t> kept;
  for (const auto& c : candidates) {
    bool far = true;
    for (size_t k = 0; k < kept.size(); k += 2) {
      far = far && std::max(std::abs(kept[k] - c[0]), std::abs(kept[k + 1] - c[1])) >= min_distance;
    }
    if (far || min_distance < 2) {
      kept.push_back(c[0]);
      kept.push_back(c[1]);
    }
  }
  return kept;
}

TEST(FindPeaksTest, MatchesBruteForceForManySizesAndDistances) {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> level(0, 40);  // coarse levels: ties and plateaus
  for (const auto& [rows, cols] :
       {std::pair<int64_t, int64_t>{1, 17}, {13, 1}, {3, 50}, {31, 29}, {40, 64}}) {
    std::vector<double> image(rows * cols);
    for (double& v : image) v = level(rng);
    for (const int64_t d : {1, 2, 3, 4, 7, 20}) {
      EXPECT_EQ(Coordinates(FindPeaks(MakeArray({rows, cols}, image),
                                      {.min_distance = d, .exclude_border = 0})),
                BruteForcePeaks(image, rows, cols, d))
          << rows << "x" << cols << " min_distance " << d;
    }
  }
}

TEST(FindPeaksTest, ReportsIntensitiesAndAcceptsIntegerImages) {
  const Table peaks =
      FindPeaks(GoldenPeakImage(DType::kUint16), {.min_distance = 3, .threshold_rel = 0.3});
  EXPECT_EQ(Coordinates(peaks), Golden(golden::kPeaksMd3Rel));
  EXPECT_EQ(peaks.columns, (std::vector<std::string>{"y", "x", "intensity"}));
  EXPECT_EQ(peaks.units, (std::vector<std::string>{"px", "px", ""}));
  EXPECT_EQ(peaks.Column("intensity")[0], 210);
  EXPECT_EQ(peaks.Column("intensity")[1], 210);  // the tie, in raster order
  for (int64_t i = 1; i < peaks.rows(); ++i) {
    EXPECT_GE(peaks.Column("intensity")[i - 1], peaks.Column("intensity")[i]);
  }
}

TEST(FindPeaksTest, HugeDistancesLeaveTheGlobalMaximum) {
  const NdArray image = GoldenPeakImage();
  const int64_t huge = int64_t{1} << 40;
  const Table peaks = FindPeaks(image, {.min_distance = huge, .exclude_border = 0});
  EXPECT_EQ(Coordinates(peaks), (std::vector<int64_t>{10, 10}));  // the first of the two 210s
  EXPECT_EQ(FindPeaks(image, {.min_distance = 3, .exclude_border = huge}).rows(), 0);
  EXPECT_EQ(RefinePeaksGaussian(image, peaks, huge).rows(), 1);
}

TEST(FindPeaksTest, TrivialImagesHaveNoPeaks) {
  EXPECT_EQ(FindPeaks(MakeArray({1, 1}, {5}), {.exclude_border = 0}).rows(), 0);
  EXPECT_EQ(FindPeaks(MakeArray({3, 3}, std::vector<double>(9, 2.0)), {.exclude_border = 0}).rows(),
            0);
  EXPECT_EQ(FindPeaks(NdArray(DType::kFloat32, {0, 7}), {}).rows(), 0);
  EXPECT_EQ(FindPeaks(MakeArray({2, 2}, {kNaN, kNaN, kNaN, kNaN}), {}).rows(), 0);
  const Table empty = FindPeaks(NdArray(DType::kFloat32, {0, 7}), {});
  EXPECT_EQ(empty.columns.size(), 3u);
}

TEST(FindPeaksTest, NaNPixelsAreNeitherPeaksNorObstacles) {
  std::vector<double> values(7 * 7, 0.0);
  values[3 * 7 + 3] = 10;
  values[3 * 7 + 4] = kNaN;
  values[1 * 7 + 1] = kNaN;
  const Table peaks = FindPeaks(MakeArray({7, 7}, values), {.exclude_border = 0});
  EXPECT_EQ(Coordinates(peaks), (std::vector<int64_t>{3, 3}));
}

TEST(FindPeaksTest, PlateauYieldsPeaksMinDistanceApart) {
  std::vector<double> values(9 * 12, 0.0);
  for (int64_t x = 2; x < 10; ++x) values[4 * 12 + x] = 5;  // a ridge of 8 equal pixels
  const NdArray image = MakeArray({9, 12}, values);
  // min_distance 1: every ridge pixel (skimage applies no spacing below 2).
  EXPECT_EQ(FindPeaks(image, {.min_distance = 1}).rows(), 8);
  EXPECT_EQ(Coordinates(FindPeaks(image, {.min_distance = 3, .exclude_border = 0})),
            (std::vector<int64_t>{4, 2, 4, 5, 4, 8}));
  EXPECT_EQ(Coordinates(FindPeaks(image, {.min_distance = 3, .max_peaks = 2, .exclude_border = 0})),
            (std::vector<int64_t>{4, 2, 4, 5}));
}

TEST(FindPeaksTest, RejectsBadOptions) {
  const NdArray image(DType::kFloat64, {8, 8});
  ExpectInvalidArgument([&] { FindPeaks(image, {.min_distance = -1}); }, "min_distance");
  ExpectInvalidArgument([&] { FindPeaks(image, {.threshold_abs = kNaN}); }, "threshold_abs");
  ExpectInvalidArgument([&] { FindPeaks(image, {.threshold_rel = -0.5}); }, "threshold_rel");
  ExpectInvalidArgument([&] { FindPeaks(image, {.max_peaks = -3}); }, "max_peaks");
  ExpectInvalidArgument([&] { FindPeaks(image, {.exclude_border = -2}); }, "exclude_border");
  const NdArray stack(DType::kFloat64, {2, 8, 8});
  ExpectInvalidArgument([&] { FindPeaks(stack, {}); }, "image", "rank 2");
}

/// A synthetic image: Gaussian spots on a constant background, optionally with Poisson noise.
struct Spot {
  double y, x, amplitude, sigma_y, sigma_x;
};

NdArray SpotImage(int64_t rows, int64_t cols, const std::vector<Spot>& spots, double background,
                  uint64_t noise_seed = 0) {
  std::vector<double> values(rows * cols, background);
  for (const Spot& s : spots) {
    for (int64_t y = 0; y < rows; ++y) {
      for (int64_t x = 0; x < cols; ++x) {
        const double dy = static_cast<double>(y) - s.y, dx = static_cast<double>(x) - s.x;
        values[y * cols + x] += s.amplitude * std::exp(-(dy * dy / (2 * s.sigma_y * s.sigma_y) +
                                                         dx * dx / (2 * s.sigma_x * s.sigma_x)));
      }
    }
  }
  if (noise_seed != 0) {
    std::mt19937_64 rng(noise_seed);
    for (double& v : values) v = static_cast<double>(std::poisson_distribution<int64_t>(v)(rng));
  }
  return MakeArray({rows, cols}, values);
}

const std::vector<Spot> kSpots = {{12.3, 15.7, 200, 1.8, 1.8},
                                  {30.55, 40.2, 150, 1.5, 2.2},
                                  {45.9, 10.45, 300, 2.5, 2.0},
                                  {20.1, 50.8, 120, 1.2, 1.2},
                                  {50.5, 50.5, 250, 2.0, 2.0}};

/// Return a one-row peak table.
Table PeakList(double y, double x) {
  Table table;
  table.AddColumn("y", "px", {y});
  table.AddColumn("x", "px", {x});
  return table;
}

/// Return the index of the fitted peak nearest to `spot` (fails when none is within 1 px).
int64_t Match(const Table& refined, const Spot& spot) {
  for (int64_t i = 0; i < refined.rows(); ++i) {
    if (std::hypot(refined.Column("y")[i] - spot.y, refined.Column("x")[i] - spot.x) < 1) return i;
  }
  ADD_FAILURE() << "no peak near (" << spot.y << ", " << spot.x << ")";
  return -1;
}

TEST(RefinePeaksGaussianTest, RecoversSubPixelPositionsWithoutNoise) {
  const NdArray image = SpotImage(64, 64, kSpots, 10);
  const Table peaks = FindPeaks(image, {.min_distance = 4, .threshold_abs = 50});
  ASSERT_EQ(peaks.rows(), 5);
  const Table refined = RefinePeaksGaussian(image, peaks, 5);
  EXPECT_EQ(refined.columns, (std::vector<std::string>{"y", "x", "amplitude", "sigma_y", "sigma_x",
                                                       "background", "converged"}));
  for (const Spot& spot : kSpots) {
    const int64_t i = Match(refined, spot);
    if (i < 0) continue;
    EXPECT_EQ(refined.Column("converged")[i], 1);
    EXPECT_NEAR(refined.Column("y")[i], spot.y, 0.02);
    EXPECT_NEAR(refined.Column("x")[i], spot.x, 0.02);
    EXPECT_NEAR(refined.Column("amplitude")[i], spot.amplitude, 1e-3 * spot.amplitude);
    EXPECT_NEAR(refined.Column("sigma_y")[i], spot.sigma_y, 1e-3);
    EXPECT_NEAR(refined.Column("sigma_x")[i], spot.sigma_x, 1e-3);
    EXPECT_NEAR(refined.Column("background")[i], 10, 0.05);
  }
}

TEST(RefinePeaksGaussianTest, RecoversPositionsWithPoissonNoise) {
  const NdArray image = SpotImage(64, 64, kSpots, 10, 12345);
  const Table peaks = FindPeaks(image, {.min_distance = 4, .threshold_abs = 60});
  const Table refined = RefinePeaksGaussian(image, peaks, 5);
  for (const Spot& spot : kSpots) {
    const int64_t i = Match(refined, spot);
    if (i < 0) continue;
    EXPECT_EQ(refined.Column("converged")[i], 1);
    EXPECT_NEAR(refined.Column("y")[i], spot.y, 0.1);
    EXPECT_NEAR(refined.Column("x")[i], spot.x, 0.1);
  }
}

TEST(RefinePeaksGaussianTest, EdgesFlatWindowsAndNaNs) {
  // A spot centred on the image edge: the window is clipped and the fit still finds it.
  const NdArray edge = SpotImage(32, 32, {{0.4, 16.2, 100, 1.5, 1.5}}, 5);
  Table refined = RefinePeaksGaussian(edge, PeakList(0, 16), 4);
  EXPECT_EQ(refined.Column("converged")[0], 1);
  EXPECT_NEAR(refined.Column("y")[0], 0.4, 0.02);
  EXPECT_NEAR(refined.Column("x")[0], 16.2, 0.02);

  // A flat window has nothing to fit: integer position, NaN parameters, converged = 0.
  const NdArray flat = MakeArray({16, 16}, std::vector<double>(256, 3.0));
  refined = RefinePeaksGaussian(flat, PeakList(7.4, 8.6), 3);
  EXPECT_EQ(refined.Column("y")[0], 7);
  EXPECT_EQ(refined.Column("x")[0], 9);
  EXPECT_EQ(refined.Column("converged")[0], 0);
  EXPECT_TRUE(std::isnan(refined.Column("amplitude")[0]));

  // NaN pixels are left out of the fit.
  std::vector<double> values(24 * 24);
  const NdArray clean = SpotImage(24, 24, {{11.3, 12.6, 80, 1.7, 1.7}}, 2);
  for (int64_t i = 0; i < 24 * 24; ++i) values[i] = clean.flat<double>()[i];
  values[11 * 24 + 14] = kNaN;
  refined = RefinePeaksGaussian(MakeArray({24, 24}, values), PeakList(11, 13), 4);
  EXPECT_EQ(refined.Column("converged")[0], 1);
  EXPECT_NEAR(refined.Column("x")[0], 12.6, 0.02);

  // A 1x1 image has too few pixels to fit.
  refined = RefinePeaksGaussian(MakeArray({1, 1}, {4}), PeakList(0, 0), 2);
  EXPECT_EQ(refined.Column("converged")[0], 0);
}

TEST(RefinePeaksGaussianTest, RejectsBadArguments) {
  const NdArray image(DType::kFloat64, {8, 8});
  Table peaks;
  peaks.AddColumn("y", "px", {3});
  ExpectInvalidArgument([&] { RefinePeaksGaussian(image, peaks, 2); }, "peaks", "'x'");
  peaks.AddColumn("x", "px", {8.7});
  ExpectInvalidArgument([&] { RefinePeaksGaussian(image, peaks, 2); }, "peaks", "outside");
  ExpectInvalidArgument([&] { RefinePeaksGaussian(image, peaks, 0); }, "half_window");
  ExpectInvalidArgument([&] { RefinePeaksGaussian(NdArray(DType::kFloat64, {8}), peaks, 2); },
                        "image");
}

}  // namespace
}  // namespace tessera::arrayops
