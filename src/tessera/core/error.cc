// SPDX-License-Identifier: MIT
#include "tessera/core/error.h"

#include <fmt/format.h>

#include <new>

namespace tessera {

std::string_view Name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kCorruptFile: return "corrupt file";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kOutOfMemory: return "out of memory";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string FormatError(const ErrorInfo& info) {
  std::string out;
  if (!info.node.empty()) {
    out += fmt::format("node '{}'", info.node);
    if (!info.port.empty()) out += fmt::format(" port '{}'", info.port);
    out += ": ";
  }
  if (!info.file.empty()) out += info.file + ": ";
  if (info.offset) out += fmt::format("offset {}: ", *info.offset);
  if (!info.field.empty()) out += fmt::format("'{}': ", info.field);
  out += info.message;
  return out;
}

Error::Error(ErrorInfo info) : std::runtime_error(FormatError(info)), info_(std::move(info)) {}

Error::Error(ErrorCode code, std::string message)
    : Error(ErrorInfo{.code = code, .message = std::move(message)}) {}

Error Error::InvalidArgument(std::string message, std::string field) {
  return Error(ErrorInfo{
      .code = ErrorCode::kInvalidArgument, .message = std::move(message), .field = std::move(field)});
}
Error Error::NotFound(std::string message, std::string file) {
  return Error(ErrorInfo{
      .code = ErrorCode::kNotFound, .message = std::move(message), .file = std::move(file)});
}
Error Error::Io(std::string message, std::string file) {
  return Error(
      ErrorInfo{.code = ErrorCode::kIo, .message = std::move(message), .file = std::move(file)});
}
Error Error::CorruptFile(std::string file, std::optional<int64_t> offset, std::string field,
                         std::string message) {
  return Error(ErrorInfo{.code = ErrorCode::kCorruptFile,
                         .message = std::move(message),
                         .file = std::move(file),
                         .offset = offset,
                         .field = std::move(field)});
}
Error Error::Unsupported(std::string message, std::string file) {
  return Error(ErrorInfo{
      .code = ErrorCode::kUnsupported, .message = std::move(message), .file = std::move(file)});
}
Error Error::Cancelled() { return Error(ErrorCode::kCancelled, "cancelled"); }
Error Error::Internal(std::string message) { return Error(ErrorCode::kInternal, std::move(message)); }

ErrorInfo CurrentErrorInfo() {
  try {
    throw;
  } catch (const Error& e) {
    return e.info();
  } catch (const std::bad_alloc&) {
    return ErrorInfo{.code = ErrorCode::kOutOfMemory, .message = "out of memory"};
  } catch (const std::exception& e) {
    return ErrorInfo{.code = ErrorCode::kInternal, .message = e.what()};
  } catch (...) {
    return ErrorInfo{.code = ErrorCode::kInternal, .message = "unknown exception"};
  }
}

namespace internal {
void DcheckFailed(const char* cond, const char* why, const char* file, int line) {
  throw Error::Internal(fmt::format("check failed at {}:{}: {} ({})", file, line, cond, why));
}
}  // namespace internal

}  // namespace tessera
