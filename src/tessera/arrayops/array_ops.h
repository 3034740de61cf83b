// SPDX-License-Identifier: MIT
#pragma once

// Element-wise and geometric operators on in-memory arrays. Inputs may have any real dtype;
// outputs are float64 unless a function says otherwise. Bad arguments throw kInvalidArgument
// naming the parameter.

#include <cstdint>
#include <span>

#include "tessera/core/nd_array.h"

namespace tessera::arrayops {

/// Return the box [begin, end) of `a` (one entry per axis, end exclusive), in a's dtype.
/// Nothing is clamped: a bound outside [0, shape] or begin > end throws ("begin" / "end").
NdArray Crop(const NdArray& a, std::span<const int64_t> begin, std::span<const int64_t> end);

/// Return `a` blurred by a Gaussian over its last two axes (leading axes are a stack), exactly
/// as scipy.ndimage.gaussian_filter(a, (.., sigma_y, sigma_x), mode='reflect', truncate=truncate):
/// separable, kernel radius int(truncate * sigma + 0.5), normalised weights, boundary
/// 'reflect' (d c b a | a b c d | d c b a, repeated when the kernel outgrows the image).
/// A sigma of 0 leaves that axis alone; NaNs spread over their kernel footprint.
NdArray GaussianBlur(const NdArray& a, double sigma_y, double sigma_x, double truncate = 4.0);

enum class BinaryOp { kAdd, kSubtract, kMultiply, kDivide, kMinimum, kMaximum };

/// Return `a op b` element-wise with NumPy broadcasting (shapes aligned on the right; each pair
/// of dims equal or one of them 1). Division follows IEEE (x/0 = ±inf, 0/0 = NaN); minimum and
/// maximum propagate NaN like np.minimum/np.maximum. Incompatible shapes throw ("b").
NdArray Arithmetic(const NdArray& a, const NdArray& b, BinaryOp op);
/// Return `a op b` element-wise for a scalar `b`.
NdArray Arithmetic(const NdArray& a, double b, BinaryOp op);

enum class NormaliseMode {
  kMinMax,  ///< (a - min) / (max - min): the range becomes [0, 1]
  kZScore,  ///< (a - mean) / std (population std, ddof = 0)
  kSum,     ///< a / sum(a)
  kMax,     ///< a / max(|a|): the largest magnitude becomes ±1
};

/// Return `a` normalised over all its elements. NaNs are left out of the statistics and stay
/// NaN. Constant input gives zeros for kMinMax and kZScore; where the divisor of kSum or kMax is
/// 0 the values are returned unchanged (never a division by zero).
NdArray Normalise(const NdArray& a, NormaliseMode mode);

enum class ThresholdMode {
  kBinary,  ///< 1 where a > value, else 0 (NaN gives 0)
  kToZero,  ///< a where a > value, else 0 (NaN stays NaN)
  kClip,    ///< min(a, value): values above the threshold are cut to it (NaN stays NaN)
};

/// Return `a` thresholded at `value` (like OpenCV's THRESH_BINARY / TOZERO / TRUNC).
NdArray Threshold(const NdArray& a, double value, ThresholdMode mode);

}  // namespace tessera::arrayops
