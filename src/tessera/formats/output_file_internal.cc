// SPDX-License-Identifier: MIT
#include "tessera/formats/output_file_internal.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tessera/core/error.h"

namespace tessera::formats::internal {

OutputFile::OutputFile(const std::string& path, std::string display_path)
    : display_path_(std::move(display_path)) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    throw Error::Io(fmt::format("cannot create: {}", std::strerror(errno)), display_path_);
  }
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
}

OutputFile::~OutputFile() {
  if (file_ != nullptr) std::fclose(file_);
}

void OutputFile::Write(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    throw Error::Io(fmt::format("write failed: {}", std::strerror(errno)), display_path_);
  }
}

void OutputFile::Write(const std::string& text) {
  Write(std::as_bytes(std::span<const char>(text.data(), text.size())));
}

void OutputFile::Close() {
  std::FILE* file = file_;
  file_ = nullptr;
  const bool flushed = std::fflush(file) == 0;
  const int err = errno;
  const bool closed = std::fclose(file) == 0;
  if (!flushed || !closed) {
    throw Error::Io(fmt::format("write failed: {}", std::strerror(err)), display_path_);
  }
}

}  // namespace tessera::formats::internal
