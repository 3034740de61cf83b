// SPDX-License-Identifier: MIT
#include "tessera/formats/tia/tia_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "tessera/formats/format_registry.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::ExpectError;
using testing::Builtins;
using testing::ReadStats;
using testing::Stats;
using testing::TempDir;
using testing::WriteBytes;
using testing::ExpectClose;

// ---- real files from ../shared/data/tia ----

TEST(TiaRealFiles, EverySerMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(*data + "/tia")) {
    const std::string json_path = entry.path().string();
    if (json_path.size() < 14 || json_path.substr(json_path.size() - 14) != ".expected.json") {
      continue;
    }
    std::ifstream in(json_path);
    const auto expected = nlohmann::json::parse(in);
    for (const auto& raw : expected["raw"]) {
      const std::string path = *data + "/tia/" + raw["file"].get<std::string>();
      SCOPED_TRACE(path);
      EXPECT_EQ(registry.Detect(path, {}).name, "tia");
      auto ds = registry.Open(path, {});
      const auto& meta = ds->meta();
      EXPECT_EQ(meta.format, "tia");
      const auto shape = raw["shape"].get<std::vector<int64_t>>();  // (valid, *element)
      EXPECT_EQ(meta.shape.nav_size(), shape[0]);
      const auto sig = meta.shape.sig();
      EXPECT_EQ(std::vector<int64_t>(sig.begin(), sig.end()),
                std::vector<int64_t>(shape.begin() + 1, shape.end()));
      EXPECT_EQ(Name(meta.dtype), raw["dtype"].get<std::string>());
      // Navigation: the header dimensions, NumPy order, when the series is complete.
      const auto& header = raw["header"];
      const auto& dims = raw["dimensions"];
      if (header["valid_elements"] == header["total_elements"]) {
        ASSERT_EQ(meta.shape.nav().size(), dims.size());
        for (size_t i = 0; i < dims.size(); ++i) {
          const auto& dim = dims[dims.size() - 1 - i];
          const auto& axis = meta.axes[i];
          EXPECT_EQ(axis.size, dim["size"].get<int64_t>());
          const double factor = dim["units"] == "meters" ? 1e9 : 1.0;
          ExpectClose(axis.scale, dim["calibration_delta"].get<double>() * factor);
          ExpectClose(axis.offset,
                      (dim["calibration_offset"].get<double>() -
                       dim["calibration_element"].get<double>() *
                           dim["calibration_delta"].get<double>()) *
                          factor);
        }
      }
      const Stats stats = ReadStats(*ds);
      ExpectClose(stats.sum, raw["stats"]["sum"].get<double>());
      EXPECT_EQ(stats.min, raw["stats"]["min"].get<double>());
      EXPECT_EQ(stats.max, raw["stats"]["max"].get<double>());
      const auto& cal = raw["first_element_calibration"];
      const auto& sx = meta.axes.back();
      if (cal.contains("delta_x")) {
        const bool reciprocal = std::abs(cal["delta_x"].get<double>()) >= 1.0;
        const double factor = reciprocal ? 1e-9 : 1e9;
        EXPECT_EQ(sx.units, reciprocal ? "1/nm" : "nm");
        ExpectClose(sx.scale, cal["delta_x"].get<double>() * factor);
        ExpectClose(sx.offset, cal["offset_x"].get<double>() * factor);
        const auto& sy = meta.axes[meta.axes.size() - 2];
        ExpectClose(sy.scale, cal["delta_y"].get<double>() * factor);
        ExpectClose(sy.offset, cal["offset_y"].get<double>() * factor);
      } else {
        EXPECT_EQ(sx.units, "eV");
        ExpectClose(sx.scale, cal["delta"].get<double>());
        ExpectClose(sx.offset, cal["offset"].get<double>());
      }
      const auto file_meta = nlohmann::json::parse(meta.metadata_json);
      EXPECT_EQ(file_meta["total_elements"], header["total_elements"]);
      EXPECT_EQ(file_meta["valid_elements"], header["valid_elements"]);
      EXPECT_EQ(file_meta["version"], header["version"]);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 9);
}

TEST(TiaRealFiles, DiffractionOffsetIsInInverseNanometres) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  auto ds = OpenTia(*data + "/tia/16x16-line_profile_horizontal_5x128x128_EDS_2.ser");
  EXPECT_EQ(ds->meta().shape, Shape({5}, {128, 128}));
  EXPECT_NEAR(ds->meta().axes[2].offset, -11.1586, 1e-4);
  EXPECT_NEAR(ds->meta().axes[2].scale, 0.174353, 1e-6);
  EXPECT_EQ(ds->meta().axes[0].units, "nm");
  EXPECT_NEAR(ds->meta().axes[0].scale, 3.6886364090376356, 1e-12);
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
  // A spectrum image: 5 x 5 positions (NumPy order y, x) of 1024 channels.
  auto si = OpenTia(*data + "/tia/16x16-spectrum_image-5x5x1024_1.ser");
  EXPECT_EQ(si->meta().shape, Shape({5, 5}, {1024}));
  EXPECT_EQ(si->meta().axes[0].name, "y");
  EXPECT_EQ(si->meta().axes[1].name, "x");
  // A series stopped early: only the valid element is served.
  auto eels = OpenTia(*data + "/tia/X - Au NP EELS_2.ser");
  EXPECT_EQ(eels->meta().shape, Shape({1}, {2048}));
  EXPECT_DOUBLE_EQ(eels->meta().axes[1].offset, 2160.0);
}

TEST(TiaRealFiles, EmiOpensItsSeriesAndReadsObjectInfo) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  for (const auto& entry : std::filesystem::directory_iterator(*data + "/tia")) {
    const std::string emi = entry.path().string();
    if (emi.size() < 4 || emi.substr(emi.size() - 4) != ".emi") continue;
    SCOPED_TRACE(emi);
    std::ifstream in(emi + ".expected.json");
    const auto expected = nlohmann::json::parse(in);
    EXPECT_EQ(registry.Detect(emi, {}).name, "tia");
    for (size_t i = 0; i < expected["raw"].size(); ++i) {
      auto ds = registry.Open(emi, {{"ser", std::to_string(i + 1)}});
      const auto& raw = expected["raw"][i];
      EXPECT_EQ(ds->meta().shape.nav_size(), raw["shape"][0].get<int64_t>());
      EXPECT_EQ(ReadStats(*ds).max, raw["stats"]["max"].get<double>());
      const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
      const auto& signal = expected["signals"][i]["metadata"];
      ASSERT_TRUE(meta.contains("emi"));
      EXPECT_DOUBLE_EQ(meta["emi"]["beam_energy_kv"].get<double>(),
                       signal["Acquisition_instrument.TEM.beam_energy"].get<double>());
      if (signal.contains("Acquisition_instrument.TEM.magnification")) {
        EXPECT_DOUBLE_EQ(meta["emi"]["magnification"].get<double>(),
                         signal["Acquisition_instrument.TEM.magnification"].get<double>());
      }
      EXPECT_EQ(ds->meta().files.size(), 2u);
    }
  }
  ExpectError([&] { registry.Open(*data + "/tia/16_STOimage.emi", {{"ser", "7"}}); },
              ErrorCode::kNotFound, {"16_STOimage_7.ser"});
}

// ---- synthetic files ----

/// Build a little-endian SER file.
class SerBuilder {
 public:
  SerBuilder& I16(int16_t v) { return Put(&v, 2); }
  SerBuilder& I32(int32_t v) { return Put(&v, 4); }
  SerBuilder& I64(int64_t v) { return Put(&v, 8); }
  SerBuilder& F64(double v) { return Put(&v, 8); }
  SerBuilder& Str(const std::string& s) {
    I32(static_cast<int32_t>(s.size()));
    bytes_ += s;
    return *this;
  }
  size_t size() const { return bytes_.size(); }
  std::string& bytes() { return bytes_; }
  void Patch32(size_t at, int32_t v) { std::memcpy(bytes_.data() + at, &v, 4); }
  void Patch64(size_t at, int64_t v) { std::memcpy(bytes_.data() + at, &v, 8); }

 private:
  SerBuilder& Put(const void* p, size_t n) {
    bytes_.append(static_cast<const char*>(p), n);
    return *this;
  }
  std::string bytes_;
};

/// Two 3x4 uint16 images (value = frame * 100 + index), new (8-byte offsets) or old layout;
/// a gap of `gap` bytes between elements. `second_type` overrides the second element's type.
std::string TwoImages(bool new_version, int gap = 6, int16_t second_type = 2) {
  const int offset_bytes = new_version ? 8 : 4;
  SerBuilder b;
  b.I16(0x4949).I16(0x0197).I16(new_version ? 0x0220 : 0x0210).I32(0x4122).I32(0x4152);
  b.I32(2).I32(2);
  const size_t array_field = b.size();
  if (new_version) b.I64(0); else b.I32(0);
  b.I32(1).I32(2).F64(0.0).F64(1.0).I32(0).Str("Number").Str("");
  const size_t array = b.size();
  if (new_version) b.Patch64(array_field, static_cast<int64_t>(array));
  else b.Patch32(array_field, static_cast<int32_t>(array));
  b.bytes().append(static_cast<size_t>(4 * offset_bytes), '\0');
  for (int frame = 0; frame < 2; ++frame) {
    const auto at = static_cast<int64_t>(b.size());
    if (new_version) b.Patch64(array + static_cast<size_t>(frame * 8), at);
    else b.Patch32(array + static_cast<size_t>(frame * 4), static_cast<int32_t>(at));
    b.F64(-2e-9).F64(1e-10).I32(0).F64(-1e-9).F64(2e-10).I32(0);
    b.I16(frame == 0 ? 2 : second_type).I32(4).I32(3);
    for (int i = 0; i < 12; ++i) b.I16(static_cast<int16_t>(frame * 100 + i));
    b.bytes().append(static_cast<size_t>(gap), '\0');
  }
  return b.bytes();
}

TEST(TiaFormat, ReadsOldAndNewLayouts) {
  TempDir dir;
  for (const bool new_version : {false, true}) {
    SCOPED_TRACE(new_version);
    const std::string path = dir.File(new_version ? "new.ser" : "old.ser");
    WriteBytes(path, TwoImages(new_version));
    auto ds = Builtins().Open(path, {});
    EXPECT_EQ(ds->meta().shape, Shape({2}, {3, 4}));
    EXPECT_EQ(ds->meta().dtype, DType::kUint16);
    std::vector<int32_t> out(2 * 8);
    ds->ReadFrames(0, 2, {4, 12}, out.data(), DType::kInt32);
    for (int f = 0; f < 2; ++f) {
      for (int i = 0; i < 8; ++i) ASSERT_EQ(out[static_cast<size_t>(f * 8 + i)], f * 100 + 4 + i);
    }
    const auto& sx = ds->meta().axes[2];
    EXPECT_EQ(sx.units, "nm");
    EXPECT_NEAR(sx.scale, 0.1, 1e-12);
    EXPECT_NEAR(sx.offset, -2.0, 1e-12);
    EXPECT_NEAR(ds->meta().axes[1].scale, 0.2, 1e-12);
  }
}

TEST(TiaFormat, MalformedFilesNameFileAndField) {
  TempDir dir;
  const std::string path = dir.File("bad.ser");
  const std::string good = TwoImages(true);
  // Truncated header.
  WriteBytes(path, good.substr(0, 24));
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "OffsetArrayOffset"});
  // Offset array past the end.
  std::string bad = good;
  const int64_t far = 1 << 20;
  std::memcpy(bad.data() + 22, &far, 8);
  WriteBytes(path, bad);
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "OffsetArray"});
  // Absurd dimension count and size.
  bad = good;
  const int32_t many = 1000000;
  std::memcpy(bad.data() + 30, &many, 4);
  WriteBytes(path, bad);
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "NumberDimensions"});
  bad = good;
  std::memcpy(bad.data() + 34, &many, 4);
  WriteBytes(path, bad);
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "DimensionSize"});
  // Element data offset beyond the file.
  bad = good;
  int64_t array = 0;
  std::memcpy(&array, bad.data() + 22, 8);
  const int64_t beyond = static_cast<int64_t>(bad.size()) + 100;
  std::memcpy(bad.data() + array + 8, &beyond, 8);
  WriteBytes(path, bad);
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "DataOffsetArray"});
  // A second element of another dtype.
  WriteBytes(path, TwoImages(true, 6, 6));
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "DataType", "element 1"});
  // Data cut short.
  WriteBytes(path, TwoImages(true, 0).substr(0, TwoImages(true, 0).size() - 4));
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "ElementData"});
  // Not a SER file at all.
  WriteBytes(path, std::string(64, 'x'));
  ExpectError([&] { OpenTia(path); }, ErrorCode::kCorruptFile, {path, "ByteOrder"});
}

TEST(TiaFormat, SniffsSerByMagicAndEmiByExtension) {
  const FormatEntry entry = TiaFormatEntry();
  const std::string magic("\x49\x49\x97\x01", 4);
  EXPECT_TRUE(entry.sniff(std::as_bytes(std::span(magic.data(), magic.size())), "a.bin"));
  const std::string other("\x49\x49\x2a\x00", 4);
  EXPECT_FALSE(entry.sniff(std::as_bytes(std::span(other.data(), other.size())), "a.tif"));
  EXPECT_TRUE(entry.sniff(std::as_bytes(std::span(other.data(), other.size())), "b.EMI"));
}

}  // namespace
}  // namespace tessera::formats
