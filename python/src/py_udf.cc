// SPDX-License-Identifier: MIT
// Python UDFs driven by the C++ runner. Reading, decoding and corrections run without the GIL;
// each Process/Merge call takes it, hands NumPy views of the tile and of the current scope of
// the buffers to Python, and lets it go again.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "py_udf_internal.h"
#include "tessera/core/shape.h"
#include "tessera/dataset/roi.h"

namespace tessera::python {
namespace {

/// Which part of the buffers `self.results` shows during a call.
enum class ScopeKind : uint8_t { kTile, kFrame, kPartition, kWhole, kMergeDest, kMergeSrc };

class PythonUdf;

/// Views of the buffers for one call; `self.results` inside process_*, `dest`/`src` in merge.
/// Valid only during the call that made it.
struct BufferViews {
  const PythonUdf* udf = nullptr;
  ScopeKind kind = ScopeKind::kWhole;
  udf::BufferSet* buffers = nullptr;
  const udf::BufferSet* nav_source = nullptr;  // merge: nav views show the incoming partition
  int64_t row_begin = 0;                       // tile/frame: first nav row of the call
  int64_t rows = 0;
  dataset::SigRange sig;                       // tile: the signal band
  bool valid = true;

  py::array Get(const std::string& name) const;
  py::array GetIndex(int index) const;
  /// Return a types.SimpleNamespace of every buffer's view: attribute access then costs what
  /// any Python attribute costs (the views are made once per call, when first asked for).
  py::object Namespace() const;
};

/// Empty a namespace made by Namespace() so that a reference kept beyond its call cannot reach
/// freed buffers.
void Invalidate(const py::object& ns) {
  if (!ns) return;
  PyObject* dict = PyObject_GenericGetDict(ns.ptr(), nullptr);
  if (dict != nullptr) {
    PyDict_Clear(dict);
    Py_DECREF(dict);
  } else {
    PyErr_Clear();
  }
}

/// The views of the call running on this thread (`self.results`), and their Python wrapper once
/// asked for.
struct ThreadViews {
  BufferViews* views = nullptr;
  std::shared_ptr<BufferViews>* made = nullptr;
  py::object* object = nullptr;
};
thread_local ThreadViews t_current;

/// Install `views` as this thread's `self.results` for the lifetime of the scope; a wrapper
/// that Python kept beyond the call is invalidated (it holds its own copy).
class ViewsScope {
 public:
  explicit ViewsScope(BufferViews* views) : prev_(t_current) {
    t_current = ThreadViews{views, &made_, &object_};
  }
  ~ViewsScope() {
    if (made_) made_->valid = false;
    Invalidate(object_);
    t_current = prev_;
  }
  ViewsScope(const ViewsScope&) = delete;
  ViewsScope& operator=(const ViewsScope&) = delete;

 private:
  ThreadViews prev_;
  std::shared_ptr<BufferViews> made_;
  py::object object_;
};

/// Hold the GIL on a worker thread whose thread state persists (see KeepThreadState).
class WorkerGil {
 public:
  WorkerGil() {
    KeepThreadState();
    state_ = PyGILState_Ensure();
  }
  ~WorkerGil() { PyGILState_Release(state_); }
  WorkerGil(const WorkerGil&) = delete;
  WorkerGil& operator=(const WorkerGil&) = delete;

 private:
  PyGILState_STATE state_;
};

std::vector<int64_t> TupleDims(const py::handle& tuple) {
  std::vector<int64_t> dims;
  for (const py::handle d : tuple) dims.push_back(d.cast<int64_t>());
  return dims;
}

class PythonUdf final : public udf::Udf {
 public:
  PythonUdf(py::object udf, PythonErrorStash* errors) : udf_(std::move(udf)), errors_(errors) {
    name_ = udf_.attr("_tessera_name")().cast<std::string>();
    const auto method = udf_.attr("_tessera_method")().cast<std::string>();
    method_ = method == "frame"       ? udf::Method::kFrame
              : method == "partition" ? udf::Method::kPartition
                                      : udf::Method::kTile;
    process_ = udf_.attr(method == "frame"       ? "process_frame"
                         : method == "partition" ? "process_partition"
                                                 : "process_tile");
    merge_ = udf_.attr("_tessera_merge")();
    preprocess_ = udf_.attr("_tessera_preprocess")();
    const auto tiling = udf_.attr("_tessera_tiling")().cast<std::pair<int64_t, int64_t>>();
    tiling_ = udf::TilingPreferences{.depth = tiling.first, .total_bytes = tiling.second};
  }

  ~PythonUdf() override {
    // Destroyed where it was made, with the GIL held (the run handle's owner).
  }

  std::string name() const override { return name_; }
  udf::Method method() const override { return method_; }
  udf::TilingPreferences tiling_preferences() const override { return tiling_; }

  DType InputDType(DType native) const override {
    WorkerGil gil;
    try {
      const auto text = udf_.attr("_tessera_input_dtype")(std::string(Name(native))).cast<std::string>();
      const auto parsed = ParseDType(text);
      if (!parsed) throw Error::InvalidArgument("unknown input dtype '" + text + "'", "input_dtype");
      return *parsed;
    } catch (py::error_already_set& e) {
      throw Stashed(std::move(e));
    }
  }

  void PrepareRun(const udf::UdfMeta& meta) override {
    WorkerGil gil;
    const auto& shape = meta.dataset->shape;
    sig_ = std::vector<int64_t>(shape.sig().begin(), shape.sig().end());
    try {
      py::tuple dims(shape.rank());
      for (int i = 0; i < shape.rank(); ++i) dims[static_cast<size_t>(i)] = shape.dims()[static_cast<size_t>(i)];
      py::object roi = py::none();
      if (meta.roi != nullptr) {
        const auto mask = meta.roi->mask();
        py::array_t<bool> array(static_cast<py::ssize_t>(mask.size()));
        auto* out = array.mutable_data();
        for (size_t i = 0; i < mask.size(); ++i) out[i] = mask[i] != 0;
        roi = array.attr("reshape")(py::tuple(dims[py::slice(0, shape.nav_dims(), 1)]));
      }
      py::list declared = udf_.attr("_tessera_prepare")(
          dims, shape.sig_dims(), std::string(Name(meta.dataset->dtype)),
          std::string(Name(meta.input_dtype)), roi);
      specs_.clear();
      index_.clear();
      for (const py::handle item : declared) {
        const auto t = py::reinterpret_borrow<py::tuple>(item);
        udf::BufferSpec spec;
        spec.name = t[0].cast<std::string>();
        const auto kind = t[1].cast<std::string>();
        spec.kind = kind == "nav" ? udf::BufferKind::kNav
                    : kind == "sig" ? udf::BufferKind::kSig
                                    : udf::BufferKind::kSingle;
        spec.extra_shape = TupleDims(t[2]);
        const auto dtype_name = t[3].cast<std::string>();
        const auto dtype = ParseDType(dtype_name);
        if (!dtype) {
          throw Error::InvalidArgument(
              fmt::format("buffer '{}': unsupported dtype '{}'", spec.name, dtype_name), spec.name);
        }
        spec.dtype = *dtype;
        spec.is_private = t[4].cast<bool>();
        index_[spec.name] = static_cast<int>(specs_.size());
        specs_.push_back(std::move(spec));
      }
    } catch (py::error_already_set& e) {
      throw Stashed(std::move(e));
    }
  }

  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& /*meta*/) const override {
    return specs_;
  }

  void Preprocess(udf::BufferSet& buffers) const override {
    if (preprocess_.is_none()) return;
    WorkerGil gil;
    BufferViews views{.udf = this, .kind = ScopeKind::kWhole, .buffers = &buffers};
    Call(preprocess_, &views, nullptr);
  }

  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override {
    WorkerGil gil;
    const int64_t elem = SizeOf(tile.dtype);
    const int64_t row = RowPixels();
    int64_t shape[kMaxRank + 1];
    int64_t strides[kMaxRank + 1];
    shape[0] = tile.depth;
    strides[0] = tile.frame_stride * elem;
    shape[1] = tile.sig.size() / row;
    const int rank = static_cast<int>(sig_.size()) + 1;
    for (int i = 2; i < rank; ++i) shape[i] = sig_[static_cast<size_t>(i - 1)];
    int64_t stride = elem;
    for (int i = rank - 1; i >= 1; --i) {
      strides[i] = stride;
      stride *= shape[i];
    }
    py::array array = BorrowedArray(tile.data, tile.dtype, {shape, static_cast<size_t>(rank)},
                                    {strides, static_cast<size_t>(rank)}, false);
    BufferViews views{.udf = this,
                      .kind = ScopeKind::kTile,
                      .buffers = &buffers,
                      .row_begin = tile.frame_begin - buffers.frame_begin(),
                      .rows = tile.depth,
                      .sig = tile.sig};
    Call(process_, &views, array.ptr());
  }

  void ProcessFrame(const dataset::Tile& frame, udf::BufferSet& buffers) const override {
    WorkerGil gil;
    const int64_t elem = SizeOf(frame.dtype);
    const int rank = static_cast<int>(sig_.size());
    int64_t strides[kMaxRank];
    int64_t stride = elem;
    for (int i = rank - 1; i >= 0; --i) {
      strides[i] = stride;
      stride *= sig_[static_cast<size_t>(i)];
    }
    py::array array = BorrowedArray(frame.data, frame.dtype, sig_, {strides, static_cast<size_t>(rank)}, false);
    BufferViews views{.udf = this,
                      .kind = ScopeKind::kFrame,
                      .buffers = &buffers,
                      .row_begin = frame.frame_begin - buffers.frame_begin(),
                      .rows = 1,
                      .sig = frame.sig};
    Call(process_, &views, array.ptr());
  }

  void ProcessPartition(const dataset::Tile& partition, udf::BufferSet& buffers) const override {
    WorkerGil gil;
    const int64_t elem = SizeOf(partition.dtype);
    const int rank = static_cast<int>(sig_.size()) + 1;
    int64_t shape[kMaxRank + 1];
    int64_t strides[kMaxRank + 1];
    shape[0] = partition.depth;
    strides[0] = partition.frame_stride * elem;
    for (int i = 1; i < rank; ++i) shape[i] = sig_[static_cast<size_t>(i - 1)];
    int64_t stride = elem;
    for (int i = rank - 1; i >= 1; --i) {
      strides[i] = stride;
      stride *= shape[i];
    }
    py::array array = BorrowedArray(partition.data, partition.dtype, {shape, static_cast<size_t>(rank)},
                                    {strides, static_cast<size_t>(rank)}, false);
    BufferViews views{.udf = this,
                      .kind = ScopeKind::kPartition,
                      .buffers = &buffers,
                      .row_begin = 0,
                      .rows = buffers.num_frames(),
                      .sig = partition.sig};
    Call(process_, &views, array.ptr());
  }

  void Merge(udf::BufferSet& dest, const udf::BufferSet& src) const override {
    if (merge_.is_none()) {
      udf::Udf::Merge(dest, src);
      return;
    }
    WorkerGil gil;
    const BufferViews dest_views{.udf = this, .kind = ScopeKind::kMergeDest, .buffers = &dest, .nav_source = &src};
    const BufferViews src_views{.udf = this,
                                .kind = ScopeKind::kMergeSrc,
                                .buffers = const_cast<udf::BufferSet*>(&src),  // read-only views
                                .nav_source = &src};
    py::object d = dest_views.Namespace();
    py::object s = src_views.Namespace();
    PyObject* out = PyObject_CallFunctionObjArgs(merge_.ptr(), d.ptr(), s.ptr(), nullptr);
    std::optional<py::error_already_set> error;
    if (out == nullptr) error.emplace();  // fetched before touching the namespaces again
    Py_XDECREF(out);
    Invalidate(d);
    Invalidate(s);
    if (error) throw Stashed(std::move(*error));
  }

  int IndexOf(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? -1 : it->second;
  }
  const udf::BufferSpec& spec(int index) const { return specs_[static_cast<size_t>(index)]; }
  int size() const { return static_cast<int>(specs_.size()); }
  const std::vector<int64_t>& sig() const { return sig_; }
  int64_t RowPixels() const {
    int64_t row = 1;
    for (size_t i = 1; i < sig_.size(); ++i) row *= sig_[i];
    return row;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& s : specs_) out.push_back(s.name);
    return out;
  }

 private:
  /// Call `fn(arg)` (or `fn()`) with `views` as this thread's `self.results`.
  void Call(const py::object& fn, BufferViews* views, PyObject* arg) const {
    ViewsScope scope(views);
    PyObject* out = arg != nullptr ? PyObject_CallOneArg(fn.ptr(), arg) : PyObject_CallNoArgs(fn.ptr());
    if (out == nullptr) throw Stashed(py::error_already_set());
    Py_DECREF(out);
  }

  /// Keep the Python exception for the caller of the run and return an engine error to unwind.
  Error Stashed(py::error_already_set&& e) const {
    std::string what = e.what();
    errors_->Stash(std::move(e));
    return Error(ErrorCode::kInternal, fmt::format("Python UDF '{}' raised {}", name_, what));
  }

  py::object udf_;
  py::object process_;
  py::object merge_;
  py::object preprocess_;
  PythonErrorStash* errors_;
  std::string name_;
  udf::Method method_ = udf::Method::kTile;
  udf::TilingPreferences tiling_;
  std::vector<int64_t> sig_;
  std::vector<udf::BufferSpec> specs_;
  std::map<std::string, int, std::less<>> index_;
};

py::array BufferViews::Get(const std::string& name) const {
  if (!valid) {
    throw py::value_error("result buffer views are only valid during the call that received them");
  }
  const int index = udf->IndexOf(name);
  if (index < 0) throw py::attribute_error(fmt::format("no result buffer '{}'", name));
  return GetIndex(index);
}

py::object BufferViews::Namespace() const {
  static PyObject* namespace_type =
      py::object(py::module_::import("types").attr("SimpleNamespace")).release().ptr();  // kept
  py::dict views;
  for (int i = 0; i < udf->size(); ++i) views[py::str(udf->spec(i).name)] = GetIndex(i);
  py::tuple no_args;
  PyObject* out = PyObject_Call(namespace_type, no_args.ptr(), views.ptr());
  if (out == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(out);
}

py::array BufferViews::GetIndex(int index) const {
  const udf::BufferSpec& spec = udf->spec(index);
  const bool writeable = kind != ScopeKind::kMergeSrc;
  const int64_t elem = SizeOf(spec.dtype);
  const int64_t extra = Product(spec.extra_shape);
  std::vector<int64_t> shape;
  const std::byte* base = nullptr;
  if (spec.kind == udf::BufferKind::kNav) {
    if (kind == ScopeKind::kMergeDest || kind == ScopeKind::kMergeSrc) {
      // Tessera places nav rows itself; LiberTEM-style `dest.x[:] = src.x` is then a no-op.
      const NdArray& array = nav_source->array(index);
      base = static_cast<const std::byte*>(array.raw());
      shape = array.shape();
    } else {
      const NdArray& array = buffers->array(index);
      const bool scoped = kind == ScopeKind::kTile || kind == ScopeKind::kFrame;
      base = static_cast<const std::byte*>(array.raw()) + (scoped ? row_begin * extra * elem : 0);
      if (kind == ScopeKind::kFrame) {
        shape = spec.extra_shape.empty() ? std::vector<int64_t>{1} : spec.extra_shape;
      } else {
        shape.push_back(scoped ? rows : array.shape()[0]);
        shape.insert(shape.end(), spec.extra_shape.begin(), spec.extra_shape.end());
      }
    }
  } else if (spec.kind == udf::BufferKind::kSig) {
    const NdArray& array = buffers->array(index);
    const auto& sig_dims = udf->sig();
    if (kind == ScopeKind::kTile) {
      const int64_t row = udf->RowPixels();
      base = static_cast<const std::byte*>(array.raw()) + sig.begin * extra * elem;
      shape.push_back(sig.size() / row);
      shape.insert(shape.end(), sig_dims.begin() + 1, sig_dims.end());
    } else {
      base = static_cast<const std::byte*>(array.raw());
      shape = sig_dims;
    }
    shape.insert(shape.end(), spec.extra_shape.begin(), spec.extra_shape.end());
  } else {
    base = static_cast<const std::byte*>(buffers->array(index).raw());
    shape = spec.extra_shape.empty() ? std::vector<int64_t>{1} : spec.extra_shape;
  }
  std::vector<int64_t> strides(shape.size());
  int64_t stride = elem;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return BorrowedArray(base, spec.dtype, shape, strides, writeable);
}

/// `self.results` of the call running on this thread.
py::object CurrentResults() {
  if (t_current.views == nullptr) {
    throw py::attribute_error("'results' is only available inside process_*, preprocess and merge");
  }
  if (!*t_current.object) *t_current.object = t_current.views->Namespace();
  return *t_current.object;
}

}  // namespace

void PythonErrorStash::Stash(py::error_already_set&& error) {
  std::lock_guard lock(mutex_);
  if (!first_) first_.emplace(std::move(error));
}

std::optional<py::error_already_set> PythonErrorStash::Take() {
  std::lock_guard lock(mutex_);
  auto out = std::move(first_);
  first_.reset();
  return out;
}

namespace {
thread_local bool t_thread_state_kept = false;
}  // namespace

void KeepThreadState() {
  if (t_thread_state_kept) return;
  // One extra PyGILState count that is never released keeps the thread state alive.
  PyGILState_Ensure();
  PyEval_SaveThread();
  t_thread_state_kept = true;
}

PythonThreadScope::PythonThreadScope() {
  state_ = PyGILState_Ensure();
  saved_ = PyEval_SaveThread();
  t_thread_state_kept = true;
}

PythonThreadScope::~PythonThreadScope() {
  PyEval_RestoreThread(saved_);
  t_thread_state_kept = false;
  PyGILState_Release(state_);  // the count drops to 0: the thread state is deleted
}

std::unique_ptr<udf::Udf> MakePythonUdf(py::object udf, PythonErrorStash* errors) {
  return std::make_unique<PythonUdf>(std::move(udf), errors);
}

void RegisterUdfs(py::module_& m) {
  py::class_<BufferViews, std::shared_ptr<BufferViews>>(m, "BufferViews",
                          "NumPy views of a UDF's result buffers for the current call.")
      .def("__getattr__", &BufferViews::Get)
      .def("__getitem__", &BufferViews::Get)
      .def("keys", [](const BufferViews& v) { return v.udf->names(); })
      .def("__contains__", [](const BufferViews& v, const std::string& name) { return v.udf->IndexOf(name) >= 0; })
      .def("__dir__", [](const BufferViews& v) { return v.udf->names(); });
  m.def("_current_results", &CurrentResults);
}

}  // namespace tessera::python
