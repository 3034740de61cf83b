// SPDX-License-Identifier: MIT
#pragma once

// Shared pieces of the analysis kernels: dtype dispatch and blocked reductions. Included only by
// the ops layer's .cc files.

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "tessera/core/dtype.h"
#include "tessera/core/error.h"

/// Compile a kernel for baseline x86-64, AVX2 and AVX-512 and pick one at load time (GCC
/// function multiversioning): release builds still run on any x86-64, never -march=native.
/// The kernels sum over fixed lane arrays and the build does not contract to FMA, so both
/// versions produce the same bits (CMakeLists.txt sets -ffp-contract=off for this layer).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TESSERA_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TESSERA_MULTIVERSION
#endif

/// Helpers of multiversioned kernels must inline into each version to get its instruction set.
#if defined(__GNUC__)
#define TESSERA_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define TESSERA_ALWAYS_INLINE inline
#endif

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
/// 8- and 16-bit integers are summed exactly in 32-bit integer lanes, in chunks short enough
/// never to overflow.
template <class T>
TESSERA_ALWAYS_INLINE double SumRow(const T* __restrict row, int64_t n) noexcept {
  if constexpr (std::is_integral_v<T> && sizeof(T) <= 2) {
    using Lane = std::conditional_t<std::is_signed_v<T>, int32_t, uint32_t>;
    constexpr int64_t kChunk = kLanes * 4096;  // 4096 x 65535 < 2^32
    int64_t total = 0;
    int64_t p = 0;
    while (p < n) {
      const int64_t chunk_end = std::min(n, p + kChunk);
      Lane lanes[kLanes] = {};
      for (; p + kLanes <= chunk_end; p += kLanes) {
#pragma omp simd
        for (int k = 0; k < kLanes; ++k) lanes[k] += static_cast<Lane>(row[p + k]);
      }
      for (; p < chunk_end; ++p) total += row[p];
      for (int k = 0; k < kLanes; ++k) total += static_cast<int64_t>(lanes[k]);
    }
    return static_cast<double>(total);
  } else {
    if (n < kLanes) {
      // Short rows (runs of a mask, narrow bands): the lane set-up and final fold would cost
      // more than the sum itself.
      double total = 0;
      for (int64_t p = 0; p < n; ++p) total += static_cast<double>(row[p]);
      return total;
    }
    double lanes[kLanes] = {};
    int64_t p = 0;
    for (; p + kLanes <= n; p += kLanes) {
#pragma omp simd
      for (int k = 0; k < kLanes; ++k) lanes[k] += static_cast<double>(row[p + k]);
    }
    double total = 0;
    for (; p < n; ++p) total += static_cast<double>(row[p]);
    // Fold the lanes pairwise: four dependent adds instead of sixteen.
    for (int width = kLanes / 2; width > 0; width /= 2) {
      for (int k = 0; k < width; ++k) lanes[k] += lanes[k + width];
    }
    return total + lanes[0];
  }
}

}  // namespace tessera::ops::internal
