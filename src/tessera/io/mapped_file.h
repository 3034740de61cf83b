// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace tessera::io {

/// A read-only memory map of a whole file, shareable between threads.
class MappedFile {
 public:
  /// Map `path`; throws kNotFound / kIo naming the file. Empty files map to an empty span.
  static std::shared_ptr<const MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  int64_t size() const { return size_; }
  std::span<const std::byte> bytes() const {
    return {static_cast<const std::byte*>(data_), static_cast<size_t>(size_)};
  }
  /// Populate the page tables for [offset, offset + length) ahead of use. Faulting pages in one
  /// batch is several times faster than taking one page fault per 4 KiB. Blocks already
  /// populated through this mapping are skipped, so a second pass over a file kept open (a
  /// server, a notebook, `--repeat`) pays nothing; pages the kernel evicted meanwhile simply
  /// fault in again.
  void Prefetch(int64_t offset, int64_t length) const noexcept;

 private:
  MappedFile(std::string path, void* data, int64_t size);

  static constexpr int64_t kBlockBytes = int64_t{2} << 20;

  std::string path_;
  void* data_ = nullptr;
  int64_t size_ = 0;
  // One flag per 2 MiB block of the file: set once its page tables were populated.
  std::unique_ptr<std::atomic<uint8_t>[]> populated_;
};

/// Read exactly `out.size()` bytes at `offset` with pread; throws kIo / kCorruptFile on a short read.
void ReadExactly(int fd, const std::string& path, int64_t offset, std::span<std::byte> out);

/// Return the size of a file in bytes; throws kNotFound naming it.
int64_t FileSize(const std::string& path);

}  // namespace tessera::io
