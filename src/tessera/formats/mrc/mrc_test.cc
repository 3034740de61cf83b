// SPDX-License-Identifier: MIT
#include "tessera/formats/mrc/mrc_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <cmath>
#include <complex>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <limits>
#include <numeric>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/nd_array.h"
#include "tessera/dataset/memory_dataset.h"
#include "tessera/formats/dataset_writer.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::ExpectError;
using testing::Builtins;
using testing::OpenAndMatch;
using testing::ReadStats;
using testing::Stats;
using testing::TempDir;
using testing::WriteBytes;

/// Build a 1024-byte MRC2014 header; `big_endian` writes every word byte-swapped with machst
/// 0x11 0x11.
class HeaderBuilder {
 public:
  explicit HeaderBuilder(bool big_endian = false) : big_endian_(big_endian), bytes_(1024, '\0') {
    std::memcpy(bytes_.data() + 208, "MAP ", 4);
    bytes_[212] = big_endian ? '\x11' : '\x44';
    bytes_[213] = big_endian ? '\x11' : '\x44';
  }
  HeaderBuilder& I32(int offset, int32_t value) {
    uint32_t bits = 0;
    std::memcpy(&bits, &value, 4);
    for (int i = 0; i < 4; ++i) {
      const int shift = big_endian_ ? 24 - 8 * i : 8 * i;
      bytes_[static_cast<size_t>(offset + i)] = static_cast<char>((bits >> shift) & 0xff);
    }
    return *this;
  }
  HeaderBuilder& F32(int offset, float value) {
    int32_t bits = 0;
    std::memcpy(&bits, &value, 4);
    return I32(offset, bits);
  }
  HeaderBuilder& Dims(int32_t nx, int32_t ny, int32_t nz, int32_t mode) {
    return I32(0, nx).I32(4, ny).I32(8, nz).I32(12, mode).I32(28, nx).I32(32, ny).I32(36, nz);
  }
  const std::string& bytes() const { return bytes_; }

 private:
  bool big_endian_ = false;
  std::string bytes_;
};

std::string Int16Data(int count, bool big_endian) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    const auto value = static_cast<uint16_t>(static_cast<int16_t>(i * 3 - 50));
    const char lo = static_cast<char>(value & 0xff), hi = static_cast<char>(value >> 8);
    out += big_endian ? hi : lo;
    out += big_endian ? lo : hi;
  }
  return out;
}

// ---- real files from ../shared/data/mrc ----

TEST(MrcRealFiles, EveryFileMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  for (const char* name : {"EMD-3001.map", "EMD-3197.map", "HAADFscan.mrc", "ROI_Random_Scan_Sum.mrc",
                           "ROI_Random_Scan_movie.mrc", "emd_3197.map.gz", "relion31.mrcs",
                           "temp.mrc"}) {
    SCOPED_TRACE(name);
    const std::string path = *data + "/mrc/" + name;
    std::ifstream in(path + ".expected.json");
    ASSERT_TRUE(in.good()) << path;
    const auto raw = nlohmann::json::parse(in)["raw"][0];
    auto ds = OpenAndMatch(registry, path, "mrc", raw, 1e-12);
    // Signal axes: Angstrom per pixel = cella / m, as mrcfile's voxel_size (x, y, z).
    const auto voxel = raw["header"]["voxel_size"].get<std::vector<double>>();
    const auto& axes = ds->meta().axes;
    ASSERT_EQ(axes.size(), static_cast<size_t>(ds->meta().shape.rank()));
    const auto& x = axes[axes.size() - 1];
    const auto& y = axes[axes.size() - 2];
    EXPECT_EQ(x.name, "x");
    EXPECT_EQ(y.name, "y");
    if (voxel[0] != 0) {
      EXPECT_NEAR(x.scale, voxel[0], 1e-6 * std::abs(voxel[0]));
      EXPECT_EQ(x.units, "Å");
    }
    if (voxel[1] != 0) {
      EXPECT_NEAR(y.scale, voxel[1], 1e-6 * std::abs(voxel[1]));
    }
    const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
    EXPECT_EQ(meta["mode"], raw["header"]["mode"]);
    EXPECT_EQ(meta["nsymbt"], raw["header"]["nsymbt"]);
    EXPECT_EQ(meta["ispg"], raw["header"]["ispg"]);
    EXPECT_EQ(meta["nversion"], raw["header"]["nversion"]);
    EXPECT_EQ(meta["machst"], raw["header"]["machst"]);
    EXPECT_EQ(meta["mapc_r_s"], raw["header"]["mapc_r_s"]);
    EXPECT_EQ(meta["nxstart"], raw["header"]["nxstart"]);
    EXPECT_EQ(meta["labels"], raw["header"]["labels"]);
  }
}

TEST(MrcRealFiles, FeiExtendedHeaderAndZeroCopy) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  auto ds = OpenMrc(*data + "/mrc/HAADFscan.mrc");
  const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
  EXPECT_EQ(meta["exttyp"], "FEI2");
  EXPECT_EQ(meta["data_offset"], 1024 + 909312);
  EXPECT_EQ(meta["fei_extended_header"]["type"], "FEI2");
  EXPECT_EQ(meta["fei_extended_header"]["bytes"], 909312);
  EXPECT_NE(ds->DirectFrames(0, 1), nullptr);
  // The movie: 348 frames served straight from the mapping.
  auto movie = OpenMrc(*data + "/mrc/ROI_Random_Scan_movie.mrc");
  EXPECT_EQ(movie->meta().shape, Shape({348}, {16, 16}));
  EXPECT_NE(movie->DirectFrames(10, 348), nullptr);
  EXPECT_EQ(movie->meta().axes[0].name, "z");
  // The gzip map equals the plain one.
  testing::ExpectSameFrames(*OpenMrc(*data + "/mrc/EMD-3197.map"),
                            *OpenMrc(*data + "/mrc/emd_3197.map.gz"));
}

TEST(MrcRealFiles, TruncatedGzipIsAnError) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  std::ifstream in(*data + "/mrc/emd_3197.map.gz", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TempDir dir;
  const std::string path = dir.File("cut.map.gz");
  WriteBytes(path, bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(Builtins().Detect(path, {}).name, "mrc");
  ExpectError([&] { OpenMrc(path); }, ErrorCode::kCorruptFile, {path, "gzip"});
  std::string garbled = bytes;
  for (size_t i = 100; i < 200; ++i) garbled[i] = static_cast<char>(i);
  WriteBytes(path, garbled);
  ExpectError([&] { OpenMrc(path); }, ErrorCode::kCorruptFile, {path, "gzip"});
}

// ---- synthetic files ----

TEST(MrcFormat, ReadsLittleAndBigEndianInt16) {
  TempDir dir;
  for (const bool big : {false, true}) {
    const std::string path = dir.File(big ? "big.mrc" : "little.mrc");
    HeaderBuilder header(big);
    header.Dims(5, 4, 3, 1).F32(40, 10.0f).F32(44, 8.0f).F32(48, 3.0f).I32(88, 0);
    WriteBytes(path, header.bytes() + Int16Data(60, big));
    auto ds = Builtins().Open(path, {});
    EXPECT_EQ(ds->meta().shape, Shape({3}, {4, 5}));
    EXPECT_EQ(ds->meta().dtype, DType::kInt16);
    EXPECT_EQ(ds->DirectFrames(0, 3) == nullptr, big);
    std::vector<int16_t> out(3 * 8);
    ds->ReadFrames(0, 3, {4, 12}, out.data(), DType::kInt16);
    for (int f = 0; f < 3; ++f) {
      for (int i = 0; i < 8; ++i) ASSERT_EQ(out[f * 8 + i], (f * 20 + 4 + i) * 3 - 50) << big;
    }
    EXPECT_DOUBLE_EQ(ds->meta().axes[2].scale, 2.0);  // cella x 10 A over mx 5
    EXPECT_DOUBLE_EQ(ds->meta().axes[1].scale, 2.0);
    EXPECT_EQ(ds->meta().axes[0].name, "frame");
    EXPECT_EQ(nlohmann::json::parse(ds->meta().metadata_json)["byte_order"],
              big ? "big" : "little");
  }
}

TEST(MrcFormat, GuessesByteOrderWithoutMachstAndSniffsWithoutStamp) {
  TempDir dir;
  HeaderBuilder header(true);
  header.Dims(2, 2, 1, 2).I32(88, 1);
  std::string bytes = header.bytes();
  std::memset(bytes.data() + 208, 0, 8);  // no "MAP ", no machst: RELION style
  std::string data;
  for (const float v : {1.5f, -2.0f, 3.25f, 4.0f}) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, 4);
    for (int i = 3; i >= 0; --i) data += static_cast<char>((bits >> (8 * i)) & 0xff);
  }
  const std::string path = dir.File("stack.mrcs");
  WriteBytes(path, bytes + data);
  EXPECT_EQ(Builtins().Detect(path, {}).name, "mrc");
  auto ds = Builtins().Open(path, {});
  EXPECT_EQ(ds->meta().shape, Shape({1}, {2, 2}));  // a volume (ispg 1) keeps its z axis
  std::vector<float> out(4);
  ds->ReadFrames(0, 1, {0, 4}, out.data(), DType::kFloat32);
  EXPECT_EQ(out, (std::vector<float>{1.5f, -2.0f, 3.25f, 4.0f}));
  // Without stamp and with a foreign extension it is not sniffed as MRC.
  const std::string other = dir.File("stack.dat");
  WriteBytes(other, bytes + data);
  ExpectError([&] { Builtins().Detect(other, {}); }, ErrorCode::kUnsupported, {"stack.dat"});
  // With the stamp any extension is MRC.
  const std::string stamped = dir.File("stamped.bin");
  WriteBytes(stamped, HeaderBuilder().Dims(2, 2, 1, 2).bytes() + std::string(16, '\0'));
  EXPECT_EQ(Builtins().Detect(stamped, {}).name, "mrc");
}

TEST(MrcFormat, Float16Int8Uint16Complex64AndExtendedHeader) {
  TempDir dir;
  const std::string path = dir.File("modes.mrc");
  // float16: 1.0, -2.5, 65504 (max), 2^-24 (smallest subnormal), inf, 0.
  const uint16_t halves[] = {0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00, 0x0000};
  std::string data(reinterpret_cast<const char*>(halves), sizeof(halves));
  WriteBytes(path, HeaderBuilder().Dims(3, 2, 1, 12).I32(92, 8).bytes() + std::string(8, 'e') +
                       data);
  auto ds = Builtins().Open(path, {});
  EXPECT_EQ(ds->meta().dtype, DType::kFloat32);
  EXPECT_EQ(ds->meta().shape, Shape({}, {2, 3}));
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
  std::vector<float> out(6);
  ds->ReadFrames(0, 1, {0, 6}, out.data(), DType::kFloat32);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.5f);
  EXPECT_EQ(out[2], 65504.0f);
  EXPECT_EQ(out[3], std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(out[4]));
  EXPECT_EQ(out[5], 0.0f);
  std::vector<double> tail(2);
  ds->ReadFrames(0, 1, {1, 3}, tail.data(), DType::kFloat64);
  EXPECT_EQ(tail, (std::vector<double>{-2.5, 65504.0}));

  WriteBytes(path, HeaderBuilder().Dims(4, 1, 2, 0).bytes() +
                       std::string("\x01\xff\x7f\x80\x00\x02\x03\x04", 8));
  ds = OpenMrc(path);
  EXPECT_EQ(ds->meta().dtype, DType::kInt8);
  std::vector<int16_t> i16(8);
  ds->ReadFrames(0, 2, {0, 4}, i16.data(), DType::kInt16);
  EXPECT_EQ(i16, (std::vector<int16_t>{1, -1, 127, -128, 0, 2, 3, 4}));

  WriteBytes(path, HeaderBuilder().Dims(2, 1, 1, 6).bytes() + std::string("\xff\xff\x01\x00", 4));
  ds = OpenMrc(path);
  EXPECT_EQ(ds->meta().dtype, DType::kUint16);
  std::vector<uint16_t> u16(2);
  ds->ReadFrames(0, 1, {0, 2}, u16.data(), DType::kUint16);
  EXPECT_EQ(u16, (std::vector<uint16_t>{65535, 1}));

  const float complex_values[] = {1.0f, 2.0f, -3.0f, 0.5f};
  WriteBytes(path, HeaderBuilder().Dims(2, 1, 1, 4).bytes() +
                       std::string(reinterpret_cast<const char*>(complex_values), 16));
  ds = OpenMrc(path);
  EXPECT_EQ(ds->meta().dtype, DType::kComplex64);
  std::vector<std::complex<double>> c(2);
  ds->ReadFrames(0, 1, {0, 2}, c.data(), DType::kComplex128);
  EXPECT_EQ(c[1], std::complex<double>(-3.0, 0.5));
}

TEST(MrcFormat, VolumeStackHasTwoNavigationAxes) {
  TempDir dir;
  const std::string path = dir.File("volumes.mrc");
  WriteBytes(path, HeaderBuilder().Dims(2, 2, 6, 2).I32(36, 3).I32(88, 401).bytes() +
                       std::string(6 * 4 * 4, '\0'));
  EXPECT_EQ(OpenMrc(path)->meta().shape, Shape({2, 3}, {2, 2}));
}

TEST(MrcFormat, RejectsMalformedHeadersNamingFileAndField) {
  TempDir dir;
  const std::string path = dir.File("bad.mrc");
  const auto expect = [&](const std::string& bytes, ErrorCode code,
                          const std::vector<std::string>& names) {
    WriteBytes(path, bytes);
    std::vector<std::string> all = names;
    all.push_back(path);
    return ExpectError([&] { OpenMrc(path); }, code, all);
  };
  const std::string good = HeaderBuilder().Dims(4, 3, 2, 1).bytes();
  // Truncated header.
  auto info = expect(good.substr(0, 100), ErrorCode::kCorruptFile, {"header", "1024"});
  EXPECT_EQ(info.offset, 100);
  EXPECT_EQ(info.field, "header");
  // Data shorter than the header says.
  info = expect(good + std::string(47, '\0'), ErrorCode::kCorruptFile,
                {"truncated", "48 bytes from offset 1024", "has 47"});
  EXPECT_EQ(info.offset, 1024);
  EXPECT_EQ(info.field, "nz");
  // Bad mode, unsupported mode.
  info = expect(HeaderBuilder().Dims(4, 3, 2, 99).bytes() + std::string(48, '\0'),
                ErrorCode::kCorruptFile, {"mode", "99"});
  EXPECT_EQ(info.offset, 12);
  EXPECT_EQ(info.field, "mode");
  info = expect(HeaderBuilder().Dims(4, 3, 2, 3).bytes() + std::string(96, '\0'),
                ErrorCode::kUnsupported, {"mode", "complex int16"});
  EXPECT_EQ(info.field, "mode");
  // Negative and zero dimensions.
  info = expect(HeaderBuilder().Dims(4, -3, 2, 1).bytes(), ErrorCode::kCorruptFile, {"ny", "-3"});
  EXPECT_EQ(info.offset, 4);
  EXPECT_EQ(info.field, "ny");
  info = expect(HeaderBuilder().Dims(4, 3, 0, 1).bytes(), ErrorCode::kCorruptFile, {"nz"});
  EXPECT_EQ(info.offset, 8);
  // Extended header: negative, or past the end of the file.
  info = expect(HeaderBuilder().Dims(4, 3, 2, 1).I32(92, -5).bytes(), ErrorCode::kCorruptFile,
                {"nsymbt", "-5"});
  EXPECT_EQ(info.offset, 92);
  info = expect(HeaderBuilder().Dims(4, 3, 2, 1).I32(92, 4096).bytes() + std::string(48, '\0'),
                ErrorCode::kCorruptFile, {"nsymbt", "runs past the end"});
  EXPECT_EQ(info.field, "nsymbt");
  info = expect(std::string(), ErrorCode::kCorruptFile, {"header"});
  // Dimensions whose product overflows 64 bits (found by fuzz/mrc_fuzz): 2^30 x 2^30 x 2^30.
  info = expect(HeaderBuilder().Dims(1 << 30, 1 << 30, 1 << 30, 2).bytes(), ErrorCode::kCorruptFile,
                {"absurd dimensions"});
  EXPECT_EQ(info.field, "nx");
  ExpectError([&] { OpenMrc(dir.File("none.mrc")); }, ErrorCode::kNotFound, {"none.mrc"});
}


// ---- the writer ----

/// A dataset with the frames of another and replaced axes (to test calibrations).
class WithAxes final : public dataset::Dataset {
 public:
  WithAxes(std::unique_ptr<dataset::Dataset> inner, std::vector<dataset::Axis> axes)
      : inner_(std::move(inner)), meta_(inner_->meta()) {
    meta_.axes = std::move(axes);
  }
  const dataset::DatasetMeta& meta() const override { return meta_; }
  void ReadFrames(int64_t b, int64_t e, dataset::SigRange sig, void* dst,
                  DType as) const override {
    inner_->ReadFrames(b, e, sig, dst, as);
  }

 private:
  std::unique_ptr<dataset::Dataset> inner_;
  dataset::DatasetMeta meta_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int32_t I32At(const std::string& bytes, size_t offset) {
  int32_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;
}

float F32At(const std::string& bytes, size_t offset) {
  float v = 0;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;
}

TEST(MrcWriter, EveryMrcDtypeRoundTripsThroughTheReader) {
  TempDir dir;
  struct Case {
    DType dtype;
    int mode;
    DType read_back;
  };
  for (const Case c : {Case{DType::kInt8, 0, DType::kInt8}, Case{DType::kInt16, 1, DType::kInt16},
                       Case{DType::kFloat32, 2, DType::kFloat32},
                       Case{DType::kComplex64, 4, DType::kComplex64},
                       Case{DType::kUint16, 6, DType::kUint16},
                       Case{DType::kUint8, 6, DType::kUint16}, Case{DType::kBool, 0, DType::kInt8}}) {
    SCOPED_TRACE(std::string(Name(c.dtype)));
    NdArray array(c.dtype, {3, 5, 7});
    std::vector<double> values(105);
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = c.dtype == DType::kBool ? static_cast<double>(i % 3 == 0)
                  : IsInteger(c.dtype)     ? static_cast<double>((i * 7) % 100)
                                           : static_cast<double>(i) * 3.5 - 100;
    }
    ConvertElements(values.data(), DType::kFloat64, false, array.raw(), c.dtype, 105);
    auto mem = dataset::MakeMemoryDataset(std::move(array), 2);
    const std::string path = dir.File(fmt::format("{}.mrc", Name(c.dtype)));
    WriteDataset(*mem, path);
    const std::string bytes = ReadFile(path);
    ASSERT_EQ(bytes.size(), 1024 + 105 * static_cast<size_t>(SizeOf(c.read_back)));
    EXPECT_EQ(I32At(bytes, 12), c.mode);
    auto back = Builtins().Open(path, {});
    EXPECT_EQ(back->meta().format, "mrc");
    EXPECT_EQ(back->meta().dtype, c.read_back);
    EXPECT_EQ(back->meta().shape, Shape({3}, {5, 7}));
    testing::ExpectSameFrames(*mem, *back);
    const auto meta = nlohmann::json::parse(back->meta().metadata_json);
    EXPECT_EQ(meta["nversion"], 20140);
    EXPECT_EQ(meta["ispg"], 0);
    EXPECT_EQ(meta["mz"], 1);
    EXPECT_EQ(meta["exttyp"], "MRCO");
    EXPECT_TRUE(meta["map_stamp"].get<bool>());
    EXPECT_EQ(meta["machst"], nlohmann::json::array({0x44, 0x44, 0, 0}));
    EXPECT_EQ(meta["mapc_r_s"], nlohmann::json::array({1, 2, 3}));
    ASSERT_EQ(meta["labels"].size(), 1u);
    EXPECT_NE(meta["labels"][0].get<std::string>().find("Tessera"), std::string::npos);
    // Header statistics from the data (magnitudes for complex).
    std::vector<double> stat_values = values;
    if (c.dtype == DType::kBool) {
      for (double& v : stat_values) v = v != 0 ? 1 : 0;
    }
    if (IsComplex(c.dtype)) {
      for (double& v : stat_values) v = std::abs(v);
    }
    const double mean = std::accumulate(stat_values.begin(), stat_values.end(), 0.0) / 105;
    double m2 = 0;
    for (const double v : stat_values) m2 += (v - mean) * (v - mean);
    EXPECT_FLOAT_EQ(meta["dmin"].get<float>(),
                    static_cast<float>(*std::min_element(stat_values.begin(), stat_values.end())));
    EXPECT_FLOAT_EQ(meta["dmax"].get<float>(),
                    static_cast<float>(*std::max_element(stat_values.begin(), stat_values.end())));
    EXPECT_NEAR(meta["dmean"].get<float>(), mean, 1e-5 * std::max(1.0, std::abs(mean)));
    EXPECT_NEAR(meta["rms"].get<float>(), std::sqrt(m2 / 105), 1e-4 * std::sqrt(m2 / 105));
  }
}

TEST(MrcWriter, CalibrationsBecomeCellAndSpaceGroup) {
  TempDir dir;
  NdArray array(DType::kFloat32, {2, 3, 4, 5});
  auto flat = array.flat<float>();
  std::iota(flat.begin(), flat.end(), 0.0f);
  auto mem = dataset::MakeMemoryDataset(std::move(array), 2);
  // Image stack: the 2 x 3 navigation axes become 6 sections, pixel size 0.5 nm = 5 A.
  std::vector<dataset::Axis> axes = {
      {.name = "a", .size = 2}, {.name = "b", .size = 3},
      {.name = "y", .size = 4, .scale = 0.5, .offset = 1.0, .units = "nm"},
      {.name = "x", .size = 5, .scale = 2.0, .offset = -4.0, .units = "Å"}};
  WithAxes images(dataset::MakeMemoryDataset(NdArray(mem->meta().dtype, {2, 3, 4, 5}), 2), axes);
  const std::string stack = dir.File("stack.mrcs");
  WriteDataset(images, stack);
  std::string h = ReadFile(stack);
  EXPECT_EQ(I32At(h, 0), 5);
  EXPECT_EQ(I32At(h, 4), 4);
  EXPECT_EQ(I32At(h, 8), 6);
  EXPECT_EQ(I32At(h, 36), 1);    // mz: image stack
  EXPECT_EQ(I32At(h, 88), 0);    // ispg
  EXPECT_FLOAT_EQ(F32At(h, 40), 10.0f);  // 5 px * 2 A
  EXPECT_FLOAT_EQ(F32At(h, 44), 20.0f);  // 4 px * 5 A
  EXPECT_FLOAT_EQ(F32At(h, 48), 0.0f);
  EXPECT_FLOAT_EQ(F32At(h, 196), -4.0f);
  EXPECT_FLOAT_EQ(F32At(h, 200), 10.0f);
  auto back = OpenMrc(stack);
  EXPECT_EQ(back->meta().shape, Shape({6}, {4, 5}));
  EXPECT_DOUBLE_EQ(back->meta().axes[2].scale, 2.0);
  EXPECT_EQ(back->meta().axes[2].units, "Å");
  EXPECT_NEAR(back->meta().axes[1].scale, 5.0, 1e-6);
  EXPECT_NEAR(back->meta().axes[1].offset, 10.0, 1e-6);

  // A stack of volumes: the third axis from the end is a length, 2 x 3 sections.
  axes[1] = {.name = "z", .size = 3, .scale = 1.0, .units = "Å"};
  WithAxes volumes(std::move(mem), axes);
  const std::string vols = dir.File("volumes.mrc");
  WriteDataset(volumes, vols);
  h = ReadFile(vols);
  EXPECT_EQ(I32At(h, 88), 401);
  EXPECT_EQ(I32At(h, 36), 3);  // mz: sections per volume
  EXPECT_FLOAT_EQ(F32At(h, 48), 3.0f);
  back = OpenMrc(vols);
  EXPECT_EQ(back->meta().shape, Shape({2, 3}, {4, 5}));
  EXPECT_EQ(back->meta().axes[1].units, "Å");
  testing::ExpectSameFrames(volumes, *back);
}

TEST(MrcWriter, RealMapsRoundTripWithTheirCalibration) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  TempDir dir;
  // (ROI_Random_Scan_Sum.mrc is a one-section "volume" (ispg 1, nz 1, cella z 0): written back
  // as an image it opens as a single 2-D image, so only the stacks and the map are compared.)
  for (const char* name : {"EMD-3197.map", "relion31.mrcs"}) {
    SCOPED_TRACE(name);
    auto source = OpenMrc(*data + "/mrc/" + name);
    const std::string out = dir.File(std::string("copy-") + name);
    WriteDataset(*source, out);
    auto back = OpenMrc(out);
    EXPECT_EQ(back->meta().shape, source->meta().shape);
    EXPECT_EQ(back->meta().dtype, source->meta().dtype);
    testing::ExpectSameFrames(*source, *back);
    for (size_t i = 0; i < source->meta().axes.size(); ++i) {
      EXPECT_EQ(back->meta().axes[i].units, source->meta().axes[i].units) << i;
      EXPECT_NEAR(back->meta().axes[i].scale, source->meta().axes[i].scale,
                  1e-6 * source->meta().axes[i].scale)
          << i;
    }
    const auto a = nlohmann::json::parse(source->meta().metadata_json);
    const auto b = nlohmann::json::parse(back->meta().metadata_json);
    EXPECT_EQ(b["ispg"], a["ispg"] == 0 ? 0 : 1);
    // The header statistics of the copy describe its data.
    const Stats stats = ReadStats(*back);
    EXPECT_FLOAT_EQ(b["dmin"].get<float>(), static_cast<float>(stats.min));
    EXPECT_FLOAT_EQ(b["dmax"].get<float>(), static_cast<float>(stats.max));
  }
}

TEST(MrcWriter, ReadableByMrcfileWhenInstalled) {
  if (std::system("python3 -c 'import mrcfile' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-mrcfile not installed";
  }
  TempDir dir;
  NdArray array(DType::kInt16, {2, 3, 4});
  auto flat = array.flat<int16_t>();
  std::iota(flat.begin(), flat.end(), int16_t{-5});
  auto mem = dataset::MakeMemoryDataset(std::move(array), 2);
  const std::string path = dir.File("x.mrc");
  WriteDataset(*mem, path);
  const std::string command = fmt::format(
      "python3 -c \"import mrcfile,sys; m=mrcfile.open('{}', permissive=False); "
      "d=m.data; sys.exit(0 if d.shape==(2,3,4) and int(d.sum())==156 and m.header.mode==1 and "
      "mrcfile.validate('{}', print_file=open('/dev/null','w')) else 1)\"",
      path, path);
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(MrcWriter, RefusesWhatMrcCannotHoldAndLeavesNothingBehind) {
  TempDir dir;
  for (const DType dtype : {DType::kFloat64, DType::kInt32, DType::kUint32, DType::kInt64,
                            DType::kComplex128}) {
    auto mem = dataset::MakeMemoryDataset(NdArray(dtype, {2, 2}), 2);
    const std::string path = dir.File("bad.mrc");
    const auto info = ExpectError([&] { WriteDataset(*mem, path); }, ErrorCode::kUnsupported,
                                  {path, std::string(Name(dtype)), ".npy"});
    EXPECT_EQ(info.field, "mode");
  }
  auto wide = dataset::MakeMemoryDataset(NdArray(DType::kInt8, {int64_t{3} << 30, 0}), 2);
  ExpectError([&] { WriteDataset(*wide, dir.File("wide.mrc")); }, ErrorCode::kUnsupported,
              {"nx = 0"});
  // Cancelled: no file, no temp file.
  auto mem = dataset::MakeMemoryDataset(NdArray(DType::kFloat32, {4, 2, 2}), 2);
  std::atomic<bool> cancel{true};
  ExpectError([&] { WriteDataset(*mem, dir.File("cancelled.mrc"), {}, &cancel); },
              ErrorCode::kCancelled, {});
  EXPECT_TRUE(dir.List().empty());
}

}  // namespace
}  // namespace tessera::formats
