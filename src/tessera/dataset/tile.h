// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <span>

#include "tessera/core/dtype.h"
#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"

namespace tessera::dataset {

/// A stack of frames x a band of signal pixels, handed to UDFs. Either a view straight into a
/// mapped file (zero copy) or into a reused per-thread decode buffer; valid only during the call.
struct Tile {
  const void* data = nullptr;
  DType dtype = DType::kFloat32;
  int64_t depth = 0;          // number of frames
  int64_t frame_begin = 0;    // flat nav index of the first frame (frames are consecutive)
  int64_t frame_stride = 0;   // elements from one frame to the next
  SigRange sig;               // signal pixels covered
  /// Flat nav index of each frame when frames are not consecutive (partition-method UDFs with an
  /// ROI); empty otherwise.
  std::span<const int64_t> frame_indices;

  /// Return the tile as a (depth, sig.size()) view; T must match dtype.
  template <class T>
  NdView<const T> view() const {
    if (DTypeOf<T>() != dtype) throw Error::Internal("tile viewed with the wrong dtype");
    const int64_t shape[2] = {depth, sig.size()};
    const int64_t strides[2] = {frame_stride, 1};
    return NdView<const T>(static_cast<const T*>(data), shape, strides);
  }
  /// Return the flat nav index of frame `i` of this tile.
  int64_t frame_index(int64_t i) const {
    return frame_indices.empty() ? frame_begin + i : frame_indices[static_cast<size_t>(i)];
  }
};

/// How a partition is cut into tiles: `depth` frames at a time, over each signal band in turn.
struct TilingScheme {
  int64_t depth = 1;
  std::vector<SigRange> sig_ranges;
  /// Bytes of one tile in the processing dtype (for reporting).
  int64_t tile_bytes = 0;
};

}  // namespace tessera::dataset
