// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/npy/npy_format.h"
#include "tessera/formats/raw/raw_format.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::Builtins;
using testing::ExpectError;
using testing::TempDir;
using testing::WriteBytes;

std::string Uint16Bytes(int64_t count, bool big_endian, uint16_t first = 0) {
  std::string out;
  for (int64_t i = 0; i < count; ++i) {
    const auto v = static_cast<uint16_t>(first + i * 7);
    const char lo = static_cast<char>(v & 0xff), hi = static_cast<char>(v >> 8);
    out += big_endian ? hi : lo;
    out += big_endian ? lo : hi;
  }
  return out;
}

OpenParams RawParams(const std::string& dtype = "uint16") {
  return {{"nav_shape", "3x4"}, {"sig_shape", "5x6"}, {"dtype", dtype}};
}

// ---- registry ----

TEST(FormatRegistry, RejectsDuplicatesAndMissingDocs) {
  FormatRegistry registry = Builtins();
  EXPECT_GE(registry.entries().size(), 3u);  // raw, npy, hdf5 and the readers in folders
  ASSERT_NE(registry.Find("raw"), nullptr);
  EXPECT_EQ(registry.Find("nope"), nullptr);
  ExpectError([&] { registry.Add(RawFormatEntry()); }, ErrorCode::kInvalidArgument, {"raw"});
  FormatEntry no_summary = RawFormatEntry();
  no_summary.name = "raw2";
  no_summary.summary.clear();
  ExpectError([&] { registry.Add(no_summary); }, ErrorCode::kInvalidArgument, {"summary"});
  FormatEntry no_help = RawFormatEntry();
  no_help.name = "raw3";
  no_help.params[0].help.clear();
  ExpectError([&] { registry.Add(no_help); }, ErrorCode::kInvalidArgument, {"nav_shape"});
  for (const FormatEntry* entry : registry.entries()) {
    EXPECT_FALSE(entry->summary.empty());
    for (const auto& param : entry->params) EXPECT_FALSE(param.help.empty()) << param.name;
  }
}

TEST(FormatRegistry, DetectsBySniffingThenRawParamsThenExtension) {
  TempDir dir;
  FormatRegistry registry = Builtins();
  NdArray array(DType::kFloat32, {2, 3, 4});
  // An NPY file with a misleading extension is still NPY.
  WriteNpy(dir.File("array.bin"), array);
  EXPECT_EQ(registry.Detect(dir.File("array.bin"), {}).name, "npy");
  // Raw parameters choose raw for an unknown extension.
  WriteBytes(dir.File("frames.dat"), Uint16Bytes(360, false));
  EXPECT_EQ(registry.Detect(dir.File("frames.dat"), RawParams()).name, "raw");
  EXPECT_EQ(registry.Open(dir.File("frames.dat"), RawParams())->meta().format, "raw");
  // Extension alone.
  WriteBytes(dir.File("frames.raw"), Uint16Bytes(360, false));
  EXPECT_EQ(registry.Detect(dir.File("frames.raw"), {}).name, "raw");
  // A named format wins over everything.
  EXPECT_EQ(registry.Detect(dir.File("array.bin"), {}, "raw").name, "raw");
  // HDF5 path syntax: sniffed from the file part.
  ExpectError([&] { registry.Detect(dir.File("missing.h5") + ":/data", {}); },
              ErrorCode::kNotFound, {"missing.h5"});
  ExpectError([&] { registry.Detect(dir.File("frames.dat"), {}); }, ErrorCode::kUnsupported,
              {"frames.dat", "cannot tell the format", "--format"});
  ExpectError([&] { registry.Detect(dir.File("frames.dat"), {}, "jpeg"); },
              ErrorCode::kInvalidArgument, {"jpeg", "raw"});
  // Parameters the chosen format does not take are refused, naming them.
  ExpectError([&] { registry.Open(dir.File("array.bin"), {{"offset", "3"}}); },
              ErrorCode::kInvalidArgument, {"offset", "npy"});
}

TEST(FormatRegistry, SplitsHdf5DatasetPaths) {
  EXPECT_EQ(SplitDatasetPath("/tmp/x.h5:/entry/data"),
            std::make_pair(std::string("/tmp/x.h5"), std::string("/entry/data")));
  EXPECT_EQ(SplitDatasetPath("x.h5"), std::make_pair(std::string("x.h5"), std::string()));
  EXPECT_EQ(SplitDatasetPath("C:/x"), std::make_pair(std::string("C"), std::string("/x")));
}

// ---- raw ----

TEST(RawFormat, ReadsZeroCopyAndConverts) {
  TempDir dir;
  const std::string path = dir.File("frames.raw");
  WriteBytes(path, Uint16Bytes(3 * 4 * 5 * 6, false));
  auto ds = Builtins().Open(path, RawParams());
  EXPECT_EQ(ds->meta().shape, Shape({3, 4}, {5, 6}));
  EXPECT_EQ(ds->meta().dtype, DType::kUint16);
  ASSERT_EQ(ds->meta().files.size(), 1u);
  EXPECT_EQ(ds->meta().files[0].size, 360 * 2);
  const auto* direct = reinterpret_cast<const uint16_t*>(ds->DirectFrames(2, 5));
  ASSERT_NE(direct, nullptr);
  EXPECT_EQ(direct[0], static_cast<uint16_t>(2 * 30 * 7));
  std::vector<float> out(3 * 12);
  ds->ReadFrames(1, 4, {6, 18}, out.data(), DType::kFloat32);
  for (int f = 0; f < 3; ++f) {
    for (int i = 0; i < 12; ++i) {
      EXPECT_EQ(out[f * 12 + i], static_cast<float>(static_cast<uint16_t>(((1 + f) * 30 + 6 + i) * 7)));
    }
  }
  ds->WillNeed(0, 12);
}

TEST(RawFormat, BigEndianAndOffset) {
  TempDir dir;
  const std::string path = dir.File("frames.bin");
  WriteBytes(path, std::string(3, 'h') + Uint16Bytes(360, true));
  OpenParams params = RawParams();
  params["endian"] = "big";
  params["offset"] = "3";
  auto ds = Builtins().Open(path, params);
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);  // needs a byteswap
  std::vector<uint16_t> out(360);
  ds->ReadFrames(0, 12, {0, 30}, out.data(), DType::kUint16);
  for (int i = 0; i < 360; ++i) ASSERT_EQ(out[i], static_cast<uint16_t>(i * 7));
  // A little-endian file at an odd offset decodes correctly but is not served zero copy.
  WriteBytes(path, std::string(3, 'h') + Uint16Bytes(360, false));
  params.erase("endian");
  auto odd = Builtins().Open(path, params);
  EXPECT_EQ(odd->DirectFrames(0, 1), nullptr);
  odd->ReadFrames(0, 12, {0, 30}, out.data(), DType::kUint16);
  for (int i = 0; i < 360; ++i) ASSERT_EQ(out[i], static_cast<uint16_t>(i * 7));
}

TEST(RawFormat, RejectsSizeMismatchAndBadParams) {
  TempDir dir;
  const std::string path = dir.File("frames.raw");
  WriteBytes(path, Uint16Bytes(359, false));  // one element short
  auto info = ExpectError([&] { Builtins().Open(path, RawParams()); }, ErrorCode::kCorruptFile,
                          {path, "718 bytes", "720 bytes from offset 0", "(3, 4, 5, 6)"});
  EXPECT_EQ(info.file, path);
  EXPECT_EQ(info.offset, 0);
  OpenParams with_offset = RawParams();
  with_offset["offset"] = "1000";
  info = ExpectError([&] { Builtins().Open(path, with_offset); }, ErrorCode::kCorruptFile,
                     {path, "offset 1000"});
  EXPECT_EQ(info.offset, 1000);

  WriteBytes(path, Uint16Bytes(361, false));  // one element too many
  info = ExpectError([&] { Builtins().Open(path, RawParams()); }, ErrorCode::kCorruptFile,
                     {path, "722 bytes", "allow_trailing"});
  EXPECT_EQ(info.offset, 720);
  OpenParams trailing = RawParams();
  trailing["allow_trailing"] = "true";
  EXPECT_EQ(Builtins().Open(path, trailing)->meta().shape.size(), 360);

  for (const char* field : {"nav_shape", "sig_shape", "dtype"}) {
    OpenParams missing = RawParams();
    missing.erase(field);
    info = ExpectError([&] { Builtins().Open(path, missing, "raw"); },
                       ErrorCode::kInvalidArgument, {field, path});
    EXPECT_EQ(info.field, field);
  }
  ExpectError([&] { Builtins().Open(path, RawParams("uint12")); }, ErrorCode::kInvalidArgument,
              {"dtype", "uint12"});
  OpenParams bad_dims = RawParams();
  bad_dims["nav_shape"] = "3xfoo";
  ExpectError([&] { Builtins().Open(path, bad_dims); }, ErrorCode::kInvalidArgument,
              {"nav_shape"});
  OpenParams bad_endian = RawParams();
  bad_endian["endian"] = "middle";
  ExpectError([&] { Builtins().Open(path, bad_endian); }, ErrorCode::kInvalidArgument,
              {"endian", "middle"});
  ExpectError([&] { Builtins().Open(dir.File("none.raw"), RawParams()); }, ErrorCode::kNotFound,
              {"none.raw"});
}

// ---- npy ----

std::string NpyFile(const std::string& dict, int major = 1, const std::string& data = "") {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const auto len = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST(NpyFormat, RoundTripsEveryDtypeZeroCopy) {
  TempDir dir;
  for (DType dtype : {DType::kUint8, DType::kInt16, DType::kUint16, DType::kInt32, DType::kUint32,
                      DType::kInt64, DType::kFloat32, DType::kFloat64, DType::kComplex64}) {
    NdArray array(dtype, {2, 3, 4, 5});
    NdArray source(DType::kFloat64, {2, 3, 4, 5});
    auto values = source.flat<double>();
    std::iota(values.begin(), values.end(), 0.0);
    auto mem = dataset::MakeMemoryDataset(std::move(source), 2);
    mem->ReadFrames(0, 6, {0, 20}, array.raw(), dtype);
    const std::string path = dir.File(std::string(Name(dtype)) + ".npy");
    WriteNpy(path, array);
    auto ds = Builtins().Open(path, {});
    EXPECT_EQ(ds->meta().format, "npy");
    EXPECT_EQ(ds->meta().dtype, dtype);
    EXPECT_EQ(ds->meta().shape, Shape({2, 3}, {4, 5}));
    const std::byte* direct = ds->DirectFrames(1, 6);
    ASSERT_NE(direct, nullptr) << Name(dtype);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(ds->DirectFrames(0, 1)) % 64, 0u);
    EXPECT_EQ(std::memcmp(direct, static_cast<const std::byte*>(array.raw()) + 20 * SizeOf(dtype),
                          static_cast<size_t>(5 * 20 * SizeOf(dtype))),
              0);
    testing::ExpectSameFrames(*mem, *ds);
  }
}

TEST(NpyFormat, HeaderVersionsSigDimsAndBigEndian) {
  TempDir dir;
  const std::string data = Uint16Bytes(24, true);
  for (int major : {1, 2, 3}) {
    const std::string path = dir.File(fmt::format("v{}.npy", major));
    WriteBytes(path, NpyFile("{\"descr\": \">u2\", \"fortran_order\": False, \"shape\": (2, 3, 4)}",
                             major, data));
    auto ds = OpenNpy(path);
    EXPECT_EQ(ds->meta().shape, Shape({2}, {3, 4}));
    EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
    std::vector<uint16_t> out(24);
    ds->ReadFrames(0, 2, {0, 12}, out.data(), DType::kUint16);
    for (int i = 0; i < 24; ++i) ASSERT_EQ(out[i], i * 7);
  }
  const std::string path = dir.File("v1.npy");
  EXPECT_EQ(Builtins().Open(path, {{"sig_dims", "1"}})->meta().shape, Shape({2, 3}, {4}));
  EXPECT_EQ(Builtins().Open(path, {{"sig_dims", "3"}})->meta().shape, Shape({}, {2, 3, 4}));
  ExpectError([&] { Builtins().Open(path, {{"sig_dims", "4"}}); }, ErrorCode::kInvalidArgument,
              {path, "sig_dims"});
  // 1-D arrays: one signal axis; Python 2 longs; odd spacing; trailing comma in the tuple.
  const std::string one_d = dir.File("one_d.npy");
  WriteBytes(one_d, NpyFile("{'descr':'<u2','fortran_order':False,'shape':(5L,),}", 1,
                            Uint16Bytes(5, false)));
  EXPECT_EQ(OpenNpy(one_d)->meta().shape, Shape({}, {5}));
  // Fortran order of a 1-D array is the same layout.
  WriteBytes(one_d, NpyFile("{'descr': '<u2', 'fortran_order': True, 'shape': (5,), }", 1,
                            Uint16Bytes(5, false)));
  EXPECT_EQ(OpenNpy(one_d)->meta().shape, Shape({}, {5}));
}

TEST(NpyFormat, WritesWhatNumpyWrites) {
  const int64_t shape[] = {2, 3};
  const std::string header = MakeNpyHeader(DType::kFloat32, shape);
  EXPECT_EQ(header.size() % 64, 0u);
  EXPECT_EQ(header.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(header.substr(10, 48), "{'descr': '<f4', 'fortran_order': False, 'shape'");
  EXPECT_EQ(static_cast<uint8_t>(header[8]) + 256 * static_cast<uint8_t>(header[9]) + 10,
            static_cast<int>(header.size()));
  EXPECT_NE(header.find("'shape': (2, 3), }"), std::string::npos);
  EXPECT_EQ(header.back(), '\n');
  const int64_t one[] = {7};
  EXPECT_NE(MakeNpyHeader(DType::kUint8, one).find("'|u1'"), std::string::npos);
  EXPECT_NE(MakeNpyHeader(DType::kUint8, one).find("(7,)"), std::string::npos);
}

TEST(NpyFormat, RejectsMalformedFiles) {
  TempDir dir;
  const std::string path = dir.File("bad.npy");
  const auto expect = [&](const std::string& bytes, ErrorCode code,
                          const std::vector<std::string>& names) {
    WriteBytes(path, bytes);
    std::vector<std::string> all = names;
    all.push_back(path);
    return ExpectError([&] { OpenNpy(path); }, code, all);
  };
  const std::string good_dict = "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }";
  auto info = expect("\x93NUMPX" + NpyFile(good_dict).substr(6), ErrorCode::kCorruptFile,
                     {"magic"});
  EXPECT_EQ(info.offset, 0);
  EXPECT_EQ(info.field, "magic");
  info = expect("\x93NUMPY\x01", ErrorCode::kCorruptFile, {"preamble"});
  info = expect(NpyFile(good_dict).substr(0, 40), ErrorCode::kCorruptFile,
                {"header_len", "runs past the end"});
  EXPECT_EQ(info.offset, 8);
  info = expect(NpyFile("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3}"),
                ErrorCode::kCorruptFile, {"header", "offset"});
  EXPECT_GT(*info.offset, 10);
  info = expect(NpyFile("{'descr': '<u2', 'fortran_order': Nope, 'shape': (2, 3), }"),
                ErrorCode::kCorruptFile, {"offset 44"});
  EXPECT_EQ(info.offset, 44);
  info = expect(NpyFile("{'descr': '<u2', 'shape': (2, 3), }"), ErrorCode::kCorruptFile,
                {"fortran_order"});
  EXPECT_EQ(info.field, "fortran_order");
  info = expect(NpyFile("{'descr': '<u2', 'fortran_order': False, 'shape': (2, -3), }"),
                ErrorCode::kCorruptFile, {"shape"});
  info = expect(NpyFile("{'descr': '<u2', 'fortran_order': True, 'shape': (2, 3), }", 1,
                        Uint16Bytes(6, false)),
                ErrorCode::kUnsupported, {"fortran_order"});
  EXPECT_EQ(info.field, "fortran_order");
  info = expect(NpyFile(good_dict, 1, Uint16Bytes(5, false)), ErrorCode::kCorruptFile,
                {"truncated", "12 bytes from offset 128"});
  EXPECT_EQ(info.offset, 128);
  info = expect(NpyFile("{'descr': [('a', '<u2')], 'fortran_order': False, 'shape': (2,), }"),
                ErrorCode::kUnsupported, {"descr", "structured"});
  info = expect(NpyFile("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }"),
                ErrorCode::kUnsupported, {"descr", "<f2"});
  info = expect(NpyFile(good_dict, 9), ErrorCode::kUnsupported, {"version"});
  // Deep nesting is an error, not a stack overflow.
  info = expect(NpyFile("{'descr': " + std::string(5000, '(') + "}"), ErrorCode::kCorruptFile,
                {"nested"});
  info = expect(NpyFile("{'descr': '<u2', 'fortran_order': False, 'shape': (99999999999999999999,"
                        " 2), }"),
                ErrorCode::kCorruptFile, {"too large"});
  info = expect(std::string(), ErrorCode::kCorruptFile, {"magic"});
}

}  // namespace
}  // namespace tessera::formats
