// SPDX-License-Identifier: MIT
#include "tessera/formats/mib/mib_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/formats/format_registry.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::ExpectError;
using testing::TempDir;
using testing::WriteBytes;
using testing::ReadAll;

constexpr int64_t kHeaderBytes = 384;

/// One frame header as Merlin 0.77 writes it for a single chip, padded with NULs.
std::string FrameHeader(int64_t sequence, int64_t width, int64_t height,
                        const std::string& pixel_type, int counter_depth = 12) {
  std::string text = fmt::format(
      "MQ1,{:06d},{:05d},01,{:04d},{:04d},{},   1x1,01,2021-04-15 15:01:38.996867,0.001000,0,0,0,"
      "2.000000E+0,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,"
      "0.000000E+0,3RX,011,511,000,175,MQ1A,2021-04-15T14:01:38.996867651Z,1000000ns,{},",
      sequence, kHeaderBytes, width, height, pixel_type, counter_depth);
  text.resize(kHeaderBytes, '\0');
  return text;
}

/// Big-endian pixels of frame `frame`: value = frame * 1000 + index (wrapped to the type).
std::string Pixels(int64_t frame, int64_t count, int item) {
  std::string out;
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t v = static_cast<uint64_t>(frame * 1000 + i) & (item == 1 ? 0xff : 0xffffffff);
    for (int b = item - 1; b >= 0; --b) out += static_cast<char>((v >> (8 * b)) & 0xff);
  }
  return out;
}

std::string MakeMib(int64_t frames, int64_t width, int64_t height, const std::string& pixel_type,
                    int item) {
  std::string out;
  for (int64_t f = 0; f < frames; ++f) {
    out += FrameHeader(f + 1, width, height, pixel_type);
    out += Pixels(f, width * height, item);
  }
  return out;
}

std::vector<int64_t> Dims(std::span<const int64_t> dims) { return {dims.begin(), dims.end()}; }

FormatRegistry Registry() {
  FormatRegistry registry;
  RegisterBuiltinFormats(registry);
  return registry;
}

TEST(MibFormat, ParsesHeaderFields) {
  const std::string header = FrameHeader(7, 256, 128, "U16");
  const MibFrameHeader parsed = ParseMibFrameHeader(
      std::as_bytes(std::span<const char>(header.data(), header.size())), 0, "x.mib");
  EXPECT_EQ(parsed.sequence, 7);
  EXPECT_EQ(parsed.header_bytes, kHeaderBytes);
  EXPECT_EQ(parsed.n_chips, 1);
  EXPECT_EQ(parsed.width, 256);
  EXPECT_EQ(parsed.height, 128);
  EXPECT_EQ(parsed.pixel_type, "U16");
  EXPECT_EQ(parsed.sensor_layout, "1x1");
  EXPECT_EQ(parsed.chip_select, "01");
  EXPECT_DOUBLE_EQ(parsed.shutter_time_s, 0.001);
  ASSERT_EQ(parsed.thresholds.size(), 8u);
  EXPECT_DOUBLE_EQ(parsed.thresholds[0], 2.0);
  EXPECT_DOUBLE_EQ(parsed.thresholds[1], 511.0);
  ASSERT_EQ(parsed.chip_types.size(), 1u);
  EXPECT_EQ(parsed.chip_types[0], "3RX");
  EXPECT_EQ(parsed.dacs[0], (std::vector<std::string>{"011", "511", "000", "175"}));
  EXPECT_EQ(parsed.extended_timestamp, "2021-04-15T14:01:38.996867651Z");
  EXPECT_EQ(parsed.shutter_time_ns, "1000000ns");
  EXPECT_EQ(parsed.counter_depth, 12);
}

TEST(MibFormat, ReadsBigEndianFramesAndSignalRanges) {
  TempDir dir;
  for (const auto& [type, item, dtype] :
       {std::tuple<std::string, int, DType>{"U08", 1, DType::kUint8},
        std::tuple<std::string, int, DType>{"U16", 2, DType::kUint16},
        std::tuple<std::string, int, DType>{"U32", 4, DType::kUint32}}) {
    SCOPED_TRACE(type);
    const std::string path = dir.File(type + ".mib");
    WriteBytes(path, MakeMib(3, 4, 5, type, item));
    const auto ds = OpenMib(path, {});
    EXPECT_EQ(ds->meta().format, "mib");
    EXPECT_EQ(ds->meta().shape.dims(), (std::vector<int64_t>{3, 5, 4}));
    EXPECT_EQ(ds->meta().dtype, dtype);
    const std::vector<double> all = ReadAll(*ds);
    for (int64_t f = 0; f < 3; ++f) {
      for (int64_t i = 0; i < 20; ++i) {
        const double expected = item == 1 ? static_cast<double>((f * 1000 + i) & 0xff)
                                          : static_cast<double>(f * 1000 + i);
        ASSERT_EQ(all[static_cast<size_t>(f * 20 + i)], expected) << f << " " << i;
      }
    }
    // Rows 2..3 of frames 1..2.
    std::vector<uint32_t> band(2 * 8);
    ds->ReadFrames(1, 3, {8, 16}, band.data(), DType::kUint32);
    EXPECT_EQ(band[0], static_cast<uint32_t>(all[20 + 8]));
    EXPECT_EQ(band[15], static_cast<uint32_t>(all[40 + 15]));
    // Only single native-order frames are handed out zero copy.
    const std::byte* direct = ds->DirectFrames(1, 2);
    if (item == 1) {
      ASSERT_NE(direct, nullptr);
      EXPECT_EQ(std::to_integer<int>(direct[3]), static_cast<int>(all[23]));
    } else {
      EXPECT_EQ(direct, nullptr);
    }
    EXPECT_EQ(ds->DirectFrames(0, 2), nullptr);
    const auto metadata = nlohmann::json::parse(ds->meta().metadata_json);
    EXPECT_EQ(metadata["frame_header"]["pixel_type"], type);
    EXPECT_EQ(metadata["sequence_first"], 1);
    EXPECT_EQ(metadata["sequence_last"], 3);
    EXPECT_EQ(metadata["frames"], 3);
  }
}

TEST(MibFormat, NavShapeFromParamsOrHdr) {
  TempDir dir;
  const std::string path = dir.File("scan.mib");
  WriteBytes(path, MakeMib(6, 4, 4, "U08", 1));
  EXPECT_EQ(Dims(OpenMib(path, {})->meta().shape.nav()), (std::vector<int64_t>{6}));
  EXPECT_EQ(Dims(OpenMib(path, {{"nav_shape", "2x3"}})->meta().shape.nav()),
            (std::vector<int64_t>{2, 3}));
  const ErrorInfo info = ExpectError([&] { OpenMib(path, {{"nav_shape", "4x4"}}); },
                                     ErrorCode::kInvalidArgument, {"nav_shape", path, "6 frames"});
  EXPECT_EQ(info.field, "nav_shape");
  // One trigger per scan line: 3 frames per trigger -> 2 lines of 3.
  WriteBytes(dir.File("scan.hdr"),
             "HDR,\t\r\nFrames in Acquisition (Number):\t6\r\nFrames per Trigger (Number):\t3\r\n"
             "Counter Depth (number):\t6\r\nEnd\t   ");
  const auto ds = OpenMib(path, {});
  EXPECT_EQ(Dims(ds->meta().shape.nav()), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ds->meta().files.size(), 2u);
  const auto metadata = nlohmann::json::parse(ds->meta().metadata_json);
  EXPECT_EQ(metadata["hdr"]["Counter Depth (number)"], "6");
  // The parameter wins over the .hdr; the .hdr opens its .mib.
  EXPECT_EQ(Dims(OpenMib(path, {{"nav_shape", "6"}})->meta().shape.nav()),
            (std::vector<int64_t>{6}));
  const FormatRegistry registry = Registry();
  EXPECT_EQ(registry.Detect(dir.File("scan.hdr"), {}).name, "mib");
  EXPECT_EQ(registry.Open(dir.File("scan.hdr"), {})->meta().shape.size(), 6 * 16);
}

TEST(MibFormat, SniffsMagicWhateverTheExtension) {
  TempDir dir;
  WriteBytes(dir.File("frames.bin"), MakeMib(2, 4, 4, "U16", 2));
  const FormatRegistry registry = Registry();
  EXPECT_EQ(registry.Detect(dir.File("frames.bin"), {}).name, "mib");
  const FormatEntry* entry = registry.Find("mib");
  ASSERT_NE(entry, nullptr);
  const std::string npy = "\x93NUMPY";
  EXPECT_FALSE(entry->sniff(std::as_bytes(std::span<const char>(npy.data(), npy.size())), "a"));
}

TEST(MibFormat, TruncatedLastFrameNamesFileAndOffset) {
  TempDir dir;
  const std::string path = dir.File("short.mib");
  std::string bytes = MakeMib(3, 4, 4, "U16", 2);
  bytes.resize(bytes.size() - 5);
  WriteBytes(path, bytes);
  const int64_t stride = kHeaderBytes + 32;
  const ErrorInfo info =
      ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path, "frame 2"});
  EXPECT_EQ(info.offset, 2 * stride);
  // Shorter than one header.
  WriteBytes(path, bytes.substr(0, 20));
  ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path, "header_bytes"});
}

TEST(MibFormat, InconsistentFrameHeaderNamesFieldAndOffset) {
  TempDir dir;
  const std::string path = dir.File("mixed.mib");
  // Frame 1 claims 16 columns where frame 0 has 8; the same byte count (4x8 = 2x16 U08) keeps
  // the stride, so only the header check can tell.
  const std::string bytes = FrameHeader(1, 8, 4, "U08") + Pixels(0, 32, 1) +
                            FrameHeader(2, 16, 2, "U08") + Pixels(1, 32, 1);
  WriteBytes(path, bytes);
  const ErrorInfo info =
      ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path, "width", "frame 1"});
  const int64_t stride = kHeaderBytes + 32;
  EXPECT_EQ(info.offset, stride + static_cast<int64_t>(std::string("MQ1,000002,00384,01,").size()));
  EXPECT_EQ(info.field, "width");
}

TEST(MibFormat, BadMagicAndNonNumericFields) {
  TempDir dir;
  const std::string path = dir.File("bad.mib");
  std::string bytes = MakeMib(2, 4, 4, "U08", 1);
  bytes[0] = 'X';
  WriteBytes(path, bytes);
  ErrorInfo info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path, "MQ1"});
  EXPECT_EQ(info.offset, 0);
  EXPECT_EQ(info.field, "magic");

  // A bad magic in the second frame.
  bytes = MakeMib(2, 4, 4, "U08", 1);
  const int64_t stride = kHeaderBytes + 16;
  bytes[static_cast<size_t>(stride) + 2] = '2';
  WriteBytes(path, bytes);
  info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path});
  EXPECT_EQ(info.offset, stride);

  // Non-numeric height ("00x4" at bytes 26..29).
  bytes = MakeMib(2, 4, 4, "U08", 1);
  const size_t height_at = std::string("MQ1,000001,00384,01,0004,").size();
  bytes.replace(height_at, 4, "00x4");
  WriteBytes(path, bytes);
  info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path, "00x4", "height"});
  EXPECT_EQ(info.offset, static_cast<int64_t>(height_at));

  // Non-numeric threshold.
  bytes = MakeMib(1, 4, 4, "U08", 1);
  const size_t threshold_at = bytes.find("2.000000E+0");
  bytes.replace(threshold_at, 3, "abc");
  WriteBytes(path, bytes);
  info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path, "thresholds[0]"});
  EXPECT_EQ(info.offset, static_cast<int64_t>(threshold_at));

  // A header length beyond the file.
  bytes = MakeMib(1, 4, 4, "U08", 1);
  bytes.replace(11, 5, "99999");
  WriteBytes(path, bytes);
  info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile, {path, "header_bytes"});
  EXPECT_EQ(info.offset, 11);
}

/// Frames first..first+count-1 (sequence numbers first+1..) of a U16 acquisition of 4x3 frames.
std::string MibFrames(int64_t first, int64_t count) {
  std::string out;
  for (int64_t f = first; f < first + count; ++f) {
    out += FrameHeader(f + 1, 4, 3, "U16");
    out += Pixels(f, 12, 2);
  }
  return out;
}

double PixelValue(int64_t frame, int64_t index) { return static_cast<double>(frame * 1000 + index); }

TEST(MibFormat, MultiFileAcquisitionFromHdrInNaturalOrder) {
  TempDir dir;
  // Ten files of 2 frames, named so that plain string order would be wrong (scan_10 < scan_2).
  for (int part = 1; part <= 10; ++part) {
    WriteBytes(dir.File(fmt::format("scan_{}.mib", part)), MibFrames((part - 1) * 2, 2));
  }
  WriteBytes(dir.File("scan.hdr"),
             "HDR,\t\r\nFrames in Acquisition (Number):\t20\r\nFrames per Trigger (Number):\t5\r\n"
             "End\t");
  const FormatRegistry registry = Registry();
  const auto ds = registry.Open(dir.File("scan.hdr"), {});
  EXPECT_EQ(ds->meta().shape.dims(), (std::vector<int64_t>{4, 5, 3, 4}));
  EXPECT_EQ(ds->meta().files.size(), 11u);
  const std::vector<double> all = ReadAll(*ds);
  for (int64_t f = 0; f < 20; ++f) {
    for (int64_t i = 0; i < 12; ++i) {
      ASSERT_EQ(all[static_cast<size_t>(f * 12 + i)], PixelValue(f, i)) << f << " " << i;
    }
  }
  const auto metadata = nlohmann::json::parse(ds->meta().metadata_json);
  ASSERT_EQ(metadata["mib_files"].size(), 10u);
  EXPECT_EQ(metadata["mib_files"][1]["path"], dir.File("scan_2.mib"));
  EXPECT_EQ(metadata["sequence_first"], 1);
  EXPECT_EQ(metadata["sequence_last"], 20);
  // A read spanning three files at once.
  std::vector<uint16_t> span(5 * 12);
  ds->ReadFrames(3, 8, {0, 12}, span.data(), DType::kUint16);
  EXPECT_EQ(span[0], PixelValue(3, 0));
  EXPECT_EQ(span[59], PixelValue(7, 11));

  // glob=true from one of the files (LiberTEM): the trailing number is dropped.
  const auto globbed = OpenMib(dir.File("scan_7.mib"), {{"glob", "true"}, {"nav_shape", "20"}});
  EXPECT_EQ(globbed->meta().shape.nav_size(), 20);
  EXPECT_EQ(ReadAll(*globbed), all);
  // Without glob a .mib is just itself.
  EXPECT_EQ(OpenMib(dir.File("scan_7.mib"), {})->meta().shape.nav_size(), 2);
}

TEST(MibFormat, MultiFileOrderFollowsSequenceNumbers) {
  TempDir dir;
  // Names out of sequence order: the frame headers' sequence numbers decide.
  WriteBytes(dir.File("acq_b.mib"), MibFrames(0, 3));
  WriteBytes(dir.File("acq_a.mib"), MibFrames(3, 3));
  WriteBytes(dir.File("acq.hdr"), "HDR,\t\r\nEnd\t");
  const auto ds = OpenMib(dir.File("acq.hdr"), {});
  const std::vector<double> all = ReadAll(*ds);
  ASSERT_EQ(all.size(), 6u * 12u);
  for (int64_t f = 0; f < 6; ++f) ASSERT_EQ(all[static_cast<size_t>(f * 12)], PixelValue(f, 0));
}

TEST(MibFormat, MultiFileLayoutMismatchNamesTheFile) {
  TempDir dir;
  WriteBytes(dir.File("run1.mib"), MibFrames(0, 2));
  WriteBytes(dir.File("run2.mib"), FrameHeader(3, 6, 2, "U16") + Pixels(2, 12, 2));
  const ErrorInfo info = ExpectError([&] { OpenMib(dir.File("run1.mib"), {{"glob", "1"}}); },
                                     ErrorCode::kCorruptFile,
                                     {dir.File("run2.mib"), "width", "frame 0"});
  EXPECT_EQ(info.field, "width");
  ExpectError([&] { OpenMib(dir.File("none.hdr"), {}); }, ErrorCode::kNotFound, {"none"});
}

TEST(MibFormat, SyncOffsetSkipsOrInsertsFrames) {
  TempDir dir;
  const std::string path = dir.File("sync.mib");
  WriteBytes(path, MibFrames(0, 6));
  // Skip 2 frames: frame i is acquisition frame i + 2; the last two positions are blank.
  {
    const auto ds = OpenMib(path, {{"sync_offset", "2"}, {"nav_shape", "2x3"}});
    EXPECT_EQ(ds->meta().shape.dims(), (std::vector<int64_t>{2, 3, 3, 4}));
    const std::vector<double> all = ReadAll(*ds);
    for (int64_t f = 0; f < 6; ++f) {
      for (int64_t i = 0; i < 12; ++i) {
        const double expected = f + 2 < 6 ? PixelValue(f + 2, i) : 0.0;
        ASSERT_EQ(all[static_cast<size_t>(f * 12 + i)], expected) << f << " " << i;
      }
    }
    EXPECT_EQ(ds->DirectFrames(5, 6), nullptr);
    const auto metadata = nlohmann::json::parse(ds->meta().metadata_json);
    EXPECT_EQ(metadata["sync_offset"], 2);
  }
  // Insert 3 blank frames; nav_shape may differ from the frame count once sync_offset is given.
  {
    const auto ds = OpenMib(path, {{"sync_offset", "-3"}, {"nav_shape", "2x4"}});
    const std::vector<double> all = ReadAll(*ds);
    ASSERT_EQ(all.size(), 8u * 12u);
    for (int64_t f = 0; f < 8; ++f) {
      const double expected = f >= 3 ? PixelValue(f - 3, 5) : 0.0;
      ASSERT_EQ(all[static_cast<size_t>(f * 12 + 5)], expected) << f;
    }
  }
  // Without a nav_shape the acquisition's own frame count stays.
  EXPECT_EQ(OpenMib(path, {{"sync_offset", "1"}})->meta().shape.nav_size(), 6);
  // Out of range: nothing of the acquisition would be read.
  ErrorInfo info = ExpectError([&] { OpenMib(path, {{"sync_offset", "6"}}); },
                               ErrorCode::kInvalidArgument, {path, "sync_offset"});
  EXPECT_EQ(info.field, "sync_offset");
  info = ExpectError([&] { OpenMib(path, {{"sync_offset", "-4"}, {"nav_shape", "4"}}); },
                     ErrorCode::kInvalidArgument, {path, "sync_offset"});
  ExpectError([&] { OpenMib(path, {{"sync_offset", "x"}}); }, ErrorCode::kInvalidArgument,
              {"sync_offset"});
}

// ---- the shared sample files and their *.expected.json ----

nlohmann::json LoadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

DType ExpectedDType(const std::string& typestr) {
  if (typestr == "|u1") return DType::kUint8;
  if (typestr == ">u2") return DType::kUint16;
  if (typestr == ">u4") return DType::kUint32;
  ADD_FAILURE() << "unexpected dtype " << typestr;
  return DType::kFloat64;
}

TEST(MibSharedData, ReproducesExpectedValues) {
  const auto data = testing::TestDataDir();
  if (!data || !std::filesystem::is_directory(*data + "/mib")) GTEST_SKIP() << "no shared data";
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(*data + "/mib")) {
    if (entry.path().extension() == ".mib") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  const FormatRegistry registry = Registry();
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    const std::string expected_path = path + ".expected.json";
    ASSERT_TRUE(std::filesystem::exists(expected_path));
    const nlohmann::json expected = LoadJson(expected_path);
    ASSERT_TRUE(expected.contains("raw"));
    const nlohmann::json& raw = expected["raw"][0];
    EXPECT_EQ(registry.Detect(path, {}).name, "mib");
    const auto ds = registry.Open(path, {});
    const auto& meta = ds->meta();
    const auto shape = raw["shape"].get<std::vector<int64_t>>();
    ASSERT_EQ(shape.size(), 3u);
    EXPECT_EQ(meta.shape.nav_size(), shape[0]);
    EXPECT_EQ(Dims(meta.shape.sig()), (std::vector<int64_t>{shape[1], shape[2]}));
    EXPECT_EQ(meta.dtype, ExpectedDType(raw["dtype"].get<std::string>()));

    const int64_t frames = meta.shape.nav_size();
    const int64_t sig = meta.shape.sig_size();
    std::vector<uint64_t> pixels(static_cast<size_t>(sig));
    uint64_t total = 0;
    uint64_t min_value = UINT64_MAX, max_value = 0;
    std::vector<uint64_t> per_frame;
    for (int64_t f = 0; f < frames; ++f) {
      ds->ReadFrames(f, f + 1, {0, sig}, pixels.data(), DType::kUint64);
      uint64_t frame_sum = 0;
      for (const uint64_t v : pixels) {
        frame_sum += v;
        min_value = std::min(min_value, v);
        max_value = std::max(max_value, v);
      }
      per_frame.push_back(frame_sum);
      total += frame_sum;
    }
    const auto& stats = raw["stats"];
    EXPECT_EQ(static_cast<int64_t>(frames * sig), stats["count"].get<int64_t>());
    EXPECT_EQ(total, stats["sum_exact"].get<uint64_t>());
    EXPECT_NEAR(static_cast<double>(total), stats["sum"].get<double>(),
                1e-9 * std::abs(stats["sum"].get<double>()));
    EXPECT_EQ(static_cast<double>(min_value), stats["min"].get<double>());
    EXPECT_EQ(static_cast<double>(max_value), stats["max"].get<double>());
    if (raw.contains("per_frame_sum")) {
      EXPECT_EQ(per_frame, raw["per_frame_sum"].get<std::vector<uint64_t>>());
    }

    const auto metadata = nlohmann::json::parse(meta.metadata_json);
    const auto& header = metadata["frame_header"];
    const auto& want = raw["first_frame_header"];
    for (const char* key : {"id", "sequence", "header_bytes", "n_chips", "width", "height",
                            "pixel_type", "sensor_layout", "chip_select", "timestamp",
                            "shutter_time_s", "counter", "colour_mode", "gain_mode",
                            "thresholds"}) {
      EXPECT_EQ(header[key], want[key]) << key;
    }
    // The MQ1A extension: extended timestamp, shutter time in ns, counter depth.
    const auto& tail = want["tail_fields"];
    EXPECT_EQ(header["extended_timestamp"], tail[1]);
    EXPECT_EQ(header["shutter_time_ns"], tail[2]);
    EXPECT_EQ(std::to_string(header["counter_depth"].get<int>()), tail[3].get<std::string>());
    EXPECT_EQ(metadata["sequence_first"], raw["sequence_numbers"].front());
    EXPECT_EQ(metadata["sequence_last"], raw["sequence_numbers"].back());
    if (raw.contains("hdr_file")) {
      for (const auto& item : raw["hdr_file"].items()) {
        EXPECT_EQ(metadata["hdr"][item.key()], item.value()) << item.key();
      }
    }
  }
}

}  // namespace
}  // namespace tessera::formats
