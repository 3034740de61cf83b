// SPDX-License-Identifier: MIT
#include "tessera/formats/msa/msa_format.h"

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

const std::string kHeader =
    "#FORMAT      : EMSA/MAS Spectral Data File\n"
    "#VERSION     : 1.0\n"
    "#TITLE       : synthetic\n"
    "#NPOINTS     : 4.\n"
    "#NCOLUMNS    : 1.\n"
    "#XUNITS      : eV\n"
    "#XPERCHAN    : 2.5\n"
    "#OFFSET      : -10\n"
    "#BEAMKV   -kV: 200.0\n";

// ---- real files from ../shared/data/msa ----

TEST(MsaRealFiles, EveryFileMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  for (const char* name : {"example1.msa", "example2.msa"}) {
    SCOPED_TRACE(name);
    const std::string path = *data + "/msa/" + name;
    std::ifstream in(path + ".expected.json");
    ASSERT_TRUE(in.good()) << path;
    const auto signal = nlohmann::json::parse(in)["signals"][0];
    auto ds = OpenAndMatch(registry, path, "msa", signal);
    EXPECT_EQ(ds->meta().shape.nav_dims(), 0);
    const auto& expected_axis = signal["axes"][0];
    const auto& axis = ds->meta().axes.at(0);
    EXPECT_EQ(axis.name, expected_axis["name"].get<std::string>());
    EXPECT_EQ(axis.size, expected_axis["size"].get<int64_t>());
    EXPECT_DOUBLE_EQ(axis.scale, expected_axis["scale"].get<double>());
    EXPECT_DOUBLE_EQ(axis.offset, expected_axis["offset"].get<double>());
    EXPECT_EQ(axis.units, expected_axis["units"].get<std::string>());
    const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
    EXPECT_EQ(meta["keywords"]["TITLE"], signal["metadata"]["General.title"]);
    EXPECT_EQ(meta["keywords"]["BEAMKV"], "120.0");
    EXPECT_EQ(meta["keyword_units"]["BEAMKV"], "kV");
    EXPECT_NE(ds->DirectFrames(0, 1), nullptr);
  }
}

// ---- synthetic files ----

TEST(MsaFormat, ReadsYAndXyData) {
  TempDir dir;
  const std::string y_path = dir.File("y.msa");
  WriteBytes(y_path, kHeader + "#DATATYPE    : Y\n#SPECTRUM    :\n1.5, 2, 3.25,\n-4\n#ENDOFDATA   :\n");
  const std::string xy_path = dir.File("xy.txt");
  WriteBytes(xy_path, kHeader +
                          "#DATATYPE    : XY\n#SPECTRUM    :\n-10, 1.5\n-7.5, 2\n-5 3.25\n-2.5,-4\n"
                          "#ENDOFDATA   :\n");
  for (const auto& path : {y_path, xy_path}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(Builtins().Detect(path, {}).name, "msa");
    auto ds = Builtins().Open(path, {});
    EXPECT_EQ(ds->meta().shape, Shape({}, {4}));
    EXPECT_EQ(ds->meta().dtype, DType::kFloat64);
    std::vector<float> out(2);
    ds->ReadFrames(0, 1, {2, 4}, out.data(), DType::kFloat32);
    EXPECT_EQ(out, (std::vector<float>{3.25f, -4.0f}));
    EXPECT_DOUBLE_EQ(ds->meta().axes[0].scale, 2.5);
    EXPECT_DOUBLE_EQ(ds->meta().axes[0].offset, -10.0);
    EXPECT_EQ(ds->meta().axes[0].units, "eV");
  }
}

TEST(MsaFormat, MalformedFilesNameTheFileAndField) {
  TempDir dir;
  const std::string path = dir.File("bad.msa");
  auto expect = [&](const std::string& text, const std::vector<std::string>& names) {
    WriteBytes(path, text);
    std::vector<std::string> all = names;
    all.push_back(path);
    ExpectError([&] { OpenMsa(path); }, ErrorCode::kCorruptFile, all);
  };
  // Truncated: the data section is cut short or missing.
  expect(kHeader + "#SPECTRUM    :\n1, 2, 3\n", {"NPOINTS", "truncated", "3"});
  expect(kHeader, {"SPECTRUM"});
  // Missing keys.
  expect("#TITLE : x\n#NPOINTS : 1\n#SPECTRUM :\n1\n", {"FORMAT"});
  expect("#FORMAT : EMSA/MAS Spectral Data File\n#SPECTRUM :\n1\n", {"NPOINTS"});
  // Bad numbers.
  expect(kHeader + "#SPECTRUM    :\n1, 2, x3, 4\n", {"SPECTRUM", "x3", "offset"});
  expect("#FORMAT : EMSA/MAS Spectral Data File\n#NPOINTS : many\n#SPECTRUM :\n1\n",
         {"NPOINTS", "many"});
  expect(kHeader + "#XPERCHAN : 1.2.3\n#SPECTRUM :\n1, 2, 3, 4\n", {"XPERCHAN", "1.2.3"});
  expect(kHeader + "#DATATYPE : XY\n#SPECTRUM :\n1, 2, 3\n", {"SPECTRUM"});
  expect(kHeader + "#DATATYPE : Z\n#SPECTRUM :\n1, 2, 3, 4\n", {"DATATYPE"});
}

TEST(MsaFormat, SniffNeedsTheFormatLine) {
  TempDir dir;
  const std::string path = dir.File("notes.txt");
  WriteBytes(path, "#TITLE : not an EMSA file\n1, 2\n");
  ExpectError([&] { Builtins().Detect(path, {}); }, ErrorCode::kUnsupported, {path});
}

}  // namespace
}  // namespace tessera::formats
