// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <fstream>
#include <numeric>
#include <thread>

#include <nlohmann/json.hpp>

#include "tessera/formats/format_registry.h"
#include "tessera/formats/hdf5/hdf5_format.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::ExpectError;
using testing::TempDir;

struct H5Spec {
  std::string name = "/data";
  hid_t file_type = H5T_STD_U16LE;
  std::vector<hsize_t> dims;
  std::vector<hsize_t> chunk;  // empty: contiguous
  bool gzip = false;
};

/// Write float64 `values` (converted by HDF5 to spec.file_type) as a new dataset.
void AddDataset(const std::string& path, const H5Spec& spec, const std::vector<double>& values,
                bool create = false) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t file = create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)
                            : H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t space = H5Screate_simple(static_cast<int>(spec.dims.size()), spec.dims.data(),
                                       nullptr);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (!spec.chunk.empty()) {
    H5Pset_chunk(dcpl, static_cast<int>(spec.chunk.size()), spec.chunk.data());
    if (spec.gzip) H5Pset_deflate(dcpl, 4);
  }
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t dset =
      H5Dcreate2(file, spec.name.c_str(), spec.file_type, space, lcpl, dcpl, H5P_DEFAULT);
  ASSERT_GE(dset, 0);
  if (!values.empty()) {
    ASSERT_GE(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  }
  H5Dclose(dset);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(file);
}

std::vector<double> Ramp(size_t n) {
  std::vector<double> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = static_cast<double>((i * 37) % 1000);
  return values;
}

TEST(Hdf5Format, ContiguousDatasetIsMappedZeroCopy) {
  TempDir dir;
  const std::string path = dir.File("contiguous.h5");
  const auto values = Ramp(4 * 5 * 6 * 7);
  AddDataset(path, {.name = "/entry/data", .file_type = H5T_IEEE_F32LE, .dims = {4, 5, 6, 7}},
             values, true);
  FormatRegistry registry;
  RegisterBuiltinFormats(registry);
  for (const std::string& name : {path, path + ":/entry/data"}) {
    auto ds = registry.Open(name, {});
    EXPECT_EQ(ds->meta().format, "hdf5");
    EXPECT_EQ(ds->meta().shape, Shape({4, 5}, {6, 7}));
    EXPECT_EQ(ds->meta().dtype, DType::kFloat32);
    const auto* direct = reinterpret_cast<const float*>(ds->DirectFrames(0, 20));
    ASSERT_NE(direct, nullptr);
    for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(direct[i], values[i]);
  }
  auto params = registry.Open(path, {{"dataset", "entry/data"}, {"sig_dims", "3"}});
  EXPECT_EQ(params->meta().shape, Shape({4}, {5, 6, 7}));
}

TEST(Hdf5Format, ChunkedGzipReadsThroughHdf5) {
  TempDir dir;
  const std::string path = dir.File("chunked.h5");
  const auto values = Ramp(3 * 4 * 8 * 8);
  AddDataset(path,
             {.file_type = H5T_STD_U16LE, .dims = {3, 4, 8, 8}, .chunk = {1, 4, 8, 8}, .gzip = true},
             values, true);
  auto ds = OpenHdf5(path);
  EXPECT_EQ(ds->meta().shape, Shape({3, 4}, {8, 8}));
  EXPECT_EQ(ds->meta().dtype, DType::kUint16);
  EXPECT_EQ(ds->native_depth(), 4);
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
  // A frame range crossing rows, as float32 (HDF5 converts) ...
  std::vector<float> out(9 * 64);
  ds->ReadFrames(2, 11, {0, 64}, out.data(), DType::kFloat32);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], values[2 * 64 + i]) << i;
  // ... a band of signal rows ...
  std::vector<uint16_t> band(5 * 24);
  ds->ReadFrames(3, 8, {16, 40}, band.data(), DType::kUint16);
  for (int f = 0; f < 5; ++f) {
    for (int i = 0; i < 24; ++i) ASSERT_EQ(band[f * 24 + i], values[(3 + f) * 64 + 16 + i]);
  }
  // ... and a range that is not whole rows, into complex.
  std::vector<std::complex<double>> odd(2 * 5);
  ds->ReadFrames(0, 2, {3, 8}, odd.data(), DType::kComplex128);
  for (int f = 0; f < 2; ++f) {
    for (int i = 0; i < 5; ++i) ASSERT_EQ(odd[f * 5 + i].real(), values[f * 64 + 3 + i]);
  }
  ExpectError([&] { ds->ReadFrames(10, 13, {0, 64}, out.data(), DType::kFloat32); },
              ErrorCode::kInvalidArgument, {"frames"});
}

TEST(Hdf5Format, ReadsFromSeveralThreadsAtOnce) {
  TempDir dir;
  const std::string path = dir.File("threads.h5");
  const auto values = Ramp(8 * 8 * 16 * 16);
  AddDataset(path, {.dims = {8, 8, 16, 16}, .chunk = {1, 8, 16, 16}, .gzip = true}, values, true);
  auto ds = OpenHdf5(path);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out(256);
      for (int round = 0; round < 20; ++round) {
        const int64_t frame = (t * 17 + round * 5) % 64;
        ds->ReadFrames(frame, frame + 1, {0, 256}, out.data(), DType::kFloat32);
        for (int i = 0; i < 256; ++i) {
          if (out[static_cast<size_t>(i)] != values[static_cast<size_t>(frame * 256 + i)]) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, 0);
}

TEST(Hdf5Format, CoversEveryFrameRangeOfA3dNavGrid) {
  TempDir dir;
  const std::string path = dir.File("nav3.h5");
  const auto values = Ramp(2 * 3 * 4 * 5);
  AddDataset(path, {.file_type = H5T_STD_I32BE, .dims = {2, 3, 4, 5}, .chunk = {1, 1, 4, 5}},
             values, true);
  auto ds = OpenHdf5(path, 1);
  EXPECT_EQ(ds->meta().shape, Shape({2, 3, 4}, {5}));
  EXPECT_EQ(ds->native_depth(), 4);
  std::vector<double> out(24 * 5);
  for (int64_t begin = 0; begin <= 24; ++begin) {
    for (int64_t end = begin; end <= 24; ++end) {
      ds->ReadFrames(begin, end, {0, 5}, out.data(), DType::kFloat64);
      for (int64_t i = 0; i < (end - begin) * 5; ++i) {
        ASSERT_EQ(out[static_cast<size_t>(i)], values[static_cast<size_t>(begin * 5 + i)])
            << begin << ".." << end;
      }
    }
  }
}

TEST(Hdf5Format, BigEndianContiguousIsMappedAndSwapped) {
  TempDir dir;
  const std::string path = dir.File("be.h5");
  const auto values = Ramp(2 * 3 * 4);
  AddDataset(path, {.file_type = H5T_STD_U16BE, .dims = {2, 3, 4}}, values, true);
  auto ds = OpenHdf5(path);
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
  std::vector<uint16_t> out(24);
  ds->ReadFrames(0, 2, {0, 12}, out.data(), DType::kUint16);
  for (size_t i = 0; i < 24; ++i) ASSERT_EQ(out[i], values[i]);
}

TEST(Hdf5Format, PicksTheLargestDatasetAndReadsCalibrations) {
  TempDir dir;
  const std::string path = dir.File("many.h5");
  AddDataset(path, {.name = "/a/small", .dims = {2, 2, 2}}, Ramp(8), true);
  AddDataset(path, {.name = "/b/big", .dims = {3, 4, 5}}, Ramp(60));
  AddDataset(path, {.name = "/c/flat", .dims = {100, 100}}, Ramp(10000));
  {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t dset = H5Dopen2(file, "/b/big", H5P_DEFAULT);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const double scale = 0.5;
    const hid_t a1 = H5Acreate2(dset, "axis_2_scale", H5T_IEEE_F64LE, scalar, H5P_DEFAULT,
                                H5P_DEFAULT);
    H5Awrite(a1, H5T_NATIVE_DOUBLE, &scale);
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 4);
    const hid_t a2 = H5Acreate2(dset, "axis_2_units", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a2, str, "mrad");
    const int64_t gain = 7;
    const hid_t a3 = H5Acreate2(dset, "gain", H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a3, H5T_NATIVE_INT64, &gain);
    for (hid_t id : {a1, a2, a3}) H5Aclose(id);
    H5Tclose(str);
    H5Sclose(scalar);
    H5Dclose(dset);
    H5Fclose(file);
  }
  auto ds = OpenHdf5(path);
  EXPECT_EQ(ds->meta().shape, Shape({3}, {4, 5}));
  ASSERT_EQ(ds->meta().axes.size(), 3u);
  EXPECT_EQ(ds->meta().axes[2].scale, 0.5);
  EXPECT_EQ(ds->meta().axes[2].units, "mrad");
  const auto metadata = nlohmann::json::parse(ds->meta().metadata_json);
  EXPECT_EQ(metadata["gain"], 7);
  EXPECT_EQ(metadata["axis_2_units"], "mrad");
}

TEST(Hdf5Format, RejectsMissingAndMalformedInput) {
  TempDir dir;
  const std::string path = dir.File("flat.h5");
  AddDataset(path, {.name = "/entry/image", .dims = {10, 12}}, Ramp(120), true);
  auto info = ExpectError([&] { OpenHdf5(path); }, ErrorCode::kNotFound,
                          {path, "3 or more dimensions", "/entry/image (10, 12) uint16"});
  EXPECT_EQ(info.file, path);
  info = ExpectError([&] { OpenHdf5(path + ":/entry/nope"); }, ErrorCode::kNotFound,
                     {path, "/entry/nope"});
  EXPECT_EQ(info.file, path);
  ExpectError([&] { OpenHdf5(path + ":/missing/group/data"); }, ErrorCode::kNotFound,
              {path, "/missing/group/data", "'/missing' does not exist"});
  ExpectError([&] { OpenHdf5(path + ":/entry"); }, ErrorCode::kInvalidArgument,
              {path, "/entry", "group"});
  ExpectError([&] { OpenHdf5(path + ":/entry/image", 3); }, ErrorCode::kInvalidArgument,
              {path, "sig_dims"});
  ExpectError([&] { OpenHdf5(dir.File("none.h5")); }, ErrorCode::kNotFound, {"none.h5"});
  const std::string fake = dir.File("fake.h5");
  testing::WriteBytes(fake, std::string(2048, 'x'));
  info = ExpectError([&] { OpenHdf5(fake); }, ErrorCode::kCorruptFile, {fake, "not an HDF5"});
  EXPECT_EQ(info.offset, 0);
  // A truncated copy of a real file: an error naming it, never a crash.
  const std::string good = dir.File("good.h5");
  AddDataset(good, {.dims = {4, 8, 8}, .chunk = {1, 8, 8}, .gzip = true}, Ramp(256), true);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir.File("cut.h5");
  testing::WriteBytes(cut, bytes.substr(0, bytes.size() / 2));
  try {
    auto ds = OpenHdf5(cut);
    std::vector<float> out(4 * 64);
    ds->ReadFrames(0, 4, {0, 64}, out.data(), DType::kFloat32);
    ADD_FAILURE() << "read a truncated file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
  }
}

// ---- real files from ../shared/data ----

nlohmann::json LoadExpected(const std::string& path) {
  std::ifstream in(path + ".expected.json");
  return nlohmann::json::parse(in);
}

double SumAll(const dataset::Dataset& ds) {
  const int64_t frames = ds.meta().shape.nav_size(), sig = ds.meta().shape.sig_size();
  std::vector<double> out(static_cast<size_t>(frames * sig));
  ds.ReadFrames(0, frames, {0, sig}, out.data(), DType::kFloat64);
  return std::accumulate(out.begin(), out.end(), 0.0);
}

TEST(Hdf5RealFiles, SavuDarkFieldPicksTheDataset) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const std::string path = *data + "/nexus/i12_separate_flats_darks/dark_field.h5";
  const auto raw = LoadExpected(path)["raw"][0];
  FormatRegistry registry;
  RegisterBuiltinFormats(registry);
  auto ds = registry.Open(path, {});
  EXPECT_EQ(ds->meta().shape.dims(), raw["shape"].get<std::vector<int64_t>>());
  EXPECT_EQ(Name(ds->meta().dtype), raw["dtype"].get<std::string>());
  EXPECT_NEAR(SumAll(*ds), raw["stats"]["sum"].get<double>(), 1e-9 * raw["stats"]["sum"].get<double>());
}

TEST(Hdf5RealFiles, BerkeleyEmdDatacubeWithDims) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const std::string path = *data + "/emd/berkeley/Si100_4D.emd";
  const auto raw = LoadExpected(path)["raw"][0];
  auto ds = OpenHdf5(path + ":" + raw["group"].get<std::string>() + "/" +
                     raw["dataset"].get<std::string>());
  EXPECT_EQ(ds->meta().shape.dims(), raw["shape"].get<std::vector<int64_t>>());
  EXPECT_EQ(Name(ds->meta().dtype), raw["dtype"].get<std::string>());
  EXPECT_NEAR(SumAll(*ds), raw["stats"]["sum"].get<double>(), 1e-6);
  const auto& dims = raw["dims"];
  for (size_t i = 0; i < dims.size(); ++i) {
    EXPECT_EQ(ds->meta().axes[i].name, dims[i]["name"].get<std::string>());
    EXPECT_EQ(ds->meta().axes[i].units, dims[i]["units"].get<std::string>());
    EXPECT_NEAR(ds->meta().axes[i].scale, dims[i]["step"].get<double>(), 1e-6);
    EXPECT_NEAR(ds->meta().axes[i].offset, dims[i]["first"].get<double>(), 1e-6);
  }
}

TEST(Hdf5RealFiles, HyperSpyFileWithAxes) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const std::string path = *data + "/hspy/example2_v3.1.hspy";
  const auto signal = LoadExpected(path)["signals"][0];
  auto ds = OpenHdf5(path + ":/Experiments/test_diffraction_pattern/data");
  EXPECT_EQ(ds->meta().shape.dims(), signal["shape"].get<std::vector<int64_t>>());
  EXPECT_EQ(Name(ds->meta().dtype), signal["dtype"].get<std::string>());
  EXPECT_EQ(SumAll(*ds), signal["stats"]["sum"].get<double>());
  for (const auto& axis : signal["axes"]) {
    const auto& got = ds->meta().axes[axis["index_in_array"].get<size_t>()];
    EXPECT_EQ(got.name, axis["name"].get<std::string>());
    EXPECT_EQ(got.units, axis["units"].get<std::string>());
    EXPECT_NEAR(got.scale, axis["scale"].get<double>(), 1e-9);
    EXPECT_NEAR(got.offset, axis["offset"].get<double>(), 1e-9);
  }
}

TEST(Hdf5RealFiles, NexusExternalLinks) {
  const auto data = testing::TestDataDir();
  if (!data) GTEST_SKIP() << "shared test data not found";
  const std::string path = *data + "/nexus/k11_diad/k11-18014.nxs";
  auto ds = OpenHdf5(path + ":/entry/imaging/data");
  EXPECT_EQ(ds->meta().shape, Shape({3201}, {22, 26}));
  EXPECT_EQ(ds->meta().dtype, DType::kUint16);
  std::vector<uint16_t> frame(22 * 26);
  ds->ReadFrames(3200, 3201, {0, 22 * 26}, frame.data(), DType::kUint16);
}

}  // namespace
}  // namespace tessera::formats
