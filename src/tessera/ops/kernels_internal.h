// SPDX-License-Identifier: MIT
#pragma once

// Shared pieces of the analysis kernels: dtype dispatch and blocked reductions. Included only by
// the ops layer's .cc files.

#include <cstdint>
#include <type_traits>

#include "tessera/core/dtype.h"
#include "tessera/core/error.h"

namespace tessera::ops::internal {

/// Return `native` when the streaming kernels read it directly (zero copy from a mapping), else
/// float32 (the runner converts).
inline DType KernelDType(DType native) {
  switch (native) {
    case DType::kUint8:
    case DType::kUint16:
    case DType::kInt16:
    case DType::kUint32:
    case DType::kInt32:
    case DType::kFloat32:
    case DType::kFloat64: return native;
    default: return DType::kFloat32;
  }
}

/// Call `f(std::type_identity<T>{})` for the element type of `dtype` (one of KernelDType's).
template <class F>
decltype(auto) DispatchKernelDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kUint8: return f(std::type_identity<uint8_t>{});
    case DType::kUint16: return f(std::type_identity<uint16_t>{});
    case DType::kInt16: return f(std::type_identity<int16_t>{});
    case DType::kUint32: return f(std::type_identity<uint32_t>{});
    case DType::kInt32: return f(std::type_identity<int32_t>{});
    case DType::kFloat32: return f(std::type_identity<float>{});
    case DType::kFloat64: return f(std::type_identity<double>{});
    default: throw Error::Internal("analysis kernel called with an unsupported dtype");
  }
}

/// Independent partial sums per reduction: enough to hide the add latency, few enough to stay
/// in registers on baseline x86-64 (16 xmm).
inline constexpr int kLanes = 16;

/// Return the sum of n elements as float64, in a fixed order (so results are reproducible).
template <class T>
inline double SumRow(const T* __restrict row, int64_t n) noexcept {
  double lanes[kLanes] = {};
  int64_t p = 0;
  for (; p + kLanes <= n; p += kLanes) {
#pragma omp simd
    for (int k = 0; k < kLanes; ++k) lanes[k] += static_cast<double>(row[p + k]);
  }
  double total = 0;
  for (; p < n; ++p) total += static_cast<double>(row[p]);
  for (int k = 0; k < kLanes; ++k) total += lanes[k];
  return total;
}

}  // namespace tessera::ops::internal
