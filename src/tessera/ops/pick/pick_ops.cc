// SPDX-License-Identifier: MIT
#include "tessera/ops/operator_registry.h"

namespace tessera::ops {

void RegisterPickOps(OperatorRegistry& /*registry*/) {}

}  // namespace tessera::ops
