// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace tessera {

/// What went wrong, coarse enough to map onto exit codes, HTTP statuses and Python exceptions.
enum class ErrorCode : uint8_t {
  kInvalidArgument,
  kNotFound,
  kIo,
  kCorruptFile,
  kUnsupported,
  kCancelled,
  kOutOfMemory,
  kInternal,
};

std::string_view Name(ErrorCode code);

/// The value form of an error: crosses threads, processes and language boundaries.
struct ErrorInfo {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string file;                    // input or output file concerned, if any
  std::optional<int64_t> offset;       // byte offset in `file`, if known
  std::string field;                   // header field, parameter or argument name, if any
  std::string node;                    // pipeline node, if any
  std::string port;                    // pipeline port, if any
};

/// The one exception type of Tessera.
class Error : public std::runtime_error {
 public:
  explicit Error(ErrorInfo info);
  Error(ErrorCode code, std::string message);

  static Error InvalidArgument(std::string message, std::string field = {});
  static Error NotFound(std::string message, std::string file = {});
  static Error Io(std::string message, std::string file = {});
  static Error CorruptFile(std::string file, std::optional<int64_t> offset, std::string field,
                           std::string message);
  static Error Unsupported(std::string message, std::string file = {});
  static Error Cancelled();
  static Error Internal(std::string message);

  const ErrorInfo& info() const { return info_; }
  ErrorCode code() const { return info_.code; }

 private:
  ErrorInfo info_;
};

/// Format an ErrorInfo as one line: "file: offset N: field 'x': message".
std::string FormatError(const ErrorInfo& info);

/// Turn the in-flight exception (inside a catch block) into an ErrorInfo.
ErrorInfo CurrentErrorInfo();

}  // namespace tessera

/// Check a programmer's invariant (never file bytes or user input).
#define TESSERA_DCHECK(cond, why)                                                          \
  do {                                                                                     \
    if (!(cond)) ::tessera::internal::DcheckFailed(#cond, why, __FILE__, __LINE__);        \
  } while (false)

namespace tessera::internal {
[[noreturn]] void DcheckFailed(const char* cond, const char* why, const char* file, int line);
}  // namespace tessera::internal
