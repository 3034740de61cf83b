// SPDX-License-Identifier: MIT
#include "tessera/formats/blo/blo_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>

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

void Put(std::string& bytes, size_t offset, uint64_t value, int size) {
  for (int i = 0; i < size; ++i) bytes[offset + static_cast<size_t>(i)] = static_cast<char>(value >> (8 * i));
}

/// A blockfile of ny x nx frames of dp x dp pixels; pixel i of frame f is (f * 7 + i) % 251.
std::string MakeBlo(int nx, int ny, int dp) {
  std::string bytes(4096, '\0');
  std::memcpy(bytes.data(), "IMGBLO", 6);
  Put(bytes, 6, 0x0102, 2);
  Put(bytes, 8, 4096, 4);
  const int frames_offset = 4096 + nx * ny;
  Put(bytes, 12, static_cast<uint64_t>(frames_offset), 4);
  Put(bytes, 20, static_cast<uint64_t>(dp), 2);
  Put(bytes, 24, static_cast<uint64_t>(nx), 2);
  Put(bytes, 26, static_cast<uint64_t>(ny), 2);
  double step = 2.5;
  uint64_t bits = 0;
  std::memcpy(&bits, &step, 8);
  Put(bytes, 30, bits, 8);
  Put(bytes, 38, bits, 8);
  Put(bytes, 50, 500, 2);  // 5 pixels per cm: 0.2 cm per pixel
  bytes += std::string(static_cast<size_t>(nx * ny), '\x01');
  for (int f = 0; f < nx * ny; ++f) {
    bytes += "\xaa\x55";
    std::string index(4, '\0');
    Put(index, 0, static_cast<uint64_t>(f), 4);
    bytes += index;
    for (int i = 0; i < dp * dp; ++i) bytes += static_cast<char>((f * 7 + i) % 251);
  }
  return bytes;
}

// ---- real files from ../shared/data/blo ----

TEST(BloRealFiles, EveryFileMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  for (const char* name : {"test1.blo"}) {
    SCOPED_TRACE(name);
    const std::string path = *data + "/blo/" + name;
    std::ifstream in(path + ".expected.json");
    ASSERT_TRUE(in.good()) << path;
    const auto signal = nlohmann::json::parse(in)["signals"][0];
    auto ds = OpenAndMatch(registry, path, "blo", signal);
    EXPECT_EQ(ds->meta().shape.nav_dims(), 2);
    const auto& axes = ds->meta().axes;
    ASSERT_EQ(axes.size(), signal["axes"].size());
    for (size_t i = 0; i < axes.size(); ++i) {
      const auto& expected = signal["axes"][i];
      EXPECT_EQ(axes[i].name, expected["name"].get<std::string>()) << i;
      EXPECT_EQ(axes[i].size, expected["size"].get<int64_t>()) << i;
      EXPECT_NEAR(axes[i].scale, expected["scale"].get<double>(),
                  1e-12 * std::abs(expected["scale"].get<double>()))
          << i;
      EXPECT_DOUBLE_EQ(axes[i].offset, expected["offset"].get<double>()) << i;
      EXPECT_EQ(axes[i].units, expected["units"].get<std::string>()) << i;
    }
    const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
    EXPECT_DOUBLE_EQ(meta["beam_energy_kv"].get<double>(),
                     signal["metadata"]["Acquisition_instrument.TEM.beam_energy"].get<double>());
    EXPECT_DOUBLE_EQ(meta["camera_length_m"].get<double>(),
                     signal["metadata"]["Acquisition_instrument.TEM.camera_length"].get<double>());
    EXPECT_EQ(meta["date"], signal["metadata"]["General.date"]);
    EXPECT_EQ(meta["time"], signal["metadata"]["General.time"]);
  }
}

// ---- synthetic files ----

TEST(BloFormat, SkipsFrameHeadersAndReadsSigRanges) {
  TempDir dir;
  const std::string path = dir.File("scan.dat");  // sniffed by content, not extension
  WriteBytes(path, MakeBlo(3, 2, 4));
  EXPECT_EQ(Builtins().Detect(path, {}).name, "blo");
  auto ds = Builtins().Open(path, {});
  EXPECT_EQ(ds->meta().shape, Shape({2, 3}, {4, 4}));
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
  std::vector<uint16_t> out(2 * 8);
  ds->ReadFrames(4, 6, {4, 12}, out.data(), DType::kUint16);
  for (int f = 0; f < 2; ++f) {
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(out[static_cast<size_t>(f * 8 + i)], ((f + 4) * 7 + 4 + i) % 251) << f << " " << i;
    }
  }
  EXPECT_DOUBLE_EQ(ds->meta().axes[0].scale, 2.5);
  EXPECT_EQ(ds->meta().axes[0].units, "nm");
  EXPECT_DOUBLE_EQ(ds->meta().axes[3].scale, 0.2);
  EXPECT_EQ(ds->meta().axes[3].units, "cm");
}

TEST(BloFormat, MalformedFilesNameTheFileAndOffset) {
  TempDir dir;
  const std::string path = dir.File("bad.blo");
  const std::string good = MakeBlo(3, 2, 4);
  auto expect = [&](const std::string& bytes, const std::vector<std::string>& names) {
    WriteBytes(path, bytes);
    std::vector<std::string> all = names;
    all.push_back(path);
    ExpectError([&] { OpenBlo(path); }, ErrorCode::kCorruptFile, all);
  };
  // Truncated: inside the header, inside the last frame.
  expect(good.substr(0, 100), {"header", "100"});
  expect(good.substr(0, good.size() - 3), {"truncated", "frames", "frame 5"});
  // Bad header fields.
  std::string bad = good;
  bad[0] = 'X';
  expect(bad, {"IMGBLO", "offset 0"});
  bad = good;
  Put(bad, 20, 0, 2);
  expect(bad, {"DP_SZ", "offset 20"});
  bad = good;
  Put(bad, 26, 0, 2);
  expect(bad, {"NY", "offset 26"});
  bad = good;
  Put(bad, 12, 4096, 4);
  expect(bad, {"Data_offset_2", "offset 12"});
  // Header sizes whose byte count overflows int64 (65535 x 65535 frames of 65535^2 bytes): a
  // truncation error, no overflow (found by fuzz/blo_fuzz).
  bad = good;
  Put(bad, 20, 0xffff, 2);
  Put(bad, 24, 0xffff, 2);
  Put(bad, 26, 0xffff, 2);
  Put(bad, 12, 4096 + 0xffffull * 0xffff, 4);
  expect(bad, {"truncated", "frames", "frame 0"});
  // A frame header without its marker.
  bad = good;
  const size_t frame2 = 4096 + 6 + 2 * (6 + 16);
  bad[frame2] = '\0';
  std::string where = "offset ";
  where += std::to_string(frame2);
  expect(bad, {"frame header", "frame 2", where});
}

}  // namespace
}  // namespace tessera::formats
