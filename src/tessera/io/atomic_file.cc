// SPDX-License-Identifier: MIT
#include "tessera/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "tessera/core/error.h"

namespace tessera::io {
namespace {

std::mutex g_pending_mutex;
std::set<std::string>& Pending() {
  static std::set<std::string> pending;
  return pending;
}

std::string DirectoryOf(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    throw Error::Io(fmt::format("cannot open for fsync: {}", std::strerror(errno)), path);
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && !directory) throw Error::Io(fmt::format("fsync failed: {}", std::strerror(err)), path);
}

}  // namespace

AtomicFile::AtomicFile(std::string final_path, std::string temp_path)
    : final_path_(std::move(final_path)), temp_path_(std::move(temp_path)) {}

AtomicFile AtomicFile::Create(const std::string& final_path) {
  if (final_path.empty()) throw Error::InvalidArgument("empty output path", "output");
  static std::atomic<unsigned> counter{0};
  const std::string dir = DirectoryOf(final_path);
  if (::access(dir.c_str(), W_OK) != 0) {
    throw Error::Io(fmt::format("output directory is not writable: {}", std::strerror(errno)),
                    final_path);
  }
  const auto slash = final_path.rfind('/');
  const std::string base = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
  std::string temp = fmt::format("{}/.{}.tmp-{}-{}", dir, base, ::getpid(), counter++);
  {
    std::lock_guard lock(g_pending_mutex);
    Pending().insert(temp);
  }
  return AtomicFile(final_path, std::move(temp));
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : final_path_(std::move(other.final_path_)),
      temp_path_(std::move(other.temp_path_)),
      done_(other.done_) {
  other.done_ = true;
}

AtomicFile::~AtomicFile() { Abort(); }

void AtomicFile::Commit() {
  if (done_) throw Error::Internal("AtomicFile committed twice");
  FsyncPath(temp_path_, false);
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    throw Error::Io(fmt::format("cannot rename temp file into place: {}", std::strerror(errno)),
                    final_path_);
  }
  done_ = true;
  {
    std::lock_guard lock(g_pending_mutex);
    Pending().erase(temp_path_);
  }
  FsyncPath(DirectoryOf(final_path_), true);
}

void AtomicFile::Abort() noexcept {
  if (done_) return;
  done_ = true;
  ::unlink(temp_path_.c_str());
  std::lock_guard lock(g_pending_mutex);
  Pending().erase(temp_path_);
}

void WriteFileAtomically(const std::string& path, const std::string& bytes) {
  AtomicFile file = AtomicFile::Create(path);
  FILE* f = std::fopen(file.temp_path().c_str(), "wb");
  if (f == nullptr) throw Error::Io(fmt::format("cannot create: {}", std::strerror(errno)), path);
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const bool ok = written == bytes.size() && std::fflush(f) == 0;
  std::fclose(f);
  if (!ok) throw Error::Io("write failed (disk full?)", path);
  file.Commit();
}

void RemoveAllPendingTempFiles() noexcept {
  // Called from a signal handler context in the CLI only after the main thread stopped: no lock.
  for (const auto& temp : Pending()) ::unlink(temp.c_str());
}

}  // namespace tessera::io
