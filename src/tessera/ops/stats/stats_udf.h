// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "tessera/udf/udf.h"

namespace tessera::ops {

/// Per-pixel mean, variance (population, ddof = 0), standard deviation, minimum and maximum over
/// all frames (inside the ROI), in one pass.
///
/// Each tile is reduced in float64 with a shifted one-pass formula (the shift is the tile's first
/// frame, which bounds the cancellation error by the tile depth), then Chan-merged into the
/// partition's (count, mean, M2) accumulators; partitions are Chan-merged in Merge.
class StatsUdf final : public udf::Udf {
 public:
  std::string name() const override { return "stats"; }
  DType InputDType(DType native) const override;
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& meta) const override;
  void Preprocess(udf::BufferSet& buffers) const override;
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override;
  void Merge(udf::BufferSet& dest, const udf::BufferSet& src) const override;
  std::vector<udf::Result> GetResults(const udf::BufferSet& merged,
                                      const udf::UdfMeta& meta) const override;
};

}  // namespace tessera::ops
