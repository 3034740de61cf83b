// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <optional>
#include <random>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/formats/dm/dm_format.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

// Files whose DataType this reader does not decode yet; each must fail with kUnsupported
// naming the DataType (see docs/formats/dm.md, TODO).
const std::map<std::string, std::string> kUnsupportedFiles = {};
// Files checked by their own test because HyperSpy 1.7's view is wrong (see PackedComplex*).
const std::set<std::string> kOwnTestFiles = {"dm4/test_fft_packed_complex8.dm4"};

nlohmann::json LoadExpected(const std::string& path) {
  std::ifstream in(path + ".expected.json");
  return nlohmann::json::parse(in);
}

std::vector<std::string> DmFiles(const std::string& data) {
  std::vector<std::string> files;
  for (const char* folder : {"dm3", "dm4"}) {
    const std::string dir = data + "/" + folder;
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".dm3" || ext == ".dm4")) {
        files.push_back(entry.path().string());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string Relative(const std::string& path, const std::string& data) {
  return path.substr(data.size() + 1);
}

struct Stats {
  double sum = 0, min = INFINITY, max = -INFINITY;
};

void Add(Stats& stats, double value) {
  stats.sum += value;
  stats.min = std::min(stats.min, value);
  stats.max = std::max(stats.max, value);
}

void ExpectStats(const Stats& got, const nlohmann::json& want, const std::string& what) {
  const double sum = want["sum"].get<double>();
  EXPECT_NEAR(got.sum, sum, 1e-9 * std::max(1.0, std::abs(sum))) << what;
  EXPECT_EQ(got.min, want["min"].get<double>()) << what;
  EXPECT_EQ(got.max, want["max"].get<double>()) << what;
}

void CheckAgainstExpected(const dataset::Dataset& ds, const nlohmann::json& signal,
                          const std::string& name) {
  const auto& meta = ds.meta();
  auto shape = signal["shape"].get<std::vector<int64_t>>();
  // Structured R,G,B,A ("[('R', 'u1'), ...]") is viewed as uint8 with the channel last.
  const bool rgba = signal["dtype"].get<std::string>().rfind("[(", 0) == 0;
  if (rgba) {
    shape.push_back(4);
    EXPECT_EQ(meta.dtype, DType::kUint8) << name;
  } else {
    EXPECT_EQ(Name(meta.dtype), signal["dtype"].get<std::string>()) << name;
  }
  ASSERT_EQ(meta.shape.dims(), shape) << name;
  ASSERT_EQ(meta.axes.size(), shape.size()) << name;
  int nav_axes = 0;
  for (const auto& axis : signal["axes"]) {
    const auto index = axis["index_in_array"].get<size_t>();
    const auto& got = meta.axes[index];
    const std::string what = fmt::format("{} axis {}", name, index);
    nav_axes += axis["navigate"].get<bool>() ? 1 : 0;
    EXPECT_EQ(got.size, axis["size"].get<int64_t>()) << what;
    EXPECT_EQ(got.units, axis["units"].get<std::string>()) << what;
    EXPECT_NEAR(got.scale, axis["scale"].get<double>(), 1e-9 * std::abs(got.scale)) << what;
    EXPECT_NEAR(got.offset, axis["offset"].get<double>(),
                1e-9 * std::max(1.0, std::abs(got.offset)))
        << what;
  }
  EXPECT_EQ(meta.shape.nav_dims(), nav_axes) << name;

  const int64_t frames = meta.shape.nav_size(), sig = meta.shape.sig_size();
  if (IsComplex(meta.dtype)) {
    std::vector<std::complex<double>> values(static_cast<size_t>(frames * sig));
    ds.ReadFrames(0, frames, {0, sig}, values.data(), DType::kComplex128);
    Stats real, imag;
    for (const auto& value : values) {
      Add(real, value.real());
      Add(imag, value.imag());
    }
    ExpectStats(real, signal["stats"]["real"], name + " real");
    ExpectStats(imag, signal["stats"]["imag"], name + " imag");
  } else {
    std::vector<double> values(static_cast<size_t>(frames * sig));
    ds.ReadFrames(0, frames, {0, sig}, values.data(), DType::kFloat64);
    Stats stats;
    for (const double value : values) Add(stats, value);
    ExpectStats(stats, signal["stats"], name);
  }
  // Frame by frame, in two signal halves, gives the same as the whole read.
  if (frames > 0 && sig > 1) {
    const DType as = IsComplex(meta.dtype) ? DType::kComplex128 : DType::kFloat64;
    const auto n = static_cast<size_t>(IsComplex(meta.dtype) ? 2 * sig : sig);
    std::vector<double> whole(n), parts(n);
    const int64_t last = frames - 1;
    ds.ReadFrames(last, frames, {0, sig}, whole.data(), as);
    ds.ReadFrames(last, frames, {0, sig / 2}, parts.data(), as);
    ds.ReadFrames(last, frames, {sig / 2, sig}, parts.data() + n / 2, as);
    EXPECT_EQ(whole, parts) << name;
  }
}

TEST(DmRealFiles, ReproduceExpectedValues) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const auto files = DmFiles(*data);
  if (files.empty()) GTEST_SKIP() << "no DM files in " << *data;
  FormatRegistry registry;
  RegisterBuiltinFormats(registry);
  int checked = 0, unsupported = 0;
  for (const auto& path : files) {
    const std::string name = Relative(path, *data);
    SCOPED_TRACE(name);
    if (kOwnTestFiles.count(name) != 0) continue;
    if (kUnsupportedFiles.count(name) != 0) {
      testing::ExpectError([&] { registry.Open(path, {}); }, ErrorCode::kUnsupported,
                           {path, kUnsupportedFiles.at(name)});
      ++unsupported;
      continue;
    }
    const auto expected = LoadExpected(path);
    std::unique_ptr<dataset::Dataset> ds;
    try {
      ds = registry.Open(path, {});
    } catch (const Error& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    EXPECT_EQ(ds->meta().format, "dm");
    CheckAgainstExpected(*ds, expected["signals"][0], name);
    ++checked;
  }
  EXPECT_EQ(unsupported, static_cast<int>(kUnsupportedFiles.size()));
  EXPECT_GE(checked, 35) << "files reproduced";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::optional<std::string> SharedFile(const std::string& relative) {
  const auto data = testing::TestDataDir();
  if (!data || !std::filesystem::exists(*data + "/" + relative)) return std::nullopt;
  return *data + "/" + relative;
}

TEST(DmReader, TwoDimensionalImageHasAnEmptyNavigation) {
  const auto path = SharedFile("dm3/test_STEM_image.dm3");
  if (!path) GTEST_SKIP() << "shared test data not found";
  auto ds = OpenDm(*path);
  EXPECT_EQ(ds->meta().shape, Shape({}, {68, 68}));
  EXPECT_EQ(ds->meta().shape.nav_size(), 1);
  std::vector<uint32_t> frame(68 * 68);
  ds->ReadFrames(0, 1, {0, 68 * 68}, frame.data(), DType::kUint32);
  EXPECT_EQ(std::accumulate(frame.begin(), frame.end(), uint64_t{0}), uint64_t{150998555});
  if (const std::byte* direct = ds->DirectFrames(0, 1)) {
    EXPECT_EQ(std::memcmp(direct, frame.data(), frame.size() * 4), 0);
  }
  testing::ExpectError([&] { ds->ReadFrames(0, 2, {0, 1}, frame.data(), DType::kUint32); },
                       ErrorCode::kInvalidArgument, {"frames"});
}

TEST(DmReader, ImageParameterPicksAnotherImage) {
  const auto path = SharedFile("dm3/dtypes_2D/test-1.dm3");
  if (!path) GTEST_SKIP() << "shared test data not found";
  FormatRegistry registry;
  RegisterBuiltinFormats(registry);
  EXPECT_EQ(registry.Detect(*path, {}).name, "dm");
  auto thumbnail = registry.Open(*path, {{"image", "0"}});
  EXPECT_EQ(thumbnail->meta().shape, Shape({}, {64, 64, 4}));
  EXPECT_EQ(thumbnail->meta().dtype, DType::kUint8);
  auto image = registry.Open(*path, {{"image", "1"}});
  EXPECT_EQ(image->meta().shape, Shape({}, {2, 2}));
  testing::ExpectError([&] { registry.Open(*path, {{"image", "2"}}); },
                       ErrorCode::kInvalidArgument, {"no image 2", *path});
  testing::ExpectError([&] { registry.Open(*path, {{"image", "x"}}); },
                       ErrorCode::kInvalidArgument, {"'x'"});
}

TEST(DmReader, MetadataHoldsTheTagTreeWithLongArraysSummarised) {
  const auto path = SharedFile("dm4/EELS_SI.dm4");
  if (!path) GTEST_SKIP() << "shared test data not found";
  auto ds = OpenDm(*path);
  const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
  EXPECT_EQ(meta["dm_version"], 4);
  EXPECT_EQ(meta["image"], 1);
  ASSERT_EQ(meta["images"].size(), 2u);
  EXPECT_TRUE(meta["images"][0]["thumbnail"].get<bool>());
  const auto& image = meta["tags"]["ImageList"][1];
  EXPECT_EQ(image["ImageTags"]["Meta Data"]["Signal"], "EELS");
  EXPECT_EQ(image["ImageData"]["Data"], "<array of 8192 float32>");
  EXPECT_EQ(image["ImageData"]["Dimensions"], nlohmann::json::array({2, 2, 2048}));
  EXPECT_LT(ds->meta().metadata_json.size(), 200000u);
  // The spectrum image is stored energy-slowest; frame (1, 0) gathers its spectrum.
  EXPECT_EQ(ds->meta().shape, Shape({2, 2}, {2048}));
  EXPECT_EQ(ds->meta().axes[2].name, "Energy loss");
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
}

TEST(DmReader, SyntheticSeedsDecodeExactly) {
  // The fuzz seeds are tiny files written by a script of ours: their values are 0, 1, 2, ...
  const std::string dir = std::string(TESSERA_SOURCE_DIR) + "/fuzz/corpus/dm";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no " << dir;
  auto image = OpenDm(dir + "/image_2x3_uint16.dm3");
  EXPECT_EQ(image->meta().shape, Shape({}, {2, 3}));
  EXPECT_EQ(image->meta().dtype, DType::kUint16);
  EXPECT_EQ(image->meta().axes[1].units, "nm");
  EXPECT_DOUBLE_EQ(image->meta().axes[1].offset, 0.5);  // -Origin * Scale = 1 * 0.5
  std::vector<double> values(6);
  image->ReadFrames(0, 1, {0, 6}, values.data(), DType::kFloat64);
  EXPECT_EQ(values, (std::vector<double>{0, 1, 2, 3, 4, 5}));

  auto stack = OpenDm(dir + "/stack_2x2x2_int16.dm4");
  EXPECT_EQ(stack->meta().shape, Shape({2}, {2, 2}));

  // [x=2, y=1, E=4] fastest first: y is dropped, energy moves last, spectra are gathered.
  auto si = OpenDm(dir + "/si_2x1x4_float32.dm4");
  EXPECT_EQ(si->meta().shape, Shape({2}, {4}));
  std::vector<double> spectrum(4);
  si->ReadFrames(1, 2, {0, 4}, spectrum.data(), DType::kFloat64);
  EXPECT_EQ(spectrum, (std::vector<double>{1, 3, 5, 7}));
  si->ReadFrames(0, 1, {1, 3}, spectrum.data(), DType::kFloat64);
  EXPECT_EQ(spectrum[0], 2);
  EXPECT_EQ(spectrum[1], 4);
  const auto meta = nlohmann::json::parse(si->meta().metadata_json);
  const auto& data = meta["tags"]["ImageList"][0]["ImageData"];
  EXPECT_EQ(data["Point"], nlohmann::json::array({1.5, 2.5}));
  EXPECT_EQ(data["Points"], nlohmann::json::parse("[[1, 2], [3, 4]]"));
  EXPECT_EQ(meta["tags"]["ImageList"][0]["ImageTags"]["Title"], "seed");

  auto spectrum_file = OpenDm(dir + "/spectrum_8_float32.dm3");
  EXPECT_EQ(spectrum_file->meta().shape, Shape({}, {8}));
  EXPECT_EQ(spectrum_file->meta().axes[0].name, "Energy loss");
}

// ---- packed complex FFTs (DataType 27/28) ----

/// The centred 2-D DFT of a real ny x nx image (zero frequency at row ny/2, column nx/2).
std::vector<std::complex<double>> CentredDft(const std::vector<double>& image, int64_t ny,
                                             int64_t nx) {
  std::vector<std::complex<double>> out(static_cast<size_t>(ny * nx));
  for (int64_t r = 0; r < ny; ++r) {
    for (int64_t c = 0; c < nx; ++c) {
      const double ky = static_cast<double>(r - ny / 2), kx = static_cast<double>(c - nx / 2);
      std::complex<double> sum = 0;
      for (int64_t y = 0; y < ny; ++y) {
        for (int64_t x = 0; x < nx; ++x) {
          const double phase = -2 * M_PI * (ky * static_cast<double>(y) / static_cast<double>(ny) +
                                            kx * static_cast<double>(x) / static_cast<double>(nx));
          sum += image[static_cast<size_t>(y * nx + x)] * std::polar(1.0, phase);
        }
      }
      out[static_cast<size_t>(r * nx + c)] = sum;
    }
  }
  return out;
}

TEST(DmPackedComplex, UnpackingRestoresTheFullSpectrumOfARealImage) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> value(-3, 5);
  for (const auto& [ny, nx] : std::vector<std::pair<int64_t, int64_t>>{
           {4, 4}, {5, 5}, {4, 6}, {5, 4}, {3, 7}, {6, 5}, {1, 8}, {2, 1}}) {
    SCOPED_TRACE(fmt::format("{} x {}", ny, nx));
    std::vector<double> image(static_cast<size_t>(ny * nx));
    for (double& v : image) v = value(rng);
    const auto full = CentredDft(image, ny, nx);
    // Packed: every row (centred order), columns kx = 0 .. nx/2.
    const int64_t width = nx / 2 + 1;
    std::vector<std::complex<double>> packed;
    for (int64_t r = 0; r < ny; ++r) {
      for (int64_t kx = 0; kx < width; ++kx) {
        // kx = nx/2 of an even width is stored; in the centred frame it sits at column 0.
        packed.push_back(full[static_cast<size_t>(r * nx + (nx / 2 + kx) % nx)]);
      }
    }
    std::vector<std::complex<double>> unpacked(full.size());
    UnpackDmPackedComplex(packed.data(), ny, nx, unpacked.data());
    for (size_t i = 0; i < full.size(); ++i) {
      EXPECT_NEAR(std::abs(unpacked[i] - full[i]), 0.0, 1e-9) << "element " << i;
    }
  }
}

TEST(DmPackedComplex, SharedFftFileUnpacksToItsFullShape) {
  const auto path = SharedFile("dm4/test_fft_packed_complex8.dm4");
  if (!path) GTEST_SKIP() << "shared test data not found";
  const auto expected = LoadExpected(*path)["signals"][0];
  auto ds = testing::Builtins().Open(*path, {});
  // Dimensions are 5 x 5; Data holds 5 rows of 5/2 + 1 = 3 complex64 values.
  EXPECT_EQ(ds->meta().shape, Shape({}, {5, 5}));
  EXPECT_EQ(ds->meta().dtype, DType::kComplex64);
  EXPECT_EQ(Name(ds->meta().dtype), expected["dtype"].get<std::string>());
  for (const auto& axis : expected["axes"]) {
    const auto& got = ds->meta().axes[axis["index_in_array"].get<size_t>()];
    EXPECT_EQ(got.size, axis["size"].get<int64_t>());
    EXPECT_EQ(got.units, axis["units"].get<std::string>());
    EXPECT_NEAR(got.scale, axis["scale"].get<double>(), 1e-9);
    EXPECT_NEAR(got.offset, axis["offset"].get<double>(), 1e-9);
  }
  std::vector<std::complex<double>> full(25);
  ds->ReadFrames(0, 1, {0, 25}, full.data(), DType::kComplex128);
  const auto at = [&](int64_t r, int64_t c) { return full[static_cast<size_t>(r * 5 + c)]; };
  // Hermitian about the centre (2, 2): the spectrum of a real image.
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t c = 0; c < 5; ++c) {
      EXPECT_EQ(at(r, c), std::conj(at((4 - r + 5) % 5, (4 - c + 5) % 5))) << r << "," << c;
    }
  }
  EXPECT_EQ(at(2, 2), std::complex<double>(50, 0));  // zero frequency: the image sum
  // HyperSpy 1.7 returns 5 x 4: the stored half reversed (kx = 2, 1, 0) then conj(kx = 1).
  // Rebuilt from our full frame, its statistics are those of the expected file.
  Stats real, imag;
  for (int64_t r = 0; r < 5; ++r) {
    for (const auto& v : {at(r, 4), at(r, 3), at(r, 2), std::conj(at(r, 3))}) {
      Add(real, v.real());
      Add(imag, v.imag());
    }
  }
  ExpectStats(real, expected["stats"]["real"], "HyperSpy view real");
  ExpectStats(imag, expected["stats"]["imag"], "HyperSpy view imag");
  // Sub-ranges of the signal give the same values.
  std::vector<std::complex<float>> part(10);
  ds->ReadFrames(0, 1, {10, 20}, part.data(), DType::kComplex64);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(std::complex<double>(part[static_cast<size_t>(i)]), full[static_cast<size_t>(10 + i)]);
  }
  const auto meta = nlohmann::json::parse(ds->meta().metadata_json);
  EXPECT_EQ(meta["images"][1]["data_type"], 27);
}

TEST(DmPackedComplex, ShortPackedDataIsCorrupt) {
  const auto path = SharedFile("dm4/test_fft_packed_complex8.dm4");
  if (!path) GTEST_SKIP() << "shared test data not found";
  std::string bytes = ReadAll(*path);
  // Claim nx = 7: 5 rows of 7/2 + 1 = 4 values need 160 bytes, Data holds 120.
  const size_t pos = bytes.find("Dimensions", bytes.find("DataType", 73000));
  ASSERT_NE(pos, std::string::npos);
  const size_t value = bytes.find(std::string("\x05\x00\x00\x00", 4), pos);
  ASSERT_NE(value, std::string::npos);
  bytes[value] = 7;
  testing::TempDir dir;
  const std::string file = dir.File("short.dm4");
  testing::WriteBytes(file, bytes);
  testing::ExpectError([&] { OpenDm(file); }, ErrorCode::kCorruptFile,
                       {file, "packed complex", "Data holds 120 bytes"});
}

// ---- malformed input: every failure is a tessera::Error naming the file and an offset ----

/// Return the offset of the info array of the tag labelled `label` (the first one).
size_t InfoArrayOf(const std::string& bytes, const std::string& label) {
  size_t pos = 0;
  while ((pos = bytes.find(label, pos)) != std::string::npos) {
    const size_t delimiter = bytes.find("%%%%", pos);
    if (delimiter != std::string::npos && delimiter - pos <= label.size() + 8) return delimiter + 4;
    pos += label.size();
  }
  return std::string::npos;
}

TEST(DmMalformed, TruncatedFilesFailWithTheirOffset) {
  const auto path = SharedFile("dm3/dtypes_2D/test-1.dm3");
  if (!path) GTEST_SKIP() << "shared test data not found";
  const std::string bytes = ReadAll(*path);
  testing::TempDir dir;
  const std::string file = dir.File("truncated.dm3");
  for (size_t length = 0; length + 8 < bytes.size(); length += length < 64 ? 1 : 211) {
    SCOPED_TRACE(length);
    testing::WriteBytes(file, bytes.substr(0, length));
    const auto info = testing::ExpectError([&] { OpenDm(file); }, ErrorCode::kCorruptFile,
                                           {file, "offset"});
    EXPECT_TRUE(info.offset.has_value());
  }
}

TEST(DmMalformed, BadVersionIsUnsupported) {
  const auto path = SharedFile("dm4/dtypes_2D/test-2.dm4");
  if (!path) GTEST_SKIP() << "shared test data not found";
  std::string bytes = ReadAll(*path);
  bytes[3] = 5;
  testing::TempDir dir;
  const std::string file = dir.File("v5.dm4");
  testing::WriteBytes(file, bytes);
  testing::ExpectError([&] { OpenDm(file); }, ErrorCode::kUnsupported, {file, "version 5"});
  const auto head = std::as_bytes(std::span(bytes.data(), 64));
  EXPECT_FALSE(DmFormatEntry().sniff(head, file));
  EXPECT_TRUE(DmFormatEntry().sniff(std::as_bytes(std::span(ReadAll(*path).data(), 64)), *path));
}

TEST(DmMalformed, AbsurdLengthsAreBoundedByTheFileSize) {
  testing::TempDir dir;
  for (const char* relative : {"dm3/dtypes_2D/test-2.dm3", "dm4/dtypes_2D/test-2.dm4"}) {
    const auto path = SharedFile(relative);
    if (!path) GTEST_SKIP() << "shared test data not found";
    SCOPED_TRACE(relative);
    const std::string bytes = ReadAll(*path);
    const bool dm4 = bytes[3] == 4;
    const size_t width = dm4 ? 8 : 4;
    const std::string file = dir.File(dm4 ? "bad.dm4" : "bad.dm3");

    // The Data array claims 2^62 / 2^31 elements.
    std::string data = bytes;
    const size_t info = InfoArrayOf(data, "Data");
    ASSERT_NE(info, std::string::npos);
    const size_t count_at = info + 3 * width;  // [length=3][20][type][count]
    for (size_t i = 0; i < width; ++i) data[count_at + i] = i == 0 ? '\x40' : '\0';
    testing::WriteBytes(file, data);
    testing::ExpectError([&] { OpenDm(file); }, ErrorCode::kCorruptFile,
                         {file, "runs past the end", fmt::format("offset {}", info)});

    // The root group claims 2^31 (or 2^63) tags.
    std::string tags = bytes;
    const size_t root_count = (dm4 ? 16 : 12) + 2;
    tags[root_count] = '\x7f';
    testing::WriteBytes(file, tags);
    testing::ExpectError([&] { OpenDm(file); }, ErrorCode::kCorruptFile,
                         {file, "declares", fmt::format("offset {}", root_count)});

    // An info array of 2^31 entries.
    std::string entries = bytes;
    entries[info] = '\x7f';
    testing::WriteBytes(file, entries);
    testing::ExpectError([&] { OpenDm(file); }, ErrorCode::kCorruptFile,
                         {file, "info array length"});
  }
}

TEST(DmMalformed, RandomCorruptionNeverCrashes) {
  testing::TempDir dir;
  std::mt19937 rng(1234);
  for (const char* relative : {"dm3/dtypes_2D/test-7.dm3", "dm4/EELS_SI.dm4"}) {
    const auto path = SharedFile(relative);
    if (!path) GTEST_SKIP() << "shared test data not found";
    const std::string bytes = ReadAll(*path);
    const std::string file = dir.File("fuzzed.dm");
    int opened = 0, failed = 0;
    for (int round = 0; round < 150; ++round) {
      std::string mutated = bytes;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int i = 0; i < flips; ++i) {
        // Mostly the tag tree before the data, where the structure lives.
        const size_t at = rng() % std::min<size_t>(mutated.size(), 8000);
        mutated[at] = static_cast<char>(rng() & 0xff);
      }
      testing::WriteBytes(file, mutated);
      try {
        auto ds = OpenDm(file);
        const int64_t frames = ds->meta().shape.nav_size(), sig = ds->meta().shape.sig_size();
        std::vector<std::complex<double>> out(static_cast<size_t>(std::min<int64_t>(sig, 1 << 20)));
        if (frames > 0 && sig > 0 && sig <= (1 << 20)) {
          ds->ReadFrames(frames - 1, frames, {0, sig}, out.data(), DType::kComplex128);
        }
        ++opened;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
        ++failed;
      }
    }
    EXPECT_EQ(opened + failed, 150);
  }
}

}  // namespace
}  // namespace tessera::formats
