// SPDX-License-Identifier: MIT
#include "tessera/formats/empad/empad_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "tessera/formats/format_registry.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::ExpectError;
using testing::Builtins;
using testing::TempDir;
using testing::WriteBytes;

/// numpy.arange(frames * 130 * 128, dtype="<f4").tobytes(), as the shared test .raw.
std::string ArangeFrames(int64_t frames) {
  std::string out;
  out.resize(static_cast<size_t>(frames * 130 * 128 * 4));
  for (int64_t i = 0; i < frames * 130 * 128; ++i) {
    const auto value = static_cast<float>(i);
    std::memcpy(out.data() + i * 4, &value, 4);  // the tests run on little-endian hosts
  }
  return out;
}

std::string Xml(const std::string& body) {
  return "<?xml version=\"1.0\"?>\n<root name=\"acquisition_1\"><timestamp timestamp=\"1\" "
         "isoformat=\"2019-06-06T13:30:00\"/>" +
         body + "</root>";
}

TEST(EmpadRealFiles, MapFourByFourMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const std::string path = *data + "/empad/map4x4.xml";
  std::ifstream in(path + ".expected.json");
  const auto signal = nlohmann::json::parse(in)["signals"][0];
  const FormatRegistry registry = Builtins();
  EXPECT_EQ(registry.Detect(path, {}).name, "empad");
  auto ds = registry.Open(path, {});
  EXPECT_EQ(ds->meta().format, "empad");
  EXPECT_EQ(ds->meta().shape.dims(), signal["shape"].get<std::vector<int64_t>>());
  EXPECT_EQ(ds->meta().shape.nav_dims(), 2);
  EXPECT_EQ(Name(ds->meta().dtype), signal["dtype"].get<std::string>());
  const int64_t frames = ds->meta().shape.nav_size(), sig = ds->meta().shape.sig_size();
  std::vector<double> values(static_cast<size_t>(frames * sig));
  ds->ReadFrames(0, frames, {0, sig}, values.data(), DType::kFloat64);
  double sum = 0;
  for (const double v : values) sum += v;
  const double expected_sum = signal["stats"]["sum"].get<double>();
  EXPECT_NEAR(sum, expected_sum, 1e-9 * expected_sum);
  EXPECT_EQ(*std::min_element(values.begin(), values.end()), signal["stats"]["min"].get<double>());
  EXPECT_EQ(*std::max_element(values.begin(), values.end()), signal["stats"]["max"].get<double>());
  for (const auto& axis : signal["axes"]) {
    const auto& got = ds->meta().axes[axis["index_in_array"].get<size_t>()];
    SCOPED_TRACE(got.name);
    EXPECT_EQ(got.size, axis["size"].get<int64_t>());
    EXPECT_NEAR(got.scale, axis["scale"].get<double>(), 1e-9 * std::abs(axis["scale"].get<double>()));
    EXPECT_NEAR(got.offset, axis["offset"].get<double>(), 1e-9);
    EXPECT_EQ(got.units, axis["units"].get<std::string>());
  }
  const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
  EXPECT_EQ(meta["timestamp"], "2019-06-06T13:30:00.164675");
  EXPECT_EQ(meta["beam_energy_eV"], 300000.0);
  ASSERT_EQ(ds->meta().files.size(), 2u);
  EXPECT_EQ(ds->meta().files[0].size, 4 * 4 * 130 * 128 * 4);

  // The .raw alone: square scan inferred from its size; nav_shape overrides.
  const std::string raw = *data + "/empad/scan_x4_y4.raw";
  auto bare = registry.Open(raw, {}, "empad");
  EXPECT_EQ(bare->meta().shape, Shape({4, 4}, {128, 128}));
  testing::ExpectSameFrames(*ds, *bare);
  EXPECT_EQ(registry.Open(raw, {{"nav_shape", "16"}}, "empad")->meta().shape,
            Shape({16}, {128, 128}));
}

TEST(EmpadFormat, NonSquareScanDropsTheTwoMetadataRows) {
  TempDir dir;
  WriteBytes(dir.File("scan.raw"), ArangeFrames(6));
  const std::string xml = dir.File("acq.xml");
  WriteBytes(xml, Xml("<pix_x>3</pix_x><pix_y>2</pix_y><raw_file filename=\"scan.raw\"/>"));
  auto ds = Builtins().Open(xml, {});
  EXPECT_EQ(ds->meta().shape, Shape({2, 3}, {128, 128}));
  EXPECT_EQ(ds->meta().axes[0].name, "scan_y");
  EXPECT_EQ(ds->meta().axes[1].name, "scan_x");
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
  // Frames 4..6, signal rows 127 and the first half of nothing more: pixels [127*128, 128*128).
  std::vector<float> out(2 * 128);
  ds->ReadFrames(4, 6, {127 * 128, 128 * 128}, out.data(), DType::kFloat32);
  for (int f = 0; f < 2; ++f) {
    for (int i = 0; i < 128; ++i) {
      ASSERT_EQ(out[static_cast<size_t>(f * 128 + i)],
                static_cast<float>((4 + f) * 130 * 128 + 127 * 128 + i));
    }
  }
  std::vector<uint32_t> first(4);
  ds->ReadFrames(1, 2, {0, 4}, first.data(), DType::kUint32);
  EXPECT_EQ(first, (std::vector<uint32_t>{16640, 16641, 16642, 16643}));
  ds->WillNeed(0, 6);
  // A series (<series_count>) has one navigation axis.
  WriteBytes(xml, Xml("<scan_parameters><series_count>6</series_count></scan_parameters>"
                      "<raw_file filename='scan.raw'/>"));
  EXPECT_EQ(OpenEmpad(xml, {})->meta().shape, Shape({6}, {128, 128}));
}

TEST(EmpadFormat, RejectsBadXmlAndRawFiles) {
  TempDir dir;
  const std::string xml = dir.File("acq.xml");
  const std::string raw = dir.File("scan.raw");
  WriteBytes(raw, ArangeFrames(4));
  // No raw_file tag: chosen by its extension only, then an error naming the missing tag.
  WriteBytes(xml, Xml("<pix_x>2</pix_x><pix_y>2</pix_y>"));
  auto info = ExpectError([&] { Builtins().Open(xml, {}); }, ErrorCode::kCorruptFile,
                          {xml, "raw_file"});
  EXPECT_EQ(info.field, "raw_file");
  // Missing scan size; bad scan size.
  WriteBytes(xml, Xml("<raw_file filename=\"scan.raw\"/>"));
  ExpectError([&] { OpenEmpad(xml, {}); }, ErrorCode::kCorruptFile, {xml, "pix_x"});
  WriteBytes(xml, Xml("<pix_x>-2</pix_x><pix_y>2</pix_y><raw_file filename=\"scan.raw\"/>"));
  info = ExpectError([&] { OpenEmpad(xml, {}); }, ErrorCode::kCorruptFile, {xml, "pix_x", "-2"});
  EXPECT_GT(*info.offset, 0);
  // Raw file missing, too short, too long.
  WriteBytes(xml, Xml("<pix_x>2</pix_x><pix_y>2</pix_y><raw_file filename=\"gone.raw\"/>"));
  ExpectError([&] { OpenEmpad(xml, {}); }, ErrorCode::kNotFound, {xml, "gone.raw"});
  WriteBytes(xml, Xml("<pix_x>3</pix_x><pix_y>2</pix_y><raw_file filename=\"scan.raw\"/>"));
  info = ExpectError([&] { OpenEmpad(xml, {}); }, ErrorCode::kCorruptFile,
                     {raw, "truncated", "(scan 2x3"});
  EXPECT_EQ(info.offset, 4 * 130 * 128 * 4);
  WriteBytes(xml, Xml("<pix_x>1</pix_x><pix_y>2</pix_y><raw_file filename=\"scan.raw\"/>"));
  ExpectError([&] { OpenEmpad(xml, {}); }, ErrorCode::kCorruptFile, {raw, "left over"});
  // A bare raw that is not whole frames.
  WriteBytes(raw, ArangeFrames(4).substr(0, 1000));
  ExpectError([&] { Builtins().Open(raw, {}, "empad"); }, ErrorCode::kCorruptFile,
              {raw, "whole number", "nav_shape"});
  ExpectError([&] { Builtins().Open(raw, {{"nav_shape", "0x2"}}, "empad"); },
              ErrorCode::kInvalidArgument, {raw, "nav_shape"});
  // Not XML at all.
  WriteBytes(xml, "hello");
  ExpectError([&] { OpenEmpad(xml, {}); }, ErrorCode::kCorruptFile, {xml, "root"});
}

}  // namespace
}  // namespace tessera::formats
