// SPDX-License-Identifier: MIT
// `mpirun -n N tessera run ...` end to end: results bit-identical to one process for N = 1, 2, 3,
// and a failing rank (bad file, exception in an analysis, killed process) stops the whole job
// within seconds with its message on rank 0, a non-zero exit and no output file.
#include <hdf5.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "tests/cli_harness.h"

namespace tessera {
namespace {

using json = nlohmann::json;

/// The raw bytes and shape of an HDF5 dataset, in its native type.
struct RawDataset {
  std::vector<hsize_t> dims;
  std::vector<unsigned char> bytes;
  bool operator==(const RawDataset&) const = default;
};

RawDataset ReadRaw(const std::string& file, const std::string& path) {
  RawDataset out;
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  if (f < 0) return out;
  const hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  EXPECT_GE(d, 0) << file << ":" << path;
  if (d >= 0) {
    const hid_t space = H5Dget_space(d);
    out.dims.resize(static_cast<size_t>(H5Sget_simple_extent_ndims(space)));
    H5Sget_simple_extent_dims(space, out.dims.data(), nullptr);
    const hid_t type = H5Dget_type(d);
    const hid_t native = H5Tget_native_type(type, H5T_DIR_ASCEND);
    out.bytes.resize(static_cast<size_t>(H5Sget_simple_extent_npoints(space)) * H5Tget_size(native));
    H5Dread(d, native, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.bytes.data());
    H5Tclose(native);
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(d);
  }
  H5Fclose(f);
  return out;
}

class MpiCliTest : public testing::CliHarness {
 protected:
  testing::CliResult Tessera(const std::string& args) const {
    return RunProgram(TESSERA_CLI, args, "ASAN_OPTIONS=detect_leaks=0");
  }
  testing::CliResult MpiRun(int ranks, const std::string& args, const std::string& env = "") const {
    return RunProgram(
        fmt::format("{} --allow-run-as-root --oversubscribe --bind-to none -n {} {}", TESSERA_MPIEXEC, ranks,
                    TESSERA_CLI),
        args, "ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_btl_vader_single_copy_mechanism=none " + env);
  }
  void Generate() {
    const auto r = Tessera(fmt::format("generate 4dstem {} --scan 19x17 --frame 32x32 --dtype uint16",
                                       Path("scan.npy")));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static constexpr const char* kAnalyses =
      "run sum,frame-sum,stats,virtual-detector,com,radial-profile,pick "
      "--param virtual-detector.masks='disk:16,16,5;ring:16,16,6,12' "
      "--param pick.positions='0,0;9,9;18,16' --param radial-profile.bins=8 "
      "--partition-mib 0.03 -q";
};

TEST_F(MpiCliTest, ResultsOnOneTwoAndThreeRanksAreBitIdenticalToOneProcess) {
  Generate();
  const auto reference = Tessera(fmt::format("{} {} -o {} --json", kAnalyses, Path("scan.npy"),
                                             Path("reference.h5")));
  ASSERT_EQ(reference.exit_code, 0) << reference.err;
  const json summary = json::parse(reference.out);
  std::vector<std::string> paths;
  for (const auto& [analysis, results] : summary["results"].items()) {
    for (const auto& r : results) paths.push_back(fmt::format("/results/{}/{}", analysis, r["name"].get<std::string>()));
  }
  ASSERT_GE(paths.size(), 12u);
  for (int ranks = 1; ranks <= 3; ++ranks) {
    SCOPED_TRACE(fmt::format("{} ranks", ranks));
    const std::string out = Path(fmt::format("ranks{}.h5", ranks));
    const auto r = MpiRun(ranks, fmt::format("{} {} -o {} --threads 1 --json", kAnalyses,
                                             Path("scan.npy"), out));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // Only rank 0 prints: the output is one JSON document.
    const json j = json::parse(r.out);
    EXPECT_EQ(j["ranks"], ranks);
    for (const auto& path : paths) {
      EXPECT_TRUE(ReadRaw(out, path) == ReadRaw(Path("reference.h5"), path)) << path;
    }
  }
}

struct Fault {
  const char* hook;
  int ranks;
  const char* message;  // expected on stderr
};

class MpiFaultTest : public MpiCliTest, public ::testing::WithParamInterface<Fault> {};

TEST_P(MpiFaultTest, AFailingRankStopsTheJobWithItsMessage) {
  const Fault fault = GetParam();
  Generate();
  const auto start = std::chrono::steady_clock::now();
  const auto r = MpiRun(fault.ranks,
                        fmt::format("{} {} -o {}", kAnalyses, Path("scan.npy"), Path("out.h5")),
                        fmt::format("TESSERA_TEST_MPI_FAULT={}", fault.hook));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(fault.message), std::string::npos) << r.err;
  // A failing rank waits 30 s for rank 0 before aborting on its own: well below that means
  // rank 0 noticed and stopped the job.
  EXPECT_LT(seconds, 20.0);
  EXPECT_FALSE(std::filesystem::exists(Path("out.h5")));
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find("out.h5"), std::string::npos) << entry.path();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, MpiFaultTest,
    ::testing::Values(
        Fault{"open@1", 3, "rank 1: injected fault: this rank cannot read the file"},
        Fault{"open@0", 2, "injected fault: this rank cannot read the file"},
        Fault{"udf@2", 3, "rank 2: injected fault: an exception in a UDF"},
        Fault{"udf@0", 3, "injected fault: an exception in a UDF"},
        Fault{"kill@1", 2, "signal 9"}),
    [](const auto& test_info) {
      std::string name = test_info.param.hook;
      for (char& c : name) {
        if (c == '@') c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace tessera
