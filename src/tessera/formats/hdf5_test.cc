// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
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

TEST(Hdf5Format, UncompressedChunksOfWholeFramesAreServedFromTheMapping) {
  TempDir dir;
  const auto values = Ramp(3 * 5 * 8 * 8);
  struct Case {
    std::vector<hsize_t> chunk;
    hid_t type;
    bool mapped;  // frames come from the mapping (zero copy where native and back to back)
  };
  for (const Case& c : {Case{{1, 5, 8, 8}, H5T_STD_U16LE, true},   // whole scan rows
                        Case{{1, 2, 8, 8}, H5T_STD_U16LE, true},   // edge chunks on the x axis
                        Case{{2, 3, 8, 8}, H5T_STD_U16LE, true},   // 2-D chunk grid over the scan
                        Case{{1, 5, 8, 8}, H5T_STD_U16BE, true},   // swapped on read
                        Case{{1, 5, 4, 8}, H5T_STD_U16LE, false}}) {  // a chunk cuts the frame
    SCOPED_TRACE(::testing::PrintToString(c.chunk));
    const std::string path = dir.File("chunks.h5");
    AddDataset(path, {.file_type = c.type, .dims = {3, 5, 8, 8}, .chunk = c.chunk}, values, true);
    auto ds = OpenHdf5(path);
    const bool direct = ds->DirectFrames(0, 1) != nullptr;
    EXPECT_EQ(direct, c.mapped && c.type == H5T_STD_U16LE);
    std::vector<uint16_t> all(values.size());
    ds->ReadFrames(0, 15, {0, 64}, all.data(), DType::kUint16);
    for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], values[i]) << i;
    std::vector<float> band(7 * 20);
    ds->ReadFrames(4, 11, {13, 33}, band.data(), DType::kFloat32);
    for (int f = 0; f < 7; ++f) {
      for (int i = 0; i < 20; ++i) ASSERT_EQ(band[f * 20 + i], values[(4 + f) * 64 + 13 + i]);
    }
    if (direct && c.chunk[1] == 5) {
      // Chunks of whole scan rows written in order lie back to back: a run across chunk
      // borders is one pointer (edge chunks hold padding frames, which break such runs).
      const auto* run = reinterpret_cast<const uint16_t*>(ds->DirectFrames(0, 15));
      ASSERT_NE(run, nullptr);
      for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(run[i], values[i]) << i;
    }
  }
  // Chunks never written hold the fill value: read through HDF5.
  const std::string empty = dir.File("unwritten.h5");
  AddDataset(empty, {.file_type = H5T_STD_U16LE, .dims = {3, 5, 8, 8}, .chunk = {1, 1, 8, 8}}, {},
             true);
  auto ds = OpenHdf5(empty);
  EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
  std::vector<uint16_t> zeros(64, 7);
  ds->ReadFrames(3, 4, {0, 64}, zeros.data(), DType::kUint16);
  for (const uint16_t v : zeros) ASSERT_EQ(v, 0);
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
  // No stack in the file: the single image opens.
  EXPECT_EQ(OpenHdf5(path)->meta().shape, Shape({}, {10, 12}));
  const std::string empty = dir.File("empty.h5");
  {
    const hid_t file = H5Fcreate(empty.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(file, "/entry", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Fclose(file);
  }
  auto info = ExpectError([&] { OpenHdf5(empty); }, ErrorCode::kNotFound,
                          {empty, "no numeric dataset", "no datasets at all"});
  EXPECT_EQ(info.file, empty);
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


// ---- HDF5 filter plugins ----

namespace filters {

struct FilterCase {
  std::string name;
  H5Z_filter_t id;
  std::vector<unsigned> cd_values;
};

std::string FilterCaseName(const ::testing::TestParamInfo<FilterCase>& info) {
  return info.param.name;
}

class Hdf5FilterTest : public ::testing::TestWithParam<FilterCase> {};

/// A (12, 16, 24) uint16 array with structure (compressible) and noise.
std::vector<uint16_t> FilterSource() {
  std::vector<uint16_t> values(12 * 16 * 24);
  uint32_t state = 12345;
  for (size_t i = 0; i < values.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    values[i] = static_cast<uint16_t>((i / 24) * 3 + (state >> 28));
  }
  return values;
}

TEST_P(Hdf5FilterTest, ChunkedDatasetRoundTripsThroughTheRegistry) {
  const FilterCase& c = GetParam();
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  if (c.id == H5Z_FILTER_SZIP) {
    unsigned config = 0;
    if (H5Zfilter_avail(H5Z_FILTER_SZIP) <= 0 || H5Zget_filter_info(H5Z_FILTER_SZIP, &config) < 0 ||
        (config & H5Z_FILTER_CONFIG_ENCODE_ENABLED) == 0) {
      GTEST_SKIP() << "this libhdf5 has no szip encoder";
    }
  } else if (H5Zfilter_avail(c.id) <= 0) {
    GTEST_SKIP() << "HDF5 filter plugin " << c.id << " (" << c.name
                 << ") is not installed here (Debian 12's hdf5-filter-plugin ships only bzip2 "
                    "and lz4; blosc is hdf5-filter-plugin-blosc-serial)";
  }
  TempDir dir;
  const std::string path = dir.File(c.name + ".h5");
  const std::vector<uint16_t> source = FilterSource();
  {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hsize_t dims[3] = {12, 16, 24};
    const hsize_t chunk[3] = {4, 16, 24};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, chunk);
    if (c.id == H5Z_FILTER_SZIP) {
      ASSERT_GE(H5Pset_szip(dcpl, H5_SZIP_NN_OPTION_MASK, 8), 0);
    } else {
      ASSERT_GE(H5Pset_filter(dcpl, c.id, H5Z_FLAG_MANDATORY, c.cd_values.size(),
                              c.cd_values.data()),
                0);
    }
    const hid_t dset = H5Dcreate2(file, "/data", H5T_STD_U16LE, space, H5P_DEFAULT, dcpl,
                                  H5P_DEFAULT);
    ASSERT_GE(dset, 0);
    ASSERT_GE(H5Dwrite(dset, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, source.data()), 0);
    // The filter really ran: the dataset records it.
    const hid_t stored = H5Dget_create_plist(dset);
    EXPECT_EQ(H5Pget_nfilters(stored), 1);
    H5Pclose(stored);
    H5Dclose(dset);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
  }
  const auto ds = testing::Builtins().Open(path, {});
  EXPECT_EQ(ds->meta().format, "hdf5");
  EXPECT_EQ(ds->meta().shape, Shape({12}, {16, 24}));
  EXPECT_EQ(ds->meta().dtype, DType::kUint16);
  EXPECT_EQ(ds->native_depth(), 4);
  std::vector<uint16_t> read(source.size());
  ds->ReadFrames(0, 12, {0, 16 * 24}, read.data(), DType::kUint16);
  EXPECT_EQ(read, source);
  // A band of rows of frames crossing a chunk boundary, converted.
  std::vector<double> band(3 * 48);
  ds->ReadFrames(3, 6, {24 * 5, 24 * 7}, band.data(), DType::kFloat64);
  for (size_t f = 0; f < 3; ++f) {
    for (size_t i = 0; i < 48; ++i) {
      ASSERT_EQ(band[f * 48 + i], source[(3 + f) * 384 + 120 + i]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Plugins, Hdf5FilterTest,
    ::testing::Values(FilterCase{"bzip2", 307, {9}}, FilterCase{"lz4", 32004, {0}},
                      // bitshuffle: block size auto, LZ4 inside (cd 0..2 set by the plugin).
                      FilterCase{"bitshuffle_lz4", 32008, {0, 0, 0, 0, 2}},
                      // blosc: level 4, byte shuffle, blosclz (cd 0..3 set by the plugin).
                      FilterCase{"blosc", 32001, {0, 0, 0, 0, 4, 1, 0}},
                      FilterCase{"zstd", 32015, {3}}, FilterCase{"szip", H5Z_FILTER_SZIP, {}},
                      FilterCase{"deflate", H5Z_FILTER_DEFLATE, {6}},
                      FilterCase{"fletcher32", H5Z_FILTER_FLETCHER32, {}}),
    FilterCaseName);

/// A pass-through filter registered only while writing, to stand for a missing plugin.
size_t PassThrough(unsigned /*flags*/, size_t /*cd_nelmts*/, const unsigned* /*cd_values*/,
                   size_t nbytes, size_t* /*buf_size*/, void** /*buf*/) {
  return nbytes;
}

TEST(Hdf5Filters, MissingFilterNamesFileDatasetAndId) {
  constexpr H5Z_filter_t kId = 32555;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const H5Z_class2_t filter = {H5Z_CLASS_T_VERS, kId, 1, 1, "tessera test filter", nullptr,
                               nullptr, PassThrough};
  ASSERT_GE(H5Zregister(&filter), 0);
  TempDir dir;
  const std::string path = dir.File("missing_filter.h5");
  {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[3] = {4, 8, 8};
    const hid_t space = H5Screate_simple(3, dims, nullptr);
    const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 3, dims);
    H5Pset_filter(dcpl, kId, H5Z_FLAG_MANDATORY, 0, nullptr);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hid_t dset =
        H5Dcreate2(file, "/entry/frames", H5T_STD_U8LE, space, lcpl, dcpl, H5P_DEFAULT);
    ASSERT_GE(dset, 0);
    std::vector<uint8_t> zeros(256);
    H5Dwrite(dset, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
    H5Dclose(dset);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(file);
  }
  ASSERT_GE(H5Zunregister(kId), 0);
  const ErrorInfo info = ExpectError([&] { testing::Builtins().Open(path, {}); },
                                     ErrorCode::kUnsupported,
                                     {path, "/entry/frames", "32555", "HDF5_PLUGIN_PATH",
                                      "tessera test filter"});
  EXPECT_EQ(info.field, "/entry/frames");
}

TEST(Hdf5Filters, DebianPluginFolderIsSearched) {
  std::error_code ec;
  const std::string debian = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins";
  if (!std::filesystem::is_directory(debian, ec) || std::getenv("HDF5_PLUGIN_PATH") != nullptr) {
    GTEST_SKIP() << "no Debian HDF5 plugin folder, or HDF5_PLUGIN_PATH set";
  }
  // Opening any HDF5 file through the registry sets the search path up.
  TempDir dir;
  const std::string path = dir.File("any.h5");
  AddDataset(path, {.name = "/d", .file_type = H5T_STD_U8LE, .dims = {2, 2, 2}}, Ramp(8), true);
  testing::Builtins().Open(path, {});
  unsigned count = 0;
  ASSERT_GE(H5PLsize(&count), 0);
  bool found = false;
  for (unsigned i = 0; i < count; ++i) {
    char buffer[4096] = {};
    H5PLget(i, buffer, sizeof(buffer));
    found = found || debian == buffer;
  }
  EXPECT_TRUE(found);
}

}  // namespace filters

TEST(Hdf5Format, WithoutStacksPrefersHyperSpySignalThenLargest) {
  TempDir dir;
  const std::string path = dir.File("spectrum.hspy");
  AddDataset(path, {.name = "/Experiments/EELS/data", .file_type = H5T_IEEE_F32LE, .dims = {40}},
             Ramp(40), true);
  AddDataset(path, {.name = "/Experiments/EELS/metadata/big", .dims = {100}}, Ramp(100));
  const auto ds = OpenHdf5(path);
  EXPECT_EQ(ds->meta().shape, Shape({}, {40}));
  EXPECT_EQ(ds->meta().dtype, DType::kFloat32);
  const std::string other = dir.File("other.h5");
  AddDataset(other, {.name = "/small", .dims = {3}}, Ramp(3), true);
  AddDataset(other, {.name = "/image", .dims = {6, 7}}, Ramp(42));
  EXPECT_EQ(OpenHdf5(other)->meta().shape, Shape({}, {6, 7}));
}

TEST(Hdf5RealFiles, HyperSpySpectraAndImagesOpenWithoutAPath) {
  const auto data = testing::TestDataDir();
  if (!data || !std::filesystem::is_directory(*data + "/hspy")) GTEST_SKIP() << "no shared data";
  for (const std::string name : {"hspy/Cr_L_cl.hspy", "hspy/example2_v3.1.hspy",
                                 "hspy/1D_EDS_TEM_Spectrum.hspy", "emd/berkeley/Acquisition_18.emd"}) {
    SCOPED_TRACE(name);
    const std::string path = *data + "/" + name;
    std::ifstream in(path + ".expected.json");
    const auto signal = nlohmann::json::parse(in)["signals"][0];
    const auto ds = testing::Builtins().Open(path, {});
    EXPECT_EQ(ds->meta().shape.dims(), signal["shape"].get<std::vector<int64_t>>());
    const testing::Stats stats = testing::ReadStats(*ds);
    const double sum = signal["stats"]["sum"].get<double>();
    EXPECT_NEAR(stats.sum, sum, std::abs(sum) * 1e-9);
    const auto& axes = signal["axes"];
    for (size_t i = 0; i < axes.size(); ++i) {
      EXPECT_NEAR(ds->meta().axes[i].scale, axes[i]["scale"].get<double>(),
                  std::abs(axes[i]["scale"].get<double>()) * 1e-6);
    }
  }
}

// ---- NeXus tomography ----

namespace tomo {

void WriteStringAttr(hid_t object, const char* name, const std::string& value) {
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.size());
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, type, value.data());
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

void WriteVector(hid_t file, const std::string& name, hid_t file_type, hid_t mem_type,
                 const void* data, hsize_t n) {
  const hid_t space = H5Screate_simple(1, &n, nullptr);
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t dset = H5Dcreate2(file, name.c_str(), file_type, space, lcpl, H5P_DEFAULT,
                                H5P_DEFAULT);
  H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (name.ends_with("rotation_angle")) WriteStringAttr(dset, "units", "degree");
  H5Dclose(dset);
  H5Pclose(lcpl);
  H5Sclose(space);
}

const std::vector<int32_t> kKeys = {2, 2, 1, 1, 0, 0, 0, 0, 0, 1};

/// An NXtomo file: 10 frames of 4x5, keys kKeys, angles 10 * i degrees.
std::vector<double> WriteNxTomo(const std::string& path, bool chunked) {
  const auto values = Ramp(10 * 4 * 5);
  AddDataset(path,
             {.name = "/entry/instrument/detector/data", .file_type = H5T_STD_U16LE,
              .dims = {10, 4, 5}, .chunk = chunked ? std::vector<hsize_t>{3, 4, 5}
                                                   : std::vector<hsize_t>{}},
             values, true);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t entry = H5Gopen2(file, "/entry", H5P_DEFAULT);
  WriteStringAttr(entry, "NX_class", "NXentry");
  {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 6);
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t def = H5Dcreate2(entry, "definition", type, space, H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT);
    H5Dwrite(def, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, "NXtomo");
    H5Dclose(def);
    H5Sclose(space);
    H5Tclose(type);
  }
  WriteVector(file, "/entry/instrument/detector/image_key", H5T_STD_I32LE, H5T_NATIVE_INT32,
              kKeys.data(), kKeys.size());
  std::vector<double> angles(10);
  for (size_t i = 0; i < 10; ++i) angles[i] = 10.0 * static_cast<double>(i);
  WriteVector(file, "/entry/sample/rotation_angle", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
              angles.data(), angles.size());
  const hid_t data_group = H5Gcreate2(entry, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  WriteStringAttr(data_group, "NX_class", "NXdata");
  H5Lcreate_hard(file, "/entry/instrument/detector/data", data_group, "data", H5P_DEFAULT,
                 H5P_DEFAULT);
  H5Gclose(data_group);
  H5Gclose(entry);
  H5Fclose(file);
  return values;
}

TEST(NxTomo, SelectsProjectionsFlatsAndDarksByImageKey) {
  for (const bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "contiguous");
    TempDir dir;
    const std::string path = dir.File("scan.nxs");
    const std::vector<double> values = WriteNxTomo(path, chunked);
    const FormatRegistry registry = testing::Builtins();
    {
      const auto all = registry.Open(path, {});
      EXPECT_EQ(all->meta().shape, Shape({10}, {4, 5}));
      EXPECT_EQ(all->meta().axes[0].name, "rotation_angle");
      EXPECT_EQ(all->meta().axes[0].units, "degree");
      const auto metadata = nlohmann::json::parse(all->meta().metadata_json);
      EXPECT_EQ(metadata["nxtomo"]["kind"], "NXtomo");
      EXPECT_EQ(metadata["nxtomo"]["data"], "/entry/data/data");
      EXPECT_EQ(metadata["nxtomo"]["counts"]["projections"], 5);
      EXPECT_EQ(metadata["nxtomo"]["counts"]["flats"], 3);
      EXPECT_EQ(metadata["nxtomo"]["counts"]["darks"], 2);
      EXPECT_EQ(metadata["nxtomo"]["image_key"].get<std::vector<int>>(),
                std::vector<int>(kKeys.begin(), kKeys.end()));
    }
    const std::vector<std::pair<std::string, std::vector<int64_t>>> selections = {
        {"projections", {4, 5, 6, 7, 8}}, {"flats", {2, 3, 9}}, {"darks", {0, 1}}};
    for (const auto& [images, frames] : selections) {
      SCOPED_TRACE(images);
      const auto ds = registry.Open(path, {{"images", images}});
      const auto n = static_cast<int64_t>(frames.size());
      ASSERT_EQ(ds->meta().shape, Shape({n}, {4, 5}));
      const auto& axis = ds->meta().axes[0];
      EXPECT_EQ(axis.size, n);
      EXPECT_EQ(axis.name, "rotation_angle");
      EXPECT_DOUBLE_EQ(axis.offset, 10.0 * static_cast<double>(frames.front()));
      EXPECT_DOUBLE_EQ(axis.scale, 10.0 * static_cast<double>(frames.back() - frames.front()) /
                                       static_cast<double>(n > 1 ? n - 1 : 1) +
                                       (n > 1 ? 0.0 : 1.0));
      const auto metadata = nlohmann::json::parse(ds->meta().metadata_json);
      std::vector<double> angles;
      for (const int64_t f : frames) angles.push_back(10.0 * static_cast<double>(f));
      EXPECT_EQ(metadata["nxtomo"]["rotation_angle"].get<std::vector<double>>(), angles);
      std::vector<double> read(static_cast<size_t>(n * 20));
      ds->ReadFrames(0, n, {0, 20}, read.data(), DType::kFloat64);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t p = 0; p < 20; ++p) {
          ASSERT_EQ(read[static_cast<size_t>(i * 20 + p)],
                    values[static_cast<size_t>(frames[static_cast<size_t>(i)] * 20 + p)]);
        }
      }
      // Rows 1..2 of the last selected frames.
      std::vector<double> band(10);
      ds->ReadFrames(n - 1, n, {5, 15}, band.data(), DType::kFloat64);
      for (int64_t p = 0; p < 10; ++p) {
        ASSERT_EQ(band[static_cast<size_t>(p)],
                  values[static_cast<size_t>(frames.back() * 20 + 5 + p)]);
      }
      if (!chunked && images == "flats") {
        EXPECT_NE(ds->DirectFrames(0, 2), nullptr);  // frames 2, 3
        EXPECT_EQ(ds->DirectFrames(1, 3), nullptr);  // frames 3, 9
      }
    }
    ExpectError([&] { registry.Open(path, {{"images", "sinograms"}}); },
                ErrorCode::kInvalidArgument, {path, "sinograms", "projections"});
    // The selection needs the frames as the one navigation axis.
    ExpectError([&] { registry.Open(path, {{"images", "darks"}, {"sig_dims", "1"}}); },
                ErrorCode::kInvalidArgument, {path, "images=darks", "navigation"});
  }
}

TEST(NxTomo, ImagesParameterNeedsAnImageKey) {
  TempDir dir;
  const std::string path = dir.File("plain.h5");
  AddDataset(path, {.name = "/data", .file_type = H5T_STD_U8LE, .dims = {3, 2, 2}}, Ramp(12),
             true);
  const ErrorInfo info =
      ExpectError([&] { testing::Builtins().Open(path, {{"images", "projections"}}); },
                  ErrorCode::kInvalidArgument, {path, "image_key"});
  EXPECT_EQ(info.field, "images");
}

TEST(NxTomo, DiadScanFromSharedData) {
  const auto data = testing::TestDataDir();
  const std::string path = data ? *data + "/nexus/k11_diad/k11-18014.nxs" : "";
  if (!data || !std::filesystem::exists(path)) GTEST_SKIP() << "no shared data";
  const FormatRegistry registry = testing::Builtins();
  const auto all = registry.Open(path, {});
  EXPECT_EQ(all->meta().shape, Shape({3201}, {22, 26}));
  EXPECT_EQ(all->meta().dtype, DType::kUint16);
  const testing::Stats stats = testing::ReadStats(*all);
  EXPECT_NEAR(stats.sum, 68366387021.0, 68366387021.0 * 1e-9);
  EXPECT_EQ(stats.min, 40.0);
  EXPECT_EQ(stats.max, 60430.0);
  const auto metadata = nlohmann::json::parse(all->meta().metadata_json);
  EXPECT_EQ(metadata["nxtomo"]["data"], "/entry/imaging/data");
  EXPECT_EQ(metadata["nxtomo"]["image_key_path"], "/entry/instrument/imaging/image_key");
  EXPECT_EQ(metadata["nxtomo"]["rotation_angle_path"], "/entry/imaging/gts_theta_value");
  EXPECT_EQ(metadata["nxtomo"]["counts"]["projections"], 3001);
  EXPECT_EQ(metadata["nxtomo"]["counts"]["flats"], 100);
  EXPECT_EQ(metadata["nxtomo"]["counts"]["darks"], 100);
  const auto& angles = metadata["nxtomo"]["rotation_angle"];
  EXPECT_NEAR(angles.front().get<double>(), 89.97040000000001, 1e-9);
  EXPECT_NEAR(angles.back().get<double>(), 270.03047592449485, 1e-9);
  double sum = 0.0;
  for (const auto& [images, count] :
       {std::pair<std::string, int64_t>{"projections", 3001}, {"flats", 100}, {"darks", 100}}) {
    SCOPED_TRACE(images);
    const auto ds = registry.Open(path, {{"images", images}});
    EXPECT_EQ(ds->meta().shape, Shape({count}, {22, 26}));
    EXPECT_EQ(ds->meta().axes[0].name, "rotation_angle");
    EXPECT_EQ(ds->meta().axes[0].units, "deg");
    sum += testing::ReadStats(*ds).sum;
    if (images == "projections") {
      // The projections sweep 90..270 degrees.
      EXPECT_NEAR(ds->meta().axes[0].offset, 89.99511003711643, 1e-9);
      EXPECT_NEAR(ds->meta().axes[0].offset + 3000 * ds->meta().axes[0].scale,
                  269.99462809348137, 1e-9);
    }
  }
  EXPECT_NEAR(sum, 68366387021.0, 68366387021.0 * 1e-9);  // the three kinds cover every frame
}

TEST(NxTomo, OtherNexusFilesFromSharedData) {
  const auto data = testing::TestDataDir();
  if (!data || !std::filesystem::is_directory(*data + "/nexus")) GTEST_SKIP() << "no shared data";
  struct Expect {
    std::string file;
    std::vector<int64_t> shape;
    DType dtype;
    double sum, min, max;
  };
  for (const Expect& e :
       {Expect{"i12_separate_flats_darks/dark_field.h5", {20, 10, 192}, DType::kFloat32,
               4128762.0, 78.0, 254.0},
        Expect{"i12_separate_flats_darks/flat_field.h5", {20, 10, 192}, DType::kFloat32,
               2516544000.0, 65535.0, 65535.0},
        Expect{"nexus_dls_example.nxs", {10, 10, 15}, DType::kFloat64, 0.0, 0.0, 0.0}}) {
    SCOPED_TRACE(e.file);
    const std::string path = *data + "/nexus/" + e.file;
    // Cross-check against the JSON written next to the file.
    std::ifstream in(path + ".expected.json");
    const auto expected = nlohmann::json::parse(in);
    const auto& raw = expected["raw"][0];
    EXPECT_EQ(raw["shape"].get<std::vector<int64_t>>(), e.shape);
    EXPECT_EQ(raw["stats"]["sum"].get<double>(), e.sum);
    const auto ds = testing::Builtins().Open(path, {});
    EXPECT_EQ(ds->meta().shape.dims(), e.shape);
    EXPECT_EQ(ds->meta().dtype, e.dtype);
    const testing::Stats stats = testing::ReadStats(*ds);
    EXPECT_NEAR(stats.sum, e.sum, std::abs(e.sum) * 1e-9);
    EXPECT_EQ(stats.min, e.min);
    EXPECT_EQ(stats.max, e.max);
    EXPECT_EQ(nlohmann::json::parse(ds->meta().metadata_json).count("nxtomo"), 0u);
  }
}

}  // namespace tomo

}  // namespace
}  // namespace tessera::formats
