// SPDX-License-Identifier: MIT
// One pass of analyses and Python UDFs over a dataset, on a thread of its own: the caller's
// thread waits without the GIL, takes partial results as they come, and turns Ctrl-C into the
// engine's cancel flag (signal handlers run only on Python's main thread, never on the workers
// that call the partial callback, so the waiting thread is the one that checks for them).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bindings_internal.h"
#include "py_udf_internal.h"
#include "tessera/dataset/corrections.h"
#include "tessera/dataset/roi.h"
#include "tessera/exec/executor.h"
#include "tessera/ops/operator_registry.h"

namespace tessera::python {
namespace {

using Results = std::vector<std::vector<udf::Result>>;

struct Event {
  udf::Progress progress;
  std::optional<Results> partial;
};

const char* KindName(udf::BufferKind kind) {
  switch (kind) {
    case udf::BufferKind::kNav: return "nav";
    case udf::BufferKind::kSig: return "sig";
    case udf::BufferKind::kSingle: return "single";
  }
  return "single";
}

NdArray CopyFloat32(const py::handle& object, const std::string& field) {
  const auto array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(object);
  if (!array) throw Error::InvalidArgument("expected an array of numbers", field);
  NdArray out(DType::kFloat32, std::vector<int64_t>(array.shape(), array.shape() + array.ndim()));
  std::memcpy(out.raw(), array.data(), static_cast<size_t>(out.nbytes()));
  return out;
}

class RunHandle {
 public:
  /// `specs`: per UDF either ("analysis", name, {param: text}, {param: array}) or
  /// ("python", tessera.UDF instance). The GIL is held.
  RunHandle(const DatasetHandle& dataset, const py::list& specs, const py::object& roi,
            const py::object& dark, const py::object& gain, std::vector<int64_t> excluded,
            int threads, int64_t partition_bytes, bool snapshots)
      : dataset_(dataset.dataset), threads_(threads), snapshots_(snapshots) {
    const auto& meta = dataset_->meta();
    for (const py::handle item : specs) {
      const auto spec = py::reinterpret_borrow<py::tuple>(item);
      if (spec[0].cast<std::string>() == "python") {
        udfs_.push_back(MakePythonUdf(py::reinterpret_borrow<py::object>(spec[1]), &errors_));
        has_python_ = true;
        continue;
      }
      const auto name = spec[1].cast<std::string>();
      const auto params = spec[2].cast<std::map<std::string, std::string>>();
      std::map<std::string, NdArray> arrays;
      for (const auto& [key, value] : py::reinterpret_borrow<py::dict>(spec[3])) {
        const auto field = key.cast<std::string>();
        arrays.emplace(field, CopyFloat32(value, field));
      }
      udfs_.push_back(Analyses().Make(name, params, std::move(arrays)));
    }
    if (!roi.is_none()) {
      const auto mask = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(roi);
      if (!mask || mask.size() != meta.shape.nav_size()) {
        throw Error::InvalidArgument("the ROI must be a boolean array of the navigation shape", "roi");
      }
      std::vector<uint8_t> bytes(static_cast<size_t>(mask.size()));
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = mask.data()[i] ? 1 : 0;
      roi_ = dataset::Roi::FromMask(meta.shape.nav(), std::move(bytes));
      options_.roi = &*roi_;
    }
    if (!dark.is_none() || !gain.is_none() || !excluded.empty()) {
      corrections_ = dataset::CorrectionSet::Make(
          meta.shape, dark.is_none() ? NdArray() : CopyFloat32(dark, "dark"),
          gain.is_none() ? NdArray() : CopyFloat32(gain, "gain"), std::move(excluded));
      options_.corrections = &*corrections_;
    }
    if (partition_bytes > 0) options_.partition_bytes = partition_bytes;
    options_.cancel = &cancel_;
    thread_ = std::thread([this] { Work(); });
  }

  ~RunHandle() {
    cancel_ = true;
    py::gil_scoped_release release;
    if (thread_.joinable()) thread_.join();
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& u : udfs_) out.push_back(u->name());
    return out;
  }

  /// Wait for the next partial event (a dict) or the end of the run (None).
  py::object Next() {
    while (true) {
      std::optional<Event> event;
      bool done = false;
      {
        py::gil_scoped_release release;
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return pending_.has_value() || done_; });
        event = std::move(pending_);
        pending_.reset();
        done = done_;
      }
      if (event) return ToPython(*event);
      if (done) {
        Join();
        if (auto error = errors_.Take()) throw std::move(*error);
        if (error_) RaiseTesseraError(*error_);
        return py::none();
      }
      if (PyErr_CheckSignals() != 0) {
        // KeyboardInterrupt (or another signal handler's exception): stop the run, then raise.
        cancel_ = true;
        Join();
        throw py::error_already_set();
      }
    }
  }

  /// Return each UDF's results (once, after Next() returned None).
  py::list TakeResults() {
    if (!results_) throw Error::InvalidArgument("the run has not finished", "run");
    py::list out = ResultsToPython(*results_);
    results_.reset();
    return out;
  }

  void Cancel() { cancel_ = true; }

 private:
  void Work() {
    std::optional<PythonThreadScope> python;
    if (has_python_) python.emplace();
    std::optional<Results> results;
    std::optional<ErrorInfo> error;
    try {
      auto executor = exec::MakeThreadsExecutor(threads_);
      std::vector<udf::Udf*> ptrs;
      for (const auto& u : udfs_) ptrs.push_back(u.get());
      results = exec::RunUdfs(*executor, *dataset_, ptrs, options_,
                              [this](const udf::Progress& p, const udf::UdfRunner& runner) {
                                Event event{.progress = p};
                                if (snapshots_) event.partial = runner.Snapshot();
                                std::lock_guard lock(mutex_);
                                pending_ = std::move(event);  // a slow reader sees the latest
                                cv_.notify_all();
                              });
    } catch (...) {
      error = CurrentErrorInfo();
    }
    python.reset();
    std::lock_guard lock(mutex_);
    results_ = std::move(results);
    error_ = std::move(error);
    done_ = true;
    cv_.notify_all();
  }

  void Join() {
    py::gil_scoped_release release;
    if (thread_.joinable()) thread_.join();
  }

  py::list ResultsToPython(Results& results) const {
    const auto& shape = dataset_->meta().shape;
    py::list out;
    for (auto& per_udf : results) {
      py::list items;
      for (auto& r : per_udf) {
        const int signal_dims = r.kind == udf::BufferKind::kNav   ? shape.nav_dims()
                                : r.kind == udf::BufferKind::kSig ? shape.sig_dims()
                                                                  : r.data.rank();
        py::dict d;
        d["name"] = r.name;
        d["axes"] = AxesToPython(r.axes);
        d["units"] = r.units;
        d["description"] = r.description;
        d["kind"] = KindName(r.kind);
        d["signal_dims"] = signal_dims;
        d["data"] = OwningArray(std::move(r.data));
        items.append(std::move(d));
      }
      out.append(std::move(items));
    }
    return out;
  }

  py::dict ToPython(Event& event) const {
    py::dict d;
    d["partitions_done"] = event.progress.partitions_done;
    d["partitions_total"] = event.progress.partitions_total;
    d["frames_done"] = event.progress.frames_done;
    d["frames_total"] = event.progress.frames_total;
    d["partial"] = event.partial ? py::object(ResultsToPython(*event.partial)) : py::object(py::none());
    return d;
  }

  std::shared_ptr<const dataset::Dataset> dataset_;
  std::vector<std::unique_ptr<udf::Udf>> udfs_;
  std::optional<dataset::Roi> roi_;
  std::optional<dataset::CorrectionSet> corrections_;
  udf::RunOptions options_;
  int threads_ = 0;
  bool snapshots_ = false;
  bool has_python_ = false;
  PythonErrorStash errors_;
  std::atomic<bool> cancel_{false};

  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Event> pending_;
  bool done_ = false;
  std::optional<Results> results_;
  std::optional<ErrorInfo> error_;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace

void RegisterRuns(py::module_& m) {
  py::class_<RunHandle>(m, "Run", "A pass over a dataset running on its own thread.")
      .def(py::init<const DatasetHandle&, const py::list&, const py::object&, const py::object&,
                    const py::object&, std::vector<int64_t>, int, int64_t, bool>(),
           py::arg("dataset"), py::arg("specs"), py::arg("roi") = py::none(),
           py::arg("dark") = py::none(), py::arg("gain") = py::none(),
           py::arg("excluded") = std::vector<int64_t>{}, py::arg("threads") = 0,
           py::arg("partition_bytes") = 0, py::arg("snapshots") = false)
      .def_property_readonly("names", &RunHandle::names)
      .def("next", &RunHandle::Next)
      .def("results", &RunHandle::TakeResults)
      .def("cancel", &RunHandle::Cancel);

  m.def("analyses", [] {
    py::list out;
    for (const auto* entry : Analyses().entries()) {
      py::list params;
      for (const auto& p : entry->params) {
        params.append(py::dict(py::arg("name") = p.name, py::arg("type") = std::string(ops::Name(p.type)),
                               py::arg("default") = p.default_value,
                               py::arg("description") = p.description,
                               py::arg("required") = p.required()));
      }
      out.append(py::dict(py::arg("name") = entry->name, py::arg("version") = entry->version,
                          py::arg("summary") = entry->summary,
                          py::arg("description") = entry->description, py::arg("params") = params,
                          py::arg("outputs") = entry->outputs));
    }
    return out;
  });
}

}  // namespace tessera::python
