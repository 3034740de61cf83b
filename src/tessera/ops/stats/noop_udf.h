// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "tessera/udf/udf.h"

namespace tessera::ops {

/// Touch nothing and produce nothing: the benchmark baseline that times the framework's own
/// overhead per tile and frame (LiberTEM's NoOpUDF).
class NoopUdf final : public udf::Udf {
 public:
  std::string name() const override { return "noop"; }
  DType InputDType(DType native) const override { return native; }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& /*meta*/) const override {
    return {};
  }
  void ProcessTile(const dataset::Tile& /*tile*/, udf::BufferSet& /*buffers*/) const override {}
};

}  // namespace tessera::ops
