// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/udf/udf.h"

namespace tessera::ops {

class Params;

/// Frames at given scan positions, in their native dtype (float32 for exotic dtypes).
/// Result "frames": (number of positions, sig...), positions in the order given.
class PickUdf final : public udf::Udf {
 public:
  /// `positions`: one nav coordinate tuple per frame, e.g. {{y, x}, ...}.
  explicit PickUdf(std::vector<std::vector<int64_t>> positions);

  std::string name() const override { return "pick"; }
  DType InputDType(DType native) const override;
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& meta) const override;
  /// Check every position against the scan and the ROI (errors name "positions").
  void PrepareRun(const udf::UdfMeta& meta) override;
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override;
  void Merge(udf::BufferSet& dest, const udf::BufferSet& src) const override;
  std::vector<udf::Result> GetResults(const udf::BufferSet& merged,
                                      const udf::UdfMeta& meta) const override;

 private:
  std::vector<std::vector<int64_t>> positions_;
  std::vector<std::pair<int64_t, int64_t>> by_frame_;  // (flat frame index, slot), sorted
  int64_t sig_size_ = 0;
};

/// Parse "y,x;y,x" into positions; errors name "positions".
std::vector<std::vector<int64_t>> ParsePositions(const std::string& text);

/// Make the pick analysis from registry parameters.
std::unique_ptr<udf::Udf> MakePick(const Params& params);

}  // namespace tessera::ops
