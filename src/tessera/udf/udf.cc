// SPDX-License-Identifier: MIT
#include "tessera/udf/udf.h"

#include <fmt/format.h>

#include <complex>

#include "tessera/dataset/roi.h"

namespace tessera::udf {
namespace {

template <class T>
void AddTyped(NdArray& dest, const NdArray& src) {
  auto d = dest.flat<T>();
  auto s = src.flat<T>();
  const size_t n = d.size();
#pragma omp simd
  for (size_t i = 0; i < n; ++i) d[i] += s[i];
}

}  // namespace

BufferSet::BufferSet(const std::vector<BufferSpec>& specs, const Shape& shape, int64_t frame_begin,
                     int64_t num_frames)
    : specs_(specs), frame_begin_(frame_begin), num_frames_(num_frames) {
  arrays_.reserve(specs.size());
  for (const auto& spec : specs) {
    std::vector<int64_t> dims;
    switch (spec.kind) {
      case BufferKind::kNav: dims.push_back(num_frames); break;
      case BufferKind::kSig: dims.push_back(shape.sig_size()); break;
      case BufferKind::kSingle: break;
    }
    dims.insert(dims.end(), spec.extra_shape.begin(), spec.extra_shape.end());
    arrays_.emplace_back(spec.dtype, std::move(dims));
  }
}

BufferSet BufferSet::Clone() const {
  BufferSet copy;
  copy.specs_ = specs_;
  for (const auto& array : arrays_) copy.arrays_.push_back(array.Clone());
  copy.frame_begin_ = frame_begin_;
  copy.num_frames_ = num_frames_;
  return copy;
}

int BufferSet::IndexOf(const std::string& name) const {
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (specs_[i].name == name) return static_cast<int>(i);
  }
  throw Error::Internal(fmt::format("no result buffer named '{}'", name));
}

template <class T>
NdView<T> BufferSet::nav(int index) {
  NdView<T> whole = Whole<T>(index);
  return whole.Slice0(tile_frame_offset_, tile_frame_offset_ + tile_depth_);
}

template <class T>
NdView<T> BufferSet::sig(int index) {
  NdView<T> whole = Whole<T>(index);
  return whole.Slice0(tile_sig_.begin, tile_sig_.end);
}

#define TESSERA_INSTANTIATE_VIEWS(T)              \
  template NdView<T> BufferSet::nav<T>(int index); \
  template NdView<T> BufferSet::sig<T>(int index);
TESSERA_INSTANTIATE_VIEWS(float)
TESSERA_INSTANTIATE_VIEWS(double)
TESSERA_INSTANTIATE_VIEWS(int64_t)
TESSERA_INSTANTIATE_VIEWS(uint8_t)
TESSERA_INSTANTIATE_VIEWS(int32_t)
TESSERA_INSTANTIATE_VIEWS(uint16_t)
TESSERA_INSTANTIATE_VIEWS(std::complex<float>)
#undef TESSERA_INSTANTIATE_VIEWS

DType Udf::InputDType(DType /*native*/) const { return DType::kFloat32; }

void Udf::PrepareRun(const UdfMeta& /*meta*/) {}

void Udf::Preprocess(BufferSet& /*buffers*/) const {}

void Udf::ProcessTile(const dataset::Tile& /*tile*/, BufferSet& /*buffers*/) const {
  throw Error::Internal(fmt::format("UDF '{}' does not implement ProcessTile", name()));
}
void Udf::ProcessFrame(const dataset::Tile& /*frame*/, BufferSet& /*buffers*/) const {
  throw Error::Internal(fmt::format("UDF '{}' does not implement ProcessFrame", name()));
}
void Udf::ProcessPartition(const dataset::Tile& /*partition*/, BufferSet& /*buffers*/) const {
  throw Error::Internal(fmt::format("UDF '{}' does not implement ProcessPartition", name()));
}

void Udf::Postprocess(BufferSet& /*buffers*/) const {}

void AddInto(NdArray& dest, const NdArray& src) {
  if (dest.dtype() != src.dtype() || dest.size() != src.size()) {
    throw Error::Internal("AddInto: buffers differ in dtype or size");
  }
  switch (dest.dtype()) {
    case DType::kFloat32: return AddTyped<float>(dest, src);
    case DType::kFloat64: return AddTyped<double>(dest, src);
    case DType::kInt64: return AddTyped<int64_t>(dest, src);
    case DType::kInt32: return AddTyped<int32_t>(dest, src);
    case DType::kUint64: return AddTyped<uint64_t>(dest, src);
    case DType::kComplex64: return AddTyped<std::complex<float>>(dest, src);
    case DType::kComplex128: return AddTyped<std::complex<double>>(dest, src);
    default:
      throw Error::Unsupported(fmt::format("default merge of {} buffers", Name(dest.dtype())));
  }
}

void Udf::Merge(BufferSet& dest, const BufferSet& src) const {
  for (int i = 0; i < dest.size(); ++i) {
    if (dest.spec(i).kind == BufferKind::kNav) continue;
    AddInto(dest.array(i), src.array(i));
  }
}

std::vector<Result> Udf::GetResults(const BufferSet& merged, const UdfMeta& meta) const {
  std::vector<Result> results;
  const auto& ds = *meta.dataset;
  for (int i = 0; i < merged.size(); ++i) {
    const auto& spec = merged.spec(i);
    if (spec.is_private) continue;
    Result result;
    result.name = spec.name;
    result.kind = spec.kind;
    result.data = merged.array(i).Clone();
    std::vector<int64_t> dims;
    const int nav_dims = ds.shape.nav_dims();
    if (spec.kind == BufferKind::kNav) {
      for (int a = 0; a < nav_dims; ++a) result.axes.push_back(ds.axes[static_cast<size_t>(a)]);
      dims.assign(ds.shape.nav().begin(), ds.shape.nav().end());
    } else if (spec.kind == BufferKind::kSig) {
      for (int a = nav_dims; a < ds.shape.rank(); ++a) result.axes.push_back(ds.axes[static_cast<size_t>(a)]);
      dims.assign(ds.shape.sig().begin(), ds.shape.sig().end());
    }
    for (size_t e = 0; e < spec.extra_shape.size(); ++e) {
      dims.push_back(spec.extra_shape[e]);
      result.axes.push_back(dataset::Axis{.name = fmt::format("{}_{}", spec.name, e),
                                          .size = spec.extra_shape[e]});
    }
    result.data.Reshape(dims);
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace tessera::udf
