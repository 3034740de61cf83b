// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "tessera/udf/udf.h"

namespace tessera::ops {

/// Sum of each frame: a float64 navigation-shaped result "frame_sum".
class FrameSumUdf final : public udf::Udf {
 public:
  std::string name() const override { return "frame-sum"; }
  DType InputDType(DType native) const override;
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& meta) const override;
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override;
};

}  // namespace tessera::ops
