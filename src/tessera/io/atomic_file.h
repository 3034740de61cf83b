// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace tessera::io {

/// A result file that appears under its final name only when complete.
///
/// Writers write to temp_path() (same directory, so rename is atomic); Commit() fsyncs and renames
/// it over the final path. Destroying an uncommitted AtomicFile removes the temp file, so an error
/// or Ctrl-C never leaves a half-written result behind.
class AtomicFile {
 public:
  /// Choose a fresh temp path next to `final_path`; throws kIo if the directory is not writable.
  static AtomicFile Create(const std::string& final_path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();

  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  /// Make the temp file durable and rename it to the final path.
  void Commit();
  /// Remove the temp file now.
  void Abort() noexcept;

 private:
  AtomicFile(std::string final_path, std::string temp_path);

  std::string final_path_;
  std::string temp_path_;
  bool done_ = false;
};

/// Write `bytes` to `path` atomically.
void WriteFileAtomically(const std::string& path, const std::string& bytes);

/// Remove every temp file still registered (for signal handlers and fatal paths).
void RemoveAllPendingTempFiles() noexcept;

}  // namespace tessera::io
