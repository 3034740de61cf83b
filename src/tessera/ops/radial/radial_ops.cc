// SPDX-License-Identifier: MIT
#include "tessera/ops/operator_registry.h"

namespace tessera::ops {

void RegisterRadialOps(OperatorRegistry& /*registry*/) {}

}  // namespace tessera::ops
