// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdio>
#include <span>
#include <string>

namespace tessera::formats::internal {

/// A buffered output file that throws kIo naming `display_path` on any failure.
class OutputFile {
 public:
  /// Create (truncate) `path`; errors name `display_path` (the final, user-visible path).
  OutputFile(const std::string& path, std::string display_path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void Write(std::span<const std::byte> bytes);
  void Write(const std::string& text);
  /// Flush and close; throws kIo if the data did not reach the file.
  void Close();

 private:
  std::FILE* file_ = nullptr;
  std::string display_path_;
};

}  // namespace tessera::formats::internal
