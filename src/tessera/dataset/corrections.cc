// SPDX-License-Identifier: MIT
#include "tessera/dataset/corrections.h"

#include <fmt/format.h>

#include <algorithm>

#include "tessera/core/convert.h"

namespace tessera::dataset {
namespace {

std::vector<float> ToFloatPlane(const NdArray& array, const Shape& shape, const char* field) {
  if (array.empty()) return {};
  const auto sig = shape.sig();
  if (array.size() != shape.sig_size()) {
    throw Error::InvalidArgument(
        fmt::format("has shape {}, the frames are {}", FormatDims(array.shape()), FormatDims(sig)),
        field);
  }
  std::vector<float> plane(static_cast<size_t>(array.size()));
  ConvertElements(array.raw(), array.dtype(), false, plane.data(), DType::kFloat32, array.size());
  return plane;
}

}  // namespace

CorrectionSet CorrectionSet::Make(const Shape& shape, const NdArray& dark, const NdArray& gain,
                                  std::vector<int64_t> excluded) {
  CorrectionSet set;
  set.sig_shape_.assign(shape.sig().begin(), shape.sig().end());
  set.dark_ = ToFloatPlane(dark, shape, "dark");
  set.gain_ = ToFloatPlane(gain, shape, "gain");
  const int64_t sig_size = shape.sig_size();
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
  for (int64_t pixel : excluded) {
    if (pixel < 0 || pixel >= sig_size) {
      throw Error::InvalidArgument(
          fmt::format("pixel index {} is outside the frame of {} pixels", pixel, sig_size),
          "excluded_pixels");
    }
  }
  set.excluded_ = std::move(excluded);
  // Precompute each excluded pixel's valid neighbours once, so Apply() is a gather per pixel.
  const auto sig = shape.sig();
  const int dims = static_cast<int>(sig.size());
  std::vector<int64_t> strides(static_cast<size_t>(dims), 1);
  for (int d = dims - 2; d >= 0; --d) strides[d] = strides[d + 1] * sig[d + 1];
  set.neighbour_begin_.push_back(0);
  std::vector<int64_t> coord(static_cast<size_t>(dims));
  for (int64_t pixel : set.excluded_) {
    int64_t rest = pixel;
    for (int d = 0; d < dims; ++d) {
      coord[d] = rest / strides[d];
      rest %= strides[d];
    }
    int64_t combos = 1;
    for (int d = 0; d < dims; ++d) combos *= 3;
    for (int64_t combo = 0; combo < combos; ++combo) {
      int64_t c = combo;
      int64_t flat = 0;
      bool inside = true;
      bool centre = true;
      for (int d = dims - 1; d >= 0; --d) {
        const int64_t delta = c % 3 - 1;
        c /= 3;
        centre = centre && delta == 0;
        const int64_t v = coord[d] + delta;
        inside = inside && v >= 0 && v < sig[d];
        flat += v * strides[d];
      }
      if (centre || !inside) continue;
      if (std::binary_search(set.excluded_.begin(), set.excluded_.end(), flat)) continue;
      set.neighbours_.push_back(flat);
    }
    set.neighbour_begin_.push_back(static_cast<int64_t>(set.neighbours_.size()));
  }
  return set;
}

template <class T>
void CorrectionSet::Apply(T* tile, int64_t depth, int64_t frame_stride, SigRange sig) const noexcept {
  const int64_t n = sig.size();
  for (int64_t f = 0; f < depth; ++f) {
    T* frame = tile + f * frame_stride;
    if (!dark_.empty() && !gain_.empty()) {
      const float* dark = dark_.data() + sig.begin;
      const float* gain = gain_.data() + sig.begin;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) frame[i] = (frame[i] - dark[i]) * gain[i];
    } else if (!dark_.empty()) {
      const float* dark = dark_.data() + sig.begin;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) frame[i] -= dark[i];
    } else if (!gain_.empty()) {
      const float* gain = gain_.data() + sig.begin;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) frame[i] *= gain[i];
    }
    // Excluded pixels need whole frames (needs_full_frames), so sig.begin == 0 here.
    for (size_t e = 0; e < excluded_.size(); ++e) {
      const int64_t begin = neighbour_begin_[e];
      const int64_t end = neighbour_begin_[e + 1];
      T sum = 0;
      for (int64_t k = begin; k < end; ++k) sum += frame[neighbours_[static_cast<size_t>(k)]];
      frame[excluded_[e]] = end > begin ? sum / static_cast<T>(end - begin) : T(0);
    }
  }
}

template void CorrectionSet::Apply<float>(float*, int64_t, int64_t, SigRange) const noexcept;
template void CorrectionSet::Apply<double>(double*, int64_t, int64_t, SigRange) const noexcept;

}  // namespace tessera::dataset
