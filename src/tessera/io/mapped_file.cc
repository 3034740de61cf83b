// SPDX-License-Identifier: MIT
#include "tessera/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tessera/core/error.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace tessera::io {
namespace {

[[noreturn]] void ThrowOpenError(const std::string& path, int err) {
  if (err == ENOENT) throw Error::NotFound("no such file", path);
  throw Error::Io(fmt::format("cannot open: {}", std::strerror(err)), path);
}

}  // namespace

MappedFile::MappedFile(std::string path, void* data, int64_t size)
    : path_(std::move(path)),
      data_(data),
      size_(size),
      populated_(new std::atomic<uint8_t>[static_cast<size_t>((size + kBlockBytes - 1) / kBlockBytes)]()) {}

MappedFile::~MappedFile() {
  if (data_ != nullptr && size_ > 0) ::munmap(data_, static_cast<size_t>(size_));
}

std::shared_ptr<const MappedFile> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowOpenError(path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error::Io(fmt::format("cannot stat: {}", std::strerror(err)), path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error::Io("not a regular file", path);
  }
  void* data = nullptr;
  const int64_t size = st.st_size;
  if (size > 0) {
    data = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error::Io(fmt::format("cannot map: {}", std::strerror(err)), path);
    }
    ::madvise(data, static_cast<size_t>(size), MADV_SEQUENTIAL);
  }
  ::close(fd);
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

void MappedFile::Prefetch(int64_t offset, int64_t length) const noexcept {
  if (data_ == nullptr || length <= 0 || offset >= size_) return;
  const int64_t end = std::min(size_, offset + length);
  // Whole blocks covered by the range, each populated at most once (racing threads may both do
  // one; that is harmless).
  for (int64_t block = offset / kBlockBytes; block * kBlockBytes < end; ++block) {
    auto& flag = populated_[static_cast<size_t>(block)];
    if (flag.load(std::memory_order_relaxed) != 0) continue;
    const int64_t begin = block * kBlockBytes;
    const int64_t stop = std::min(size_, begin + kBlockBytes);
    auto* start = static_cast<char*>(data_) + begin;
    // MADV_POPULATE_READ (Linux 5.14) maps the pages without faulting each; older kernels
    // ignore it and get the asynchronous read-ahead hint instead.
    if (::madvise(start, static_cast<size_t>(stop - begin), MADV_POPULATE_READ) != 0) {
      ::madvise(start, static_cast<size_t>(stop - begin), MADV_WILLNEED);
    }
    flag.store(1, std::memory_order_relaxed);
  }
}

void ReadExactly(int fd, const std::string& path, int64_t offset, std::span<std::byte> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + static_cast<int64_t>(done)));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error::Io(fmt::format("read at offset {} failed: {}", offset + static_cast<int64_t>(done),
                                  std::strerror(errno)),
                      path);
    }
    if (n == 0) {
      throw Error::CorruptFile(path, offset + static_cast<int64_t>(done), "",
                               fmt::format("file ends early: wanted {} bytes", out.size() - done));
    }
    done += static_cast<size_t>(n);
  }
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) ThrowOpenError(path, errno);
  return st.st_size;
}

}  // namespace tessera::io
