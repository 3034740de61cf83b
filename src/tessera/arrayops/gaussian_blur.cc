// SPDX-License-Identifier: MIT
// GaussianBlur: scipy.ndimage.gaussian_filter's kernel and 'reflect' boundary, run as two 1-D
// passes per image (rows, then columns) with the weights computed once.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "tessera/arrayops/array_ops.h"
#include "tessera/arrayops/arrayops_internal.h"

namespace tessera::arrayops {
namespace {

// scipy skips an axis whose sigma is at most 1e-15.
constexpr double kNoBlurSigma = 1e-15;
// A larger kernel means a sigma far beyond any image; refuse it instead of allocating it.
constexpr double kMaxRadius = 1 << 20;

void CheckSigma(double sigma, const std::string& field) {
  if (!(sigma >= 0) || !std::isfinite(sigma)) {
    throw Error::InvalidArgument(fmt::format("must be finite and >= 0, got {}", sigma), field);
  }
}

/// Return scipy's kernel radius int(truncate * sigma + 0.5), or -1 when the axis is not blurred.
int64_t KernelRadius(double sigma, double truncate, const std::string& field) {
  if (sigma <= kNoBlurSigma) return -1;
  const double radius = truncate * sigma + 0.5;
  if (radius > kMaxRadius) {
    throw Error::InvalidArgument(
        fmt::format("{} makes a kernel radius of {} pixels (max {})", sigma, radius, kMaxRadius),
        field);
  }
  return static_cast<int64_t>(radius);
}

/// Return exp(-x^2 / (2 sigma^2)) for x in [-radius, radius], normalised to sum 1.
std::vector<double> GaussianKernel(double sigma, int64_t radius) {
  std::vector<double> kernel(static_cast<size_t>(2 * radius + 1));
  double sum = 0;
  for (int64_t x = -radius; x <= radius; ++x) {
    const double w = std::exp(-0.5 / (sigma * sigma) * static_cast<double>(x * x));
    kernel[static_cast<size_t>(x + radius)] = w;
    sum += w;
  }
  for (double& w : kernel) w /= sum;
  return kernel;
}

/// Map any index into [0, n) by half-sample symmetric reflection (d c b a | a b c d | d c b a),
/// which repeats with period 2n.
inline int64_t Reflect(int64_t index, int64_t n) {
  const int64_t period = 2 * n;
  int64_t m = index % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/// Blur each row of `in` (rows x cols) into `out`; `line` holds one reflect-padded row.
void BlurRows(const double* in, double* out, int64_t rows, int64_t cols,
              const std::vector<double>& kernel, std::vector<double>& line) {
  const auto taps = static_cast<int64_t>(kernel.size());
  const int64_t radius = taps / 2;
  for (int64_t y = 0; y < rows; ++y) {
    const double* src = in + y * cols;
    for (int64_t j = 0; j < cols + 2 * radius; ++j) {
      line[static_cast<size_t>(j)] = src[Reflect(j - radius, cols)];
    }
    double* dst = out + y * cols;
    std::fill(dst, dst + cols, 0.0);
    for (int64_t k = 0; k < taps; ++k) {
      const double w = kernel[static_cast<size_t>(k)];
      const double* shifted = line.data() + k;
#pragma omp simd
      for (int64_t x = 0; x < cols; ++x) dst[x] += w * shifted[x];
    }
  }
}

/// Blur each column of `in` (rows x cols) into `out`, a whole output row at a time.
void BlurColumns(const double* in, double* out, int64_t rows, int64_t cols,
                 const std::vector<double>& kernel) {
  const auto taps = static_cast<int64_t>(kernel.size());
  const int64_t radius = taps / 2;
  for (int64_t y = 0; y < rows; ++y) {
    double* dst = out + y * cols;
    std::fill(dst, dst + cols, 0.0);
    for (int64_t k = 0; k < taps; ++k) {
      const double w = kernel[static_cast<size_t>(k)];
      const double* src = in + Reflect(y + k - radius, rows) * cols;
#pragma omp simd
      for (int64_t x = 0; x < cols; ++x) dst[x] += w * src[x];
    }
  }
}

}  // namespace

NdArray GaussianBlur(const NdArray& a, double sigma_y, double sigma_x, double truncate) {
  internal::RequireRank(a, 2, "a");
  CheckSigma(sigma_y, "sigma_y");
  CheckSigma(sigma_x, "sigma_x");
  CheckSigma(truncate, "truncate");
  const int64_t radius_y = KernelRadius(sigma_y, truncate, "sigma_y");
  const int64_t radius_x = KernelRadius(sigma_x, truncate, "sigma_x");
  NdArray out = internal::ToFloat64(a, "a");
  if (out.size() == 0 || (radius_y < 0 && radius_x < 0)) return out;

  const int64_t rows = a.shape()[a.shape().size() - 2];
  const int64_t cols = a.shape().back();
  const std::vector<double> kernel_y =
      radius_y < 0 ? std::vector<double>{} : GaussianKernel(sigma_y, radius_y);
  const std::vector<double> kernel_x =
      radius_x < 0 ? std::vector<double>{} : GaussianKernel(sigma_x, radius_x);
  std::vector<double> scratch(static_cast<size_t>(rows * cols));
  std::vector<double> line(static_cast<size_t>(cols + 2 * std::max<int64_t>(radius_x, 0)));
  const int64_t images = internal::StackCount(a);
  for (int64_t i = 0; i < images; ++i) {
    double* image = out.flat<double>().data() + i * rows * cols;
    if (radius_x >= 0 && radius_y >= 0) {
      BlurRows(image, scratch.data(), rows, cols, kernel_x, line);
      BlurColumns(scratch.data(), image, rows, cols, kernel_y);
      continue;
    }
    if (radius_x >= 0) {
      BlurRows(image, scratch.data(), rows, cols, kernel_x, line);
    } else {
      BlurColumns(image, scratch.data(), rows, cols, kernel_y);
    }
    std::memcpy(image, scratch.data(), scratch.size() * sizeof(double));
  }
  return out;
}

}  // namespace tessera::arrayops
