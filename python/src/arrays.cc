// SPDX-License-Identifier: MIT
// NumPy arrays over Tessera's memory without copies, and axis calibrations as dicts.
#include <array>
#include <utility>

#include "bindings_internal.h"

namespace tessera::python {
namespace {

constexpr int kNumDTypes = static_cast<int>(DType::kComplex128) + 1;

/// Make an array over `data` (never copied) with C strides unless `byte_strides` is given; the
/// caller sets its base object.
py::array NewArray(const void* data, DType dtype, std::span<const int64_t> shape,
                   const int64_t* byte_strides, bool writeable) {
  auto& api = py::detail::npy_api::get();
  const py::dtype& descr = ToNumpy(dtype);
  descr.inc_ref();  // PyArray_NewFromDescr steals a reference to the descriptor
  const int flags = writeable ? py::detail::npy_api::NPY_ARRAY_WRITEABLE_ : 0;
  static_assert(sizeof(Py_intptr_t) == sizeof(int64_t));
  PyObject* out = api.PyArray_NewFromDescr_(
      api.PyArray_Type_, descr.ptr(), static_cast<int>(shape.size()),
      reinterpret_cast<Py_intptr_t*>(const_cast<int64_t*>(shape.data())),
      reinterpret_cast<Py_intptr_t*>(const_cast<int64_t*>(byte_strides)),
      const_cast<void*>(data), flags, nullptr);
  if (out == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::array>(out);
}

void SetBase(py::array& array, py::object base) {
  auto& api = py::detail::npy_api::get();
  if (api.PyArray_SetBaseObject_(array.ptr(), base.release().ptr()) != 0) {
    throw py::error_already_set();
  }
}

}  // namespace

const py::dtype& ToNumpy(DType dtype) {
  // Built once with the GIL held; never destroyed (the interpreter may be gone at exit).
  static auto* cache = [] {
    auto* dtypes = new std::array<py::dtype, kNumDTypes>();
    for (int i = 0; i < kNumDTypes; ++i) {
      (*dtypes)[static_cast<size_t>(i)] = py::dtype(std::string(Name(static_cast<DType>(i))));
    }
    return dtypes;
  }();
  return (*cache)[static_cast<size_t>(dtype)];
}

DType FromNumpy(const py::dtype& dtype, const std::string& field) {
  for (int i = 0; i < kNumDTypes; ++i) {
    if (ToNumpy(static_cast<DType>(i)).equal(dtype)) return static_cast<DType>(i);
  }
  throw Error::InvalidArgument(
      "unsupported dtype " + py::str(dtype).cast<std::string>() +
          " (bool, int8..uint64, float32, float64, complex64, complex128 in native byte order)",
      field);
}

py::array OwningArray(NdArray&& array) {
  auto* owned = new NdArray(std::move(array));
  py::capsule owner(owned, [](void* p) { delete static_cast<NdArray*>(p); });
  py::array out = NewArray(owned->raw(), owned->dtype(), owned->shape(), nullptr, true);
  SetBase(out, std::move(owner));
  return out;
}

py::array SharedArray(std::shared_ptr<const void> owner, const void* data, DType dtype,
                      std::span<const int64_t> shape, bool writeable) {
  auto* held = new std::shared_ptr<const void>(std::move(owner));
  py::capsule capsule(held, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
  py::array out = NewArray(data, dtype, shape, nullptr, writeable);
  SetBase(out, std::move(capsule));
  return out;
}

py::array BorrowedArray(const void* data, DType dtype, std::span<const int64_t> shape,
                        std::span<const int64_t> byte_strides, bool writeable) {
  return NewArray(data, dtype, shape, byte_strides.data(), writeable);
}

py::list AxesToPython(const std::vector<dataset::Axis>& axes) {
  py::list out;
  for (const auto& axis : axes) {
    py::dict d;
    d["name"] = axis.name;
    d["size"] = axis.size;
    d["scale"] = axis.scale;
    d["offset"] = axis.offset;
    d["units"] = axis.units;
    if (!axis.values.empty()) d["values"] = axis.values;
    out.append(std::move(d));
  }
  return out;
}

std::vector<dataset::Axis> AxesFromPython(const py::handle& axes) {
  std::vector<dataset::Axis> out;
  for (const py::handle item : axes) {
    const auto d = py::reinterpret_borrow<py::dict>(item);
    dataset::Axis axis;
    if (d.contains("name")) axis.name = py::str(d["name"]);
    if (d.contains("size")) axis.size = d["size"].cast<int64_t>();
    if (d.contains("scale")) axis.scale = d["scale"].cast<double>();
    if (d.contains("offset")) axis.offset = d["offset"].cast<double>();
    if (d.contains("units") && !d["units"].is_none()) axis.units = py::str(d["units"]);
    if (d.contains("values") && !d["values"].is_none()) {
      axis.values = d["values"].cast<std::vector<double>>();
    }
    out.push_back(std::move(axis));
  }
  return out;
}

}  // namespace tessera::python
