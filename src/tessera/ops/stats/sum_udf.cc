// SPDX-License-Identifier: MIT
#include "tessera/ops/stats/sum_udf.h"

#include <type_traits>

#include "tessera/ops/kernels_internal.h"

namespace tessera::ops {
namespace {

/// acc[p] += sum over frames of tile[f, p]. Four frames are added in registers before touching
/// the accumulator, which quarters the accumulator traffic; narrow integers are added in float
/// first (exact: 4 x 65535 < 2^24), which halves the float64 work.
template <class T>
TESSERA_MULTIVERSION void SumFrames(const T* data, int64_t depth, int64_t stride, int64_t pixels,
               double* __restrict acc) noexcept {
  int64_t f = 0;
  for (; f + 4 <= depth; f += 4) {
    const T* __restrict a = data + f * stride;
    const T* __restrict b = a + stride;
    const T* __restrict c = b + stride;
    const T* __restrict d = c + stride;
    using Quad = std::conditional_t<std::is_integral_v<T> && sizeof(T) <= 2, float, double>;
#pragma omp simd
    for (int64_t p = 0; p < pixels; ++p) {
      acc[p] += static_cast<double>((static_cast<Quad>(a[p]) + static_cast<Quad>(b[p])) +
                                    (static_cast<Quad>(c[p]) + static_cast<Quad>(d[p])));
    }
  }
  for (; f < depth; ++f) {
    const T* __restrict a = data + f * stride;
#pragma omp simd
    for (int64_t p = 0; p < pixels; ++p) acc[p] += static_cast<double>(a[p]);
  }
}

}  // namespace

DType SumUdf::InputDType(DType native) const { return internal::KernelDType(native); }

std::vector<udf::BufferSpec> SumUdf::GetResultBuffers(const udf::UdfMeta& /*meta*/) const {
  return {{.name = "sum", .kind = udf::BufferKind::kSig, .dtype = DType::kFloat64}};
}

void SumUdf::ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const {
  double* acc = buffers.sig<double>(0).data();
  internal::DispatchKernelDType(tile.dtype, [&]<class T>(std::type_identity<T>) {
    SumFrames(static_cast<const T*>(tile.data), tile.depth, tile.frame_stride, tile.sig.size(),
              acc);
  });
}

}  // namespace tessera::ops
