// SPDX-License-Identifier: MIT
#include "tessera/ops/stats/frame_sum_udf.h"

#include "tessera/ops/kernels_internal.h"

namespace tessera::ops {
namespace {

template <class T>
TESSERA_MULTIVERSION void SumEachFrame(const T* data, int64_t depth, int64_t stride, int64_t pixels,
                  double* out) noexcept {
  for (int64_t f = 0; f < depth; ++f) out[f] += internal::SumRow(data + f * stride, pixels);
}

}  // namespace

DType FrameSumUdf::InputDType(DType native) const { return internal::KernelDType(native); }

std::vector<udf::BufferSpec> FrameSumUdf::GetResultBuffers(const udf::UdfMeta& /*meta*/) const {
  return {{.name = "frame_sum", .kind = udf::BufferKind::kNav, .dtype = DType::kFloat64}};
}

void FrameSumUdf::ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const {
  double* out = buffers.nav<double>(0).data();
  internal::DispatchKernelDType(tile.dtype, [&]<class T>(std::type_identity<T>) {
    SumEachFrame(static_cast<const T*>(tile.data), tile.depth, tile.frame_stride,
                 tile.sig.size(), out);
  });
}

}  // namespace tessera::ops
