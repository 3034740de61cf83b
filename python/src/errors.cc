// SPDX-License-Identifier: MIT
// tessera::Error -> tessera.errors.<Kind>Error, with the ErrorInfo context as attributes.
#include <new>

#include "bindings_internal.h"

namespace tessera::python {
namespace {

const char* CodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCorruptFile: return "corrupt_file";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kOutOfMemory: return "out_of_memory";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

/// Set the Python error indicator for `info` (the GIL is held).
void SetTesseraError(const ErrorInfo& info) {
  try {
    py::object classes = py::module_::import("tessera.errors").attr("BY_CODE");
    py::object cls = classes[py::str(CodeName(info.code))];
    py::object offset = info.offset ? py::object(py::int_(*info.offset)) : py::object(py::none());
    py::object err = cls(FormatError(info), py::arg("message") = info.message,
                         py::arg("file") = info.file, py::arg("offset") = offset,
                         py::arg("field") = info.field, py::arg("node") = info.node,
                         py::arg("port") = info.port);
    PyErr_SetObject(cls.ptr(), err.ptr());
  } catch (py::error_already_set& e) {
    e.restore();  // the errors module itself failed: report that instead
  }
}

}  // namespace

void RaiseTesseraError(const ErrorInfo& info) {
  SetTesseraError(info);
  throw py::error_already_set();
}

void RegisterErrors(py::module_& /*m*/) {
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      SetTesseraError(e.info());
    }
  });
}

}  // namespace tessera::python
