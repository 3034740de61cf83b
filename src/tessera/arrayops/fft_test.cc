// SPDX-License-Identifier: MIT
#include "tessera/arrayops/fft.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "tessera/arrayops/golden_test_data_internal.h"
#include "tessera/arrayops/testing_internal.h"

namespace tessera::arrayops {
namespace {

using testing::ExpectAllNear;
using testing::ExpectInvalidArgument;
using testing::MakeArray;
using testing::Values;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Return the 2-D DFT of a rows x cols image by the defining double sum.
std::vector<std::complex<double>> NaiveDft(const std::vector<double>& image, int64_t rows,
                                           int64_t cols) {
  std::vector<std::complex<double>> out(image.size());
  for (int64_t u = 0; u < rows; ++u) {
    for (int64_t v = 0; v < cols; ++v) {
      std::complex<double> sum = 0;
      for (int64_t y = 0; y < rows; ++y) {
        for (int64_t x = 0; x < cols; ++x) {
          const double phase = -2 * std::numbers::pi *
                               (static_cast<double>(u * y) / static_cast<double>(rows) +
                                static_cast<double>(v * x) / static_cast<double>(cols));
          sum += image[y * cols + x] * std::polar(1.0, phase);
        }
      }
      out[u * cols + v] = sum;
    }
  }
  return out;
}

/// Return f(F) placed like np.fft.fftshift when `shift`: F[u][v] lands on
/// ((u + rows/2) % rows, (v + cols/2) % cols).
template <class F>
std::vector<double> Place(const std::vector<std::complex<double>>& spectrum, int64_t rows,
                          int64_t cols, bool shift, F f) {
  std::vector<double> out(spectrum.size());
  for (int64_t u = 0; u < rows; ++u) {
    for (int64_t v = 0; v < cols; ++v) {
      const int64_t r = shift ? (u + rows / 2) % rows : u;
      const int64_t c = shift ? (v + cols / 2) % cols : v;
      out[r * cols + c] = f(spectrum[u * cols + v]);
    }
  }
  return out;
}

std::vector<double> RandomImage(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0, 100);
  std::vector<double> v(n);
  for (double& x : v) x = uniform(rng);
  return v;
}

template <class Array>
std::vector<double> Golden(const Array& values) {
  return {std::begin(values), std::end(values)};
}

TEST(FftMagnitudeTest, MatchesTheNaiveDftForOddAndEvenSizes) {
  for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{1, 1},
                                   {1, 6},
                                   {5, 1},
                                   {2, 2},
                                   {5, 6},
                                   {7, 7},
                                   {8, 4},
                                   {9, 12},
                                   {11, 13},
                                   {16, 16}}) {
    const auto image = RandomImage(rows * cols, static_cast<uint64_t>(rows * 100 + cols));
    const auto dft = NaiveDft(image, rows, cols);
    for (const bool shift : {false, true}) {
      const auto out = Values(FftMagnitude(MakeArray({rows, cols}, image), shift));
      ExpectAllNear(out, Place(dft, rows, cols, shift, [](auto f) { return std::abs(f); }), 1e-11);
    }
  }
}

TEST(FftMagnitudeTest, MatchesNumPyAndTransformsStacks) {
  ExpectAllNear(Values(FftMagnitude(MakeArray({6, 7}, Golden(golden::kFftImage)))),
                Golden(golden::kFftMagnitudeShifted), 1e-12);
  const auto first = RandomImage(4 * 5, 1);
  const auto second = RandomImage(4 * 5, 2);
  std::vector<double> stack(first);
  stack.insert(stack.end(), second.begin(), second.end());
  const auto out = Values(FftMagnitude(MakeArray({2, 4, 5}, stack, DType::kFloat32)));
  const auto abs = [](auto f) { return std::abs(f); };
  // float32 input: compare with the DFT of the float32-rounded values.
  std::vector<double> second_f32(second.begin(), second.end());
  for (double& v : second_f32) v = static_cast<float>(v);
  ExpectAllNear({out.begin() + 20, out.end()}, Place(NaiveDft(second_f32, 4, 5), 4, 5, true, abs),
                1e-11);
}

TEST(FftMagnitudeTest, EdgeCases) {
  EXPECT_EQ(FftMagnitude(NdArray(DType::kUint8, {0, 4})).shape(), (std::vector<int64_t>{0, 4}));
  const auto nan = Values(FftMagnitude(MakeArray({2, 2}, {1, kNaN, 3, 4})));
  for (const double v : nan) EXPECT_TRUE(std::isnan(v));
  ExpectInvalidArgument([] { FftMagnitude(NdArray(DType::kFloat64, {8})); }, "image", "rank");
  ExpectInvalidArgument([] { FftMagnitude(NdArray(DType::kComplex64, {4, 4})); }, "image");
  ExpectInvalidArgument([] { Diffractogram(NdArray()); }, "image");
}

/// The diffractogram by hand: mean removed, np.hanning window, |DFT|^2, shift, log1p.
std::vector<double> NaiveDiffractogram(std::vector<double> image, int64_t rows, int64_t cols,
                                       bool hann, bool log) {
  const auto hanning = [&](int64_t n, int64_t i) {
    return !hann || n == 1 ? 1.0
                           : 0.5 - 0.5 * std::cos(2 * std::numbers::pi * static_cast<double>(i) /
                                                  static_cast<double>(n - 1));
  };
  double mean = 0;
  for (const double v : image) mean += v / static_cast<double>(image.size());
  for (int64_t y = 0; y < rows; ++y) {
    for (int64_t x = 0; x < cols; ++x) {
      image[y * cols + x] = (image[y * cols + x] - mean) * hanning(rows, y) * hanning(cols, x);
    }
  }
  return Place(NaiveDft(image, rows, cols), rows, cols, true,
               [&](auto f) { return log ? std::log1p(std::norm(f)) : std::norm(f); });
}

TEST(DiffractogramTest, MatchesTheNaiveComputationAndNumPy) {
  const auto image = RandomImage(9 * 10, 3);
  for (const bool hann : {false, true}) {
    for (const bool log : {false, true}) {
      ExpectAllNear(Values(Diffractogram(MakeArray({9, 10}, image), hann, log)),
                    NaiveDiffractogram(image, 9, 10, hann, log), 1e-10);
    }
  }
  ExpectAllNear(Values(Diffractogram(MakeArray({6, 7}, Golden(golden::kFftImage)))),
                Golden(golden::kDiffractogram), 1e-12);
}

TEST(DiffractogramTest, FindsTheLatticeFrequencyAndIgnoresNaNs) {
  // Fringes of period 8 px along x: the power concentrates at (rows/2, cols/2 +- 64/8).
  const int64_t n = 64;
  std::vector<double> image(n * n);
  for (int64_t y = 0; y < n; ++y) {
    for (int64_t x = 0; x < n; ++x) {
      image[y * n + x] = 100 + 10 * std::cos(2 * std::numbers::pi * static_cast<double>(x) / 8);
    }
  }
  image[5 * n + 9] = kNaN;
  const auto out = Values(Diffractogram(MakeArray({n, n}, image)));
  const auto brightest = std::max_element(out.begin(), out.end()) - out.begin();
  EXPECT_EQ(brightest / n, n / 2);
  EXPECT_EQ(std::abs(brightest % n - n / 2), 8);
  for (const double v : out) EXPECT_TRUE(std::isfinite(v));
  const auto power = Values(Diffractogram(MakeArray({n, n}, image), true, false));
  EXPECT_LT(power[(n / 2) * n + n / 2], 1e-3 * power[brightest]);  // the mean is gone
}

}  // namespace
}  // namespace tessera::arrayops
