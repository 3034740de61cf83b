// SPDX-License-Identifier: MIT
#pragma once

// Argument checks and conversions shared by the arrayops .cc files (not part of the API).

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/core/shape.h"

namespace tessera::arrayops::internal {

/// Throw kInvalidArgument naming `field` unless `a` holds storage of a real dtype.
inline void RequireRealArray(const NdArray& a, const std::string& field) {
  if (a.empty()) throw Error::InvalidArgument("no array given", field);
  if (IsComplex(a.dtype())) {
    throw Error::InvalidArgument(
        fmt::format("complex arrays ({}) are not supported", Name(a.dtype())), field);
  }
}

/// Throw kInvalidArgument naming `field` unless `a` is a real array of rank >= `min_rank`.
inline void RequireRank(const NdArray& a, int min_rank, const std::string& field) {
  RequireRealArray(a, field);
  if (a.rank() < min_rank) {
    throw Error::InvalidArgument(fmt::format("needs an array of rank >= {}, got shape ({})",
                                             min_rank, FormatDims(a.shape())),
                                 field);
  }
}

/// Throw kInvalidArgument naming `field` unless `a` is a real array of rank exactly `rank`.
inline void RequireExactRank(const NdArray& a, int rank, const std::string& field) {
  RequireRealArray(a, field);
  if (a.rank() != rank) {
    throw Error::InvalidArgument(
        fmt::format("needs an array of rank {}, got shape ({})", rank, FormatDims(a.shape())),
        field);
  }
}

/// Throw kInvalidArgument naming `field` unless `value` is finite.
inline void RequireFinite(double value, const std::string& field) {
  if (!std::isfinite(value)) {
    throw Error::InvalidArgument(fmt::format("must be finite, got {}", value), field);
  }
}

/// Return a float64 copy of a real array (the dtype dispatch happens once, in ConvertElements).
inline NdArray ToFloat64(const NdArray& a, const std::string& field) {
  RequireRealArray(a, field);
  NdArray out(DType::kFloat64, a.shape());
  if (a.size() > 0) {
    ConvertElements(a.raw(), a.dtype(), false, out.raw(), DType::kFloat64, a.size());
  }
  return out;
}

/// Return the number of images in a stack whose last two axes are the image (rank >= 2).
inline int64_t StackCount(const NdArray& a) {
  return Product(std::span<const int64_t>(a.shape()).first(a.shape().size() - 2));
}

}  // namespace tessera::arrayops::internal
