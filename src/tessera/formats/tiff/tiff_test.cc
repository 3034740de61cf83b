// SPDX-License-Identifier: MIT
#include "tessera/formats/tiff/tiff_format.h"

#include <gtest/gtest.h>
#include <tiffio.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
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
using testing::ReadAll;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<int64_t> Dims(const dataset::DatasetMeta& meta) {
  return meta.shape.dims();
}

/// "9:01:17" and "09:01:17" are the same time.
std::vector<int> TimeParts(const std::string& text) {
  std::vector<int> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const auto colon = text.find(':', start);
    parts.push_back(std::stoi(text.substr(start, colon - start)));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return parts;
}

// ---- real files from ../shared/data/tiff ----

/// Every single-file TIFF reproduces HyperSpy's view: shape, dtype, statistics, calibrations
/// and the metadata highlights of its *.expected.json.
TEST(TiffRealFiles, EveryFileMatchesItsExpectedJson) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  int checked = 0;
  for (const char* name : {"FEI-Helios-Ebeam-16bits.tif", "TVIPS_bin4.tif",
                           "test_loading_image_saved_with_DM_stack.tif",
                           "test_loading_image_saved_with_imageJ_stack.tif"}) {
    const std::string path = *data + "/tiff/" + name;
    SCOPED_TRACE(path);
    const json expected = ReadJson(path + ".expected.json");
    const json& signal = expected["signals"][0];
    EXPECT_EQ(registry.Detect(path, {}).name, "tiff");
    auto ds = registry.Open(path, {});
    const auto& meta = ds->meta();
    EXPECT_EQ(meta.format, "tiff");
    EXPECT_EQ(Dims(meta), signal["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(Name(meta.dtype), signal["dtype"].get<std::string>());
    EXPECT_EQ(meta.shape.sig_dims(), 2);
    const Stats stats = ReadStats(*ds);
    ExpectClose(stats.sum, signal["stats"]["sum"].get<double>());
    EXPECT_EQ(stats.min, signal["stats"]["min"].get<double>());
    EXPECT_EQ(stats.max, signal["stats"]["max"].get<double>());
    // The raw (tifffile) view agrees.
    EXPECT_EQ(meta.shape.nav_size(), expected["raw"][0]["n_pages"].get<int64_t>() == 1
                                         ? 1
                                         : expected["raw"][0]["shape"][0].get<int64_t>());
    const json own = json::parse(meta.metadata_json);
    for (const auto& flavour : expected["raw"][0]["flavours"]) {
      const std::string f = flavour.get<std::string>();
      const std::string ours = f == "fei" ? "fei" : f == "tvips" ? "tvips" : f;
      EXPECT_NE(std::find(own["flavours"].begin(), own["flavours"].end(), ours),
                own["flavours"].end())
          << f;
    }
    EXPECT_EQ(own["compression"], std::stoi(expected["raw"][0]["compression"].get<std::string>()));
    EXPECT_EQ(own["photometric"], std::stoi(expected["raw"][0]["photometric"].get<std::string>()));
    ASSERT_EQ(meta.axes.size(), signal["axes"].size());
    for (size_t i = 0; i < meta.axes.size(); ++i) {
      const json& axis = signal["axes"][i];
      SCOPED_TRACE(axis.dump());
      EXPECT_EQ(meta.axes[i].size, axis["size"].get<int64_t>());
      ExpectClose(meta.axes[i].scale, axis["scale"].get<double>());
      ExpectClose(meta.axes[i].offset, axis["offset"].get<double>());
      // HyperSpy leaves ImageJ's depth unit empty; ImageJ's voxel depth is in `unit` (µm).
      if (!axis["units"].is_null()) {
        EXPECT_EQ(meta.axes[i].units, axis["units"].get<std::string>());
      }
      if (!axis["navigate"].get<bool>()) {
        EXPECT_EQ(meta.axes[i].name, axis["name"].get<std::string>());
      }
    }
    const json& md = signal["metadata"];
    if (md.contains("General.date")) {
      EXPECT_EQ(own["date"], md["General.date"]);
    }
    if (md.contains("General.time")) {
      EXPECT_EQ(TimeParts(own["time"].get<std::string>()),
                TimeParts(md["General.time"].get<std::string>()));
    }
    for (const char* key : {"Acquisition_instrument.SEM.beam_energy",
                            "Acquisition_instrument.TEM.beam_energy"}) {
      if (md.contains(key)) ExpectClose(own["beam_energy_kv"].get<double>(), md[key].get<double>());
    }
    if (md.contains("Acquisition_instrument.SEM.microscope")) {
      EXPECT_EQ(own["microscope"], md["Acquisition_instrument.SEM.microscope"]);
    }
    if (md.contains("Acquisition_instrument.TEM.magnification")) {
      ExpectClose(own["magnification"].get<double>(),
                  md["Acquisition_instrument.TEM.magnification"].get<double>());
    }
    if (md.contains("Acquisition_instrument.TEM.Stage.tilt_alpha")) {
      ExpectClose(own["tilt_alpha"].get<double>(),
                  md["Acquisition_instrument.TEM.Stage.tilt_alpha"].get<double>());
    }
    if (md.contains("Acquisition_instrument.TEM.Detector.Camera.exposure")) {
      ExpectClose(own["exposure_s"].get<double>(),
                  md["Acquisition_instrument.TEM.Detector.Camera.exposure"].get<double>());
    }
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(TiffRealFiles, VendorDetails) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  {
    // Uncompressed, one strip per row, contiguous: served zero copy.
    auto ds = registry.Open(*data + "/tiff/FEI-Helios-Ebeam-16bits.tif", {});
    EXPECT_NE(ds->DirectFrames(0, 1), nullptr);
    const json own = json::parse(ds->meta().metadata_json);
    EXPECT_EQ(own["fei"]["Beam"]["HV"], "5000");
    ExpectClose(own["working_distance_mm"].get<double>(), 4.03466);
  }
  {
    // Big-endian float32 ImageJ stack: decoded, with the ImageJ keys kept.
    auto ds = registry.Open(*data + "/tiff/test_loading_image_saved_with_imageJ_stack.tif", {});
    EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
    const json own = json::parse(ds->meta().metadata_json);
    EXPECT_EQ(own["byte_order"], "big");
    EXPECT_EQ(own["imagej"]["unit"], "micron");
    EXPECT_EQ(ds->meta().axes[0].name, "depth");
    EXPECT_EQ(ds->meta().axes[0].units, "µm");
  }
  {
    // DigitalMicrograph: pages are separated by IFDs, so frames come one by one, zero copy
    // when aligned: page 0 is at offset 8, page 1 at 19602 (not a multiple of 4: decoded).
    auto ds = registry.Open(*data + "/tiff/test_loading_image_saved_with_DM_stack.tif", {});
    EXPECT_NE(ds->DirectFrames(0, 1), nullptr);
    EXPECT_EQ(ds->DirectFrames(1, 2), nullptr);
    EXPECT_EQ(ds->DirectFrames(0, 2), nullptr);
    const json own = json::parse(ds->meta().metadata_json);
    EXPECT_EQ(own["digital_micrograph"]["x"]["units"], "µm");
    EXPECT_EQ(ds->meta().axes[0].units, "s");
  }
  {
    // TVIPS EM-MENU header: the date is packed as year << 16 | month << 8 | day.
    auto ds = registry.Open(*data + "/tiff/TVIPS_bin4.tif", {});
    const json own = json::parse(ds->meta().metadata_json);
    EXPECT_EQ(own["date"], "2017-04-12");
    EXPECT_EQ(own["camera"], "F416");
    EXPECT_EQ(own["tvips"]["ImageName"], "M14-50nmGe+5nmAl2O3-contact34-56_12-04-2017_001");
  }
}

/// A directory of single-page TIFFs is one stack, in natural file-name order; a glob pattern
/// selects files the same way.
TEST(TiffRealFiles, SavuDirectoryIsAStack) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const FormatRegistry registry = Builtins();
  const json expected = ReadJson(*data + "/tiff/savu_image_test.expected.json");
  const std::string dir = *data + "/tiff/savu_image_test/tiffs";
  const json& raw = expected["raw"][0];
  for (const std::string& path : {dir, dir + "/", dir + "/raw_*.tiff", dir + "/*.tif*"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(registry.Detect(path, {}).name, "tiff");
    auto ds = registry.Open(path, {});
    EXPECT_EQ(Dims(ds->meta()), raw["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(Name(ds->meta().dtype), raw["dtype"].get<std::string>());
    EXPECT_EQ(ds->meta().files.size(), 91u);
    const Stats stats = ReadStats(*ds);
    EXPECT_EQ(stats.sum, raw["stats"]["sum_exact"].get<double>());
    EXPECT_EQ(stats.min, raw["stats"]["min"].get<double>());
    EXPECT_EQ(stats.max, raw["stats"]["max"].get<double>());
    const json own = json::parse(ds->meta().metadata_json);
    EXPECT_EQ(own["first_file"], "raw_00000.tiff");
    EXPECT_EQ(own["last_file"], "raw_00090.tiff");
    EXPECT_EQ(own["date"], "2016-03-07");
    EXPECT_NE(ds->DirectFrames(5, 6), nullptr);
  }
  // Frame k is file k: compare a frame with the file opened alone.
  auto stack = registry.Open(dir, {});
  auto single = registry.Open(dir + "/raw_00042.tiff", {});
  std::vector<uint16_t> a(135 * 160), b(135 * 160);
  stack->ReadFrames(42, 43, {0, 135 * 160}, a.data(), DType::kUint16);
  single->ReadFrames(0, 1, {0, 135 * 160}, b.data(), DType::kUint16);
  EXPECT_EQ(a, b);
  for (size_t k : {size_t{1}, size_t{2}}) {
    const json& other = expected["raw"][k];
    auto ds = registry.Open(*data + "/tiff/savu_image_test/" + other["file"].get<std::string>(), {});
    EXPECT_EQ(Dims(ds->meta()), other["shape"].get<std::vector<int64_t>>());
    EXPECT_EQ(Name(ds->meta().dtype), other["dtype"].get<std::string>());
    const Stats stats = ReadStats(*ds);
    ExpectClose(stats.sum, other["stats"]["sum"].get<double>());
    EXPECT_EQ(stats.max, other["stats"]["max"].get<double>());
  }
}

TEST(TiffRealFiles, TruncatedRealFilesGiveClearErrors) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  // FEI writes the IFD at the end: cutting the file loses it.
  const std::string fei = Slurp(*data + "/tiff/FEI-Helios-Ebeam-16bits.tif");
  WriteBytes(tmp.File("fei.tif"), fei.substr(0, fei.size() / 2));
  ExpectError([&] { registry.Open(tmp.File("fei.tif"), {}); }, ErrorCode::kCorruptFile,
              {tmp.File("fei.tif"), "IFD", "offset 486310"});
  // ImageJ writes the IFDs first: cutting the file loses pixel data.
  const std::string ij = Slurp(*data + "/tiff/test_loading_image_saved_with_imageJ_stack.tif");
  WriteBytes(tmp.File("ij.tif"), ij.substr(0, 80000));
  ExpectError([&] { registry.Open(tmp.File("ij.tif"), {}); }, ErrorCode::kCorruptFile,
              {tmp.File("ij.tif"), "StripOffsets", "past the end"});
}

// ---- generated files ----

/// Write a TIFF with libtiff: `pages` pages of height x width x spp samples from `fill`.
struct Spec {
  const char* mode = "w";  // "w", "wb" (big-endian), "w8" (BigTIFF)
  uint32_t width = 7, height = 5;
  uint16_t spp = 1, bits = 16, format = SAMPLEFORMAT_UINT;
  uint16_t compression = COMPRESSION_NONE, predictor = 1, planar = PLANARCONFIG_CONTIG;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  uint32_t rows_per_strip = 2;
  uint32_t tile = 0;  // tile edge (multiple of 16), 0: strips
  int pages = 3;
  std::string description;
};

/// Element value at flat index i of page p, exactly representable in every dtype.
double Value(int p, int64_t i) { return static_cast<double>((p * 37 + i * 3) % 120); }

void WriteTiff(const std::string& path, const Spec& s) {
  TIFF* tif = TIFFOpen(path.c_str(), s.mode);
  ASSERT_NE(tif, nullptr);
  const int64_t item = s.bits / 8;
  const int64_t n = int64_t{s.width} * s.height * s.spp;
  for (int p = 0; p < s.pages; ++p) {
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, s.width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, s.height);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, s.spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, s.bits);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, s.format);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, s.compression);
    if (s.predictor != 1) TIFFSetField(tif, TIFFTAG_PREDICTOR, s.predictor);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, s.planar);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, s.photometric);
    if (!s.description.empty()) TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, s.description.c_str());
    TIFFSetField(tif, TIFFTAG_XRESOLUTION, 4.0);
    TIFFSetField(tif, TIFFTAG_YRESOLUTION, 2.0);
    TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
    if (s.pages > 1) {
      TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
      TIFFSetField(tif, TIFFTAG_PAGENUMBER, p, s.pages);
    }
    // The page in the stored layout: contiguous (y, x, s) or planar (s, y, x).
    std::vector<std::byte> page(static_cast<size_t>(n * item));
    for (int64_t i = 0; i < n; ++i) {
      int64_t stored = i;
      if (s.planar == PLANARCONFIG_SEPARATE) {
        // Logical (s, y, x) index i is stored plane by plane as well.
        stored = i;
      }
      const double v = Value(p, i);
      std::byte* dst = page.data() + stored * item;
      if (s.format == SAMPLEFORMAT_IEEEFP && s.bits == 32) {
        const auto f = static_cast<float>(v);
        std::memcpy(dst, &f, 4);
      } else if (s.format == SAMPLEFORMAT_IEEEFP) {
        std::memcpy(dst, &v, 8);
      } else if (s.format == SAMPLEFORMAT_INT) {
        const int64_t x = static_cast<int64_t>(v) - 60;
        std::memcpy(dst, &x, static_cast<size_t>(item));  // little-endian host
      } else {
        const auto x = static_cast<uint64_t>(v);
        std::memcpy(dst, &x, static_cast<size_t>(item));
      }
    }
    const int64_t planes = s.planar == PLANARCONFIG_SEPARATE ? s.spp : 1;
    const int64_t px = (s.planar == PLANARCONFIG_SEPARATE ? 1 : s.spp) * item;
    const int64_t row_bytes = s.width * px;
    if (s.tile == 0) {
      TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, s.rows_per_strip);
      const int64_t per_plane = (s.height + s.rows_per_strip - 1) / s.rows_per_strip;
      for (int64_t plane = 0; plane < planes; ++plane) {
        for (int64_t k = 0; k < per_plane; ++k) {
          const int64_t row0 = k * s.rows_per_strip;
          const int64_t rows = std::min<int64_t>(s.rows_per_strip, s.height - row0);
          ASSERT_GE(TIFFWriteEncodedStrip(tif, static_cast<uint32_t>(plane * per_plane + k),
                                          page.data() + plane * row_bytes * s.height +
                                              row0 * row_bytes,
                                          rows * row_bytes),
                    0);
        }
      }
    } else {
      TIFFSetField(tif, TIFFTAG_TILEWIDTH, s.tile);
      TIFFSetField(tif, TIFFTAG_TILELENGTH, s.tile);
      std::vector<std::byte> tile(static_cast<size_t>(s.tile * s.tile * px));
      const int64_t across = (s.width + s.tile - 1) / s.tile, down = (s.height + s.tile - 1) / s.tile;
      uint32_t index = 0;
      for (int64_t plane = 0; plane < planes; ++plane) {
        for (int64_t ty = 0; ty < down; ++ty) {
          for (int64_t tx = 0; tx < across; ++tx) {
            std::fill(tile.begin(), tile.end(), std::byte{0});
            for (int64_t r = 0; r < s.tile && ty * s.tile + r < s.height; ++r) {
              const int64_t cols = std::min<int64_t>(s.tile, s.width - tx * s.tile);
              std::memcpy(tile.data() + r * s.tile * px,
                          page.data() + plane * row_bytes * s.height +
                              (ty * s.tile + r) * row_bytes + tx * s.tile * px,
                          static_cast<size_t>(cols * px));
            }
            ASSERT_GE(TIFFWriteEncodedTile(tif, index++, tile.data(),
                                           static_cast<tmsize_t>(tile.size())),
                      0);
          }
        }
      }
    }
    ASSERT_EQ(TIFFWriteDirectory(tif), 1);
  }
  TIFFClose(tif);
}

void ExpectValues(const dataset::Dataset& ds, const Spec& s) {
  const auto values = ReadAll(ds);
  const int64_t n = int64_t{s.width} * s.height * s.spp;
  ASSERT_EQ(static_cast<int64_t>(values.size()), n * s.pages);
  for (int p = 0; p < s.pages; ++p) {
    for (int64_t i = 0; i < n; ++i) {
      double want = Value(p, i);
      if (s.format == SAMPLEFORMAT_INT) want -= 60;
      ASSERT_EQ(values[static_cast<size_t>(p * n + i)], want) << "page " << p << " index " << i;
    }
  }
  // Sub-ranges of the signal read the same values.
  const int64_t sig = ds.meta().shape.sig_size();
  const int64_t frames = ds.meta().shape.nav_size();
  std::vector<double> part(static_cast<size_t>(frames * 3));
  ds.ReadFrames(0, frames, {2, 5}, part.data(), DType::kFloat64);
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_EQ(part[static_cast<size_t>(f * 3 + i)], values[static_cast<size_t>(f * sig + 2 + i)]);
    }
  }
}

TEST(TiffGenerated, EveryLayoutCompressionAndDtypeReadsTheSameValues) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  struct Case {
    std::string name;
    Spec spec;
    DType dtype;
    bool zero_copy;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, DType dtype, bool zero_copy, auto&& tweak) {
    Spec s;
    tweak(s);
    cases.push_back({std::move(name), s, dtype, zero_copy});
  };
  add("u16_strips", DType::kUint16, true, [](Spec&) {});
  add("u8_one_strip", DType::kUint8, true, [](Spec& s) { s.bits = 8; s.rows_per_strip = 5; });
  add("u32", DType::kUint32, true, [](Spec& s) { s.bits = 32; });
  add("i8", DType::kInt8, true, [](Spec& s) { s.bits = 8; s.format = SAMPLEFORMAT_INT; });
  add("i16", DType::kInt16, true, [](Spec& s) { s.format = SAMPLEFORMAT_INT; });
  add("i32", DType::kInt32, true, [](Spec& s) { s.bits = 32; s.format = SAMPLEFORMAT_INT; });
  add("f32", DType::kFloat32, true, [](Spec& s) { s.bits = 32; s.format = SAMPLEFORMAT_IEEEFP; });
  add("f64", DType::kFloat64, true, [](Spec& s) { s.bits = 64; s.format = SAMPLEFORMAT_IEEEFP; });
  add("big_endian_u16", DType::kUint16, false, [](Spec& s) { s.mode = "wb"; });
  add("big_endian_f32", DType::kFloat32, false,
      [](Spec& s) { s.mode = "wb"; s.bits = 32; s.format = SAMPLEFORMAT_IEEEFP; });
  add("bigtiff_i32", DType::kInt32, true,
      [](Spec& s) { s.mode = "w8"; s.bits = 32; s.format = SAMPLEFORMAT_INT; });
  add("lzw_u16_predictor", DType::kUint16, false,
      [](Spec& s) { s.compression = COMPRESSION_LZW; s.predictor = PREDICTOR_HORIZONTAL; });
  add("deflate_f32_predictor3", DType::kFloat32, false, [](Spec& s) {
    s.compression = COMPRESSION_ADOBE_DEFLATE;
    s.bits = 32;
    s.format = SAMPLEFORMAT_IEEEFP;
    s.predictor = PREDICTOR_FLOATINGPOINT;
  });
  add("packbits_u8", DType::kUint8, false,
      [](Spec& s) { s.compression = COMPRESSION_PACKBITS; s.bits = 8; });
  add("deflate_bigtiff_big_endian", DType::kUint16, false,
      [](Spec& s) { s.mode = "w8b"; s.compression = COMPRESSION_ADOBE_DEFLATE; });
  add("tiled_u16", DType::kUint16, false,
      [](Spec& s) { s.tile = 16; s.width = 40; s.height = 37; });
  add("tiled_deflate_f64", DType::kFloat64, false, [](Spec& s) {
    s.tile = 16; s.width = 33; s.height = 20; s.bits = 64; s.format = SAMPLEFORMAT_IEEEFP;
    s.compression = COMPRESSION_ADOBE_DEFLATE;
  });
  add("rgb_u8", DType::kUint8, true,
      [](Spec& s) { s.spp = 3; s.bits = 8; s.photometric = PHOTOMETRIC_RGB; });
  add("rgb_planar_lzw", DType::kUint8, false, [](Spec& s) {
    s.spp = 3; s.bits = 8; s.photometric = PHOTOMETRIC_RGB; s.planar = PLANARCONFIG_SEPARATE;
    s.compression = COMPRESSION_LZW;
  });
  add("single_page", DType::kUint16, true, [](Spec& s) { s.pages = 1; });
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = tmp.File(c.name + ".tif");
    WriteTiff(path, c.spec);
    EXPECT_EQ(registry.Detect(path, {}).name, "tiff");
    auto ds = registry.Open(path, {});
    const auto& meta = ds->meta();
    EXPECT_EQ(meta.dtype, c.dtype);
    std::vector<int64_t> dims;
    if (c.spec.pages > 1) dims.push_back(c.spec.pages);
    if (c.spec.spp > 1 && c.spec.planar == PLANARCONFIG_SEPARATE) dims.push_back(c.spec.spp);
    dims.push_back(c.spec.height);
    dims.push_back(c.spec.width);
    if (c.spec.spp > 1 && c.spec.planar == PLANARCONFIG_CONTIG) dims.push_back(c.spec.spp);
    EXPECT_EQ(Dims(meta), dims);
    EXPECT_EQ(meta.axes.size(), dims.size());
    ExpectValues(*ds, c.spec);
    EXPECT_EQ(ds->DirectFrames(0, 1) != nullptr, c.zero_copy);
    const json own = json::parse(meta.metadata_json);
    // Big-endian uncompressed pages are read straight from the mapping too (byte-swapped).
    const bool plain = c.spec.compression == COMPRESSION_NONE && c.spec.tile == 0;
    EXPECT_EQ(own["zero_copy"].get<bool>(), plain);
    EXPECT_EQ(own["bigtiff"].get<bool>(), std::string(c.spec.mode).find('8') != std::string::npos);
  }
}

TEST(TiffGenerated, ImageJHyperstackAndResolution) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  Spec s;
  s.pages = 6;
  s.description =
      "ImageJ=1.53t\nimages=6\nframes=2\nslices=3\nhyperstack=true\nunit=nm\nspacing=0.5\n"
      "finterval=0.25\n";
  WriteTiff(tmp.File("hyper.tif"), s);
  auto ds = registry.Open(tmp.File("hyper.tif"), {});
  EXPECT_EQ(Dims(ds->meta()), (std::vector<int64_t>{2, 3, 5, 7}));
  const auto& axes = ds->meta().axes;
  EXPECT_EQ(axes[0].name, "time");
  EXPECT_EQ(axes[0].scale, 0.25);
  EXPECT_EQ(axes[0].units, "s");
  EXPECT_EQ(axes[1].name, "depth");
  EXPECT_EQ(axes[1].scale, 0.5);
  EXPECT_EQ(axes[1].units, "nm");
  EXPECT_EQ(axes[2].scale, 0.5);   // 1 / YResolution
  EXPECT_EQ(axes[3].scale, 0.25);  // 1 / XResolution
  EXPECT_EQ(axes[3].units, "nm");
  ExpectValues(*ds, s);

  // Plain TIFFs ignore the resolution tags unless asked (like HyperSpy); then µm per pixel.
  Spec plain;
  WriteTiff(tmp.File("plain.tif"), plain);
  auto uncalibrated = registry.Open(tmp.File("plain.tif"), {});
  EXPECT_EQ(uncalibrated->meta().axes[2].units, "px");
  EXPECT_EQ(uncalibrated->meta().axes[2].scale, 1.0);
  auto calibrated = registry.Open(tmp.File("plain.tif"), {{"use_resolution", "true"}});
  EXPECT_EQ(calibrated->meta().axes[2].units, "µm");
  EXPECT_EQ(calibrated->meta().axes[1].scale, 5000.0);  // height: 1e4 µm/cm / 2 px/cm
  EXPECT_EQ(calibrated->meta().axes[2].scale, 2500.0);  // width: 1e4 µm/cm / 4 px/cm
  ExpectError([&] { registry.Open(tmp.File("plain.tif"), {{"use_resolution", "maybe"}}); },
              ErrorCode::kInvalidArgument, {"use_resolution"});
}

/// Write a little-endian classic TIFF by hand: one IFD with `entries` (tag, type, count, value
/// bytes) at offset 8, values after it, then `pixels`. Offsets of StripOffsets are patched.
struct RawEntry {
  uint16_t tag;
  uint16_t type;
  uint32_t count;
  std::string value;  // bytes; > 4 bytes go after the IFD
};

std::string U16(uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); }
std::string U32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

std::string BuildTiff(std::vector<RawEntry> entries, const std::string& pixels,
                      uint32_t next_ifd = 0, int64_t strip_offset = -1) {
  std::sort(entries.begin(), entries.end(),
            [](const RawEntry& a, const RawEntry& b) { return a.tag < b.tag; });
  const uint32_t ifd_bytes = 2 + 12 * static_cast<uint32_t>(entries.size()) + 4;
  uint32_t extra_at = 8 + ifd_bytes;
  std::string extra;
  for (const auto& e : entries) extra += e.value.size() > 4 ? e.value : "";
  const uint32_t pixels_at = extra_at + static_cast<uint32_t>(extra.size());
  std::string out = "II" + U16(42) + U32(8) + U16(static_cast<uint16_t>(entries.size()));
  for (const auto& e : entries) {
    out += U16(e.tag) + U16(e.type) + U32(e.count);
    std::string value = e.value;
    if (e.tag == 273) value = U32(strip_offset >= 0 ? static_cast<uint32_t>(strip_offset) : pixels_at);
    if (value.size() > 4) {
      out += U32(extra_at);
      extra_at += static_cast<uint32_t>(value.size());
    } else {
      value.resize(4, '\0');
      out += value;
    }
  }
  out += U32(next_ifd == 1 ? 8 : next_ifd);
  return out + extra + pixels;
}

std::vector<RawEntry> BasicEntries(uint32_t width, uint32_t height, uint16_t bits,
                                   uint32_t bytes) {
  return {{256, 4, 1, U32(width)},   {257, 4, 1, U32(height)}, {258, 3, 1, U16(bits)},
          {259, 3, 1, U16(1)},       {262, 3, 1, U16(1)},      {273, 4, 1, U32(0)},
          {277, 3, 1, U16(1)},       {278, 4, 1, U32(height)}, {279, 4, 1, U32(bytes)}};
}

TEST(TiffGenerated, ZeissAndFeiTagsCalibrate) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  const std::string pixels(4 * 8, '\x07');
  auto zeiss = BasicEntries(8, 4, 8, 32);
  const std::string cz =
      std::string("0\r\n1\r\n2\r\n2.5e-07\r\nAP_ACTUALKV\r\nEHT Target = 5.00 kV\r\n") +
      "AP_MAG\r\nMag = 20000 X\r\nAP_DATE\r\nDate :21 Mar 2019\r\nAP_TIME\r\nTime :14:02:09\r\n";
  zeiss.push_back({34118, 2, static_cast<uint32_t>(cz.size() + 1), cz + '\0'});
  WriteBytes(tmp.File("zeiss.tif"), BuildTiff(zeiss, pixels));
  auto ds = registry.Open(tmp.File("zeiss.tif"), {});
  EXPECT_EQ(Dims(ds->meta()), (std::vector<int64_t>{4, 8}));
  ExpectClose(ds->meta().axes[1].scale, 2.5e-7 * 1024 / 8);
  EXPECT_EQ(ds->meta().axes[1].units, "m");
  json own = json::parse(ds->meta().metadata_json);
  EXPECT_EQ(own["flavours"][0], "zeiss_sem");
  EXPECT_EQ(own["beam_energy_kv"], 5.0);
  EXPECT_EQ(own["magnification"], 20000.0);
  EXPECT_EQ(own["time"], "14:02:09");

  auto fei = BasicEntries(8, 4, 8, 32);
  const std::string ini =
      "[User]\r\nDate=12/31/2020\r\nTime=12:30:01 AM\r\n[Beam]\r\nHV=30000\r\n[System]\r\n"
      "SystemType=Quanta\r\n[IRBeam]\r\nHFW=8e-6\r\nVFW=4e-6\r\n[Image]\r\nResolutionX=8\r\n"
      "ResolutionY=4\r\n";
  fei.push_back({34682, 2, static_cast<uint32_t>(ini.size() + 1), ini + '\0'});
  WriteBytes(tmp.File("fei.tif"), BuildTiff(fei, pixels));
  ds = registry.Open(tmp.File("fei.tif"), {});
  ExpectClose(ds->meta().axes[0].scale, 1e-6);  // no [Scan]: HFW / ResolutionX
  own = json::parse(ds->meta().metadata_json);
  EXPECT_EQ(own["date"], "2020-12-31");
  EXPECT_EQ(own["time"], "00:30:01");
  EXPECT_EQ(own["beam_energy_kv"], 30.0);
  EXPECT_EQ(own["microscope"], "Quanta");
  EXPECT_EQ(ReadStats(*ds).sum, 7.0 * 32);
}

TEST(TiffMalformed, BadInputsGiveErrorsNamingFileAndField) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  const std::string pixels(4 * 8, '\x01');
  auto open = [&](const std::string& name) {
    return [&registry, &tmp, name] { registry.Open(tmp.File(name), {}, "tiff"); };
  };
  // Sanity: the builder makes a valid file.
  WriteBytes(tmp.File("good.tif"), BuildTiff(BasicEntries(8, 4, 8, 32), pixels));
  EXPECT_EQ(ReadStats(*registry.Open(tmp.File("good.tif"), {})).sum, 32.0);

  WriteBytes(tmp.File("magic.tif"), std::string("XX*\0", 4) + std::string(100, '\0'));
  ExpectError(open("magic.tif"), ErrorCode::kCorruptFile, {tmp.File("magic.tif"), "byte order"});
  WriteBytes(tmp.File("version.tif"), "II\x2b\x01" + std::string(100, '\0'));
  ExpectError(open("version.tif"), ErrorCode::kCorruptFile, {"version", "299"});
  WriteBytes(tmp.File("short.tif"), "II*");
  ExpectError(open("short.tif"), ErrorCode::kCorruptFile, {tmp.File("short.tif"), "too short"});
  WriteBytes(tmp.File("noifd.tif"), std::string("II*\0", 4) + U32(5000) + std::string(40, '\0'));
  ExpectError(open("noifd.tif"), ErrorCode::kCorruptFile, {"IFD", "5000"});

  // Absurd dimensions: refused before anything is allocated.
  WriteBytes(tmp.File("huge.tif"),
             BuildTiff(BasicEntries(0x7fffffff, 0x7fffffff, 16, 32), pixels));
  ExpectError(open("huge.tif"), ErrorCode::kCorruptFile, {tmp.File("huge.tif"), "ImageWidth"});
  WriteBytes(tmp.File("zero.tif"), BuildTiff(BasicEntries(0, 4, 8, 32), pixels));
  ExpectError(open("zero.tif"), ErrorCode::kCorruptFile, {"ImageWidth", "out of range"});
  // More rows than pixels stored: the strip runs past the end.
  WriteBytes(tmp.File("rows.tif"), BuildTiff(BasicEntries(8, 400, 8, 3200), pixels));
  ExpectError(open("rows.tif"), ErrorCode::kCorruptFile, {"StripOffsets", "past the end"});
  // Lying strip offset.
  WriteBytes(tmp.File("offset.tif"), BuildTiff(BasicEntries(8, 4, 8, 32), pixels, 0, 1 << 30));
  ExpectError(open("offset.tif"), ErrorCode::kCorruptFile,
              {tmp.File("offset.tif"), "StripOffsets", "1073741824"});
  // A loop in the IFD chain.
  WriteBytes(tmp.File("loop.tif"), BuildTiff(BasicEntries(8, 4, 8, 32), pixels, 1));
  ExpectError(open("loop.tif"), ErrorCode::kCorruptFile, {"loops"});
  // Next IFD offset outside the file.
  WriteBytes(tmp.File("next.tif"), BuildTiff(BasicEntries(8, 4, 8, 32), pixels, 99999));
  ExpectError(open("next.tif"), ErrorCode::kCorruptFile, {"next IFD offset", "99999"});
  // Missing width.
  auto entries = BasicEntries(8, 4, 8, 32);
  entries.erase(entries.begin());
  WriteBytes(tmp.File("nowidth.tif"), BuildTiff(entries, pixels));
  ExpectError(open("nowidth.tif"), ErrorCode::kCorruptFile, {"ImageWidth", "no ImageWidth"});
  // Unsupported bit depth and compression.
  WriteBytes(tmp.File("bits12.tif"), BuildTiff(BasicEntries(8, 4, 12, 48), pixels + pixels));
  ExpectError(open("bits12.tif"), ErrorCode::kUnsupported, {"BitsPerSample", "12-bit"});
  entries = BasicEntries(8, 4, 8, 32);
  entries[3].value = U16(60000);
  WriteBytes(tmp.File("codec.tif"), BuildTiff(entries, pixels));
  ExpectError(open("codec.tif"), ErrorCode::kUnsupported, {"Compression", "60000"});
  // A value array pointing outside the file.
  entries = BasicEntries(8, 4, 8, 32);
  entries[2] = {258, 3, 3, U16(8) + U16(8) + U16(8)};
  entries[6].value = U16(3);
  std::string bytes = BuildTiff(entries, std::string(96, '\x01'));
  // Patch the BitsPerSample value offset (entry 2 of the IFD at 8) to point past the end.
  const std::string far = U32(1u << 28);
  bytes.replace(8 + 2 + 2 * 12 + 8, 4, far);
  WriteBytes(tmp.File("value.tif"), bytes);
  ExpectError(open("value.tif"), ErrorCode::kCorruptFile, {"BitsPerSample", "past the end"});
}

TEST(TiffMalformed, CorruptCompressedDataIsAnErrorAndLibtiffPrintsNothing) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  Spec s;
  s.compression = COMPRESSION_ADOBE_DEFLATE;
  s.width = 64;
  s.height = 64;
  s.rows_per_strip = 64;
  s.pages = 2;
  WriteTiff(tmp.File("deflate.tif"), s);
  std::string bytes = Slurp(tmp.File("deflate.tif"));
  // Scramble the compressed bytes of the first page's strip (it starts at offset 8).
  for (size_t i = 8; i < 60; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
  WriteBytes(tmp.File("broken.tif"), bytes);
  auto ds = registry.Open(tmp.File("broken.tif"), {});
  std::vector<double> out(64 * 64);
  ::testing::internal::CaptureStderr();
  ExpectError([&] { ds->ReadFrames(0, 1, {0, 64 * 64}, out.data(), DType::kFloat64); },
              ErrorCode::kCorruptFile, {tmp.File("broken.tif"), "strip 0", "Deflate"});
  // The second page is intact.
  ds->ReadFrames(1, 2, {0, 64 * 64}, out.data(), DType::kFloat64);
  EXPECT_EQ(out[5], Value(1, 5));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(TiffStacks, NaturalOrderGlobsAndMismatchedMembers) {
  TempDir tmp;
  const FormatRegistry registry = Builtins();
  std::filesystem::create_directories(tmp.File("stack"));
  // Page p of file k holds Value(k, i): write single-page files out of order.
  for (int k : {10, 2, 1, 0}) {
    Spec s;
    s.pages = 1;
    WriteTiff(tmp.File(fmt::format("stack/img_{}.tif", k)), s);
  }
  EXPECT_EQ(ListTiffStack(tmp.File("stack")),
            (std::vector<std::string>{tmp.File("stack/img_0.tif"), tmp.File("stack/img_1.tif"),
                                      tmp.File("stack/img_2.tif"), tmp.File("stack/img_10.tif")}));
  EXPECT_TRUE(IsTiffStackPath(tmp.File("stack")));
  EXPECT_TRUE(IsTiffStackPath(tmp.File("stack/img_1*.tif")));
  EXPECT_FALSE(IsTiffStackPath(tmp.File("stack/nothing_*.tif")));
  EXPECT_FALSE(IsTiffStackPath(tmp.File("stack/img_1.tif")));
  auto ds = registry.Open(tmp.File("stack/img_1*.tif"), {});
  EXPECT_EQ(Dims(ds->meta()), (std::vector<int64_t>{2, 5, 7}));  // img_1, img_10
  auto all = registry.Open(tmp.File("stack"), {});
  EXPECT_EQ(Dims(all->meta()), (std::vector<int64_t>{4, 5, 7}));
  EXPECT_EQ(all->meta().files.back().path, tmp.File("stack/img_10.tif"));
  // A member of another shape is named in the error.
  Spec other;
  other.pages = 1;
  other.width = 9;
  WriteTiff(tmp.File("stack/img_5.tif"), other);
  ExpectError([&] { registry.Open(tmp.File("stack"), {}); }, ErrorCode::kCorruptFile,
              {tmp.File("stack/img_5.tif"), "first file"});
  std::filesystem::create_directories(tmp.File("empty"));
  ExpectError([&] { registry.Open(tmp.File("empty"), {}, "tiff"); }, ErrorCode::kNotFound,
              {tmp.File("empty")});
}

}  // namespace
}  // namespace tessera::formats
