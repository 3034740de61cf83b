// SPDX-License-Identifier: MIT
// Tiling conformance: one or more files per registered reader (tiling_files.txt; real shared files
// and generated raw / NPY / HDF5 files) are run through the real engine (UdfRunner + RunUdfs on
// the inline and the threads executor) under many tiling schemes and ROIs. A recording UDF checks
// that every tile holds exactly the values of the reference (the whole dataset read once with
// Dataset::ReadFrames into float64), and that every (frame, signal pixel) of the ROI is covered
// exactly once and nothing outside it. ReadFrames and DirectFrames are also checked directly with
// odd frame ranges, signal ranges and destination dtypes. See README.md.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <tuple>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "conformance_util.h"
#include "tessera/core/convert.h"
#include "tessera/core/dtype.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/dataset/partition.h"
#include "tessera/dataset/roi.h"
#include "tessera/exec/executor.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/npy/npy_format.h"
#include "tessera/formats/test_util_internal.h"
#include "tessera/udf/udf.h"
#include "tessera/udf/udf_runner.h"

namespace tessera::conformance {
namespace {

using formats::OpenParams;

// ---------------------------------------------------------------------------------------------
// Sources: tiling_files.txt, `reader | file | params`. `file` is relative to the shared data
// directory, or `generated:<name>` for a file this test writes (see Generate()).

struct Source {
  std::string name;    // gtest parameter name
  std::string reader;  // registry name the file must be detected as
  std::string file;
  OpenParams params;
  int line = 0;
};

std::vector<Source> ReadSources() {
  std::vector<Source> sources;
  std::set<std::string> used;
  for (const auto& line : ReadListFile(ConformanceFile("tiling_files.txt"))) {
    Source s;
    s.line = line.line_number;
    if (line.fields.size() < 2 || line.fields.size() > 3 || line.fields[0].empty() ||
        line.fields[1].empty()) {
      ADD_FAILURE() << "tiling_files.txt:" << line.line_number
                    << ": expected 'reader | file | key=value,...'";
      continue;
    }
    s.reader = line.fields[0];
    s.file = line.fields[1];
    if (line.fields.size() == 3 && !line.fields[2].empty()) {
      std::string params = line.fields[2];
      size_t begin = 0;
      while (begin <= params.size()) {
        const size_t comma = std::min(params.find(',', begin), params.size());
        const std::string item(Trim(params.substr(begin, comma - begin)));
        const size_t eq = item.find('=');
        if (eq == std::string::npos) {
          ADD_FAILURE() << "tiling_files.txt:" << line.line_number << ": bad parameter '" << item
                        << "'";
        } else {
          s.params[item.substr(0, eq)] = item.substr(eq + 1);
        }
        begin = comma + 1;
      }
    }
    s.name = TestName(s.reader + "_" + s.file, used);
    sources.push_back(std::move(s));
  }
  return sources;
}

// ---------------------------------------------------------------------------------------------
// Generated files, written once per process into a temporary directory.

/// A deterministic value for element i that fits every dtype used below.
double Pattern(int64_t i, DType dtype) {
  const double v = static_cast<double>((i * 7919 + 13) % 251);
  if (dtype == DType::kBool) return static_cast<double>(i % 3 == 0);
  if (dtype == DType::kInt8 || dtype == DType::kInt16 || dtype == DType::kInt32 ||
      dtype == DType::kInt64) {
    return v - 120;
  }
  if (IsFloating(dtype) || IsComplex(dtype)) return (v - 100) * 0.25;
  return v;
}

NdArray PatternArray(DType dtype, std::vector<int64_t> dims) {
  NdArray array(dtype, dims);
  const int64_t n = array.size();
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = Pattern(i, dtype);
  if (IsComplex(dtype)) {
    std::vector<std::complex<double>> complex(values.size());
    for (size_t i = 0; i < values.size(); ++i) complex[i] = {values[i], -0.5 * values[i]};
    ConvertElements(complex.data(), DType::kComplex128, false, array.raw(), dtype, n);
  } else {
    ConvertElements(values.data(), DType::kFloat64, false, array.raw(), dtype, n);
  }
  return array;
}

void WriteFile(const std::string& path, const void* data, size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

/// Write a raw file: `offset` junk bytes, then the array, optionally byte-swapped.
void WriteRaw(const std::string& path, const NdArray& array, int64_t offset, bool big_endian) {
  std::vector<std::byte> bytes(static_cast<size_t>(offset), std::byte{0x5a});
  const auto* src = static_cast<const std::byte*>(array.raw());
  const int64_t elem = SizeOf(array.dtype());
  const int64_t swap_unit = IsComplex(array.dtype()) ? elem / 2 : elem;
  for (int64_t i = 0; i < array.size() * elem; i += swap_unit) {
    for (int64_t b = 0; b < swap_unit; ++b) {
      bytes.push_back(src[i + (big_endian ? swap_unit - 1 - b : b)]);
    }
  }
  WriteFile(path, bytes.data(), bytes.size());
}

/// Write `array` as dataset /data/array of a new HDF5 file, in chunks of `chunk_rows` x
/// `chunk_cols` navigation positions and whole frames (0: contiguous), gzip-compressed if asked,
/// stored as `file_type`.
void WriteHdf5(const std::string& path, const NdArray& array, hid_t mem_type, hid_t file_type,
               hsize_t chunk_rows, hsize_t chunk_cols, bool gzip) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<hsize_t> dims(array.shape().begin(), array.shape().end());
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk_rows > 0) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = chunk_rows;
    chunk[1] = chunk_cols;
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    if (gzip) H5Pset_deflate(dcpl, 4);
  }
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t dset = H5Dcreate2(file, "/data/array", file_type, space, lcpl, dcpl, H5P_DEFAULT);
  H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, array.raw());
  H5Dclose(dset);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(file);
}

/// Every generated file, written into a temporary directory removed at exit.
struct GeneratedFiles {
  GeneratedFiles() {
    const std::string root = dir.path();
    // raw: odd shapes, an unaligned offset, both byte orders, every dtype family.
    WriteRaw(root + "/u8.raw", PatternArray(DType::kUint8, {7, 5, 9, 6}), 0, false);
    WriteRaw(root + "/i16be.raw", PatternArray(DType::kInt16, {7, 5, 9, 6}), 3, true);
    WriteRaw(root + "/u32.raw", PatternArray(DType::kUint32, {11, 13, 4}), 5, false);
    WriteRaw(root + "/f32be.raw", PatternArray(DType::kFloat32, {6, 6, 10, 7}), 0, true);
    WriteRaw(root + "/f64.raw", PatternArray(DType::kFloat64, {3, 4, 5, 6}), 8, false);
    WriteRaw(root + "/c64.raw", PatternArray(DType::kComplex64, {5, 3, 8, 8}), 0, false);
    WriteRaw(root + "/i64.raw", PatternArray(DType::kInt64, {4, 5, 6, 3}), 0, false);
    // npy: several dtypes and ranks.
    formats::WriteNpy(root + "/f32.npy", PatternArray(DType::kFloat32, {6, 7, 9, 8}));
    formats::WriteNpy(root + "/u16.npy", PatternArray(DType::kUint16, {5, 9, 16, 12}));
    formats::WriteNpy(root + "/i32_3d.npy", PatternArray(DType::kInt32, {23, 10, 11}));
    formats::WriteNpy(root + "/c128.npy", PatternArray(DType::kComplex128, {4, 3, 5, 6}));
    formats::WriteNpy(root + "/bool.npy", PatternArray(DType::kBool, {3, 5, 8, 8}));
    // hdf5: chunked + gzip (chunks of one scan row of 4 frames, so partitions and tiles follow
    // them), chunked big-endian with chunks of 2 x 3 positions (partial at the edges),
    // contiguous, chunked + gzip float64 with a partial chunk at the end of every scan row.
    WriteHdf5(root + "/chunked_gzip.h5", PatternArray(DType::kUint16, {9, 4, 12, 10}),
              H5T_NATIVE_UINT16, H5T_STD_U16LE, 1, 4, true);
    WriteHdf5(root + "/chunked_be.h5", PatternArray(DType::kInt32, {5, 6, 8, 9}),
              H5T_NATIVE_INT32, H5T_STD_I32BE, 2, 3, false);
    WriteHdf5(root + "/contiguous.h5", PatternArray(DType::kFloat32, {6, 5, 10, 8}),
              H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 0, 0, false);
    WriteHdf5(root + "/chunked_f64.h5", PatternArray(DType::kFloat64, {7, 3, 6, 5}),
              H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, 2, true);
  }
  formats::testing::TempDir dir;
};

/// Return the path of generated file `name`, writing every generated file on first use.
std::string Generated(const std::string& name) {
  static const GeneratedFiles files;
  return files.dir.path() + "/" + name;
}

/// Resolve a source to a path; nullopt (with `why`) when the shared data are missing.
std::optional<std::string> SourcePath(const Source& s, std::string* why) {
  const std::string prefix = "generated:";
  if (s.file.rfind(prefix, 0) == 0) {
    const std::string path = Generated(s.file.substr(prefix.size()));
    if (!std::filesystem::exists(path)) {
      *why = "tiling_files.txt:" + std::to_string(s.line) + ": no generated file '" + s.file + "'";
      return std::nullopt;
    }
    return path;
  }
  const auto dir = TestDataDir();
  if (!dir) {
    *why = "shared test data not found (set TESSERA_TESTDATA)";
    return std::nullopt;
  }
  return *dir + "/" + s.file;
}

// ---------------------------------------------------------------------------------------------
// The reference and the recording UDF.

/// Every value of a dataset as complex128 (imaginary part 0 for real data): exact for every dtype
/// up to 53-bit integers. `real` holds the real parts, the fast path for real data.
struct Reference {
  int64_t frames = 0;
  int64_t sig = 0;
  int64_t row_pixels = 1;  // pixels per row of the first signal axis
  int sig_dims = 0;
  DType dtype = DType::kFloat32;
  std::vector<std::complex<double>> values;
  std::vector<double> real;
  std::complex<double> at(int64_t frame, int64_t pixel) const {
    return values[static_cast<size_t>(frame * sig + pixel)];
  }
};

Reference ReadReference(const dataset::Dataset& ds) {
  Reference ref;
  const auto& shape = ds.meta().shape;
  ref.frames = shape.nav_size();
  ref.sig = shape.sig_size();
  ref.row_pixels = shape.sig_dims() > 0 && shape.sig()[0] > 0 ? ref.sig / shape.sig()[0] : 1;
  ref.sig_dims = shape.sig_dims();
  ref.dtype = ds.meta().dtype;
  ref.values.resize(static_cast<size_t>(ref.frames * ref.sig));
  ref.real.resize(ref.values.size());
  if (IsComplex(ref.dtype)) {
    ds.ReadFrames(0, ref.frames, {0, ref.sig}, ref.values.data(), DType::kComplex128);
    for (size_t i = 0; i < ref.real.size(); ++i) ref.real[i] = ref.values[i].real();
  } else {
    ds.ReadFrames(0, ref.frames, {0, ref.sig}, ref.real.data(), DType::kFloat64);
    for (size_t i = 0; i < ref.real.size(); ++i) ref.values[i] = ref.real[i];
  }
  return ref;
}

/// The value `ref` takes when converted to `dtype` (what a tile of that dtype must hold).
std::complex<double> As(std::complex<double> v, DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return static_cast<float>(v.real());
    case DType::kComplex64:
      return {static_cast<float>(v.real()), static_cast<float>(v.imag())};
    case DType::kComplex128: return v;
    default: return v.real();  // native integer / float64 tiles: exact
  }
}

/// Convert `count` elements of `dtype` to complex128 (real dtypes: imaginary 0).
void ToComplex(const std::byte* src, DType dtype, int64_t count, std::complex<double>* dst) {
  if (IsComplex(dtype)) {
    ConvertElements(src, dtype, false, dst, DType::kComplex128, count);
    return;
  }
  std::vector<double> real(static_cast<size_t>(count));
  ConvertElements(src, dtype, false, real.data(), DType::kFloat64, count);
  for (int64_t i = 0; i < count; ++i) dst[i] = real[static_cast<size_t>(i)];
}

/// What tiles of one input dtype must hold: the real parts of the reference converted to that
/// dtype (complex data: the full values), computed once per source and dtype.
struct TileReference {
  DType dtype = DType::kFloat32;
  std::vector<double> real;                  // real data
  std::vector<std::complex<double>> values;  // complex data
};

TileReference MakeTileReference(const Reference& ref, DType dtype) {
  TileReference t;
  t.dtype = dtype;
  if (IsComplex(ref.dtype)) {
    t.values.resize(ref.values.size());
    for (size_t i = 0; i < ref.values.size(); ++i) t.values[i] = As(ref.values[i], dtype);
  }
  t.real.resize(ref.real.size());
  for (size_t i = 0; i < ref.real.size(); ++i) t.real[i] = As(ref.real[i], dtype).real();
  return t;
}

struct Scheme {
  std::string name;
  udf::Method method = udf::Method::kTile;
  int64_t depth = 1;
  int64_t band_rows = 0;         // 0: whole frames
  int64_t partition_frames = 0;  // 0: the default partition size
};

const std::vector<Scheme>& Schemes() {
  static const std::vector<Scheme> schemes = {
      {.name = "depth1", .depth = 1, .partition_frames = 5},
      {.name = "depth3", .depth = 3, .partition_frames = 5},
      {.name = "depth32", .depth = 32, .partition_frames = 7},
      {.name = "depth32_one_partition", .depth = 32},
      {.name = "frames", .method = udf::Method::kFrame, .depth = 3, .partition_frames = 4},
      {.name = "whole_partition", .method = udf::Method::kPartition, .partition_frames = 5},
      {.name = "whole_partition_one", .method = udf::Method::kPartition},
      {.name = "rows1", .depth = 4, .band_rows = 1, .partition_frames = 5},
      {.name = "rows7", .depth = 3, .band_rows = 7, .partition_frames = 8},
  };
  return schemes;
}

/// Checks every value it is handed against the reference and counts coverage per (frame, pixel);
/// also sums each frame (nav buffer) and each pixel (sig buffer) so the merge is checked too.
class RecordingUdf final : public udf::Udf {
 public:
  /// `band_elem`: the largest input dtype size of the pass, which the engine uses to size bands.
  RecordingUdf(const Reference& ref, const TileReference& want, const Scheme& scheme,
               int64_t band_elem)
      : ref_(ref), want_(want), scheme_(scheme), band_elem_(band_elem),
        coverage_(new std::atomic<uint32_t>[static_cast<size_t>(ref.frames * ref.sig)]()) {}

  std::string name() const override { return "conformance_record"; }
  udf::Method method() const override { return scheme_.method; }
  DType InputDType(DType /*native*/) const override { return want_.dtype; }
  bool needs_full_frames() const override {
    return scheme_.band_rows == 0 || scheme_.method != udf::Method::kTile;
  }
  udf::TilingPreferences tiling_preferences() const override {
    if (scheme_.band_rows == 0) return {.depth = scheme_.depth, .total_bytes = int64_t{1} << 40};
    return {.depth = scheme_.depth,
            .total_bytes = scheme_.depth * ref_.row_pixels * band_elem_ * scheme_.band_rows};
  }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& /*meta*/) const override {
    return {{.name = "frame_sum", .kind = udf::BufferKind::kNav, .dtype = DType::kFloat64},
            {.name = "pixel_sum", .kind = udf::BufferKind::kSig, .dtype = DType::kFloat64}};
  }
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override {
    Record(tile, buffers);
  }
  void ProcessFrame(const dataset::Tile& frame, udf::BufferSet& buffers) const override {
    if (frame.depth != 1) Fail("ProcessFrame got a tile of depth " + std::to_string(frame.depth));
    Record(frame, buffers);
  }
  void ProcessPartition(const dataset::Tile& tile, udf::BufferSet& buffers) const override {
    Record(tile, buffers);
  }

  uint32_t coverage(int64_t index) const {
    return coverage_[static_cast<size_t>(index)].load(std::memory_order_relaxed);
  }
  int64_t max_depth() const { return max_depth_.load(); }
  std::set<std::pair<int64_t, int64_t>> sig_ranges() const {
    std::lock_guard lock(mutex_);
    return sig_ranges_;
  }
  int64_t failures() const { return failures_.load(); }
  std::string first_failure() const {
    std::lock_guard lock(mutex_);
    return first_failure_;
  }

 private:
  void Fail(const std::string& what) const {
    if (failures_.fetch_add(1) == 0) {
      std::lock_guard lock(mutex_);
      first_failure_ = what;
    }
  }

  void Mismatch(const dataset::Tile& tile, int64_t frame, int64_t pixel,
                std::complex<double> got, std::complex<double> want) const {
    std::ostringstream text;
    text.precision(17);
    text << "frame " << frame << " pixel " << pixel << " (" << Name(tile.dtype)
         << " tile at frame " << tile.frame_index(0) << ", depth " << tile.depth << ", pixels ["
         << tile.sig.begin << ", " << tile.sig.end << ")): got " << got << ", reference " << want;
    Fail(text.str());
  }

  void Record(const dataset::Tile& tile, udf::BufferSet& buffers) const {
    if (tile.dtype != want_.dtype) {
      Fail("tile dtype " + std::string(Name(tile.dtype)) + ", asked for " +
           std::string(Name(want_.dtype)));
      return;
    }
    if (tile.sig.begin < 0 || tile.sig.end > ref_.sig || tile.sig.begin >= tile.sig.end) {
      Fail("tile signal range [" + std::to_string(tile.sig.begin) + ", " +
           std::to_string(tile.sig.end) + ") outside the frame");
      return;
    }
    int64_t seen = max_depth_.load();
    while (tile.depth > seen && !max_depth_.compare_exchange_weak(seen, tile.depth)) {
    }
    {
      std::lock_guard lock(mutex_);
      sig_ranges_.insert({tile.sig.begin, tile.sig.end});
    }
    const int64_t width = tile.sig.size();
    const int64_t elem = SizeOf(tile.dtype);
    const bool complex = IsComplex(tile.dtype);
    thread_local std::vector<double> row;
    thread_local std::vector<std::complex<double>> crow;
    row.resize(static_cast<size_t>(width));
    if (complex) crow.resize(static_cast<size_t>(width));
    double* pixel_sum = buffers.Whole<double>(1).data() + tile.sig.begin;
    double* frame_sums = buffers.Whole<double>(0).data();
    for (int64_t f = 0; f < tile.depth; ++f) {
      const int64_t frame = tile.frame_index(f);
      if (frame < 0 || frame >= ref_.frames || frame < buffers.frame_begin() ||
          frame >= buffers.frame_begin() + buffers.num_frames()) {
        Fail("tile frame " + std::to_string(frame) + " outside its partition");
        return;
      }
      const std::byte* src =
          static_cast<const std::byte*>(tile.data) + f * tile.frame_stride * elem;
      const size_t base = static_cast<size_t>(frame * ref_.sig + tile.sig.begin);
      if (complex) {
        ConvertElements(src, tile.dtype, false, crow.data(), DType::kComplex128, width);
        for (int64_t p = 0; p < width; ++p) {
          const auto got = crow[static_cast<size_t>(p)];
          const auto want = want_.values[base + static_cast<size_t>(p)];
          if (got != want && !(std::isnan(got.real()) && std::isnan(want.real()))) {
            Mismatch(tile, frame, tile.sig.begin + p, got, want);
          }
          row[static_cast<size_t>(p)] = got.real();
        }
      } else {
        ConvertElements(src, tile.dtype, false, row.data(), DType::kFloat64, width);
        const double* want = want_.real.data() + base;
        for (int64_t p = 0; p < width; ++p) {
          const double got = row[static_cast<size_t>(p)];
          if (got != want[p] && !(std::isnan(got) && std::isnan(want[p]))) {
            Mismatch(tile, frame, tile.sig.begin + p, got, want[p]);
          }
        }
      }
      std::atomic<uint32_t>* cover = coverage_.get() + base;
      double frame_sum = 0;
      for (int64_t p = 0; p < width; ++p) {
        cover[p].fetch_add(1, std::memory_order_relaxed);
        frame_sum += row[static_cast<size_t>(p)];
        pixel_sum[p] += row[static_cast<size_t>(p)];
      }
      frame_sums[frame - buffers.frame_begin()] += frame_sum;
    }
  }

  const Reference& ref_;
  const TileReference& want_;
  Scheme scheme_;
  int64_t band_elem_;
  std::unique_ptr<std::atomic<uint32_t>[]> coverage_;
  mutable std::atomic<int64_t> max_depth_{0};
  mutable std::atomic<int64_t> failures_{0};
  mutable std::mutex mutex_;
  mutable std::string first_failure_;
  mutable std::set<std::pair<int64_t, int64_t>> sig_ranges_;
};

struct RoiCase {
  std::string name;
  std::optional<dataset::Roi> roi;
  bool selected(int64_t frame) const { return !roi || roi->selected(frame); }
};

std::vector<RoiCase> Rois(const dataset::Dataset& ds) {
  const auto nav = ds.meta().shape.nav();
  const int64_t n = ds.meta().shape.nav_size();
  std::vector<RoiCase> rois;
  rois.push_back({"no ROI", std::nullopt});
  std::mt19937 rng(12345);
  std::vector<uint8_t> sparse(static_cast<size_t>(n));
  for (auto& m : sparse) m = rng() % 10 < 3 ? 1 : 0;
  sparse[static_cast<size_t>(rng() % static_cast<uint64_t>(n))] = 1;  // never empty
  rois.push_back({"sparse random ROI", dataset::Roi::FromMask(nav, sparse)});
  std::vector<uint8_t> single(static_cast<size_t>(n), 0);
  single[static_cast<size_t>(n / 2)] = 1;
  rois.push_back({"single-frame ROI (frame " + std::to_string(n / 2) + ")",
                  dataset::Roi::FromMask(nav, single)});
  return rois;
}

/// Input dtypes of one run: the reader's own dtype (zero-copy tiles where the reader offers them)
/// and, alternating by scheme, float32 or float64 (decoded tiles); complex128 for complex data.
/// Two UDFs with different input dtypes share each pass, as analyses do.
std::vector<DType> InputDTypes(DType native, size_t scheme_index) {
  const DType decoded = IsComplex(native)   ? DType::kComplex128
                        : scheme_index % 2 ? DType::kFloat32
                                           : DType::kFloat64;
  if (decoded == native) return {native};
  return {native, decoded};
}

/// Expected merged results of one input dtype and ROI: per-frame and per-pixel sums.
struct ExpectedSums {
  std::vector<double> frame, frame_scale, pixel, pixel_scale;
};

ExpectedSums MakeSums(const Reference& ref, const TileReference& want, const RoiCase& roi) {
  ExpectedSums sums;
  sums.frame.assign(static_cast<size_t>(ref.frames), 0.0);
  sums.frame_scale = sums.frame;
  sums.pixel.assign(static_cast<size_t>(ref.sig), 0.0);
  sums.pixel_scale = sums.pixel;
  for (int64_t f = 0; f < ref.frames; ++f) {
    const bool selected = roi.selected(f);
    const double* v = want.real.data() + f * ref.sig;
    for (int64_t p = 0; p < ref.sig; ++p) {
      sums.frame[static_cast<size_t>(f)] += v[p];
      sums.frame_scale[static_cast<size_t>(f)] += std::abs(v[p]);
      if (selected) {
        sums.pixel[static_cast<size_t>(p)] += v[p];
        sums.pixel_scale[static_cast<size_t>(p)] += std::abs(v[p]);
      }
    }
  }
  return sums;
}

constexpr int64_t kLargeElements = int64_t{1} << 16;

/// Run every scheme x ROI x executor combination; report failures with the configuration.
void CheckEngine(const dataset::Dataset& ds, const Reference& ref) {
  const auto inline_executor = exec::MakeInlineExecutor();
  const auto threads_executor = exec::MakeThreadsExecutor(2);
  const auto rois = Rois(ds);
  const int64_t rows = ds.meta().shape.sig_dims() > 0 ? ds.meta().shape.sig()[0] : 1;
  std::map<DType, TileReference> wants;
  std::map<std::pair<DType, size_t>, ExpectedSums> sums;
  for (size_t scheme_index = 0; scheme_index < Schemes().size(); ++scheme_index) {
    const Scheme& scheme = Schemes()[scheme_index];
    // Row bands of a spectrum would be single channels: bands are tested on 2-D frames.
    if (scheme.band_rows > 0 && ref.sig_dims < 2) continue;
    const std::vector<DType> dtypes = InputDTypes(ref.dtype, scheme_index);
    int64_t band_elem = 1;
    for (const DType dtype : dtypes) {
      band_elem = std::max(band_elem, SizeOf(dtype));
      if (wants.count(dtype) == 0) wants.emplace(dtype, MakeTileReference(ref, dtype));
    }
    // The (ROI, executor) combinations: no ROI on both executors, the sparse ROI on threads, the
    // single frame inline. Large sources (more than kLargeElements values) run one combination
    // per scheme, rotating, so that the suite stays fast and every scheme still meets both
    // executors and every ROI across the sources.
    std::vector<std::pair<size_t, exec::Executor*>> combos = {{0, threads_executor.get()},
                                                              {0, inline_executor.get()},
                                                              {1, threads_executor.get()},
                                                              {2, inline_executor.get()}};
    if (ref.frames * ref.sig > kLargeElements) {
      combos = {combos[scheme_index % combos.size()]};
    }
    for (const auto& [r, executor] : combos) {
      const RoiCase& roi = rois[r];
      {
        const std::string where = "scheme " + scheme.name + ", " + roi.name + ", " +
                                  executor->name() + " executor";
        SCOPED_TRACE(where);
        std::vector<std::unique_ptr<RecordingUdf>> udfs;
        std::vector<udf::Udf*> pointers;
        for (const DType dtype : dtypes) {
          udfs.push_back(std::make_unique<RecordingUdf>(ref, wants.at(dtype), scheme, band_elem));
          pointers.push_back(udfs.back().get());
        }
        udf::RunOptions options;
        options.roi = roi.roi ? &*roi.roi : nullptr;
        if (scheme.partition_frames > 0) {
          options.partition_bytes = scheme.partition_frames * ref.sig * 4;
        }
        // The scheme the engine negotiates for this run (RunUdfs negotiates the same one).
        const auto probe = udf::UdfRunner::Create(ds, pointers, options);
        const auto& tiling = probe->tiling_scheme();
        if (scheme.partition_frames > 0 && ds.native_depth() <= 1 &&
            ref.frames > scheme.partition_frames) {
          EXPECT_GT(probe->partitions().size(), 1u) << "expected several partitions";
        }
        if (scheme.method == udf::Method::kTile && ds.native_depth() <= 1) {
          EXPECT_EQ(tiling.depth, scheme.depth) << "negotiated depth";
        }
        const bool banded = scheme.method == udf::Method::kTile && scheme.band_rows > 0 &&
                            rows > scheme.band_rows;
        if (banded) {
          EXPECT_EQ(tiling.sig_ranges.size(),
                    static_cast<size_t>((rows + scheme.band_rows - 1) / scheme.band_rows))
              << "negotiated row bands";
        } else {
          EXPECT_EQ(tiling.sig_ranges.size(), 1u) << "negotiated whole frames";
        }
        std::vector<std::vector<udf::Result>> results;
        try {
          results = exec::RunUdfs(*executor, ds, pointers, options);
        } catch (const std::exception& error) {
          ADD_FAILURE() << "run failed: " << error.what();
          continue;
        }
        ASSERT_EQ(results.size(), udfs.size());
        for (size_t u = 0; u < udfs.size(); ++u) {
          const RecordingUdf& rec = *udfs[u];
          const DType in = dtypes[u];
          const std::string input = "input " + std::string(Name(in));
          EXPECT_EQ(rec.failures(), 0) << input << ": " << rec.failures()
                                       << " wrong value(s), first: " << rec.first_failure();
          // Tile shapes: never deeper than negotiated; bands of band_rows whole rows.
          if (scheme.method != udf::Method::kPartition) {
            EXPECT_LE(rec.max_depth(), scheme.method == udf::Method::kFrame ? 1 : tiling.depth)
                << input;
          }
          for (const auto& [begin, end] : rec.sig_ranges()) {
            if (banded) {
              EXPECT_EQ(begin % (scheme.band_rows * ref.row_pixels), 0) << input;
              EXPECT_TRUE(end - begin == scheme.band_rows * ref.row_pixels || end == ref.sig)
                  << input << ": band [" << begin << ", " << end << ")";
            } else {
              EXPECT_TRUE(begin == 0 && end == ref.sig)
                  << input << ": band [" << begin << ", " << end << ") of a whole-frame scheme";
            }
          }
          // Coverage: every (frame, pixel) of the ROI exactly once, nothing outside.
          int64_t bad = 0;
          std::string first;
          for (int64_t f = 0; f < ref.frames; ++f) {
            const uint32_t want = roi.selected(f) ? 1 : 0;
            for (int64_t p = 0; p < ref.sig; ++p) {
              const uint32_t got = rec.coverage(f * ref.sig + p);
              if (got != want && bad++ == 0) {
                first = "frame " + std::to_string(f) + " pixel " + std::to_string(p) +
                        " covered " + std::to_string(got) + " times, expected " +
                        std::to_string(want);
              }
            }
          }
          EXPECT_EQ(bad, 0) << input << ": coverage wrong at " << bad << " (frame, pixel), first: "
                            << first;
          // Results: the merged nav buffer holds each ROI frame's sum, NaN elsewhere; the sig
          // buffer the per-pixel sums over the ROI.
          const auto key = std::make_pair(in, r);
          if (sums.count(key) == 0) sums.emplace(key, MakeSums(ref, wants.at(in), roi));
          const ExpectedSums& want = sums.at(key);
          const auto& frame_sum = results[u][0].data;
          const auto& pixel_sum = results[u][1].data;
          ASSERT_EQ(frame_sum.size(), ref.frames);
          ASSERT_EQ(pixel_sum.size(), ref.sig);
          for (int64_t f = 0; f < ref.frames; ++f) {
            const double got = frame_sum.GetAsDouble(f);
            const auto i = static_cast<size_t>(f);
            if (!roi.selected(f)) {
              if (!std::isnan(got)) {
                ADD_FAILURE() << input << ": frame " << f << " outside the ROI has sum " << got;
                break;
              }
            } else if (!(std::abs(got - want.frame[i]) <= 1e-9 * want.frame_scale[i])) {
              ADD_FAILURE() << input << ": frame " << f << " sum " << got << ", expected "
                            << want.frame[i];
              break;
            }
          }
          for (int64_t p = 0; p < ref.sig; ++p) {
            const double got = pixel_sum.GetAsDouble(p);
            const auto i = static_cast<size_t>(p);
            if (!(std::abs(got - want.pixel[i]) <= 1e-9 * want.pixel_scale[i])) {
              ADD_FAILURE() << input << ": pixel " << p << " sum " << got << ", expected "
                            << want.pixel[i];
              break;
            }
          }
        }
      }
    }
  }
}

/// ReadFrames and DirectFrames directly: odd frame ranges, signal ranges, destination dtypes, and
/// out-of-range requests that must be errors, not crashes.
void CheckReadFrames(const dataset::Dataset& ds, const Reference& ref) {
  const int64_t n = ref.frames, sig = ref.sig, row = ref.row_pixels;
  // Empty ranges (ReadFrames(k, k, ...)) are not requested: the engine never asks for them, and
  // core ConvertElements passes a null pointer to memcpy for them (reported, UBSan).
  struct Range {
    int64_t begin, end;
    dataset::SigRange sig;
  };
  std::vector<Range> ranges = {{0, n, {0, sig}}};
  for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{n - 1, n}, {n / 2, n / 2 + 1}}) {
    ranges.push_back({begin, end, {0, row}});                  // first row
    ranges.push_back({begin, end, {sig - row, sig}});          // last row
    if (sig / row > 3) ranges.push_back({begin, end, {row, 3 * row}});  // a band of rows
    if (sig > 2) ranges.push_back({begin, end, {1, sig - 1}});  // not aligned to rows
  }
  if (n > 2) ranges.push_back({1, n - 1, {0, sig}});
  if (n > 7) ranges.push_back({3, 8, {sig > 2 ? 1 : 0, sig}});
  std::vector<DType> dtypes = {ref.dtype, DType::kFloat64, DType::kFloat32};
  if (IsComplex(ref.dtype)) dtypes = {ref.dtype, DType::kComplex128, DType::kComplex64};
  for (const Range& r : ranges) {
    const int64_t begin = r.begin, end = r.end;
    const dataset::SigRange range = r.sig;
    {
      for (const DType dtype : dtypes) {
        const int64_t count = (end - begin) * range.size();
        std::vector<std::byte> dst(static_cast<size_t>(std::max<int64_t>(count, 1) * SizeOf(dtype)));
        try {
          ds.ReadFrames(begin, end, range, dst.data(), dtype);
        } catch (const std::exception& error) {
          ADD_FAILURE() << "ReadFrames(" << begin << ", " << end << ", [" << range.begin << ", "
                        << range.end << "), " << Name(dtype) << ") failed: " << error.what();
          continue;
        }
        std::vector<std::complex<double>> got(static_cast<size_t>(count));
        ToComplex(dst.data(), dtype, count, got.data());
        for (int64_t f = begin; f < end; ++f) {
          bool ok = true;
          for (int64_t p = range.begin; p < range.end && ok; ++p) {
            const auto g = got[static_cast<size_t>((f - begin) * range.size() + p - range.begin)];
            const auto w = As(ref.at(f, p), dtype);
            if (g != w && !(std::isnan(g.real()) && std::isnan(w.real()))) {
              ADD_FAILURE() << "ReadFrames(" << begin << ", " << end << ", [" << range.begin
                            << ", " << range.end << "), " << Name(dtype) << "): frame " << f
                            << " pixel " << p << " got " << g << ", reference " << w;
              ok = false;
            }
          }
          if (!ok) break;
        }
      }
    }
  }
  // DirectFrames, where offered, must show the same values in the native dtype.
  for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, n}, {n - 1, n}}) {
    const std::byte* direct = ds.DirectFrames(begin, end);
    if (direct == nullptr) continue;
    std::vector<std::complex<double>> got(static_cast<size_t>((end - begin) * sig));
    ToComplex(direct, ref.dtype, (end - begin) * sig, got.data());
    for (int64_t i = 0; i < (end - begin) * sig; ++i) {
      const auto w = ref.values[static_cast<size_t>(begin * sig + i)];
      if (got[static_cast<size_t>(i)] != w && !std::isnan(w.real())) {
        ADD_FAILURE() << "DirectFrames(" << begin << ", " << end << ") element " << i << " got "
                      << got[static_cast<size_t>(i)] << ", reference " << w;
        break;
      }
    }
  }
  // Out of range: an error naming the problem, never a crash or a read past the data.
  struct Request {
    int64_t begin, end;
    dataset::SigRange sig;
  };
  const Request bad[] = {{n, n + 1, {0, sig}}, {0, 1, {0, sig + 1}}, {1, 0, {0, sig}},
                         {-1, 0, {0, sig}}};
  std::vector<double> scratch(static_cast<size_t>(sig + 1) * 2);
  for (const Request& r : bad) {
    EXPECT_THROW(ds.ReadFrames(r.begin, r.end, r.sig, scratch.data(), DType::kFloat64), Error)
        << "ReadFrames(" << r.begin << ", " << r.end << ", [" << r.sig.begin << ", " << r.sig.end
        << ")) outside the dataset (" << n << " frames of " << sig << " pixels)";
  }
}

class TilingConformance : public ::testing::TestWithParam<Source> {};

TEST_P(TilingConformance, EveryTileMatchesTheReference) {
  const Source& s = GetParam();
  std::string why;
  const auto path = SourcePath(s, &why);
  if (!path) GTEST_SKIP() << why;
  const auto registry = formats::testing::Builtins();
  if (registry.Find(s.reader) == nullptr) {
    // A line prepared for a reader that is being written: it runs once the reader is registered.
    GTEST_SKIP() << "reader '" << s.reader << "' is not registered (yet)";
  }
  // Opened with no format flag: the file must be recognised as its reader's.
  std::unique_ptr<dataset::Dataset> ds;
  try {
    ds = registry.Open(*path, s.params);
  } catch (const std::exception& error) {
    FAIL() << "cannot open " << *path << ": " << error.what();
  }
  ASSERT_EQ(ds->meta().format, s.reader) << *path << " was opened by another reader";
  ASSERT_GT(ds->meta().shape.nav_size(), 0);
  ASSERT_GT(ds->meta().shape.sig_size(), 0);
  const Reference ref = ReadReference(*ds);
  CheckReadFrames(*ds, ref);
  CheckEngine(*ds, ref);
}

INSTANTIATE_TEST_SUITE_P(Readers, TilingConformance, ::testing::ValuesIn(ReadSources()),
                         [](const ::testing::TestParamInfo<Source>& param_info) { return param_info.param.name; });

TEST(TilingConformanceList, EveryRegisteredReaderHasAnEntry) {
  const auto registry = formats::testing::Builtins();
  const auto sources = ReadSources();
  for (const auto* entry : registry.entries()) {
    const bool listed = std::any_of(sources.begin(), sources.end(),
                                    [&](const Source& s) { return s.reader == entry->name; });
    EXPECT_TRUE(listed)
        << "reader '" << entry->name << "' is registered but has no line in "
        << "tests/conformance/tiling_files.txt. Add one per dtype the reader produces: `"
        << entry->name << " | <file under the shared data dir, or generated:<name>> | "
        << "<open params, key=value,...>` (see tests/conformance/README.md)";
  }
  // Lines for readers not registered yet are allowed (their cases skip with a note), so a reader
  // being written can be listed before it lands.
}

}  // namespace
}  // namespace tessera::conformance
