// SPDX-License-Identifier: MIT
// Shared plumbing of the file-level fuzz targets: the fuzz input is split into one or more files,
// written under fixed names into a per-process scratch directory (on /dev/shm when it exists),
// opened through the format registry exactly as `tessera` opens a user's file, and then every
// frame (or, for big datasets, a bounded sample of frames) is read back.
//
// A target passes when the reader returns a dataset or throws a tessera::Error. Everything else
// is a finding: a crash or sanitizer report, any other exception (std::length_error,
// std::out_of_range, ...), a hang (-timeout), a huge allocation (-rss_limit_mb/-malloc_limit_mb),
// an error with code kInternal, or a dataset whose metadata contradicts itself (axes that do not
// match the shape, a non-positive dimension) — those abort() so libFuzzer keeps the input.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/core/error.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::fuzz {

/// Parts of a multi-file input are separated by this line; a seed is therefore readable
/// (`file A`, the marker, `file B`) and libFuzzer's mutations keep the split most of the time.
inline constexpr std::string_view kSplit = "\n--tessera-fuzz-next-file--\n";

/// Split `data` at the first `max_parts - 1` markers.
inline std::vector<std::string_view> SplitInput(const uint8_t* data, size_t size, int max_parts) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (static_cast<int>(parts.size()) + 1 < max_parts) {
    const size_t at = rest.find(kSplit);
    if (at == std::string_view::npos) break;
    parts.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSplit.size());
  }
  parts.push_back(rest);
  return parts;
}

[[noreturn]] inline void Finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "tessera fuzz finding: %s: %s\n", what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

/// The scratch directory of this process, removed at exit.
class Scratch {
 public:
  static Scratch& Get() {
    static Scratch scratch;
    return scratch;
  }
  /// Write `bytes` to `name` inside the scratch directory (replacing it); return its path.
  std::string Write(const std::string& name, std::string_view bytes) {
    const std::string path = dir_ + "/" + name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) Finding("scratch", "cannot write " + path);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (n <= 0) Finding("scratch", "short write to " + path);
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return path;
  }
  /// Remove every file written so far (so a part absent from this input is absent on disk).
  void Clear() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  Scratch() {
    std::string base = std::filesystem::is_directory("/dev/shm")
                           ? std::string("/dev/shm")
                           : std::filesystem::temp_directory_path().string();
    std::string pattern = base + "/tessera-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) Finding("scratch", "mkdtemp failed in " + base);
    dir_ = pattern;
  }
  std::string dir_;
};

inline const formats::FormatRegistry& Registry() {
  static const formats::FormatRegistry registry = [] {
    formats::FormatRegistry r;
    formats::RegisterBuiltinFormats(r);
    return r;
  }();
  return registry;
}

/// Metadata invariants every reader promises.
inline void CheckMeta(const dataset::Dataset& ds) {
  const auto& meta = ds.meta();
  const auto& dims = meta.shape.dims();
  for (const int64_t d : dims) {
    if (d <= 0) Finding("meta", "non-positive dimension in shape " + meta.shape.ToString());
  }
  if (meta.axes.size() != dims.size()) {
    Finding("meta", "axes count differs from the rank of " + meta.shape.ToString());
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    if (meta.axes[i].size != dims[i]) {
      Finding("meta", "axis " + std::to_string(i) + " size differs from " +
                          meta.shape.ToString());
    }
  }
}

/// Read frames of `ds` as float64 and in their stored type, and touch any zero-copy frames.
/// Reads everything when the dataset is small; otherwise the first, a middle and the last frame,
/// limited to the first kMaxElements of the signal, so a valid but big header stays cheap.
inline void ReadSome(const dataset::Dataset& ds) {
  constexpr int64_t kMaxElements = int64_t{1} << 20;
  const auto& meta = ds.meta();
  const int64_t nav = meta.shape.nav_size();
  const int64_t sig = meta.shape.sig_size();
  if (nav <= 0 || sig <= 0) return;
  const int64_t sig_read = std::min(sig, kMaxElements);
  std::vector<int64_t> firsts;
  int64_t per_call = 1;
  if (sig_read == sig && nav <= kMaxElements / sig) {
    firsts.push_back(0);
    per_call = nav;
  } else {
    firsts = {0, nav / 2, nav - 1};
  }
  const bool complex = IsComplex(meta.dtype);
  const DType wide = complex ? DType::kComplex128 : DType::kFloat64;
  std::vector<std::byte> buffer(static_cast<size_t>(per_call * sig_read * SizeOf(wide)));
  for (const int64_t f : firsts) {
    ds.ReadFrames(f, f + per_call, {0, sig_read}, buffer.data(), wide);
    // A partial signal range from the middle, in the stored type.
    const int64_t begin = sig_read / 3;
    ds.ReadFrames(f, f + 1, {begin, sig_read}, buffer.data(), meta.dtype);
  }
  if (const std::byte* direct = ds.DirectFrames(0, 1)) {
    // Every byte of a zero-copy frame must be readable.
    unsigned acc = 0;
    const auto bytes = static_cast<size_t>(sig * SizeOf(meta.dtype));
    for (size_t i = 0; i < bytes; i += 61) acc += static_cast<unsigned>(direct[i]);
    acc += static_cast<unsigned>(direct[bytes - 1]);
    volatile unsigned sink = acc;
    (void)sink;
  }
}

/// With TESSERA_FUZZ_VERBOSE set, say what each input gave (to check that seeds open).
inline bool Verbose() {
  static const bool verbose = std::getenv("TESSERA_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

/// Open `path` through the registry (optionally forcing `format`) and read it. tessera::Error is
/// the expected outcome of a malformed file; kInternal and foreign exceptions are findings.
inline void OpenAndRead(const std::string& path, const formats::OpenParams& params = {},
                        const std::string& format = "") {
  try {
    const auto ds = Registry().Open(path, params, format);
    if (ds == nullptr) Finding("open", "registry returned no dataset for " + path);
    CheckMeta(*ds);
    ReadSome(*ds);
    if (Verbose()) {
      std::fprintf(stderr, "opened: %s %s\n", ds->meta().shape.ToString().c_str(),
                   std::string(Name(ds->meta().dtype)).c_str());
    }
  } catch (const Error& e) {
    if (Verbose()) std::fprintf(stderr, "error: %s\n", e.what());
    if (e.code() == ErrorCode::kInternal) Finding("internal error", e.what());
  } catch (const std::bad_alloc&) {
    // Let libFuzzer's -malloc_limit_mb report real huge allocations; a bad_alloc that escapes a
    // reader is still a finding (it should have been a bounded kCorruptFile).
    Finding("exception", "std::bad_alloc escaped the reader");
  } catch (const std::exception& e) {
    Finding("foreign exception", e.what());
  }
}

}  // namespace tessera::fuzz
