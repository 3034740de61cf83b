// SPDX-License-Identifier: MIT
#include "tessera/formats/format_registry.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/pipeline/builtin_ops.h"

namespace tessera::pipeline {

const PipelineRegistry& BuiltinOperators() {
  static const formats::FormatRegistry formats = [] {
    formats::FormatRegistry r;
    formats::RegisterBuiltinFormats(r);
    return r;
  }();
  static const ops::OperatorRegistry analyses = [] {
    ops::OperatorRegistry r;
    ops::RegisterBuiltinOps(r);
    return r;
  }();
  static const PipelineRegistry registry = [] {
    PipelineRegistry r;
    RegisterIoOps(r, formats);
    RegisterMapOps(r, formats);
    RegisterReduceOps(r, analyses, formats);
    RegisterArrayOps(r);
    RegisterDisplayOps(r);
    return r;
  }();
  return registry;
}

}  // namespace tessera::pipeline
