// SPDX-License-Identifier: MIT
// A dataset over a NumPy array's own memory (tessera.open(array) / tessera.open(hyperspy_signal)).
#include <utility>

#include <fmt/format.h>

#include "bindings_internal.h"
#include "numpy_dataset_internal.h"
#include "tessera/core/convert.h"

namespace tessera::python {
namespace {

class NumpyDataset final : public dataset::Dataset {
 public:
  NumpyDataset(const py::array& array, dataset::DatasetMeta meta)
      : array_(py::object(array).release().ptr()),
        data_(static_cast<const std::byte*>(array.data())),
        meta_(std::move(meta)) {}

  ~NumpyDataset() override {
    // The last reference may go on a worker thread of a run: take the GIL to drop the array.
    if (Py_IsInitialized() == 0) return;
    py::gil_scoped_acquire gil;
    Py_DECREF(array_);
  }

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t /*frame_end*/) const override {
    return data_ + frame_begin * meta_.shape.sig_size() * SizeOf(meta_.dtype);
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    const int64_t elem = SizeOf(meta_.dtype);
    const int64_t sig_size = meta_.shape.sig_size();
    for (int64_t f = frame_begin; f < frame_end; ++f) {
      const std::byte* src = data_ + (f * sig_size + sig.begin) * elem;
      auto* out = static_cast<std::byte*>(dst) + (f - frame_begin) * sig.size() * SizeOf(dst_dtype);
      ConvertElements(src, meta_.dtype, false, out, dst_dtype, sig.size());
    }
  }

 private:
  PyObject* array_;  // owned reference, dropped with the GIL
  const std::byte* data_;
  dataset::DatasetMeta meta_;
};

}  // namespace

std::shared_ptr<const dataset::Dataset> MakeNumpyDataset(const py::array& array, int sig_dims,
                                                         std::vector<dataset::Axis> axes,
                                                         std::string metadata_json) {
  const int rank = static_cast<int>(array.ndim());
  if (sig_dims < 1 || sig_dims > rank) {
    throw Error::InvalidArgument(
        fmt::format("{} signal axes for an array of rank {}", sig_dims, rank), "sig_dims");
  }
  if ((array.flags() & py::array::c_style) == 0) {
    throw Error::InvalidArgument("the array must be C-contiguous (np.ascontiguousarray)", "data");
  }
  if (const char order = array.dtype().byteorder(); order == '>') {  // x86-64: little-endian
    throw Error::InvalidArgument("the array must be in native byte order", "data");
  }
  dataset::DatasetMeta meta;
  meta.format = "numpy";
  meta.path = "<memory>";
  const std::vector<int64_t> dims(array.shape(), array.shape() + rank);
  meta.shape = Shape({dims.begin(), dims.end() - sig_dims}, {dims.end() - sig_dims, dims.end()});
  meta.dtype = FromNumpy(array.dtype(), "data");
  meta.axes = dataset::DefaultAxes(meta.shape);
  if (!axes.empty()) {
    if (static_cast<int>(axes.size()) != rank) {
      throw Error::InvalidArgument(
          fmt::format("{} axes given for an array of rank {}", axes.size(), rank), "axes");
    }
    for (int i = 0; i < rank; ++i) {
      if (axes[static_cast<size_t>(i)].name.empty()) axes[static_cast<size_t>(i)].name = meta.axes[static_cast<size_t>(i)].name;
      axes[static_cast<size_t>(i)].size = dims[static_cast<size_t>(i)];
    }
    meta.axes = std::move(axes);
  }
  meta.metadata_json = metadata_json.empty() ? "{}" : std::move(metadata_json);
  return std::make_shared<NumpyDataset>(array, std::move(meta));
}

}  // namespace tessera::python
