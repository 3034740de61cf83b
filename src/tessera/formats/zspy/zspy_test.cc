// SPDX-License-Identifier: MIT
#include "tessera/formats/zspy/zspy_format.h"

#include <blosc.h>
#include <gtest/gtest.h>
#include <zip.h>
#include <zlib.h>
#include <zstd.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <atomic>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using nlohmann::json;
using testing::Builtins;
using testing::ExpectError;
using testing::TempDir;
using testing::WriteBytes;

// ---- shared HyperSpy stores ----

TEST(ZspyRealFiles, BothStoresMatchTheirExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  int checked = 0;
  for (const char* name :
       {"signal1d_10x10-DirectoryStore.zspy", "signal1d_10x10-ZipStore.zspy"}) {
    SCOPED_TRACE(name);
    const std::string path = *data + "/zspy/" + name;
    if (!std::filesystem::exists(path)) continue;
    std::ifstream in(path + ".expected.json");
    const auto raw = json::parse(in)["raw"][0];
    EXPECT_EQ(registry.Detect(path, {}).name, "zspy");
    auto ds = registry.Open(path, {});
    const auto& meta = ds->meta();
    EXPECT_EQ(meta.format, "zspy");
    EXPECT_EQ(meta.shape.dims(), raw["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(Name(meta.dtype), raw["dtype"].get<std::string>());
    const auto stats = testing::ReadStats(*ds);
    const double sum = raw["stats"]["sum"].get<double>();
    EXPECT_NEAR(stats.sum, sum, 1e-9 * std::abs(sum));
    EXPECT_EQ(stats.min, raw["stats"]["min"].get<double>());
    EXPECT_EQ(stats.max, raw["stats"]["max"].get<double>());
    // Exact integer sum too.
    std::vector<int64_t> values(static_cast<size_t>(meta.shape.size()));
    ds->ReadFrames(0, meta.shape.nav_size(), {0, meta.shape.sig_size()}, values.data(),
                   DType::kInt64);
    EXPECT_EQ(std::accumulate(values.begin(), values.end(), int64_t{0}),
              raw["stats"]["sum_exact"].get<int64_t>());
    // Axes: HyperSpy's axis-<i> attributes; navigate gives the nav / sig split.
    const auto& axes = raw["axes_attrs"];
    ASSERT_EQ(meta.axes.size(), axes.size());
    int nav = 0;
    for (size_t i = 0; i < axes.size(); ++i) {
      EXPECT_DOUBLE_EQ(meta.axes[i].scale, axes[i]["scale"].get<double>());
      EXPECT_DOUBLE_EQ(meta.axes[i].offset, axes[i]["offset"].get<double>());
      const std::string units = axes[i]["units"].get<std::string>();
      EXPECT_EQ(meta.axes[i].units, units == "_None_" ? "" : units);
      EXPECT_EQ(meta.axes[i].size, axes[i]["size"].get<int64_t>());
      nav += axes[i]["navigate"].get<bool>() ? 1 : 0;
    }
    EXPECT_EQ(meta.shape.nav_dims(), nav);
    const auto md = json::parse(meta.metadata_json);
    EXPECT_EQ(md["store"]["file_format"], raw["root_attrs"]["file_format"]);
    EXPECT_EQ(md["store"]["file_format_version"], raw["root_attrs"]["file_format_version"]);
    EXPECT_EQ(md["array"]["chunks"], raw["chunks"]);
    EXPECT_EQ(md["array"]["compressor"], raw["compressor"]);
    EXPECT_EQ(md["signal"], "Experiments/" + raw["group"].get<std::string>().substr(12));
    EXPECT_EQ(md["metadata"]["_HyperSpy"]["Folding"]["unfolded"], false);
    EXPECT_EQ(md["metadata"]["General"]["FileIO"]["0"]["io_plugin"], "rsciio.zspy");
    EXPECT_FALSE(meta.files.empty());
    // Row 3 is 30 .. 39 (data = arange(100).reshape(10, 10)); a band crossing chunk edges.
    std::vector<double> row(6);
    ds->ReadFrames(3, 4, {2, 8}, row.data(), DType::kFloat64);
    EXPECT_EQ(row, (std::vector<double>{32, 33, 34, 35, 36, 37}));
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no zspy stores";
  // The zip store repeats entries (zarr appends on every attribute update): the last one wins,
  // so the axis attributes are complete.
  EXPECT_EQ(checked, 2);
}

TEST(ZspyRealFiles, ArrayPathAndSignalParameters) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const std::string store = *data + "/zspy/signal1d_10x10-ZipStore.zspy";
  if (!std::filesystem::exists(store)) GTEST_SKIP() << "no zip store";
  const FormatRegistry registry = Builtins();
  auto by_path = registry.Open(store + ":/Experiments/__unnamed__/data", {});
  EXPECT_EQ(by_path->meta().shape, Shape({10}, {10}));
  auto by_signal = registry.Open(store, {{"signal", "__unnamed__"}, {"sig_dims", "2"}});
  EXPECT_EQ(by_signal->meta().shape, Shape({}, {10, 10}));
  ExpectError([&] { registry.Open(store, {{"signal", "nope"}}); }, ErrorCode::kInvalidArgument,
              {"nope", "__unnamed__"});
  ExpectError([&] { registry.Open(store + ":/Experiments/missing", {}); }, ErrorCode::kNotFound,
              {"missing"});
}

// ---- stores written here ----

enum class Codec { kNone, kBlosc, kBloscLz4, kZlib, kGzip, kZstd };

std::string CompressorJson(Codec codec) {
  switch (codec) {
    case Codec::kNone: return "null";
    case Codec::kBlosc:
      return R"({"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 1, "blocksize": 0})";
    case Codec::kBloscLz4:
      return R"({"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 2, "blocksize": 0})";
    case Codec::kZlib: return R"({"id": "zlib", "level": 1})";
    case Codec::kGzip: return R"({"id": "gzip", "level": 1})";
    case Codec::kZstd: return R"({"id": "zstd", "level": 1})";
  }
  return "null";
}

std::string Compress(Codec codec, const std::string& raw, int item) {
  switch (codec) {
    case Codec::kNone: return raw;
    case Codec::kBlosc:
    case Codec::kBloscLz4: {
      std::string out(raw.size() + BLOSC_MAX_OVERHEAD, '\0');
      const int n = blosc_compress_ctx(codec == Codec::kBlosc ? 3 : 5,
                                       codec == Codec::kBlosc ? 1 : 2, static_cast<size_t>(item),
                                       raw.size(), raw.data(), out.data(), out.size(),
                                       codec == Codec::kBlosc ? "zstd" : "lz4", 0, 1);
      EXPECT_GT(n, 0);
      out.resize(static_cast<size_t>(n));
      return out;
    }
    case Codec::kZlib:
    case Codec::kGzip: {
      z_stream s{};
      deflateInit2(&s, 1, Z_DEFLATED, codec == Codec::kGzip ? 16 + MAX_WBITS : MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY);
      std::string out(deflateBound(&s, raw.size()) + 32, '\0');
      s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
      s.avail_in = static_cast<uInt>(raw.size());
      s.next_out = reinterpret_cast<Bytef*>(out.data());
      s.avail_out = static_cast<uInt>(out.size());
      EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
      out.resize(s.total_out);
      deflateEnd(&s);
      return out;
    }
    case Codec::kZstd: {
      std::string out(ZSTD_compressBound(raw.size()), '\0');
      const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1);
      EXPECT_FALSE(ZSTD_isError(n));
      out.resize(n);
      return out;
    }
  }
  return raw;
}

struct StoreSpec {
  std::vector<int64_t> shape = {5, 6, 7};
  std::vector<int64_t> chunks = {2, 4, 3};
  std::string dtype = "<f4";
  bool fortran = false;
  std::string separator = ".";
  Codec codec = Codec::kNone;
  std::string fill = "0";
  std::set<std::string> skip_chunks;  // chunk keys not written (missing -> fill_value)
};

/// Value of element `flat` of the test arrays.
double ValueAt(int64_t flat) { return static_cast<double>(flat % 97) * 2 - 20; }

/// Write a zarr v2 array at `dir` (root array) as DirectoryStore; return the chunk files.
std::map<std::string, std::string> MakeArray(const StoreSpec& spec) {
  std::map<std::string, std::string> files;
  files[".zarray"] = fmt::format(
      R"({{"zarr_format": 2, "shape": [{}], "chunks": [{}], "dtype": "{}", "order": "{}",
          "compressor": {}, "fill_value": {}, "filters": null, "dimension_separator": "{}"}})",
      fmt::join(spec.shape, ", "), fmt::join(spec.chunks, ", "), spec.dtype,
      spec.fortran ? "F" : "C", CompressorJson(spec.codec), spec.fill, spec.separator);
  bool big = false;
  const DType dtype = *ParseNumpyTypestr(spec.dtype, &big);
  const int64_t item = SizeOf(dtype);
  const auto rank = spec.shape.size();
  std::vector<int64_t> grid(rank);
  int64_t chunk_count = 1, chunk_elements = 1;
  for (size_t d = 0; d < rank; ++d) {
    grid[d] = (spec.shape[d] + spec.chunks[d] - 1) / spec.chunks[d];
    chunk_count *= grid[d];
    chunk_elements *= spec.chunks[d];
  }
  for (int64_t c = 0; c < chunk_count; ++c) {
    std::vector<int64_t> id(rank);
    int64_t rest = c;
    for (size_t d = rank; d-- > 0;) {
      id[d] = rest % grid[d];
      rest /= grid[d];
    }
    std::vector<double> values(static_cast<size_t>(chunk_elements), -999);  // edge padding
    for (int64_t e = 0; e < chunk_elements; ++e) {
      // Position within the chunk, in the chunk's memory order.
      std::vector<int64_t> local(rank);
      int64_t r = e;
      if (spec.fortran) {
        for (size_t d = 0; d < rank; ++d) {
          local[d] = r % spec.chunks[d];
          r /= spec.chunks[d];
        }
      } else {
        for (size_t d = rank; d-- > 0;) {
          local[d] = r % spec.chunks[d];
          r /= spec.chunks[d];
        }
      }
      int64_t flat = 0;
      bool inside = true;
      for (size_t d = 0; d < rank; ++d) {
        const int64_t g = id[d] * spec.chunks[d] + local[d];
        inside = inside && g < spec.shape[d];
        flat = flat * spec.shape[d] + g;
      }
      if (inside) values[static_cast<size_t>(e)] = ValueAt(flat);
    }
    std::string raw(static_cast<size_t>(chunk_elements * item), '\0');
    ConvertElements(values.data(), DType::kFloat64, false, raw.data(), dtype, chunk_elements);
    if (big) {
      const int64_t part = IsComplex(dtype) ? item / 2 : item;
      for (size_t p = 0; p < raw.size(); p += static_cast<size_t>(part)) {
        std::reverse(raw.begin() + static_cast<std::ptrdiff_t>(p),
                     raw.begin() + static_cast<std::ptrdiff_t>(p) + part);
      }
    }
    const std::string key = fmt::format("{}", fmt::join(id, spec.separator));
    if (spec.skip_chunks.count(key) != 0) continue;
    files[key] = Compress(spec.codec, raw, static_cast<int>(item));
  }
  return files;
}

void WriteDirectory(const std::string& root, const std::map<std::string, std::string>& files) {
  for (const auto& [key, bytes] : files) {
    const std::filesystem::path file = std::filesystem::path(root) / key;
    std::filesystem::create_directories(file.parent_path());
    WriteBytes(file.string(), bytes);
  }
}

void WriteZip(const std::string& path, const std::map<std::string, std::string>& files) {
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(zip, nullptr);
  for (const auto& [key, bytes] : files) {
    zip_source_t* source = zip_source_buffer(zip, bytes.data(), bytes.size(), 0);
    const zip_int64_t index = zip_file_add(zip, key.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0);
    zip_set_file_compression(zip, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(zip), 0);
}

void ExpectValues(const dataset::Dataset& ds, const StoreSpec& spec) {
  const int64_t frames = ds.meta().shape.nav_size(), sig = ds.meta().shape.sig_size();
  std::vector<double> all(static_cast<size_t>(frames * sig));
  if (IsComplex(ds.meta().dtype)) {  // real parts (the test values have no imaginary part)
    std::vector<std::complex<double>> c(all.size());
    ds.ReadFrames(0, frames, {0, sig}, c.data(), DType::kComplex128);
    for (size_t i = 0; i < c.size(); ++i) {
      ASSERT_EQ(c[i].imag(), 0.0);
      all[i] = c[i].real();
    }
    return;
  }
  ds.ReadFrames(0, frames, {0, sig}, all.data(), DType::kFloat64);
  for (int64_t i = 0; i < frames * sig; ++i) {
    // Element i lies in a chunk that was skipped if its chunk key is listed.
    std::vector<int64_t> index(spec.shape.size());
    int64_t rest = i;
    for (size_t d = spec.shape.size(); d-- > 0;) {
      index[d] = rest % spec.shape[d];
      rest /= spec.shape[d];
    }
    std::vector<int64_t> id;
    for (size_t d = 0; d < index.size(); ++d) id.push_back(index[d] / spec.chunks[d]);
    const bool missing =
        spec.skip_chunks.count(fmt::format("{}", fmt::join(id, spec.separator))) != 0;
    const double want = missing ? std::stod(spec.fill) : ValueAt(i);
    ASSERT_EQ(all[static_cast<size_t>(i)], want) << "element " << i;
  }
  // A band of the signal in the middle frame equals the same slice of the whole read.
  if (frames > 0 && sig > 3) {
    const int64_t f = frames / 2;
    std::vector<double> band(static_cast<size_t>(sig - 3));
    ds.ReadFrames(f, f + 1, {1, sig - 2}, band.data(), DType::kFloat64);
    for (int64_t i = 0; i < sig - 3; ++i) {
      ASSERT_EQ(band[static_cast<size_t>(i)], all[static_cast<size_t>(f * sig + 1 + i)]);
    }
  }
}

TEST(ZarrStores, CompressorsOrdersEdgesAndMissingChunks) {
  TempDir dir;
  int n = 0;
  for (const Codec codec : {Codec::kNone, Codec::kBlosc, Codec::kBloscLz4, Codec::kZlib,
                            Codec::kGzip, Codec::kZstd}) {
    for (const bool fortran : {false, true}) {
      for (const char* dtype : {"<f4", ">i2", ">f8", "<i8", "<c8"}) {
        StoreSpec spec;
        spec.codec = codec;
        spec.fortran = fortran;
        spec.dtype = dtype;
        // One char, not a const char* assignment: GCC 12 at -O3 warns falsely (-Wrestrict) there.
        spec.separator.assign(1, n % 2 == 0 ? '.' : '/');
        spec.fill = "-3";
        spec.skip_chunks = {fmt::format("1{0}0{0}2", spec.separator)};
        SCOPED_TRACE(fmt::format("codec {} order {} dtype {} sep {}", static_cast<int>(codec),
                                 fortran ? "F" : "C", dtype, spec.separator));
        const std::string root = dir.File(fmt::format("s{}.zarr", n++));
        WriteDirectory(root, MakeArray(spec));
        auto ds = Builtins().Open(root, {});
        EXPECT_EQ(ds->meta().format, "zspy");
        EXPECT_EQ(ds->meta().shape, Shape({5}, {6, 7}));
        EXPECT_EQ(ds->meta().dtype, *ParseNumpyTypestr(dtype, nullptr));
        ExpectValues(*ds, spec);
      }
    }
  }
  EXPECT_GT(n, 50);
}

TEST(ZarrStores, UnsignedAndOneDimensionalArrays) {
  TempDir dir;
  StoreSpec spec;
  spec.shape = {10};
  spec.chunks = {4};
  spec.dtype = "<f8";
  spec.codec = Codec::kBlosc;
  WriteDirectory(dir.File("a.zarr"), MakeArray(spec));
  auto ds = Builtins().Open(dir.File("a.zarr"), {});
  EXPECT_EQ(ds->meta().shape, Shape({}, {10}));
  ExpectValues(*ds, spec);
  // Unsigned data: values clipped into range by the conversion would differ, so check with an
  // array whose values are all positive (fill 7, first chunk only).
  spec.shape = {3};
  spec.chunks = {3};
  spec.dtype = "<u2";
  spec.skip_chunks = {"0"};
  spec.fill = "7";
  WriteDirectory(dir.File("u.zarr"), MakeArray(spec));
  ds = Builtins().Open(dir.File("u.zarr"), {});
  std::vector<uint16_t> values(3);
  ds->ReadFrames(0, 1, {0, 3}, values.data(), DType::kUint16);
  EXPECT_EQ(values, (std::vector<uint16_t>{7, 7, 7}));
}

TEST(ZarrStores, ZipStoreEqualsDirectoryStore) {
  TempDir dir;
  StoreSpec spec;
  spec.codec = Codec::kBlosc;
  spec.skip_chunks = {"0.1.0"};
  auto files = MakeArray(spec);
  // As HyperSpy: the array under Experiments/<title>/data with axis attributes.
  std::map<std::string, std::string> store;
  store[".zgroup"] = R"({"zarr_format": 2})";
  store[".zattrs"] = R"({"file_format": "ZSpy", "file_format_version": "3.3"})";
  store["Experiments/.zgroup"] = R"({"zarr_format": 2})";
  store["Experiments/scan/.zgroup"] = R"({"zarr_format": 2})";
  for (const auto& [key, bytes] : files) store["Experiments/scan/data/" + key] = bytes;
  const char* axes[] = {
      R"({"name": "y", "scale": 2.5, "offset": -1, "units": "nm", "navigate": true, "size": 5})",
      R"({"name": "ky", "scale": 0.1, "offset": 0, "units": "1/nm", "navigate": false, "size": 6})",
      R"({"name": "_None_", "scale": 1, "offset": 0, "units": "_None_", "navigate": false, "size": 7})"};
  for (int i = 0; i < 3; ++i) {
    store[fmt::format("Experiments/scan/axis-{}/.zgroup", i)] = R"({"zarr_format": 2})";
    store[fmt::format("Experiments/scan/axis-{}/.zattrs", i)] = axes[i];
  }
  store["Experiments/scan/metadata/.zgroup"] = R"({"zarr_format": 2})";
  store["Experiments/scan/metadata/General/.zgroup"] = R"({"zarr_format": 2})";
  store["Experiments/scan/metadata/General/.zattrs"] = R"({"title": "scan"})";
  store["Experiments/scan/original_metadata/.zgroup"] = R"({"zarr_format": 2})";
  store["Experiments/scan/original_metadata/.zattrs"] = R"({"Camera": "_None_", "n": 3})";
  WriteDirectory(dir.File("d.zspy"), store);
  WriteZip(dir.File("z.zspy"), store);
  const FormatRegistry registry = Builtins();
  auto d = registry.Open(dir.File("d.zspy"), {});
  auto z = registry.Open(dir.File("z.zspy"), {});
  for (const auto* ds : {d.get(), z.get()}) {
    EXPECT_EQ(ds->meta().shape, Shape({5}, {6, 7}));
    EXPECT_EQ(ds->meta().axes[0], (dataset::Axis{.name = "y", .size = 5, .scale = 2.5,
                                                  .offset = -1, .units = "nm"}));
    EXPECT_EQ(ds->meta().axes[1].units, "1/nm");
    EXPECT_EQ(ds->meta().axes[2].name, "sx");  // "_None_": the default name
    EXPECT_EQ(ds->meta().axes[2].units, "");
    const auto md = json::parse(ds->meta().metadata_json);
    EXPECT_EQ(md["metadata"]["General"]["title"], "scan");
    EXPECT_TRUE(md["original_metadata"]["Camera"].is_null());
    EXPECT_EQ(md["signals"], json::array({"scan"}));
    ExpectValues(*ds, spec);
  }
  testing::ExpectSameFrames(*d, *z);
  EXPECT_EQ(z->meta().files.size(), 1u);
  EXPECT_GE(d->meta().files.size(), 2u);
}

TEST(ZarrStores, ParallelReadsAgree) {
  TempDir dir;
  StoreSpec spec;
  spec.shape = {40, 9, 11};
  spec.chunks = {3, 5, 4};
  spec.codec = Codec::kZstd;
  WriteDirectory(dir.File("p.zarr"), MakeArray(spec));
  auto ds = Builtins().Open(dir.File("p.zarr"), {});
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> frame(99);
      for (int64_t f = t; f < 40; f += 1 + t) {
        ds->ReadFrames(f, f + 1, {0, 99}, frame.data(), DType::kFloat64);
        for (int64_t i = 0; i < 99; ++i) {
          if (frame[static_cast<size_t>(i)] != ValueAt(f * 99 + i)) ++bad;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
}

// ---- malformed stores ----

TEST(ZarrMalformed, ParseErrorsNameTheFieldAndFile) {
  const std::string path = "/x/.zarray";
  const auto parse = [&](const std::string& text, ErrorCode code,
                         const std::vector<std::string>& names) {
    return ExpectError([&] { ParseZarrArray(text, path); }, code, names);
  };
  const std::string base =
      R"("zarr_format": 2, "chunks": [2, 2], "dtype": "<f4", "order": "C", "compressor": null,
         "fill_value": 0, "filters": null)";
  parse("{not json", ErrorCode::kCorruptFile, {path, "not valid JSON"});
  parse("[1, 2]", ErrorCode::kCorruptFile, {"not a JSON object"});
  parse("{" + base + "}", ErrorCode::kCorruptFile, {"missing 'shape'"});
  auto info = parse(R"({"shape": [4, -1], )" + base + "}", ErrorCode::kCorruptFile, {"shape"});
  EXPECT_EQ(info.field, "shape");
  info = parse(R"({"shape": [4611686018427387904, 4611686018427387904], )" + base + "}",
               ErrorCode::kCorruptFile, {"absurd shape"});
  EXPECT_EQ(info.field, "shape");
  info = parse(R"({"shape": [4, 4], "chunks": [100000, 100000], "zarr_format": 2,
                   "dtype": "<f8", "order": "C", "compressor": null, "fill_value": 0})",
               ErrorCode::kCorruptFile, {"absurd chunks"});
  EXPECT_EQ(info.field, "chunks");
  parse(R"({"shape": [4], "chunks": [2, 2], "zarr_format": 2, "dtype": "<f4", "order": "C",
           "compressor": null})",
        ErrorCode::kCorruptFile, {"differ in rank"});
  parse(R"({"shape": [4, 4], )" + base + R"(, "dimension_separator": ":"})",
        ErrorCode::kCorruptFile, {"dimension_separator"});
  info = parse(R"({"shape": [4, 4], "chunks": [2, 2], "zarr_format": 2, "dtype": "<f4",
                   "order": "X", "compressor": null})",
               ErrorCode::kCorruptFile, {"order"});
  EXPECT_EQ(info.field, "order");
  info = parse(R"({"shape": [4, 4], "chunks": [2, 2], "zarr_format": 2, "dtype": "<f2",
                   "order": "C", "compressor": null})",
               ErrorCode::kUnsupported, {"<f2"});
  EXPECT_EQ(info.field, "dtype");
  parse(R"({"shape": [4, 4], "chunks": [2, 2], "zarr_format": 2, "dtype": [["a", "<f4"]],
           "order": "C", "compressor": null})",
        ErrorCode::kUnsupported, {"structured"});
  info = parse(R"({"shape": [4, 4], "chunks": [2, 2], "zarr_format": 2, "dtype": "<f4",
                   "order": "C", "compressor": {"id": "lzma"}})",
               ErrorCode::kUnsupported, {"lzma"});
  EXPECT_EQ(info.field, "compressor");
  info = parse(R"({"shape": [4, 4], "chunks": [2, 2], "zarr_format": 2, "dtype": "<f4",
                   "order": "C", "compressor": null, "filters": [{"id": "delta"}]})",
               ErrorCode::kUnsupported, {"delta"});
  EXPECT_EQ(info.field, "filters");
  parse(R"({"shape": [4, 4], "chunks": [2, 2], "zarr_format": 3, "dtype": "<f4",
           "order": "C", "compressor": null})",
        ErrorCode::kUnsupported, {"zarr_format"});
  // Fill values: NaN, complex pairs.
  auto meta = ParseZarrArray(R"({"shape": [4], "chunks": [2], "zarr_format": 2, "dtype": "<f8",
                                 "order": "C", "compressor": null, "fill_value": "NaN"})",
                             path);
  double fill = 0;
  std::memcpy(&fill, meta.fill.data(), 8);
  EXPECT_TRUE(std::isnan(fill));
  meta = ParseZarrArray(R"({"shape": [4], "chunks": [2], "zarr_format": 2, "dtype": ">i4",
                            "order": "C", "compressor": null, "fill_value": 258})",
                        path);
  EXPECT_EQ(meta.fill, (std::vector<std::byte>{std::byte{0}, std::byte{0}, std::byte{1},
                                               std::byte{2}}));
}

TEST(ZarrMalformed, BadChunksFailNamingTheChunkFile) {
  TempDir dir;
  for (const Codec codec :
       {Codec::kNone, Codec::kBlosc, Codec::kZlib, Codec::kGzip, Codec::kZstd}) {
    SCOPED_TRACE(static_cast<int>(codec));
    StoreSpec spec;
    spec.codec = codec;
    auto files = MakeArray(spec);
    const std::string root = dir.File(fmt::format("bad{}.zarr", static_cast<int>(codec)));
    // Truncated chunk.
    files["0.0.0"] = files["0.0.0"].substr(0, files["0.0.0"].size() / 2);
    // Garbage chunk of a plausible size.
    files["0.0.1"] = std::string(files["0.0.1"].size(), '\x5a');
    WriteDirectory(root, files);
    auto ds = Builtins().Open(root, {});  // opening reads no chunk
    std::vector<float> frame(42);
    auto info = ExpectError([&] { ds->ReadFrames(0, 1, {0, 12}, frame.data(), DType::kFloat32); },
                            ErrorCode::kCorruptFile, {root + "/0.0.0"});
    EXPECT_FALSE(info.field.empty());
    if (codec != Codec::kNone) {  // garbage of the right length is valid uncompressed data
      ExpectError([&] { ds->ReadFrames(0, 1, {3, 4}, frame.data(), DType::kFloat32); },
                  ErrorCode::kCorruptFile, {root + "/0.0.1"});
    }
    // Chunks not touched by a request are not decoded: frame 2 row 0 lies in chunk 1.0.0.
    EXPECT_NO_THROW(ds->ReadFrames(2, 3, {0, 3}, frame.data(), DType::kFloat32));
  }
  // An uncompressed chunk longer than the chunk shape is refused before reading.
  StoreSpec spec;
  auto files = MakeArray(spec);
  files["0.0.0"] += std::string(1000, '\0');
  WriteDirectory(dir.File("long.zarr"), files);
  auto ds = Builtins().Open(dir.File("long.zarr"), {});
  std::vector<float> frame(42);
  ExpectError([&] { ds->ReadFrames(0, 1, {0, 1}, frame.data(), DType::kFloat32); },
              ErrorCode::kCorruptFile, {"0.0.0"});
}

TEST(ZarrMalformed, BrokenStoresAndZipFiles) {
  TempDir dir;
  const FormatRegistry registry = Builtins();
  // A directory with .zgroup but no HyperSpy signal and no root array.
  WriteDirectory(dir.File("empty.zspy"), {{".zgroup", R"({"zarr_format": 2})"}});
  ExpectError([&] { registry.Open(dir.File("empty.zspy"), {}); }, ErrorCode::kCorruptFile,
              {"no HyperSpy signal"});
  // Bad JSON in .zarray and in an axis .zattrs.
  StoreSpec spec;
  auto files = MakeArray(spec);
  files[".zarray"] = "{\"shape\": [5, 6";
  WriteDirectory(dir.File("badjson.zarr"), files);
  ExpectError([&] { registry.Open(dir.File("badjson.zarr"), {}); }, ErrorCode::kCorruptFile,
              {dir.File("badjson.zarr") + "/.zarray", "JSON"});
  std::map<std::string, std::string> hs = {
      {".zgroup", R"({"zarr_format": 2})"},
      {"Experiments/s/axis-0/.zattrs", R"({"name": "x", "size": 99, "navigate": true})"}};
  for (const auto& [key, bytes] : MakeArray(spec)) hs["Experiments/s/data/" + key] = bytes;
  WriteDirectory(dir.File("axis.zspy"), hs);
  ExpectError([&] { registry.Open(dir.File("axis.zspy"), {}); }, ErrorCode::kCorruptFile,
              {"axis-0", "size 99"});
  // Zip: wrong magic, truncated archive.
  WriteBytes(dir.File("notzip.zspy"), "this is not a zip file at all");
  ExpectError([&] { OpenZspy(dir.File("notzip.zspy"), {}); }, ErrorCode::kCorruptFile,
              {dir.File("notzip.zspy"), "zip"});
  WriteZip(dir.File("ok.zspy"), hs);
  std::ifstream in(dir.File("ok.zspy"), std::ios::binary);
  const std::string zip((std::istreambuf_iterator<char>(in)), {});
  WriteBytes(dir.File("cut.zspy"), zip.substr(0, zip.size() - 30));
  ExpectError([&] { OpenZspy(dir.File("cut.zspy"), {}); }, ErrorCode::kCorruptFile,
              {dir.File("cut.zspy"), "zip"});
  ExpectError([&] { OpenZspy(dir.File("missing.zspy"), {}); }, ErrorCode::kNotFound,
              {"missing.zspy"});
}

}  // namespace
}  // namespace tessera::formats
