// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tessera/arrayops/array_ops.h"
#include "tessera/arrayops/golden_test_data_internal.h"
#include "tessera/arrayops/testing_internal.h"

namespace tessera::arrayops {
namespace {

using testing::ExpectAllNear;
using testing::ExpectInvalidArgument;
using testing::MakeArray;
using testing::Values;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Mirror an index into [0, n) by folding at the edges until it lands (reflect mode, written
/// differently from the library's modulo arithmetic).
int64_t MirrorFold(int64_t i, int64_t n) {
  while (i < 0 || i >= n) {
    if (i < 0) i = -i - 1;
    if (i >= n) i = 2 * n - 1 - i;
  }
  return i;
}

/// Direct 2-D convolution of one image with the outer product of two scipy kernels.
std::vector<double> BruteForceBlur(const std::vector<double>& image, int64_t rows, int64_t cols,
                                   double sigma_y, double sigma_x, double truncate) {
  const auto kernel = [&](double sigma) {
    if (sigma == 0) return std::vector<double>{1.0};
    const auto radius = static_cast<int64_t>(truncate * sigma + 0.5);
    std::vector<double> k;
    double sum = 0;
    for (int64_t x = -radius; x <= radius; ++x) {
      k.push_back(std::exp(-0.5 * static_cast<double>(x * x) / (sigma * sigma)));
      sum += k.back();
    }
    for (double& w : k) w /= sum;
    return k;
  };
  const std::vector<double> ky = kernel(sigma_y), kx = kernel(sigma_x);
  const auto ry = static_cast<int64_t>(ky.size() / 2), rx = static_cast<int64_t>(kx.size() / 2);
  std::vector<double> out(image.size());
  for (int64_t y = 0; y < rows; ++y) {
    for (int64_t x = 0; x < cols; ++x) {
      double sum = 0;
      for (int64_t dy = -ry; dy <= ry; ++dy) {
        for (int64_t dx = -rx; dx <= rx; ++dx) {
          sum += ky[dy + ry] * kx[dx + rx] *
                 image[MirrorFold(y + dy, rows) * cols + MirrorFold(x + dx, cols)];
        }
      }
      out[y * cols + x] = sum;
    }
  }
  return out;
}

std::vector<double> RandomValues(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-50, 50);
  std::vector<double> v(n);
  for (double& x : v) x = uniform(rng);
  return v;
}

TEST(GaussianBlurTest, MatchesDirectConvolutionWithReflectPadding) {
  struct Case {
    int64_t rows, cols;
    double sigma_y, sigma_x, truncate;
  };
  for (const Case& c :
       {Case{13, 17, 1.3, 2.1, 4.0}, Case{6, 5, 2.0, 3.5, 4.0}, Case{1, 9, 1.0, 1.0, 4.0},
        Case{8, 1, 0.7, 0.0, 3.0}, Case{20, 20, 0.4, 0.9, 4.0}}) {
    const auto image = RandomValues(c.rows * c.cols, 7);
    const NdArray out =
        GaussianBlur(MakeArray({c.rows, c.cols}, image), c.sigma_y, c.sigma_x, c.truncate);
    ExpectAllNear(Values(out),
                  BruteForceBlur(image, c.rows, c.cols, c.sigma_y, c.sigma_x, c.truncate), 1e-12);
  }
}

TEST(GaussianBlurTest, MatchesScipyGaussianFilter) {
  const auto golden = [](const auto& values) {
    return std::vector<double>(std::begin(values), std::end(values));
  };
  const NdArray image = MakeArray({9, 11}, golden(golden::kBlurImage));
  ExpectAllNear(Values(GaussianBlur(image, 1.5, 0.8)), golden(golden::kBlurYX), 1e-12);
  ExpectAllNear(Values(GaussianBlur(image, 0.0, 1.2)), golden(golden::kBlurXOnly), 1e-12);
  ExpectAllNear(Values(GaussianBlur(image, 2.0, 0.0)), golden(golden::kBlurYOnly), 1e-12);
  ExpectAllNear(Values(GaussianBlur(image, 1.7, 2.2, 2.0)), golden(golden::kBlurTruncate2), 1e-12);
  const NdArray small = MakeArray({5, 4}, golden(golden::kBlurSmallImage));
  ExpectAllNear(Values(GaussianBlur(small, 3.0, 2.5)), golden(golden::kBlurWide), 1e-12);
}

TEST(GaussianBlurTest, BlursEveryImageOfAStackOnItsOwn) {
  const int64_t rows = 7, cols = 9;
  const auto first = RandomValues(rows * cols, 1);
  const auto second = RandomValues(rows * cols, 2);
  std::vector<double> stack(first);
  stack.insert(stack.end(), second.begin(), second.end());
  const auto out = Values(GaussianBlur(MakeArray({2, 1, rows, cols}, stack), 1.1, 1.6));
  const auto expected_first = BruteForceBlur(first, rows, cols, 1.1, 1.6, 4.0);
  const auto expected_second = BruteForceBlur(second, rows, cols, 1.1, 1.6, 4.0);
  ExpectAllNear({out.begin(), out.begin() + rows * cols}, expected_first, 1e-12);
  ExpectAllNear({out.begin() + rows * cols, out.end()}, expected_second, 1e-12);
}

TEST(GaussianBlurTest, IntegerInputAndTrivialSizes) {
  const std::vector<double> values{0, 10, 200, 65535, 3, 4};
  const auto from_u16 = Values(GaussianBlur(MakeArray({2, 3}, values, DType::kUint16), 1, 1));
  EXPECT_EQ(from_u16, Values(GaussianBlur(MakeArray({2, 3}, values), 1, 1)));
  EXPECT_DOUBLE_EQ(Values(GaussianBlur(MakeArray({1, 1}, {42}), 5, 5))[0], 42);
  EXPECT_EQ(Values(GaussianBlur(MakeArray({2, 3}, values), 0, 0)), values);
  EXPECT_EQ(GaussianBlur(NdArray(DType::kFloat32, {3, 0, 5}), 1, 1).shape(),
            (std::vector<int64_t>{3, 0, 5}));
}

TEST(GaussianBlurTest, NaNSpreadsOnlyOverItsKernel) {
  std::vector<double> values(15 * 15, 1.0);
  values[7 * 15 + 7] = kNaN;
  const auto out = Values(GaussianBlur(MakeArray({15, 15}, values), 1.0, 1.0));  // radius 4
  EXPECT_TRUE(std::isnan(out[7 * 15 + 11]));
  EXPECT_TRUE(std::isnan(out[3 * 15 + 3]));
  EXPECT_DOUBLE_EQ(out[7 * 15 + 12], 1.0);
  EXPECT_DOUBLE_EQ(out[2 * 15 + 7], 1.0);
}

TEST(GaussianBlurTest, RejectsBadArguments) {
  const NdArray image(DType::kFloat64, {4, 4});
  ExpectInvalidArgument([&] { GaussianBlur(image, -1, 1); }, "sigma_y");
  ExpectInvalidArgument([&] { GaussianBlur(image, 1, kNaN); }, "sigma_x");
  ExpectInvalidArgument([&] { GaussianBlur(image, 1, std::numeric_limits<double>::infinity()); },
                        "sigma_x");
  ExpectInvalidArgument([&] { GaussianBlur(image, 1e7, 1); }, "sigma_y", "radius");
  ExpectInvalidArgument([&] { GaussianBlur(image, 1, 1, -2); }, "truncate");
  ExpectInvalidArgument([&] { GaussianBlur(NdArray(DType::kFloat64, {4}), 1, 1); }, "a", "rank");
  ExpectInvalidArgument([&] { GaussianBlur(NdArray(DType::kComplex128, {4, 4}), 1, 1); }, "a");
}

}  // namespace
}  // namespace tessera::arrayops
