// SPDX-License-Identifier: MIT
// Shared pieces of the Python module: registries, NumPy conversions, the dataset handle.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"

namespace tessera::formats {
class FormatRegistry;
}
namespace tessera::ops {
class OperatorRegistry;
}

namespace tessera::python {

namespace py = pybind11;

/// Return the built-in formats and analyses (built once, on first use).
const formats::FormatRegistry& Formats();
const ops::OperatorRegistry& Analyses();

/// Return the NumPy dtype of `dtype` (cached: no string parsing per call).
const py::dtype& ToNumpy(DType dtype);
/// Return the Tessera dtype of a NumPy dtype; throws kInvalidArgument naming `field`.
DType FromNumpy(const py::dtype& dtype, const std::string& field);

/// Return a NumPy array that owns `array` (moved into a capsule: no copy).
py::array OwningArray(NdArray&& array);
/// Return a NumPy array over `data` kept alive by `owner` (no copy).
py::array SharedArray(std::shared_ptr<const void> owner, const void* data, DType dtype,
                      std::span<const int64_t> shape, bool writeable);
/// Return a NumPy view of memory valid only during a call (no owner, no copy). Strides in bytes.
py::array BorrowedArray(const void* data, DType dtype, std::span<const int64_t> shape,
                        std::span<const int64_t> byte_strides, bool writeable);

/// Return axes as a list of dicts {name, size, scale, offset, units[, values]}.
py::list AxesToPython(const std::vector<dataset::Axis>& axes);
/// Read axes from a list of dicts (missing keys keep their defaults).
std::vector<dataset::Axis> AxesFromPython(const py::handle& axes);

/// What Python holds for a dataset: the reader, shared with runs that still use it.
struct DatasetHandle {
  std::shared_ptr<const dataset::Dataset> dataset;
};

/// Raise the Python exception for `info` (a tessera.errors.TesseraError subclass).
[[noreturn]] void RaiseTesseraError(const ErrorInfo& info);

void RegisterErrors(py::module_& m);
void RegisterDatasets(py::module_& m);
void RegisterUdfs(py::module_& m);
void RegisterRuns(py::module_& m);
void RegisterPipelines(py::module_& m);

}  // namespace tessera::python
