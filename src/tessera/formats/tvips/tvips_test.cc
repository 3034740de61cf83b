// SPDX-License-Identifier: MIT
#include "tessera/formats/tvips/tvips_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/formats/format_registry.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using nlohmann::json;
using testing::Builtins;
using testing::ExpectError;
using testing::ReadStats;
using testing::Stats;
using testing::TempDir;
using testing::WriteBytes;
using testing::ExpectClose;

TEST(TvipsRealFiles, EveryFileMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  for (const char* name : {"test_tvips_2233_000.tvips", "test_tvips_2345_000.tvips"}) {
    const std::string path = *data + "/tvips/" + name;
    SCOPED_TRACE(path);
    std::ifstream in(path + ".expected.json");
    const json signal = json::parse(in)["signals"][0];
    EXPECT_EQ(registry.Detect(path, {}).name, "tvips");
    auto ds = registry.Open(path, {});
    const auto& meta = ds->meta();
    EXPECT_EQ(meta.format, "tvips");
    EXPECT_EQ(meta.shape.dims(), signal["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(meta.shape.nav_dims(), 1);
    EXPECT_EQ(Name(meta.dtype), signal["dtype"].get<std::string>());
    const Stats stats = ReadStats(*ds);
    EXPECT_EQ(stats.sum, signal["stats"]["sum_exact"].get<double>());
    EXPECT_EQ(stats.min, signal["stats"]["min"].get<double>());
    EXPECT_EQ(stats.max, signal["stats"]["max"].get<double>());
    ASSERT_EQ(meta.axes.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      const json& axis = signal["axes"][i];
      EXPECT_EQ(meta.axes[i].name, axis["name"].get<std::string>());
      EXPECT_EQ(meta.axes[i].size, axis["size"].get<int64_t>());
      ExpectClose(meta.axes[i].scale, axis["scale"].get<double>());
      ExpectClose(meta.axes[i].offset, axis["offset"].get<double>());
      EXPECT_EQ(meta.axes[i].units, axis["units"].get<std::string>());
    }
    const json own = json::parse(meta.metadata_json);
    const json& md = signal["metadata"];
    EXPECT_EQ(own["date"], md["General.date"]);
    EXPECT_EQ(own["time"], md["General.time"]);
    EXPECT_EQ(own["signal_type"], md["Signal.signal_type"]);
    EXPECT_EQ(own["beam_energy_kv"], md["Acquisition_instrument.TEM.beam_energy"]);
    EXPECT_EQ(own["magnification"], md["Acquisition_instrument.TEM.magnification"]);
    ExpectClose(own["beam_current"].get<double>(),
                md["Acquisition_instrument.TEM.beam_current"].get<double>());
    ExpectClose(own["tilt_alpha"].get<double>(),
                md["Acquisition_instrument.TEM.Stage.tilt_alpha"].get<double>());
    // Frames are served zero copy one at a time (a frame header separates them).
    EXPECT_NE(ds->DirectFrames(1, 2), nullptr);
    EXPECT_EQ(ds->DirectFrames(0, 2), nullptr);
  }
}

/// A synthetic recorder stream: version, frame header size, (dimy, dimx), bits, frames per part.
struct Stream {
  uint32_t version = 2;
  uint32_t frame_header = 64;
  uint32_t dimx = 5, dimy = 3, bits = 16;
  std::vector<int> frames_per_part = {4};
  uint32_t mode = 1;
};

void Put32(std::string& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }

uint32_t Pixel(int frame, int64_t i) { return static_cast<uint32_t>((frame * 11 + i) % 200); }

/// Write name_000.tvips, name_001.tvips, ...; return the first part's path.
std::string WriteStream(const TempDir& tmp, const std::string& name, const Stream& s) {
  const int64_t item = s.bits / 8;
  const int64_t header = s.version == 1 ? 12 : s.frame_header;
  int frame = 0;
  for (size_t part = 0; part < s.frames_per_part.size(); ++part) {
    std::string bytes;
    if (part == 0) {
      bytes.assign(256, '\0');
      const uint32_t fields[] = {256, s.version, s.dimx, s.dimy, s.bits, 2, 1, 1, 1, 7, 300, 5000,
                                 s.frame_header};
      for (size_t k = 0; k < 13; ++k) Put32(bytes, k * 4, fields[k]);
    }
    for (int f = 0; f < s.frames_per_part[part]; ++f, ++frame) {
      std::string record(static_cast<size_t>(header + s.dimx * s.dimy * item), '\0');
      Put32(record, 0, static_cast<uint32_t>(frame));
      Put32(record, 4, 1000000000u + static_cast<uint32_t>(frame / 2));
      Put32(record, 8, static_cast<uint32_t>((frame % 2) * 500));
      if (header >= 60) {
        Put32(record, 24, s.mode);
        Put32(record, 48, static_cast<uint32_t>(frame + 1));
      }
      for (int64_t i = 0; i < int64_t{s.dimx} * s.dimy; ++i) {
        const uint32_t v = Pixel(frame, i);
        std::memcpy(record.data() + header + i * item, &v, static_cast<size_t>(item));
      }
      bytes += record;
    }
    WriteBytes(tmp.File(fmt::format("{}_{:03}.tvips", name, part)), bytes);
  }
  return tmp.File(name + "_000.tvips");
}

void ExpectPixels(const dataset::Dataset& ds, int first_frame) {
  const int64_t frames = ds.meta().shape.nav_size(), sig = ds.meta().shape.sig_size();
  std::vector<double> out(static_cast<size_t>(frames * sig));
  ds.ReadFrames(0, frames, {0, sig}, out.data(), DType::kFloat64);
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t i = 0; i < sig; ++i) {
      ASSERT_EQ(out[static_cast<size_t>(f * sig + i)], Pixel(static_cast<int>(f) + first_frame, i))
          << "frame " << f;
    }
  }
}

TEST(TvipsGenerated, SplitSeriesOpensAsOneDataset) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  Stream s;
  s.frames_per_part = {3, 4, 2};
  const std::string path = WriteStream(tmp, "movie", s);
  auto ds = registry.Open(path, {});
  EXPECT_EQ(ds->meta().shape.dims(), (std::vector<int64_t>{9, 3, 5}));
  EXPECT_EQ(ds->meta().files.size(), 3u);
  ExpectPixels(*ds, 0);
  EXPECT_EQ(ds->meta().axes[0].scale, 0.5);  // 500 ms apart
  EXPECT_EQ(ds->meta().axes[0].offset, 1e9);
  EXPECT_EQ(ds->meta().axes[1].units, "nm");  // mode 1: images
  EXPECT_EQ(ds->meta().axes[1].scale, 7.0);
  EXPECT_EQ(ds->meta().axes[1].offset, 1.0);
  EXPECT_EQ(ds->meta().axes[2].offset, 2.0);
  EXPECT_EQ(TvipsSeriesParts(path).size(), 3u);
  ExpectError([&] { registry.Open(tmp.File("movie_001.tvips"), {}); },
              ErrorCode::kInvalidArgument, {"movie_000.tvips"});

  // A scan grid out of the series.
  auto scan = registry.Open(path, {{"scan_shape", "2x3"}, {"scan_start_frame", "2"}});
  EXPECT_EQ(scan->meta().shape.dims(), (std::vector<int64_t>{2, 3, 3, 5}));
  EXPECT_EQ(scan->meta().axes[0].name, "y");
  EXPECT_EQ(scan->meta().axes[1].name, "x");
  ExpectPixels(*scan, 2);
  ExpectError([&] { registry.Open(path, {{"scan_shape", "3x3"}, {"scan_start_frame", "1"}}); },
              ErrorCode::kInvalidArgument, {"scan_shape"});
  ExpectError([&] { registry.Open(path, {{"scan_start_frame", "1"}}); },
              ErrorCode::kInvalidArgument, {"scan_start_frame"});
}

TEST(TvipsGenerated, VersionOneAndOtherDepths) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  Stream v1;
  v1.version = 1;
  v1.bits = 8;
  auto ds = registry.Open(WriteStream(tmp, "old", v1), {});
  EXPECT_EQ(ds->meta().dtype, DType::kUint8);
  EXPECT_EQ(ds->meta().shape.dims(), (std::vector<int64_t>{4, 3, 5}));
  ExpectPixels(*ds, 0);
  Stream wide;
  wide.bits = 32;
  wide.mode = 2;
  ds = registry.Open(WriteStream(tmp, "wide", wide), {});
  EXPECT_EQ(ds->meta().dtype, DType::kUint32);
  EXPECT_EQ(ds->meta().axes[2].units, "1/nm");
  ExpectPixels(*ds, 0);
  // A single file without the _NNN suffix is a series of one.
  std::filesystem::copy_file(tmp.File("wide_000.tvips"), tmp.File("plain.tvips"));
  ds = registry.Open(tmp.File("plain.tvips"), {});
  EXPECT_EQ(ds->meta().shape.nav_size(), 4);
}

TEST(TvipsMalformed, BadHeadersAndTruncationNameFileAndField) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  const std::string good = WriteStream(tmp, "good", Stream{});
  std::ifstream in(good, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  auto expect = [&](const std::string& name, std::string content, ErrorCode code,
                    std::vector<std::string> names) {
    const std::string path = tmp.File(name);
    WriteBytes(path, content);
    names.push_back(path);
    ExpectError([&] { registry.Open(path, {}, "tvips"); }, code, names);
  };
  expect("short_000.tvips", bytes.substr(0, 20), ErrorCode::kCorruptFile, {"header"});
  std::string bad = bytes;
  Put32(bad, 4, 7);
  expect("version_000.tvips", bad, ErrorCode::kCorruptFile, {"version", "7"});
  bad = bytes;
  Put32(bad, 8, 0xffffffffu);
  expect("dimx_000.tvips", bad, ErrorCode::kCorruptFile, {"dimx", "out of range"});
  bad = bytes;
  Put32(bad, 16, 12);
  expect("bits_000.tvips", bad, ErrorCode::kCorruptFile, {"bitsperpixel", "12"});
  bad = bytes;
  Put32(bad, 0, 1u << 20);
  expect("size_000.tvips", bad, ErrorCode::kCorruptFile, {"size", "past the end"});
  bad = bytes;
  Put32(bad, 48, 8);
  expect("fh_000.tvips", bad, ErrorCode::kCorruptFile, {"frameheaderbytes"});
  // Truncated inside the third record (records of 64 + 30 bytes after 256 header bytes).
  expect("cut_000.tvips", bytes.substr(0, 256 + 94 * 2 + 50), ErrorCode::kCorruptFile,
         {"frame", "offset 444", "truncated"});
  expect("empty_000.tvips", bytes.substr(0, 256), ErrorCode::kCorruptFile, {"no frames"});
  // A truncated later part is named in the error.
  Stream split;
  split.frames_per_part = {2, 2};
  WriteStream(tmp, "split", split);
  std::filesystem::resize_file(tmp.File("split_001.tvips"), 100);
  ExpectError([&] { registry.Open(tmp.File("split_000.tvips"), {}); }, ErrorCode::kCorruptFile,
              {tmp.File("split_001.tvips"), "frame"});
}

}  // namespace
}  // namespace tessera::formats
