// SPDX-License-Identifier: MIT
// tessera._tessera: the C++ half of the Python module (the Python half is python/tessera/).
#include "bindings_internal.h"
#include "tessera/formats/format_registry.h"
#include "tessera/ops/operator_registry.h"

namespace tessera::python {

const formats::FormatRegistry& Formats() { return formats::BuiltinFormats(); }

const ops::OperatorRegistry& Analyses() { return ops::BuiltinAnalyses(); }

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
