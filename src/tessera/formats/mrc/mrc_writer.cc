// SPDX-License-Identifier: MIT
// The MRC2014 writer: WriteMrc() and MakeMrcHeader().
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/mrc/mrc_format.h"
#include "tessera/io/atomic_file.h"

namespace tessera::formats {
namespace {

constexpr int64_t kHeaderBytes = 1024;
constexpr int64_t kBlockBytes = int64_t{16} << 20;

void PutI32(std::string& bytes, int64_t offset, int32_t value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, 4);
  for (int i = 0; i < 4; ++i) {
    bytes[static_cast<size_t>(offset + i)] = static_cast<char>((bits >> (8 * i)) & 0xffu);
  }
}

void PutF32(std::string& bytes, int64_t offset, double value) {
  const auto f = static_cast<float>(value);
  int32_t bits = 0;
  std::memcpy(&bits, &f, 4);
  PutI32(bytes, offset, bits);
}

/// Angstrom per `units`, or nullopt when the units are not a length.
std::optional<double> AngstromPer(const std::string& units) {
  if (units == "Å" || units == "A" || units == "Angstrom" || units == "angstrom" ||
      units == "\u212b") {
    return 1.0;
  }
  if (units == "nm") return 10.0;
  if (units == "pm") return 0.01;
  if (units == "µm" || units == "um" || units == "\u03bcm") return 1e4;
  if (units == "mm") return 1e7;
  if (units == "m") return 1e10;
  return std::nullopt;
}

/// Pixel size and origin in Angstrom of `axis`, or nullopt when it is not a length axis.
std::optional<std::pair<double, double>> LengthCalibration(const dataset::Axis& axis) {
  const auto factor = AngstromPer(axis.units);
  // Negative pixel sizes occur (some writers store negative cell lengths): keep the sign.
  if (!factor || !std::isfinite(axis.scale) || axis.scale == 0) return std::nullopt;
  const double offset = std::isfinite(axis.offset) ? axis.offset * *factor : 0.0;
  return std::make_pair(axis.scale * *factor, offset);
}

/// Running min / max / mean / M2 (Chan et al.'s parallel variance) over finite values.
struct RunningStats {
  int64_t count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double mean = 0;
  double m2 = 0;

  void AddBlock(const double* values, int64_t n) {
    int64_t block_count = 0;
    double block_sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double v = values[i];
      if (!std::isfinite(v)) continue;
      ++block_count;
      block_sum += v;
      min = std::min(min, v);
      max = std::max(max, v);
    }
    if (block_count == 0) return;
    const double block_mean = block_sum / static_cast<double>(block_count);
    double block_m2 = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (std::isfinite(values[i])) block_m2 += (values[i] - block_mean) * (values[i] - block_mean);
    }
    const auto total = static_cast<double>(count + block_count);
    const double delta = block_mean - mean;
    mean += delta * static_cast<double>(block_count) / total;
    m2 += block_m2 + delta * delta * static_cast<double>(count) *
                         static_cast<double>(block_count) / total;
    count += block_count;
  }
};

/// A FILE* on the temp path; every failure is kIo naming the final path.
class TempFile {
 public:
  TempFile(const std::string& temp_path, std::string display_path)
      : display_path_(std::move(display_path)) {
    file_ = std::fopen(temp_path.c_str(), "wb");
    if (file_ == nullptr) throw Error::Io("cannot create the output file", display_path_);
  }
  ~TempFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void Write(const void* data, size_t bytes) {
    if (bytes != 0 && std::fwrite(data, 1, bytes, file_) != bytes) {
      throw Error::Io("cannot write (disk full?)", display_path_);
    }
  }
  void Rewind() {
    if (std::fseek(file_, 0, SEEK_SET) != 0) throw Error::Io("cannot seek", display_path_);
  }
  void Close() {
    const bool ok = std::fflush(file_) == 0 && std::ferror(file_) == 0;
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed) throw Error::Io("cannot finish writing (disk full?)", display_path_);
  }

 private:
  std::FILE* file_ = nullptr;
  std::string display_path_;
};

}  // namespace

MrcWriteLayout PlanMrcWrite(const dataset::DatasetMeta& meta, const std::string& path) {
  MrcWriteLayout layout;
  switch (meta.dtype) {
    case DType::kInt8: layout.mode = 0; layout.file_dtype = DType::kInt8; break;
    case DType::kBool: layout.mode = 0; layout.file_dtype = DType::kInt8; break;
    case DType::kInt16: layout.mode = 1; layout.file_dtype = DType::kInt16; break;
    case DType::kFloat32: layout.mode = 2; layout.file_dtype = DType::kFloat32; break;
    case DType::kComplex64: layout.mode = 4; layout.file_dtype = DType::kComplex64; break;
    case DType::kUint16: layout.mode = 6; layout.file_dtype = DType::kUint16; break;
    case DType::kUint8: layout.mode = 6; layout.file_dtype = DType::kUint16; break;
    default:
      throw Error(ErrorInfo{
          .code = ErrorCode::kUnsupported,
          .message = fmt::format(
              "MRC has no mode for {} data (MRC2014 stores int8, int16, uint16, float32 and "
              "complex64; uint8 and bool are widened losslessly). Tessera does not narrow "
              "{} silently: write .npy or .h5 instead",
              Name(meta.dtype), Name(meta.dtype)),
          .file = path,
          .field = "mode"});
  }
  const auto& dims = meta.shape.dims();
  const int rank = static_cast<int>(dims.size());
  int64_t nx = 1, ny = 1, nz = 1;
  if (rank >= 1) nx = dims[static_cast<size_t>(rank - 1)];
  if (rank >= 2) ny = dims[static_cast<size_t>(rank - 2)];
  for (int i = 0; i + 2 < rank; ++i) nz *= dims[static_cast<size_t>(i)];
  for (const auto& [name, n] : {std::pair{"nx", nx}, std::pair{"ny", ny}, std::pair{"nz", nz}}) {
    if (n <= 0 || n > std::numeric_limits<int32_t>::max()) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kUnsupported,
          .message = fmt::format("{} = {} does not fit an MRC header (1 .. 2^31 - 1); shape [{}]",
                                 name, n, fmt::join(dims, ", ")),
          .file = path,
          .field = name});
    }
  }
  layout.n = {static_cast<int32_t>(nx), static_cast<int32_t>(ny), static_cast<int32_t>(nz)};
  layout.m = layout.n;
  const auto axis = [&](int from_end) -> const dataset::Axis* {
    const int index = rank - from_end;
    if (index < 0 || static_cast<size_t>(index) >= meta.axes.size()) return nullptr;
    return &meta.axes[static_cast<size_t>(index)];
  };
  std::optional<std::pair<double, double>> cal[3];
  for (int i = 0; i < 3; ++i) {
    if (const auto* a = axis(i + 1); a != nullptr && i < rank) cal[i] = LengthCalibration(*a);
  }
  // A length-calibrated third axis makes a volume (ispg 1) or, with more axes before it, a stack
  // of volumes (ispg 401); anything else is a stack of images (ispg 0, mz = 1).
  const bool volume = rank >= 3 && cal[2].has_value();
  if (volume) {
    const int64_t depth = dims[static_cast<size_t>(rank - 3)];
    layout.ispg = rank == 3 ? 1 : 401;
    layout.m[2] = static_cast<int32_t>(depth);
  } else {
    layout.ispg = 0;
    layout.m[2] = 1;
    cal[2].reset();
  }
  for (int i = 0; i < 3; ++i) {
    if (!cal[i]) continue;
    layout.cella[static_cast<size_t>(i)] = cal[i]->first * layout.m[static_cast<size_t>(i)];
    layout.origin[static_cast<size_t>(i)] = cal[i]->second;
  }
  return layout;
}

std::string MakeMrcHeader(const MrcWriteLayout& layout, const MrcWriteStats& stats,
                          const std::string& label) {
  std::string h(kHeaderBytes, '\0');
  for (int i = 0; i < 3; ++i) {
    const auto u = static_cast<size_t>(i);
    PutI32(h, i * 4, layout.n[u]);             // nx, ny, nz
    PutI32(h, 28 + i * 4, layout.m[u]);        // mx, my, mz
    PutF32(h, 40 + i * 4, layout.cella[u]);    // cell lengths (Angstrom)
    PutF32(h, 52 + i * 4, 90.0);               // cell angles
    PutI32(h, 64 + i * 4, i + 1);              // mapc, mapr, maps
    PutF32(h, 196 + i * 4, layout.origin[u]);  // origin (Angstrom)
  }
  PutI32(h, 12, layout.mode);
  PutF32(h, 76, stats.min);
  PutF32(h, 80, stats.max);
  PutF32(h, 84, stats.mean);
  PutI32(h, 88, layout.ispg);
  PutI32(h, 92, 0);  // nsymbt: no extended header
  std::memcpy(h.data() + 104, "MRCO", 4);
  PutI32(h, 108, 20140);
  std::memcpy(h.data() + 208, "MAP ", 4);
  h[212] = '\x44';  // machine stamp: little-endian
  h[213] = '\x44';
  PutF32(h, 216, stats.rms);
  std::string text = label.substr(0, 80);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  PutI32(h, 220, text.empty() ? 0 : 1);
  if (!text.empty()) {
    std::memset(h.data() + 224, ' ', 80);
    std::memcpy(h.data() + 224, text.data(), text.size());
  }
  return h;
}

void WriteMrc(const dataset::Dataset& source, const std::string& path,
              const WriteProgress& progress, const std::atomic<bool>* cancel) {
  const dataset::DatasetMeta& meta = source.meta();
  if (!internal::kHostLittleEndian) {
    throw Error::Unsupported("writing MRC files needs a little-endian host", path);
  }
  const MrcWriteLayout layout = PlanMrcWrite(meta, path);
  const int64_t total = meta.shape.nav_size();
  const int64_t sig_size = meta.shape.sig_size();
  const int64_t out_frame_bytes = sig_size * SizeOf(layout.file_dtype);
  const bool complex = IsComplex(layout.file_dtype);

  io::AtomicFile atomic = io::AtomicFile::Create(path);
  TempFile out(atomic.temp_path(), path);
  out.Write(std::string(kHeaderBytes, '\0').data(), kHeaderBytes);  // rewritten at the end

  const int64_t block =
      std::max<int64_t>(1, kBlockBytes / std::max<int64_t>(out_frame_bytes, 1));
  std::vector<std::byte> buffer;
  std::vector<double> values;
  RunningStats stats;
  for (int64_t begin = 0; begin < total; begin += block) {
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Error::Cancelled();
    const int64_t end = std::min(begin + block, total);
    const int64_t count = (end - begin) * sig_size;
    source.WillNeed(begin, end);
    buffer.resize(static_cast<size_t>(count * SizeOf(layout.file_dtype)));
    const std::byte* direct =
        meta.dtype == layout.file_dtype ? source.DirectFrames(begin, end) : nullptr;
    if (direct == nullptr) {
      source.ReadFrames(begin, end, {0, sig_size}, buffer.data(), layout.file_dtype);
      direct = buffer.data();
    }
    // Header statistics: of the values, or of the magnitudes for complex data.
    values.resize(static_cast<size_t>(count));
    if (complex) {
      const auto* c = reinterpret_cast<const std::complex<float>*>(direct);
      for (int64_t i = 0; i < count; ++i) values[static_cast<size_t>(i)] = std::abs(c[i]);
    } else {
      ConvertElements(direct, layout.file_dtype, false, values.data(), DType::kFloat64, count);
    }
    stats.AddBlock(values.data(), count);
    out.Write(direct, static_cast<size_t>(count * SizeOf(layout.file_dtype)));
    if (progress) progress(end, total);
  }
  if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) throw Error::Cancelled();
  MrcWriteStats header_stats;
  if (stats.count > 0) {
    header_stats = {.min = stats.min,
                    .max = stats.max,
                    .mean = stats.mean,
                    .rms = std::sqrt(stats.m2 / static_cast<double>(stats.count))};
  }
  const std::string base = meta.path.substr(meta.path.rfind('/') + 1);
  const std::string header =
      MakeMrcHeader(layout, header_stats,
                    fmt::format("Tessera: from {} {}", meta.format.empty() ? "?" : meta.format,
                                base));
  out.Rewind();
  out.Write(header.data(), header.size());
  out.Close();
  atomic.Commit();
}

}  // namespace tessera::formats
