// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <vector>

#include "tessera/dataset/dataset.h"

namespace tessera::dataset {

/// A contiguous range [frame_begin, frame_end) of the flattened navigation axis.
struct Partition {
  int64_t index = 0;
  int64_t frame_begin = 0;
  int64_t frame_end = 0;
  int64_t num_frames() const { return frame_end - frame_begin; }
};

inline constexpr int64_t kDefaultPartitionBytes = int64_t{64} << 20;

/// Split a dataset into partitions of at most `partition_bytes` (counted as float32 pixels, the
/// default processing type), aligned to `native_depth` frames. The result depends only on the
/// dataset and the byte limit, never on the number of cores or ranks, so results are
/// bit-identical whatever executes them.
std::vector<Partition> MakePartitions(const Shape& shape, int64_t native_depth,
                                      int64_t partition_bytes = kDefaultPartitionBytes);

}  // namespace tessera::dataset
