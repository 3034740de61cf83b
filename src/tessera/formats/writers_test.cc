// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>
#include <hdf5.h>
#include <png.h>
#include <tiffio.h>

#include <cmath>
#include <numeric>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/synthetic.h"
#include "tessera/formats/dataset_writer.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/hdf5/hdf5_format.h"
#include "tessera/formats/image_writers.h"
#include "tessera/formats/results_writer.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::Builtins;
using testing::ExpectError;
using testing::TempDir;

std::unique_ptr<dataset::Synthetic4dstem> SmallSynthetic(DType dtype) {
  return dataset::Synthetic4dstem::Make(
      {.scan = {6, 5}, .frame = {16, 20}, .dtype = dtype, .seed = 3});
}

TEST(WriteDataset, RoundTripsRawNpyAndHdf5) {
  TempDir dir;
  for (DType dtype : {DType::kUint16, DType::kFloat32}) {
    auto synthetic = SmallSynthetic(dtype);
    const std::string stem = dir.File(std::string(Name(dtype)));
    for (const std::string ext : {".raw", ".npy", ".h5"}) {
      std::vector<std::pair<int64_t, int64_t>> calls;
      WriteDataset(*synthetic, stem + ext,
                   [&](int64_t done, int64_t total) { calls.emplace_back(done, total); });
      ASSERT_FALSE(calls.empty());
      EXPECT_EQ(calls.back(), std::make_pair(int64_t{30}, int64_t{30}));
      OpenParams params;
      if (ext == ".raw") {
        params = {{"nav_shape", "6x5"}, {"sig_shape", "16x20"}, {"dtype", std::string(Name(dtype))}};
      }
      auto back = Builtins().Open(stem + ext, params);
      EXPECT_EQ(back->meta().dtype, dtype);
      testing::ExpectSameFrames(*synthetic, *back);
      if (ext == ".h5") {
        EXPECT_NE(back->DirectFrames(0, 30), nullptr);  // contiguous: mapped, zero copy
        EXPECT_EQ(back->meta().axes, synthetic->meta().axes);
        EXPECT_NE(back->meta().metadata_json.find("\"metadata\""), std::string::npos);
      } else {
        EXPECT_NE(back->DirectFrames(0, 30), nullptr) << ext;
      }
    }
  }
  // Only the finished files are left: no temp files.
  EXPECT_EQ(dir.List(), (std::vector<std::string>{"float32.h5", "float32.npy", "float32.raw",
                                                  "uint16.h5", "uint16.npy", "uint16.raw"}));
}

TEST(WriteDataset, KeepsTheNavSigSplitInHdf5) {
  TempDir dir;
  NdArray array(DType::kInt32, {3, 4, 5});
  auto values = array.flat<int32_t>();
  std::iota(values.begin(), values.end(), -7);
  auto mem = dataset::MakeMemoryDataset(std::move(array), 1);
  WriteDataset(*mem, dir.File("split.h5"));
  auto back = OpenHdf5(dir.File("split.h5"));
  EXPECT_EQ(back->meta().shape, Shape({3, 4}, {5}));
  testing::ExpectSameFrames(*mem, *back);
}

TEST(WriteDataset, StreamsInBlocksAndCancelsCleanly) {
  TempDir dir;
  NdArray array(DType::kUint8, {20, 1024, 1024});  // 20 MiB: two 16 MiB blocks
  array.flat<uint8_t>()[20 * 1024 * 1024 - 1] = 9;
  auto mem = dataset::MakeMemoryDataset(std::move(array), 2);
  std::vector<int64_t> done;
  WriteDataset(*mem, dir.File("big.npy"), [&](int64_t d, int64_t) { done.push_back(d); });
  EXPECT_EQ(done, (std::vector<int64_t>{16, 20}));
  auto back = Builtins().Open(dir.File("big.npy"), {});
  EXPECT_EQ(std::to_integer<int>(back->DirectFrames(19, 20)[1024 * 1024 - 1]), 9);

  for (const std::string ext : {".raw", ".npy", ".h5"}) {
    std::atomic<bool> cancel{false};
    const std::string path = dir.File("cancelled" + ext);
    ExpectError([&] { WriteDataset(*mem, path, [&](int64_t, int64_t) { cancel = true; }, &cancel); },
                ErrorCode::kCancelled, {});
  }
  EXPECT_EQ(dir.List(), std::vector<std::string>{"big.npy"});
  ExpectError([&] { WriteDataset(*mem, dir.File("out.tiff")); }, ErrorCode::kInvalidArgument,
              {"out.tiff", ".tiff"});
  ExpectError([&] { WriteDataset(*mem, dir.File("no/such/dir/out.npy")); }, ErrorCode::kIo,
              {"out.npy"});
}

// ---- results ----

std::string ReadStringAttribute(hid_t object, const char* name) {
  const hid_t attr = H5Aopen(object, name, H5P_DEFAULT);
  const hid_t type = H5Aget_type(attr);
  char* text = nullptr;
  H5Aread(attr, type, &text);
  std::string out = text != nullptr ? text : "";
  H5free_memory(text);
  H5Tclose(type);
  H5Aclose(attr);
  return out;
}

TEST(WriteResultsHdf5, WritesResultsAxesAndProvenance) {
  TempDir dir;
  NdArray image(DType::kFloat32, {4, 3});
  auto values = image.flat<float>();
  std::iota(values.begin(), values.end(), 0.5f);
  NdArray spectrum(DType::kFloat64, {7});
  spectrum.Fill(2.5);
  const std::vector<ResultArray> results = {
      {.name = "virtual_bf",
       .data = &image,
       .axes = {{.name = "y", .size = 4, .scale = 2.0, .offset = -1.0, .units = "nm"},
                {.name = "x", .size = 3, .scale = 2.0, .units = "nm"}},
       .units = "counts",
       .description = "bright-field disk"},
      {.name = "mean_spectrum", .data = &spectrum},
  };
  Provenance provenance{.command_line = "tessera run x.json",
                        .tessera_version = "0.1.0",
                        .git_hash = "abc123",
                        .start_time = "2024-01-01T00:00:00Z",
                        .end_time = "2024-01-01T00:00:01Z",
                        .host = "box",
                        .parameters_json = R"({"r": 3})",
                        .inputs = {{.path = "/data/a.npy", .size = 42, .xxh3_128 = "00ff"}}};
  const std::string path = dir.File("results.h5");
  WriteResultsHdf5(path, results, provenance);

  // Our reader sees the calibrated result ...
  auto ds = OpenHdf5(path + ":/results/virtual_bf");
  EXPECT_EQ(ds->meta().shape, Shape({}, {4, 3}));
  EXPECT_EQ(ds->meta().axes[0].offset, -1.0);
  EXPECT_EQ(ds->meta().axes[1].units, "nm");
  std::vector<float> back(12);
  ds->ReadFrames(0, 1, {0, 12}, back.data(), DType::kFloat32);
  EXPECT_EQ(back[11], 11.5f);
  // ... and the provenance is where other tools look for it.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t prov = H5Gopen2(file, "/provenance", H5P_DEFAULT);
  EXPECT_EQ(ReadStringAttribute(prov, "git_hash"), "abc123");
  EXPECT_EQ(ReadStringAttribute(prov, "parameters"), R"({"r": 3})");
  const hid_t input = H5Gopen2(file, "/provenance/inputs/0", H5P_DEFAULT);
  EXPECT_EQ(ReadStringAttribute(input, "xxh3_128"), "00ff");
  int64_t size = 0;
  const hid_t size_attr = H5Aopen(input, "size", H5P_DEFAULT);
  H5Aread(size_attr, H5T_NATIVE_INT64, &size);
  EXPECT_EQ(size, 42);
  const hid_t result = H5Dopen2(file, "/results/virtual_bf", H5P_DEFAULT);
  EXPECT_EQ(ReadStringAttribute(result, "units"), "counts");
  EXPECT_EQ(ReadStringAttribute(result, "axis_0_name"), "y");
  for (hid_t id : {size_attr}) H5Aclose(id);
  H5Dclose(result);
  H5Gclose(input);
  H5Gclose(prov);
  H5Fclose(file);

  const std::vector<ResultArray> bad = {{.name = "a//b", .data = &image}};
  ExpectError([&] { WriteResultsHdf5(dir.File("bad.h5"), bad, provenance); },
              ErrorCode::kInvalidArgument, {"bad.h5", "a//b"});
  const std::vector<ResultArray> bad_axes = {{.name = "a", .data = &image, .axes = {{}}}};
  ExpectError([&] { WriteResultsHdf5(dir.File("bad.h5"), bad_axes, provenance); },
              ErrorCode::kInvalidArgument, {"bad.h5", "axes"});
  EXPECT_EQ(dir.List(), std::vector<std::string>{"results.h5"});
}

// ---- images ----

TEST(ImageWriters, PngIsAutoscaledGreyWithNanAsZero) {
  TempDir dir;
  NdArray image(DType::kFloat64, {10, 100});
  auto values = image.flat<double>();
  std::iota(values.begin(), values.end(), 0.0);
  values[0] = NAN;
  values[999] = 1e9;  // an outlier above the 99.9th percentile
  const std::string path = dir.File("image.png");
  WritePng(path, image);
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  ASSERT_NE(png_image_begin_read_from_file(&png, path.c_str()), 0) << png.message;
  png.format = PNG_FORMAT_GRAY;
  EXPECT_EQ(png.width, 100u);
  EXPECT_EQ(png.height, 10u);
  std::vector<uint8_t> grey(PNG_IMAGE_SIZE(png));
  ASSERT_NE(png_image_finish_read(&png, nullptr, grey.data(), 0, nullptr), 0);
  EXPECT_EQ(grey[0], 0);      // NaN
  EXPECT_EQ(grey[1], 0);      // at the low percentile
  EXPECT_EQ(grey[999], 255);  // clipped outlier
  EXPECT_EQ(grey[998], 255);
  EXPECT_NEAR(grey[500], 128, 1);

  NdArray stack(DType::kFloat32, {2, 3, 4});
  ExpectError([&] { WritePng(dir.File("stack.png"), stack); }, ErrorCode::kInvalidArgument,
              {"stack.png", "2-D", "rank 3"});
  NdArray complex_image(DType::kComplex64, {3, 4});
  ExpectError([&] { WritePng(dir.File("c.png"), complex_image); }, ErrorCode::kInvalidArgument,
              {"c.png", "complex"});
  EXPECT_EQ(dir.List(), std::vector<std::string>{"image.png"});
}

TEST(ImageWriters, TiffStackIsFloat32Pages) {
  TempDir dir;
  NdArray stack(DType::kUint16, {3, 5, 7});
  auto values = stack.flat<uint16_t>();
  std::iota(values.begin(), values.end(), 100);
  const std::string path = dir.File("stack.tif");
  WriteTiff(path, stack);
  TIFF* tiff = TIFFOpen(path.c_str(), "r");
  ASSERT_NE(tiff, nullptr);
  EXPECT_EQ(TIFFNumberOfDirectories(tiff), 3);
  std::vector<float> row(7);
  for (int page = 0; page < 3; ++page) {
    ASSERT_EQ(TIFFSetDirectory(tiff, static_cast<tdir_t>(page)), 1);
    uint32_t width = 0, height = 0;
    uint16_t bits = 0, format = 0;
    TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height);
    TIFFGetField(tiff, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetField(tiff, TIFFTAG_SAMPLEFORMAT, &format);
    EXPECT_EQ(width, 7u);
    EXPECT_EQ(height, 5u);
    EXPECT_EQ(bits, 32);
    EXPECT_EQ(format, SAMPLEFORMAT_IEEEFP);
    ASSERT_EQ(TIFFReadScanline(tiff, row.data(), 4, 0), 1);
    EXPECT_EQ(row[6], static_cast<float>(100 + page * 35 + 4 * 7 + 6));
  }
  TIFFClose(tiff);
  NdArray line(DType::kFloat32, {5});
  ExpectError([&] { WriteTiff(dir.File("line.tif"), line); }, ErrorCode::kInvalidArgument,
              {"line.tif", "rank 1"});
}

}  // namespace
}  // namespace tessera::formats
