// SPDX-License-Identifier: MIT
// HyperSpy .zspy / zarr v2 stores: DirectoryStore folders and ZipStore zip files.
#include "tessera/formats/zspy/zspy_format.h"

#include <blosc.h>
#include <sys/stat.h>
#include <zip.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

using nlohmann::json;

// A decoded chunk larger than this is refused (a lying .zarray must not exhaust memory).
constexpr int64_t kMaxChunkBytes = int64_t{1} << 31;
// JSON documents (.zarray, .zattrs, .zgroup) larger than this are refused.
constexpr int64_t kMaxJsonBytes = int64_t{64} << 20;
// Decoded chunks kept per dataset (and their total size).
constexpr size_t kCacheChunks = 16;
constexpr int64_t kCacheBytes = int64_t{256} << 20;
// Metadata trees deeper or larger than this are cut short.
constexpr int kMaxMetadataDepth = 32;
constexpr int kMaxMetadataNodes = 20000;

[[noreturn]] void Corrupt(const std::string& path, const std::string& field,
                          const std::string& message) {
  throw Error::CorruptFile(path, std::nullopt, field, message);
}

// ---- stores ---------------------------------------------------------------------------------

/// Key-value access to a zarr store ("a/b/.zarray" -> bytes).
class Store {
 public:
  virtual ~Store() = default;
  /// The bytes under `key`, or nullopt when absent. Entries larger than `max_bytes` are
  /// kCorruptFile (sizes are checked before reading).
  virtual std::optional<std::vector<std::byte>> Get(const std::string& key,
                                                    int64_t max_bytes) const = 0;
  /// The names of the children (groups, arrays, keys) directly under `prefix` ("" = root).
  virtual std::vector<std::string> Children(const std::string& prefix) const = 0;
  /// How errors name `key` (a file path, or "zip:entry").
  virtual std::string Where(const std::string& key) const = 0;
  /// Files behind `keys` for provenance.
  virtual std::vector<dataset::InputFile> Files(const std::vector<std::string>& keys) const = 0;
};

class DirectoryStore final : public Store {
 public:
  explicit DirectoryStore(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }

  std::optional<std::vector<std::byte>> Get(const std::string& key,
                                            int64_t max_bytes) const override {
    const std::string file = Where(key);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    if (st.st_size > max_bytes) {
      throw Error::CorruptFile(file, 0, "size",
                               fmt::format("{} bytes, more than the {} this entry may hold",
                                           st.st_size, max_bytes));
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error::Io("cannot open for reading", file);
    std::vector<std::byte> bytes(static_cast<size_t>(st.st_size));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (in.gcount() != static_cast<std::streamsize>(bytes.size())) {
      throw Error::Io("cannot read", file);
    }
    return bytes;
  }

  std::vector<std::string> Children(const std::string& prefix) const override {
    std::vector<std::string> names;
    std::error_code ec;
    const std::string dir = prefix.empty() ? root_ : Where(prefix);
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string Where(const std::string& key) const override { return root_ + "/" + key; }

  std::vector<dataset::InputFile> Files(const std::vector<std::string>& keys) const override {
    std::vector<dataset::InputFile> files;
    for (const auto& key : keys) {
      struct stat st {};
      const std::string file = Where(key);
      if (::stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        files.push_back({.path = file, .size = st.st_size});
      }
    }
    return files;
  }

 private:
  std::string root_;
};

/// A zip file (zarr's ZipStore, written by Python's zipfile). zarr appends a new entry each time
/// attributes change, so names repeat; as in Python, the last entry of a name wins.
class ZipStore final : public Store {
 public:
  explicit ZipStore(std::string path) : path_(std::move(path)) {
    int code = 0;
    zip_ = zip_open(path_.c_str(), ZIP_RDONLY, &code);
    if (zip_ == nullptr) {
      zip_error_t error;
      zip_error_init_with_code(&error, code);
      const std::string why = zip_error_strerror(&error);
      zip_error_fini(&error);
      throw Error::CorruptFile(path_, std::nullopt, "zip",
                               fmt::format("cannot open as a zip file: {}", why));
    }
    const zip_int64_t count = zip_get_num_entries(zip_, 0);
    for (zip_int64_t i = 0; i < count; ++i) {
      const char* name = zip_get_name(zip_, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
      if (name != nullptr) index_[name] = static_cast<zip_uint64_t>(i);
    }
  }
  ~ZipStore() override { zip_discard(zip_); }
  ZipStore(const ZipStore&) = delete;
  ZipStore& operator=(const ZipStore&) = delete;

  std::optional<std::vector<std::byte>> Get(const std::string& key,
                                            int64_t max_bytes) const override {
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    std::lock_guard lock(mutex_);  // a zip_t is not thread-safe
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, it->second, 0, &st) != 0 || (st.valid & ZIP_STAT_SIZE) == 0) {
      Corrupt(path_, key, fmt::format("cannot stat zip entry: {}", zip_strerror(zip_)));
    }
    if (st.size > static_cast<zip_uint64_t>(max_bytes)) {
      Corrupt(path_, key,
              fmt::format("zip entry of {} bytes, more than the {} it may hold", st.size,
                          max_bytes));
    }
    zip_file_t* file = zip_fopen_index(zip_, it->second, 0);
    if (file == nullptr) {
      Corrupt(path_, key, fmt::format("cannot open zip entry: {}", zip_strerror(zip_)));
    }
    std::vector<std::byte> bytes(static_cast<size_t>(st.size));
    const zip_int64_t got = zip_fread(file, bytes.data(), st.size);
    std::string why = got < 0 ? zip_file_strerror(file) : "";
    zip_fclose(file);
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) {
      Corrupt(path_, key,
              fmt::format("zip entry truncated or damaged: read {} of {} bytes{}", got, st.size,
                          why.empty() ? "" : " (" + why + ")"));
    }
    return bytes;
  }

  std::vector<std::string> Children(const std::string& prefix) const override {
    std::set<std::string> names;
    const std::string start = prefix.empty() ? "" : prefix + "/";
    for (auto it = index_.lower_bound(start); it != index_.end(); ++it) {
      if (it->first.compare(0, start.size(), start) != 0) break;
      const std::string rest = it->first.substr(start.size());
      const auto slash = rest.find('/');
      names.insert(slash == std::string::npos ? rest : rest.substr(0, slash));
    }
    names.erase("");
    return {names.begin(), names.end()};
  }

  std::string Where(const std::string& key) const override { return path_ + ":" + key; }

  std::vector<dataset::InputFile> Files(const std::vector<std::string>& /*keys*/) const override {
    struct stat st {};
    return {{.path = path_, .size = ::stat(path_.c_str(), &st) == 0 ? st.st_size : 0}};
  }

 private:
  std::string path_;
  zip_t* zip_ = nullptr;
  std::map<std::string, zip_uint64_t> index_;
  mutable std::mutex mutex_;
};

std::string JoinKey(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

/// Parse the JSON document under `key`, or nullopt when absent.
std::optional<json> GetJson(const Store& store, const std::string& key) {
  const auto bytes = store.Get(key, kMaxJsonBytes);
  if (!bytes) return std::nullopt;
  try {
    return json::parse(reinterpret_cast<const char*>(bytes->data()),
                       reinterpret_cast<const char*>(bytes->data()) + bytes->size());
  } catch (const json::exception& e) {
    throw Error::CorruptFile(store.Where(key), std::nullopt, key,
                             fmt::format("not valid JSON: {}", e.what()));
  }
}

bool IsGroup(const Store& store, const std::string& key) {
  return store.Get(JoinKey(key, ".zgroup"), kMaxJsonBytes).has_value();
}

bool IsArray(const Store& store, const std::string& key) {
  return store.Get(JoinKey(key, ".zarray"), kMaxJsonBytes).has_value();
}

// ---- .zarray ------------------------------------------------------------------------------

std::vector<int64_t> IntList(const json& j, const std::string& field, const std::string& path,
                             bool positive) {
  if (!j.is_array()) Corrupt(path, field, fmt::format("'{}' must be a list of integers", field));
  std::vector<int64_t> out;
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < (positive ? 1 : 0)) {
      Corrupt(path, field,
              fmt::format("'{}' must hold {} integers, got {}", field,
                          positive ? "positive" : "non-negative", j.dump()));
    }
    out.push_back(v.get<int64_t>());
  }
  return out;
}

/// Encode a fill value for one element of `dtype` in stored byte order.
std::vector<std::byte> EncodeFill(const json& fill, DType dtype, bool big_endian,
                                  const std::string& path) {
  const int64_t item = SizeOf(dtype);
  std::vector<std::byte> out(static_cast<size_t>(item));
  if (fill.is_null()) return out;
  const auto scalar = [&](const json& v) -> double {
    if (v.is_number()) return v.get<double>();
    if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
    if (v.is_string()) {
      const auto s = v.get<std::string>();
      if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
      if (s == "Infinity") return std::numeric_limits<double>::infinity();
      if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    }
    Corrupt(path, "fill_value", fmt::format("unsupported fill_value {}", fill.dump()));
  };
  if (IsComplex(dtype)) {
    std::complex<double> value;
    if (fill.is_array() && fill.size() == 2) {
      value = {scalar(fill[0]), scalar(fill[1])};
    } else {
      value = scalar(fill);
    }
    ConvertElements(&value, DType::kComplex128, false, out.data(), dtype, 1);
  } else if (IsInteger(dtype) && fill.is_number_integer()) {
    // Exact for 64-bit integers too.
    if (fill.is_number_unsigned()) {
      const uint64_t v = fill.get<uint64_t>();
      ConvertElements(&v, DType::kUint64, false, out.data(), dtype, 1);
    } else {
      const int64_t v = fill.get<int64_t>();
      ConvertElements(&v, DType::kInt64, false, out.data(), dtype, 1);
    }
  } else {
    const double v = scalar(fill);
    ConvertElements(&v, DType::kFloat64, false, out.data(), dtype, 1);
  }
  if (big_endian) {
    // Stored order is big-endian: swap each component.
    const int64_t part = IsComplex(dtype) ? item / 2 : item;
    for (int64_t p = 0; p < item; p += part) {
      std::reverse(out.begin() + p, out.begin() + p + part);
    }
  }
  return out;
}

// ---- chunk decoding ---------------------------------------------------------------------

void Inflate(std::span<const std::byte> in, std::span<std::byte> out, bool gzip,
             const std::string& path) {
  z_stream stream{};
  if (inflateInit2(&stream, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
    throw Error::Internal("zlib inflateInit2 failed");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&stream, Z_FINISH);
  const std::string message = stream.msg != nullptr ? stream.msg : "";
  const uLong produced = stream.total_out;
  const uLong consumed = stream.total_in;
  inflateEnd(&stream);
  const char* name = gzip ? "gzip" : "zlib";
  if (status == Z_STREAM_END && produced == out.size()) return;
  if (status == Z_STREAM_END) {
    throw Error::CorruptFile(path, static_cast<int64_t>(consumed), "compressor",
                             fmt::format("{} chunk decompresses to {} bytes, the chunk shape "
                                         "needs {}",
                                         name, produced, out.size()));
  }
  if (status == Z_BUF_ERROR && stream.avail_out == 0) {
    throw Error::CorruptFile(path, static_cast<int64_t>(consumed), "compressor",
                             fmt::format("{} chunk decompresses to more than the {} bytes of "
                                         "the chunk shape",
                                         name, out.size()));
  }
  throw Error::CorruptFile(
      path, static_cast<int64_t>(consumed), "compressor",
      fmt::format("{} decompression failed: {}", name,
                  message.empty() ? (status == Z_BUF_ERROR ? "data ends early (truncated)"
                                                           : "bad data")
                                  : message));
}

}  // namespace

ZarrArrayMeta ParseZarrArray(std::string_view json_text, const std::string& path) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    Corrupt(path, ".zarray", fmt::format("not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) Corrupt(path, ".zarray", ".zarray is not a JSON object");
  const auto need = [&](const char* field) -> const json& {
    if (!j.contains(field)) Corrupt(path, field, fmt::format("missing '{}'", field));
    return j[field];
  };
  if (!need("zarr_format").is_number_integer() || j["zarr_format"].get<int64_t>() != 2) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("zarr_format {} (only zarr v2 is read)",
                                                 j["zarr_format"].dump()),
                          .file = path,
                          .field = "zarr_format"});
  }
  ZarrArrayMeta meta;
  meta.shape = IntList(need("shape"), "shape", path, false);
  meta.chunks = IntList(need("chunks"), "chunks", path, true);
  if (meta.chunks.size() != meta.shape.size()) {
    Corrupt(path, "chunks",
            fmt::format("chunks {} and shape {} differ in rank", need("chunks").dump(),
                        j["shape"].dump()));
  }
  if (meta.shape.empty() || meta.shape.size() > static_cast<size_t>(kMaxRank)) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("arrays of rank {} are not supported (1 .. {})",
                                                 meta.shape.size(), kMaxRank),
                          .file = path,
                          .field = "shape"});
  }
  const json& dtype = need("dtype");
  if (!dtype.is_string()) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("structured dtype {} is not supported",
                                                 dtype.dump()),
                          .file = path,
                          .field = "dtype"});
  }
  const auto parsed = ParseNumpyTypestr(dtype.get<std::string>(), &meta.big_endian);
  if (!parsed) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("dtype '{}' is not supported",
                                                 dtype.get<std::string>()),
                          .file = path,
                          .field = "dtype"});
  }
  meta.dtype = *parsed;
  const int64_t item = SizeOf(meta.dtype);
  // Sizes: no overflow, bounded chunks.
  int64_t elements = 1;
  for (const int64_t n : meta.shape) {
    if (n != 0 && elements > std::numeric_limits<int64_t>::max() / item / n) {
      Corrupt(path, "shape", fmt::format("absurd shape {}: the size overflows", j["shape"].dump()));
    }
    elements *= n;
  }
  meta.chunk_elements = 1;
  for (const int64_t c : meta.chunks) {
    if (meta.chunk_elements > kMaxChunkBytes / item / c) {
      Corrupt(path, "chunks",
              fmt::format("absurd chunks {}: one chunk would exceed {} bytes",
                          j["chunks"].dump(), kMaxChunkBytes));
    }
    meta.chunk_elements *= c;
  }
  meta.chunk_bytes = meta.chunk_elements * item;
  const json& order = need("order");
  if (!order.is_string() || (order != "C" && order != "F")) {
    Corrupt(path, "order", fmt::format("order {} (must be \"C\" or \"F\")", order.dump()));
  }
  meta.fortran_order = order == "F";
  const json& compressor = need("compressor");
  if (!compressor.is_null()) {
    if (!compressor.is_object() || !compressor.contains("id") || !compressor["id"].is_string()) {
      Corrupt(path, "compressor", fmt::format("compressor {} has no id", compressor.dump()));
    }
    meta.compressor = compressor["id"].get<std::string>();
    if (meta.compressor != "blosc" && meta.compressor != "zlib" && meta.compressor != "gzip" &&
        meta.compressor != "zstd") {
      throw Error(ErrorInfo{
          .code = ErrorCode::kUnsupported,
          .message = fmt::format("compressor '{}' is not supported (blosc, zlib, gzip, zstd "
                                 "or none)",
                                 meta.compressor),
          .file = path,
          .field = "compressor"});
    }
  }
  if (j.contains("filters") && !j["filters"].is_null()) {
    const json& filters = j["filters"];
    if (!filters.is_array()) Corrupt(path, "filters", "'filters' must be null or a list");
    if (!filters.empty()) {
      std::vector<std::string> ids;
      for (const auto& f : filters) {
        ids.push_back(f.is_object() && f.contains("id") ? f["id"].dump() : f.dump());
      }
      throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                            .message = fmt::format("filters [{}] are not supported",
                                                   fmt::join(ids, ", ")),
                            .file = path,
                            .field = "filters"});
    }
  }
  if (j.contains("dimension_separator")) {
    const json& sep = j["dimension_separator"];
    if (!sep.is_string() || (sep != "." && sep != "/")) {
      Corrupt(path, "dimension_separator",
              fmt::format("dimension_separator {} (must be \".\" or \"/\")", sep.dump()));
    }
    meta.dimension_separator = sep.get<std::string>();
  }
  meta.fill = EncodeFill(j.contains("fill_value") ? j["fill_value"] : json(), meta.dtype,
                         meta.big_endian, path);
  return meta;
}

void DecodeZarrChunk(const ZarrArrayMeta& meta, std::span<const std::byte> stored,
                     std::span<std::byte> out, const std::string& path) {
  TESSERA_DCHECK(static_cast<int64_t>(out.size()) == meta.chunk_bytes, "chunk buffer size");
  if (meta.compressor.empty()) {
    if (stored.size() != out.size()) {
      throw Error::CorruptFile(path, static_cast<int64_t>(stored.size()), "chunks",
                               fmt::format("uncompressed chunk holds {} bytes, the chunk shape "
                                           "needs {}",
                                           stored.size(), out.size()));
    }
    std::memcpy(out.data(), stored.data(), out.size());
    return;
  }
  if (meta.compressor == "blosc") {
    if (stored.size() < BLOSC_MIN_HEADER_LENGTH) {
      throw Error::CorruptFile(path, static_cast<int64_t>(stored.size()), "compressor",
                               fmt::format("blosc chunk of {} bytes is shorter than the {}-byte "
                                           "blosc header",
                                           stored.size(), BLOSC_MIN_HEADER_LENGTH));
    }
    size_t nbytes = 0;
    if (blosc_cbuffer_validate(stored.data(), stored.size(), &nbytes) != 0) {
      size_t cbytes = 0, blocksize = 0;
      blosc_cbuffer_sizes(stored.data(), &nbytes, &cbytes, &blocksize);
      throw Error::CorruptFile(path, 0, "compressor",
                               fmt::format("bad blosc header: it declares {} compressed bytes, "
                                           "the chunk holds {} (truncated?)",
                                           cbytes, stored.size()));
    }
    if (nbytes != out.size()) {
      throw Error::CorruptFile(path, 4, "compressor",
                               fmt::format("blosc chunk decompresses to {} bytes, the chunk "
                                           "shape needs {}",
                                           nbytes, out.size()));
    }
    const int got = blosc_decompress_ctx(stored.data(), out.data(), out.size(), 1);
    if (got < 0 || static_cast<size_t>(got) != out.size()) {
      throw Error::CorruptFile(path, 0, "compressor",
                               fmt::format("blosc decompression failed (code {})", got));
    }
    return;
  }
  if (meta.compressor == "zlib" || meta.compressor == "gzip") {
    Inflate(stored, out, meta.compressor == "gzip", path);
    return;
  }
  if (meta.compressor == "zstd") {
    const unsigned long long content = ZSTD_getFrameContentSize(stored.data(), stored.size());
    if (content == ZSTD_CONTENTSIZE_ERROR) {
      throw Error::CorruptFile(path, 0, "compressor", "not a zstd frame");
    }
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != out.size()) {
      throw Error::CorruptFile(path, 0, "compressor",
                               fmt::format("zstd chunk decompresses to {} bytes, the chunk "
                                           "shape needs {}",
                                           content, out.size()));
    }
    const size_t got = ZSTD_decompress(out.data(), out.size(), stored.data(), stored.size());
    if (ZSTD_isError(got) != 0) {
      throw Error::CorruptFile(path, 0, "compressor",
                               fmt::format("zstd decompression failed: {}",
                                           ZSTD_getErrorName(got)));
    }
    if (got != out.size()) {
      throw Error::CorruptFile(path, 0, "compressor",
                               fmt::format("zstd chunk decompresses to {} bytes, the chunk "
                                           "shape needs {}",
                                           got, out.size()));
    }
    return;
  }
  throw Error::Internal("unknown compressor after validation");
}

namespace {

// ---- the dataset ----------------------------------------------------------------------------

class ZarrDataset final : public dataset::Dataset {
 public:
  ZarrDataset(dataset::DatasetMeta meta, std::shared_ptr<const Store> store, std::string array_key,
              ZarrArrayMeta zarr)
      : meta_(std::move(meta)),
        store_(std::move(store)),
        key_(std::move(array_key)),
        zarr_(std::move(zarr)) {
    const auto rank = zarr_.shape.size();
    // Element strides inside a chunk.
    chunk_strides_.assign(rank, 1);
    if (zarr_.fortran_order) {
      for (size_t d = 1; d < rank; ++d) chunk_strides_[d] = chunk_strides_[d - 1] * zarr_.chunks[d - 1];
    } else {
      for (size_t d = rank - 1; d-- > 0;) chunk_strides_[d] = chunk_strides_[d + 1] * zarr_.chunks[d + 1];
    }
  }

  const dataset::DatasetMeta& meta() const override { return meta_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    if (!internal::BeginRead(meta_, frame_begin, frame_end, sig, dst_dtype)) return;
    const int64_t count = sig.size();
    const int64_t item = SizeOf(zarr_.dtype);
    const auto rank = static_cast<int64_t>(zarr_.shape.size());
    const int64_t row = zarr_.shape[static_cast<size_t>(rank - 1)];
    std::vector<std::byte> staging(static_cast<size_t>(count * item));
    auto* out = static_cast<std::byte*>(dst);
    std::vector<int64_t> index(static_cast<size_t>(rank));
    std::shared_ptr<const std::vector<std::byte>> chunk;
    std::vector<int64_t> chunk_id(static_cast<size_t>(rank), -1), want(static_cast<size_t>(rank));
    const int64_t sig_size = meta_.shape.sig_size();
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      // Flat element index of the first requested element; walk runs along the last axis.
      int64_t flat = frame * sig_size + sig.begin;
      int64_t done = 0;
      while (done < count) {
        int64_t rest = flat;
        for (int64_t d = rank - 1; d >= 0; --d) {
          index[static_cast<size_t>(d)] = rest % zarr_.shape[static_cast<size_t>(d)];
          rest /= zarr_.shape[static_cast<size_t>(d)];
        }
        const int64_t col = index[static_cast<size_t>(rank - 1)];
        const int64_t chunk_w = zarr_.chunks[static_cast<size_t>(rank - 1)];
        const int64_t run =
            std::min({count - done, row - col, chunk_w - col % chunk_w});
        for (int64_t d = 0; d < rank; ++d) {
          want[static_cast<size_t>(d)] =
              index[static_cast<size_t>(d)] / zarr_.chunks[static_cast<size_t>(d)];
        }
        if (want != chunk_id) {
          chunk = Chunk(want);
          chunk_id = want;
        }
        int64_t offset = 0;
        for (int64_t d = 0; d < rank; ++d) {
          offset += (index[static_cast<size_t>(d)] % zarr_.chunks[static_cast<size_t>(d)]) *
                    chunk_strides_[static_cast<size_t>(d)];
        }
        const int64_t stride = chunk_strides_[static_cast<size_t>(rank - 1)];
        std::byte* to = staging.data() + done * item;
        const std::byte* from = chunk->data() + offset * item;
        if (stride == 1) {
          std::memcpy(to, from, static_cast<size_t>(run * item));
        } else {
          for (int64_t i = 0; i < run; ++i) {
            std::memcpy(to + i * item, from + i * stride * item, static_cast<size_t>(item));
          }
        }
        done += run;
        flat += run;
      }
      ConvertElements(staging.data(), zarr_.dtype, zarr_.big_endian && item > 1,
                      out + (frame - frame_begin) * count * SizeOf(dst_dtype), dst_dtype, count);
    }
  }

 private:
  std::string ChunkKey(const std::vector<int64_t>& id) const {
    std::string key;
    for (size_t d = 0; d < id.size(); ++d) {
      if (d > 0) key += zarr_.dimension_separator;
      key += std::to_string(id[d]);
    }
    return JoinKey(key_, key);
  }

  /// The decoded chunk `id` (full chunk shape, stored byte order), from the cache when there.
  std::shared_ptr<const std::vector<std::byte>> Chunk(const std::vector<int64_t>& id) const {
    {
      std::lock_guard lock(mutex_);
      for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->first == id) {
          cache_.splice(cache_.begin(), cache_, it);  // most recent first
          return it->second;
        }
      }
    }
    // Decode outside the lock: threads reading different chunks decode in parallel.
    const std::string key = ChunkKey(id);
    const int64_t limit = zarr_.compressor.empty()
                              ? zarr_.chunk_bytes
                              : zarr_.chunk_bytes + zarr_.chunk_bytes / 8 + (int64_t{1} << 20);
    auto stored = store_->Get(key, limit);
    auto decoded = std::make_shared<std::vector<std::byte>>(static_cast<size_t>(zarr_.chunk_bytes));
    if (!stored) {
      const int64_t item = SizeOf(zarr_.dtype);
      for (int64_t i = 0; i < zarr_.chunk_elements; ++i) {
        std::memcpy(decoded->data() + i * item, zarr_.fill.data(), static_cast<size_t>(item));
      }
    } else {
      DecodeZarrChunk(zarr_, *stored, *decoded, store_->Where(key));
    }
    std::lock_guard lock(mutex_);
    cache_.emplace_front(id, decoded);
    int64_t bytes = 0;
    size_t kept = 0;
    for (auto it = cache_.begin(); it != cache_.end(); ++it, ++kept) {
      bytes += static_cast<int64_t>(it->second->size());
      if (kept >= kCacheChunks || (kept > 0 && bytes > kCacheBytes)) {
        cache_.erase(it, cache_.end());
        break;
      }
    }
    return decoded;
  }

  dataset::DatasetMeta meta_;
  std::shared_ptr<const Store> store_;
  std::string key_;
  ZarrArrayMeta zarr_;
  std::vector<int64_t> chunk_strides_;
  mutable std::mutex mutex_;
  mutable std::list<std::pair<std::vector<int64_t>, std::shared_ptr<const std::vector<std::byte>>>>
      cache_;
};

// ---- HyperSpy layout ------------------------------------------------------------------------

/// HyperSpy writes None as the string "_None_".
json Unnone(const json& v) {
  if (v.is_string() && v.get<std::string>() == "_None_") return json();
  return v;
}

std::string StringAttr(const json& attrs, const char* name) {
  if (!attrs.is_object() || !attrs.contains(name)) return "";
  const json v = Unnone(attrs[name]);
  return v.is_string() ? v.get<std::string>() : "";
}

/// A group's attributes and sub-groups as one JSON object (HyperSpy's DictionaryTreeBrowser).
json GroupTree(const Store& store, const std::string& key, int depth, int& nodes) {
  json out = json::object();
  if (++nodes > kMaxMetadataNodes || depth > kMaxMetadataDepth) {
    out["_truncated"] = true;
    return out;
  }
  if (auto attrs = GetJson(store, JoinKey(key, ".zattrs")); attrs && attrs->is_object()) {
    for (auto& [name, value] : attrs->items()) out[name] = Unnone(value);
  }
  for (const auto& child : store.Children(key)) {
    if (child.empty() || child[0] == '.') continue;
    const std::string child_key = JoinKey(key, child);
    if (auto zarray = GetJson(store, JoinKey(child_key, ".zarray"))) {
      out[child] = fmt::format("<array shape {} dtype {}>",
                               zarray->value("shape", json::array()).dump(),
                               zarray->value("dtype", json("?")).dump());
    } else if (IsGroup(store, child_key)) {
      out[child] = GroupTree(store, child_key, depth + 1, nodes);
    }
  }
  return out;
}

struct Axes {
  std::vector<dataset::Axis> axes;
  std::vector<bool> named;  // whether HyperSpy gave the axis a name
  int sig_dims = -1;  // trailing non-navigation axes, -1 when HyperSpy gave no axes
  json raw = json::array();
};

Axes ReadHyperSpyAxes(const Store& store, const std::string& group,
                      const std::vector<int64_t>& shape) {
  Axes result;
  result.axes = dataset::DefaultAxes(Shape({}, shape));
  result.named.assign(shape.size(), false);
  std::vector<bool> navigate(shape.size(), false);
  bool any = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    const std::string key = JoinKey(group, fmt::format("axis-{}/.zattrs", i));
    const auto attrs = GetJson(store, key);
    if (!attrs || !attrs->is_object()) continue;
    any = true;
    result.raw.push_back(*attrs);
    auto& axis = result.axes[i];
    const std::string name = StringAttr(*attrs, "name");
    if (!name.empty()) {
      axis.name = name;
      result.named[i] = true;
    }
    axis.units = StringAttr(*attrs, "units");
    if (attrs->contains("scale") && (*attrs)["scale"].is_number()) {
      axis.scale = (*attrs)["scale"].get<double>();
    }
    if (attrs->contains("offset") && (*attrs)["offset"].is_number()) {
      axis.offset = (*attrs)["offset"].get<double>();
    }
    if (attrs->contains("size") && (*attrs)["size"].is_number_integer() &&
        (*attrs)["size"].get<int64_t>() != shape[i]) {
      throw Error::CorruptFile(store.Where(key), std::nullopt, "size",
                               fmt::format("axis-{} has size {}, the data {}", i,
                                           (*attrs)["size"].get<int64_t>(), shape[i]));
    }
    navigate[i] = attrs->value("navigate", false);
  }
  if (!any) return result;
  int sig = 0;
  for (size_t i = shape.size(); i-- > 0 && !navigate[i];) ++sig;
  result.sig_dims = sig;
  return result;
}

bool IsZipPath(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::unique_ptr<dataset::Dataset> OpenZspy(const std::string& path, const OpenParams& params) {
  const auto [store_path, inner] = SplitDatasetPath(path);
  std::shared_ptr<const Store> store;
  if (IsDirectory(store_path)) {
    store = std::make_shared<DirectoryStore>(store_path);
  } else {
    io::FileSize(store_path);  // kNotFound naming the file
    if (!IsZipPath(store_path)) {
      throw Error::CorruptFile(store_path, 0, "magic",
                               "neither a zarr directory nor a zip file (no PK\\3\\4 signature)");
    }
    store = std::make_shared<ZipStore>(store_path);
  }
  const auto root_attrs = GetJson(*store, ".zattrs");
  if (!IsGroup(*store, "") && !IsArray(*store, "")) {
    throw Error::CorruptFile(store->Where(".zgroup"), std::nullopt, ".zgroup",
                             "not a zarr v2 store: no .zgroup or .zarray at its root");
  }

  // Which array: ":/key", the root array, or HyperSpy's Experiments/<title>/data.
  std::string array_key;
  std::string group;  // HyperSpy signal group, "" for plain zarr arrays
  std::vector<std::string> titles;
  for (const auto& child : store->Children("Experiments")) {
    if (IsArray(*store, JoinKey(JoinKey("Experiments", child), "data"))) titles.push_back(child);
  }
  const auto signal = internal::FindParam(params, "signal");
  if (!inner.empty()) {
    array_key = inner.substr(inner.find_first_not_of('/') == std::string::npos
                                 ? inner.size()
                                 : inner.find_first_not_of('/'));
    while (!array_key.empty() && array_key.back() == '/') array_key.pop_back();
    if (IsGroup(*store, array_key) && IsArray(*store, JoinKey(array_key, "data"))) {
      group = array_key;
      array_key = JoinKey(array_key, "data");
    } else if (array_key.size() > 5 && array_key.ends_with("/data")) {
      group = array_key.substr(0, array_key.size() - 5);
    }
  } else if (signal) {
    if (std::find(titles.begin(), titles.end(), *signal) == titles.end()) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("no signal '{}' in /Experiments (found: {})",
                                                   *signal, fmt::join(titles, ", ")),
                            .file = store_path,
                            .field = "signal"});
    }
    group = "Experiments/" + *signal;
    array_key = group + "/data";
  } else if (!titles.empty()) {
    group = "Experiments/" + titles.front();
    array_key = group + "/data";
  } else if (IsArray(*store, "")) {
    array_key = "";
  } else {
    throw Error::CorruptFile(store->Where("Experiments"), std::nullopt, "Experiments",
                             "no HyperSpy signal (Experiments/<title>/data) and no root array; "
                             "name an array as STORE:/path/to/array");
  }
  const std::string zarray_key = JoinKey(array_key, ".zarray");
  const auto zarray_bytes = store->Get(zarray_key, kMaxJsonBytes);
  if (!zarray_bytes) {
    throw Error::NotFound(fmt::format("no zarr array '{}' in the store", array_key),
                          store->Where(zarray_key));
  }
  ZarrArrayMeta zarr = ParseZarrArray(
      std::string_view(reinterpret_cast<const char*>(zarray_bytes->data()), zarray_bytes->size()),
      store->Where(zarray_key));

  Axes axes = ReadHyperSpyAxes(*store, group, zarr.shape);  // defaults for plain zarr
  const int rank = static_cast<int>(zarr.shape.size());
  int sig_dims = axes.sig_dims >= 0 ? axes.sig_dims : std::min(2, rank);
  if (internal::FindParam(params, "sig_dims")) {
    sig_dims = internal::SigDimsParam(params, rank, store_path);
  }
  dataset::DatasetMeta meta;
  meta.format = "zspy";
  meta.path = path;
  meta.dtype = zarr.dtype;
  const auto split = zarr.shape.end() - sig_dims;
  meta.shape = Shape({zarr.shape.begin(), split}, {split, zarr.shape.end()});
  // Axes without a HyperSpy name get the default nav / sig names of their position.
  const auto defaults = dataset::DefaultAxes(meta.shape);
  meta.axes = axes.axes;
  for (size_t i = 0; i < meta.axes.size(); ++i) {
    if (!axes.named[i]) meta.axes[i].name = defaults[i].name;
  }

  json metadata = json::object();
  if (root_attrs) metadata["store"] = *root_attrs;
  metadata["array"] = {
      {"path", array_key},
      {"shape", zarr.shape},
      {"chunks", zarr.chunks},
      {"dtype", std::string(Name(zarr.dtype))},
      {"byte_order", zarr.big_endian ? "big" : "little"},
      {"order", zarr.fortran_order ? "F" : "C"},
      {"compressor", zarr.compressor.empty() ? json() : json(zarr.compressor)},
      {"dimension_separator", zarr.dimension_separator}};
  if (const auto zarray_json = GetJson(*store, zarray_key);
      zarray_json && zarray_json->contains("compressor")) {
    metadata["array"]["compressor"] = (*zarray_json)["compressor"];
  }
  if (!group.empty()) {
    int nodes = 0;
    metadata["signal"] = group;
    metadata["signals"] = titles;
    metadata["axes"] = axes.raw;
    if (IsGroup(*store, JoinKey(group, "metadata"))) {
      metadata["metadata"] = GroupTree(*store, JoinKey(group, "metadata"), 0, nodes);
    }
    if (IsGroup(*store, JoinKey(group, "original_metadata"))) {
      metadata["original_metadata"] =
          GroupTree(*store, JoinKey(group, "original_metadata"), 0, nodes);
    }
    if (IsGroup(*store, JoinKey(group, "attributes"))) {
      metadata["attributes"] = GroupTree(*store, JoinKey(group, "attributes"), 0, nodes);
    }
  }
  meta.metadata_json = metadata.dump(-1, ' ', false, json::error_handler_t::replace);
  std::vector<std::string> keys = {zarray_key, JoinKey(array_key, ".zattrs")};
  for (const auto& child : store->Children(array_key)) {
    if (!child.empty() && child[0] != '.') keys.push_back(JoinKey(array_key, child));
  }
  meta.files = store->Files(keys);
  return std::make_unique<ZarrDataset>(std::move(meta), std::move(store), array_key,
                                       std::move(zarr));
}

const FormatEntry* ZarrDirectoryEntry(const FormatRegistry& registry, const std::string& path) {
  if (!IsDirectory(path)) return nullptr;
  struct stat st {};
  const bool zarr = ::stat((path + "/.zgroup").c_str(), &st) == 0 ||
                    ::stat((path + "/.zarray").c_str(), &st) == 0;
  return zarr ? registry.Find("zspy") : nullptr;
}

FormatEntry ZspyFormatEntry() {
  FormatEntry entry;
  entry.name = "zspy";
  entry.extensions = {".zspy", ".zarr"};
  entry.summary =
      "HyperSpy .zspy / zarr v2 store, a directory or a zip file (blosc, zlib, gzip, zstd); "
      "STORE:/path picks an array";
  entry.params = {
      {.name = "signal", .type = "string",
       .help = "title of the HyperSpy signal under /Experiments (default: the first)"},
      {.name = "sig_dims", .type = "int",
       .help = "trailing signal axes (default: HyperSpy's navigate flags, else min(2, rank))"},
  };
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    const std::string ext = internal::LowerExtension(SplitDatasetPath(path).first);
    return head.size() >= 4 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0 &&
           (ext == ".zspy" || ext == ".zarr");
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    return OpenZspy(path, params);
  };
  return entry;
}

}  // namespace tessera::formats
