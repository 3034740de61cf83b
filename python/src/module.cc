// SPDX-License-Identifier: MIT
// tessera._tessera: the C++ half of the Python module (the Python half is python/tessera/).
#include "bindings_internal.h"
#include "tessera/formats/format_registry.h"
#include "tessera/ops/operator_registry.h"

namespace tessera::python {

const formats::FormatRegistry& Formats() {
  static const formats::FormatRegistry registry = [] {
    formats::FormatRegistry r;
    formats::RegisterBuiltinFormats(r);
    return r;
  }();
  return registry;
}

const ops::OperatorRegistry& Analyses() {
  static const ops::OperatorRegistry registry = [] {
    ops::OperatorRegistry r;
    ops::RegisterBuiltinOps(r);
    return r;
  }();
  return registry;
}

}  // namespace tessera::python

PYBIND11_MODULE(_tessera, m) {
  namespace tp = tessera::python;
  m.doc() = "Tessera's C++ engine (use the tessera package, not this module)";
  m.attr("__version__") = TESSERA_VERSION;
  tp::RegisterErrors(m);
  tp::RegisterDatasets(m);
  tp::RegisterUdfs(m);
  tp::RegisterRuns(m);
  tp::RegisterPipelines(m);
}
