// SPDX-License-Identifier: MIT
#include "tessera/formats/ripple/ripple_format.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
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

// ---- real files from ../shared/data/raw ----

TEST(RippleRealFiles, EveryFileMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  for (const char* name :
       {"test_ripple_sdim-1_ndim-2_int32.rpl", "test_ripple_sdim-2_ndim-0_uint8.rpl",
        "test_ripple_sdim-2_ndim-1_float32_meta.rpl", "test_ripple_sdim-2_ndim-1_uint16.rpl"}) {
    SCOPED_TRACE(name);
    const std::string path = *data + "/raw/" + name;
    std::ifstream in(path + ".expected.json");
    ASSERT_TRUE(in.good()) << path;
    const auto signal = nlohmann::json::parse(in)["signals"][0];
    auto ds = OpenAndMatch(registry, path, "ripple", signal);
    const auto& axes = ds->meta().axes;
    ASSERT_EQ(axes.size(), signal["axes"].size());
    int nav_dims = 0;
    for (size_t i = 0; i < axes.size(); ++i) {
      const auto& expected = signal["axes"][i];
      EXPECT_EQ(axes[i].name, expected["name"].get<std::string>()) << i;
      EXPECT_EQ(axes[i].size, expected["size"].get<int64_t>()) << i;
      EXPECT_DOUBLE_EQ(axes[i].scale, expected["scale"].get<double>()) << i;
      EXPECT_DOUBLE_EQ(axes[i].offset, expected["offset"].get<double>()) << i;
      EXPECT_EQ(axes[i].units, expected["units"].get<std::string>()) << i;
      if (expected["navigate"].get<bool>()) ++nav_dims;
    }
    EXPECT_EQ(ds->meta().shape.nav_dims(), nav_dims);
    EXPECT_EQ(ds->meta().files.size(), 2u);
    const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
    EXPECT_EQ(meta["keys"]["title"], signal["metadata"]["General.title"]);
  }
}

// ---- synthetic files ----

std::string Rpl(const std::string& extra) {
  return ";comment\nkey\tvalue\nwidth\t3\nheight\t2\ndepth\t4\noffset\t2\n" + extra;
}

TEST(RippleFormat, ReadsBigEndianVectorData) {
  TempDir dir;
  const std::string path = dir.File("be.rpl");
  WriteBytes(path, Rpl("data-length\t2\ndata-type\tsigned\nbyte-order\tbig-endian\n"
                       "record-by\tvector\n"));
  std::string raw = "xx";
  for (int i = 0; i < 24; ++i) {
    const auto value = static_cast<uint16_t>(static_cast<int16_t>(i * 100 - 1000));
    raw += static_cast<char>(value >> 8);
    raw += static_cast<char>(value & 0xff);
  }
  WriteBytes(dir.File("be.raw"), raw);
  auto ds = Builtins().Open(path, {});
  EXPECT_EQ(ds->meta().shape, Shape({2, 3}, {4}));
  EXPECT_EQ(ds->meta().dtype, DType::kInt16);
  EXPECT_EQ(ds->DirectFrames(0, 6), nullptr);
  std::vector<int32_t> out(2 * 2);
  ds->ReadFrames(4, 6, {1, 3}, out.data(), DType::kInt32);
  EXPECT_EQ(out, (std::vector<int32_t>{700, 800, 1100, 1200}));
  EXPECT_EQ(ds->meta().axes[0].name, "height");
  EXPECT_EQ(ds->meta().axes[0].units, "px");
}

TEST(RippleFormat, ImageStacksAreZeroCopy) {
  TempDir dir;
  const std::string path = dir.File("img.rpl");
  WriteBytes(path, "width 3\nheight 2\ndepth 4\noffset 0\ndata-length 1\ndata-type unsigned\n"
                   "byte-order dont-care\nrecord-by image\n");
  std::string raw;
  for (int i = 0; i < 24; ++i) raw += static_cast<char>(i);
  WriteBytes(dir.File("img.raw"), raw);
  auto ds = OpenRipple(path);
  EXPECT_EQ(ds->meta().shape, Shape({4}, {2, 3}));
  const std::byte* direct = ds->DirectFrames(1, 4);
  ASSERT_NE(direct, nullptr);
  EXPECT_EQ(std::to_integer<int>(direct[0]), 6);
}

TEST(RippleFormat, MalformedHeadersNameTheFileAndKey) {
  TempDir dir;
  const std::string path = dir.File("bad.rpl");
  std::string raw(48, '\0');
  WriteBytes(dir.File("bad.raw"), raw);
  auto expect = [&](const std::string& text, const std::vector<std::string>& names,
                    const std::string& file) {
    WriteBytes(path, text);
    std::vector<std::string> all = names;
    all.push_back(file);
    ExpectError([&] { OpenRipple(path); }, ErrorCode::kCorruptFile, all);
  };
  const std::string ok_type = "data-length\t2\ndata-type\tunsigned\nrecord-by\tvector\n";
  // Missing keys.
  expect("height\t2\ndepth\t4\n" + ok_type, {"width", "missing"}, path);
  expect(Rpl("data-length\t2\nrecord-by\tvector\n"), {"data-type"}, path);
  // Bad numbers and values.
  expect("width\tthree\nheight\t2\ndepth\t4\n" + ok_type, {"width", "three"}, path);
  expect("width\t-3\nheight\t2\ndepth\t4\n" + ok_type, {"width", "-3"}, path);
  expect(Rpl(ok_type + "depth-scale\t1,5\n"), {"depth-scale", "1,5"}, path);
  expect(Rpl("data-length\t3\ndata-type\tsigned\n"), {"data-length", "3"}, path);
  expect(Rpl("data-length\t2\ndata-type\tcomplex\n"), {"data-type", "complex"}, path);
  expect(Rpl(ok_type + "byte-order\tmiddle-endian\n"), {"byte-order", "middle-endian"}, path);
  expect(Rpl("data-length\t2\ndata-type\tunsigned\nrecord-by\tdont-care\n"),
         {"record-by", "ambiguous"}, path);
  // Data shorter than declared: offset 2 + 48 bytes do not fit in 48.
  expect(Rpl(ok_type), {"data-length", "truncated", "offset 2"}, dir.File("bad.raw"));
  // No .raw at all.
  WriteBytes(dir.File("lonely.rpl"), Rpl(ok_type));
  ExpectError([&] { OpenRipple(dir.File("lonely.rpl")); }, ErrorCode::kNotFound, {"lonely.raw"});
}

}  // namespace
}  // namespace tessera::formats
