// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include "bindings_internal.h"
#include "tessera/udf/udf.h"

namespace tessera::python {

/// The first Python exception raised by a Python UDF during a run, re-raised as itself when the
/// run ends (the engine carries only ErrorInfo across its threads).
class PythonErrorStash {
 public:
  /// Keep `error` if it is the first (the GIL is held).
  void Stash(py::error_already_set&& error);
  /// Return the stashed error, if any (the GIL is held).
  std::optional<py::error_already_set> Take();

 private:
  std::mutex mutex_;
  std::optional<py::error_already_set> first_;
};

/// Give this thread a Python thread state that outlives single calls, so that each call into a
/// Python UDF only swaps the GIL (no thread state created and destroyed per tile). Threads of
/// the oneTBB pool keep theirs; PythonThreadScope releases it for threads that end.
void KeepThreadState();

/// For a thread that will call Python UDFs and then end: primes the thread state (GIL not held
/// afterwards) and deletes it when the scope ends.
class PythonThreadScope {
 public:
  PythonThreadScope();
  ~PythonThreadScope();
  PythonThreadScope(const PythonThreadScope&) = delete;
  PythonThreadScope& operator=(const PythonThreadScope&) = delete;

 private:
  PyGILState_STATE state_;
  PyThreadState* saved_;
};

/// Adapt an instance of tessera.UDF (Python) to the engine's UDF contract. The GIL is held
/// only around calls into Python; tiles and buffers are passed as NumPy views (no copies).
std::unique_ptr<udf::Udf> MakePythonUdf(py::object udf, PythonErrorStash* errors);

}  // namespace tessera::python
