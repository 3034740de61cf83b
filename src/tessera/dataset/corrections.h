// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <vector>

#include "tessera/core/nd_array.h"
#include "tessera/core/shape.h"
#include "tessera/dataset/dataset.h"

namespace tessera::dataset {

/// Detector corrections applied to every tile after decoding, before any UDF sees it:
/// `(x - dark) * gain`, then each excluded (dead or hot) pixel replaced by the mean of its valid
/// neighbours in the 3^n - 1 surrounding pixels.
class CorrectionSet {
 public:
  CorrectionSet() = default;
  /// Validate and build. `dark` and `gain` may be empty arrays; otherwise each must have the
  /// signal shape. `excluded` holds flat signal indices. Errors name the field.
  static CorrectionSet Make(const Shape& shape, const NdArray& dark, const NdArray& gain,
                            std::vector<int64_t> excluded);

  bool empty() const { return dark_.empty() && gain_.empty() && excluded_.empty(); }
  /// Repairing a pixel needs its neighbours, so tiles must hold whole frames.
  bool needs_full_frames() const { return !excluded_.empty(); }
  const std::vector<int64_t>& excluded() const { return excluded_; }
  /// Return the signal shape the set was made for (empty for a default-constructed set).
  const std::vector<int64_t>& sig_shape() const { return sig_shape_; }

  /// Correct a (depth, sig.size()) tile with frames `frame_stride` elements apart, in place.
  template <class T>
  void Apply(T* tile, int64_t depth, int64_t frame_stride, SigRange sig) const noexcept;

 private:
  std::vector<int64_t> sig_shape_;
  std::vector<float> dark_;
  std::vector<float> gain_;
  std::vector<int64_t> excluded_;
  // Neighbours of excluded_[i] are neighbours_[neighbour_begin_[i] .. neighbour_begin_[i + 1]).
  std::vector<int64_t> neighbour_begin_;
  std::vector<int64_t> neighbours_;
};

}  // namespace tessera::dataset
