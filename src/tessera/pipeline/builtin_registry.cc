// SPDX-License-Identifier: MIT
#include "tessera/formats/format_registry.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/pipeline/builtin_ops.h"

namespace tessera::pipeline {

const PipelineRegistry& BuiltinOperators() {
  static const PipelineRegistry registry = [] {
    const auto& file_formats = formats::BuiltinFormats();
    PipelineRegistry r;
    RegisterIoOps(r, file_formats);
    RegisterMapOps(r, file_formats);
    RegisterReduceOps(r, ops::BuiltinAnalyses(), file_formats);
    RegisterArrayOps(r);
    RegisterDisplayOps(r);
    return r;
  }();
  return registry;
}

}  // namespace tessera::pipeline
