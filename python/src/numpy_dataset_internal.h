// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bindings_internal.h"

namespace tessera::python {

/// Wrap a C-contiguous, native-order array as a dataset with `sig_dims` trailing signal axes
/// (zero copy: the dataset keeps the array alive). `axes` empty: default axes.
std::shared_ptr<const dataset::Dataset> MakeNumpyDataset(const py::array& array, int sig_dims,
                                                         std::vector<dataset::Axis> axes,
                                                         std::string metadata_json);

}  // namespace tessera::python
