// SPDX-License-Identifier: MIT
// tessera._tessera.Dataset: a dataset handle with its meta data; reads frames into NumPy.
#include <map>
#include <string>

#include <fmt/format.h>

#include "bindings_internal.h"
#include "numpy_dataset_internal.h"
#include "tessera/formats/format_registry.h"

namespace tessera::python {
namespace {

py::tuple Tuple(std::span<const int64_t> dims) {
  py::tuple out(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) out[i] = dims[i];
  return out;
}

/// Read frames [begin, end) in their native dtype, shaped (frames, *sig).
py::array ReadFrames(const DatasetHandle& self, int64_t begin, int64_t end) {
  const auto& meta = self.dataset->meta();
  const int64_t frames = meta.shape.nav_size();
  if (begin < 0 || end > frames || begin > end) {
    throw Error::InvalidArgument(
        fmt::format("frames [{}, {}) outside the dataset's {} frames", begin, end, frames), "frames");
  }
  std::vector<int64_t> shape{end - begin};
  shape.insert(shape.end(), meta.shape.sig().begin(), meta.shape.sig().end());
  NdArray out(meta.dtype, shape);
  {
    py::gil_scoped_release release;
    const int64_t sig_size = meta.shape.sig_size();
    // A few MiB at a time, so that a huge read is still interruptible between calls.
    const int64_t step = std::max<int64_t>(1, (int64_t{64} << 20) / std::max<int64_t>(1, sig_size * SizeOf(meta.dtype)));
    for (int64_t f = begin; f < end; f += step) {
      const int64_t stop = std::min(end, f + step);
      self.dataset->ReadFrames(f, stop, {0, sig_size},
                               static_cast<std::byte*>(out.raw()) + (f - begin) * sig_size * SizeOf(meta.dtype),
                               meta.dtype);
    }
  }
  return OwningArray(std::move(out));
}

}  // namespace

void RegisterDatasets(py::module_& m) {
  py::class_<DatasetHandle>(m, "Dataset", "A dataset handle (use tessera.open()).")
      .def_property_readonly("shape", [](const DatasetHandle& d) { return Tuple(d.dataset->meta().shape.dims()); })
      .def_property_readonly("nav_shape", [](const DatasetHandle& d) { return Tuple(d.dataset->meta().shape.nav()); })
      .def_property_readonly("sig_shape", [](const DatasetHandle& d) { return Tuple(d.dataset->meta().shape.sig()); })
      .def_property_readonly("dtype", [](const DatasetHandle& d) { return ToNumpy(d.dataset->meta().dtype); })
      .def_property_readonly("axes", [](const DatasetHandle& d) { return AxesToPython(d.dataset->meta().axes); })
      .def_property_readonly("metadata_json", [](const DatasetHandle& d) { return d.dataset->meta().metadata_json; })
      .def_property_readonly("format", [](const DatasetHandle& d) { return d.dataset->meta().format; })
      .def_property_readonly("path", [](const DatasetHandle& d) { return d.dataset->meta().path; })
      .def_property_readonly("files", [](const DatasetHandle& d) {
        py::list out;
        for (const auto& f : d.dataset->meta().files) out.append(py::make_tuple(f.path, f.size));
        return out;
      })
      .def("read", &ReadFrames, py::arg("begin"), py::arg("end"),
           "Read frames [begin, end) of the flattened navigation axis, shape (frames, *sig_shape).");

  m.def(
      "open_file",
      [](const std::string& path, const std::map<std::string, std::string>& params,
         const std::string& format) {
        std::unique_ptr<dataset::Dataset> ds;
        {
          py::gil_scoped_release release;
          ds = Formats().Open(path, params, format);
        }
        return DatasetHandle{std::move(ds)};
      },
      py::arg("path"), py::arg("params"), py::arg("format") = "");

  m.def(
      "open_array",
      [](const py::array& array, int sig_dims, const py::object& axes, const std::string& metadata_json) {
        std::vector<dataset::Axis> parsed;
        if (!axes.is_none()) parsed = AxesFromPython(axes);
        return DatasetHandle{MakeNumpyDataset(array, sig_dims, std::move(parsed), metadata_json)};
      },
      py::arg("array"), py::arg("sig_dims"), py::arg("axes") = py::none(),
      py::arg("metadata_json") = "{}");

  m.def("formats", [] {
    py::list out;
    for (const auto* entry : Formats().entries()) {
      py::list params;
      for (const auto& p : entry->params) {
        params.append(py::dict(py::arg("name") = p.name, py::arg("type") = p.type,
                               py::arg("help") = p.help, py::arg("default") = p.default_value,
                               py::arg("required") = p.required));
      }
      out.append(py::dict(py::arg("name") = entry->name, py::arg("extensions") = entry->extensions,
                          py::arg("summary") = entry->summary, py::arg("params") = params));
    }
    return out;
  });
}

}  // namespace tessera::python
