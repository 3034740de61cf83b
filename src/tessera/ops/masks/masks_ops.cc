// SPDX-License-Identifier: MIT
#include "tessera/ops/operator_registry.h"

namespace tessera::ops {

void RegisterMaskOps(OperatorRegistry& /*registry*/) {}

}  // namespace tessera::ops
