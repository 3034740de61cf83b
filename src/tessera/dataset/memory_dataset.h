// SPDX-License-Identifier: MIT
#pragma once

#include <memory>

#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"

namespace tessera::dataset {

/// Wrap an in-memory array as a dataset with `sig_dims` trailing signal axes (zero copy).
std::unique_ptr<Dataset> MakeMemoryDataset(NdArray data, int sig_dims);

}  // namespace tessera::dataset
