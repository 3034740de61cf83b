// SPDX-License-Identifier: MIT
// tessera._tessera.Pipeline: a pipeline::Session (run, set, re-run what changed) with outputs as
// NumPy arrays over the session's immutable values (read-only, no copies).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "bindings_internal.h"
#include "tessera/arrayops/table.h"
#include "tessera/pipeline/builtin_ops.h"
#include "tessera/pipeline/session.h"

namespace tessera::python {
namespace {

/// Run `work` on a thread of its own while this thread waits without the GIL, turning Ctrl-C
/// into `cancel` (signal handlers run only on the main thread, so the waiting thread checks).
void RunInterruptibly(const std::function<void()>& work, std::atomic<bool>& cancel) {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard lock(mutex);
    done = true;
    cv.notify_all();
  });
  bool interrupted = false;
  while (true) {
    {
      py::gil_scoped_release release;
      std::unique_lock lock(mutex);
      if (cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) break;
    }
    if (!interrupted && PyErr_CheckSignals() != 0) {
      interrupted = true;  // the exception stays set until the worker has stopped
      cancel = true;
    }
  }
  {
    py::gil_scoped_release release;
    worker.join();
  }
  cancel = false;
  if (interrupted) throw py::error_already_set();
  if (error) std::rethrow_exception(error);
}

py::object ValueToPython(const pipeline::Value& value) {
  using pipeline::PortType;
  if (value.is_array_like() && value.array) {
    const auto& data = value.array->data;
    py::dict d;
    d["kind"] = std::string(pipeline::Name(value.type));
    d["data"] = SharedArray(value.array, data.raw(), data.dtype(), data.shape(), false);
    d["axes"] = AxesToPython(value.array->axes);
    d["units"] = value.array->units;
    return d;
  }
  if (value.type == PortType::kTable && value.table) {
    py::dict columns;
    const int64_t rows = value.table->rows();
    for (size_t c = 0; c < value.table->columns.size(); ++c) {
      const int64_t shape[1] = {rows};
      columns[py::str(value.table->columns[c])] =
          SharedArray(value.table, value.table->values[c].data(), DType::kFloat64, shape, false);
    }
    py::dict d;
    d["kind"] = "table";
    d["columns"] = columns;
    d["units"] = value.table->units;
    return d;
  }
  if (value.type == PortType::kDataset && value.dataset) {
    py::dict d;
    d["kind"] = "dataset";
    d["dataset"] = DatasetHandle{value.dataset};
    return d;
  }
  py::dict d;
  d["kind"] = "scalar";
  d["value"] = value.scalar;
  return d;
}

class PipelineHandle {
 public:
  PipelineHandle(pipeline::PipelineDoc doc, int threads, std::string output_dir) {
    pipeline::SessionOptions options;
    options.threads = threads;
    options.cancel = &cancel_;
    options.output_dir = std::move(output_dir);
    options.tessera_version = TESSERA_VERSION;
    options.command_line = "python: tessera.Pipeline";
    session_ = std::make_unique<pipeline::Session>(std::move(doc), pipeline::BuiltinOperators(),
                                                   std::move(options));
  }

  void Set(const std::string& node_dot_param, const std::string& json_value) {
    session_->Set(node_dot_param, pipeline::Json::parse(json_value));
  }

  py::dict Run() {
    pipeline::RunResult result;
    RunInterruptibly([&] { result = session_->Run(); }, cancel_);
    py::dict nodes;
    for (const auto& [name, node] : result.nodes) {
      py::dict ports;
      for (size_t i = 0; i < node.outputs.size() && i < node.port_names.size(); ++i) {
        ports[py::str(node.port_names[i])] = ValueToPython(node.outputs[i]);
      }
      py::dict n;
      n["op"] = node.op;
      n["outputs"] = ports;
      n["executed"] = node.executed;
      nodes[py::str(name)] = n;
    }
    py::dict out;
    out["nodes"] = nodes;
    out["executed"] = result.executed;
    out["cached"] = result.cached;
    out["seconds"] = result.seconds;
    return out;
  }

  std::string document_json() const { return session_->document().ToJson().dump(2); }
  int64_t executions(const std::string& node) const { return session_->executions(node); }
  int64_t total_executions() const { return session_->total_executions(); }
  void ClearCache() { session_->ClearCache(); }
  int64_t cache_bytes() const { return session_->cache_bytes(); }

 private:
  std::atomic<bool> cancel_{false};
  std::unique_ptr<pipeline::Session> session_;
};

}  // namespace

void RegisterPipelines(py::module_& m) {
  py::class_<PipelineHandle>(m, "Pipeline", "A pipeline session (use tessera.Pipeline).")
      .def_static(
          "load",
          [](const std::string& path, int threads, const std::string& output_dir) {
            return std::make_unique<PipelineHandle>(pipeline::LoadPipeline(path), threads, output_dir);
          },
          py::arg("path"), py::arg("threads") = 0, py::arg("output_dir") = "")
      .def_static(
          "parse",
          [](const std::string& text, const std::string& source, const std::string& base_dir,
             int threads, const std::string& output_dir) {
            auto doc = pipeline::ParsePipeline(text, source);
            doc.base_dir = base_dir;
            return std::make_unique<PipelineHandle>(std::move(doc), threads, output_dir);
          },
          py::arg("text"), py::arg("source"), py::arg("base_dir"), py::arg("threads") = 0,
          py::arg("output_dir") = "")
      .def("set", &PipelineHandle::Set, py::arg("node_dot_param"), py::arg("json_value"))
      .def("run", &PipelineHandle::Run)
      .def("document_json", &PipelineHandle::document_json)
      .def("executions", &PipelineHandle::executions, py::arg("node"))
      .def_property_readonly("total_executions", &PipelineHandle::total_executions)
      .def("clear_cache", &PipelineHandle::ClearCache)
      .def_property_readonly("cache_bytes", &PipelineHandle::cache_bytes);

  m.def("pipeline_operators", [] { return pipeline::BuiltinOperators().ToJson().dump(); });
}

}  // namespace tessera::python
