// SPDX-License-Identifier: MIT
#include "tessera/dataset/partition.h"

#include <algorithm>

#include "tessera/core/error.h"

namespace tessera::dataset {

std::vector<Partition> MakePartitions(const Shape& shape, int64_t native_depth,
                                      int64_t partition_bytes) {
  if (partition_bytes <= 0) throw Error::InvalidArgument("must be positive", "partition_bytes");
  const int64_t num_frames = shape.nav_size();
  const int64_t frame_bytes = std::max<int64_t>(shape.sig_size() * 4, 1);
  const int64_t block = std::max<int64_t>(native_depth, 1);
  int64_t frames_per_partition = std::max<int64_t>(partition_bytes / frame_bytes, 1);
  frames_per_partition = std::max<int64_t>(frames_per_partition / block, 1) * block;
  std::vector<Partition> partitions;
  for (int64_t begin = 0; begin < num_frames; begin += frames_per_partition) {
    partitions.push_back(Partition{.index = static_cast<int64_t>(partitions.size()),
                                   .frame_begin = begin,
                                   .frame_end = std::min(num_frames, begin + frames_per_partition)});
  }
  return partitions;
}

}  // namespace tessera::dataset
