// SPDX-License-Identifier: MIT
// End-to-end tests: the `tessera` command on generated data, checked against known answers.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tessera/core/error.h"
#include "tessera/dataset/synthetic.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/npy/npy_format.h"
#include "tests/cli_harness.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

using testing::CliResult;

class CliTest : public testing::CliHarness {
 protected:
  /// Run the `tessera` command with `args` (see CliHarness::RunProgram).
  CliResult Run(const std::string& args, const std::string& env = "") const {
    return RunProgram(TESSERA_CLI, args, env);
  }

  /// Read any file Tessera can open into a float64 vector, and its shape.
  static std::vector<double> Load(const std::string& path, std::vector<int64_t>* shape = nullptr,
                                  const formats::OpenParams& params = {}) {
    formats::FormatRegistry registry;
    formats::RegisterBuiltinFormats(registry);
    auto ds = registry.Open(path, params);
    const auto& meta = ds->meta();
    if (shape != nullptr) *shape = meta.shape.dims();
    std::vector<double> data(static_cast<size_t>(meta.shape.size()));
    ds->ReadFrames(0, std::max<int64_t>(meta.shape.nav_size(), 1), {0, meta.shape.sig_size()},
                   data.data(), DType::kFloat64);
    return data;
  }

  /// Names of the files left in the test directory (to catch half-written outputs).
  std::vector<std::string> Listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const auto name = entry.path().filename().string();
      if (name != "stdout.txt" && name != "stderr.txt") names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

dataset::SyntheticParams SmallParams(DType dtype) {
  dataset::SyntheticParams params;
  params.scan = {12, 10};
  params.frame = {64, 64};
  params.dtype = dtype;
  params.seed = 7;
  return params;
}

TEST_F(CliTest, GenerateThenInfoInEveryContainer) {
  for (const char* ext : {"h5", "npy", "raw"}) {
    const std::string file = Path(fmt::format("scan.{}", ext));
    auto gen = Run(fmt::format("generate 4dstem {} --scan 12x10 --frame 64x64 --dtype uint16 --seed 7", file));
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    const std::string raw_opts = std::string(ext) == "raw"
                                     ? " --nav-shape 12x10 --sig-shape 64x64 --dtype uint16"
                                     : "";
    auto info = Run(fmt::format("info {}{} --json", file, raw_opts));
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto j = json::parse(info.out);
    EXPECT_EQ(j["nav_shape"], (std::vector<int64_t>{12, 10})) << ext;
    EXPECT_EQ(j["sig_shape"], (std::vector<int64_t>{64, 64})) << ext;
    EXPECT_EQ(j["dtype"], "uint16") << ext;
    EXPECT_EQ(j["axes"].size(), 4u);
  }
  // Every container holds the same frames as the simulation.
  auto sim = dataset::Synthetic4dstem::Make(SmallParams(DType::kUint16));
  std::vector<double> expected(12 * 10 * 64 * 64);
  sim->ReadFrames(0, 120, {0, 4096}, expected.data(), DType::kFloat64);
  EXPECT_EQ(Load(Path("scan.npy")), expected);
  EXPECT_EQ(Load(Path("scan.h5")), expected);
  EXPECT_EQ(Load(Path("scan.raw"), nullptr,
                 {{"nav_shape", "12x10"}, {"sig_shape", "64x64"}, {"dtype", "uint16"}}),
            expected);
}

TEST_F(CliTest, CentreOfMassFollowsTheImposedShift) {
  const std::string file = Path("scan.npy");
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 12x10 --frame 64x64 --seed 7", file)).exit_code, 0);
  auto sim = dataset::Synthetic4dstem::Make(SmallParams(DType::kFloat32));
  std::string hot;
  for (int64_t p : sim->hot_pixels()) hot += fmt::format("{},{};", p / 64, p % 64);
  auto run = Run(fmt::format("run com {} --excluded-pixels '{}' -o {} -q", file, hot, Path("com.npy")));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto com_y = Load(Path("com_com_com_y.npy"));
  const auto com_x = Load(Path("com_com_com_x.npy"));
  ASSERT_EQ(com_y.size(), 120u);
  double worst = 0;
  double sum_sq = 0;
  for (int64_t y = 0; y < 12; ++y) {
    for (int64_t x = 0; x < 10; ++x) {
      const auto [cy, cx] = sim->PatternCentre(y, x);
      const double ey = com_y[static_cast<size_t>(y * 10 + x)] - cy;
      const double ex = com_x[static_cast<size_t>(y * 10 + x)] - cx;
      worst = std::max({worst, std::fabs(ey), std::fabs(ex)});
      sum_sq += ey * ey + ex * ex;
    }
  }
  // Poisson noise on ~4800 counts, spread to the Bragg disks 16 px out, moves the centre by
  // about 0.085 px (1 sigma); the imposed shift spans +-2 px.
  EXPECT_LT(std::sqrt(sum_sq / 240), 0.12);
  EXPECT_LT(worst, 0.45);
  // Without excluding the hot pixels the answer is visibly wrong: the check above can fail.
  ASSERT_EQ(Run(fmt::format("run com {} -o {} -q", file, Path("raw.npy"))).exit_code, 0);
  const auto biased = Load(Path("raw_com_com_y.npy"));
  double worst_biased = 0;
  for (size_t i = 0; i < biased.size(); ++i) {
    const auto [cy, cx] = sim->PatternCentre(static_cast<int64_t>(i) / 10, static_cast<int64_t>(i) % 10);
    worst_biased = std::max(worst_biased, std::fabs(biased[i] - cy));
  }
  EXPECT_GT(worst_biased, 0.5);
}

TEST_F(CliTest, VirtualDetectorsMatchBruteForce) {
  const std::string file = Path("scan.h5");
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 12x10 --frame 64x64 --dtype uint16 --seed 7", file)).exit_code, 0);
  // A weighted mask image from a file: a ramp over the columns.
  {
    NdArray weights(DType::kFloat32, {64, 64});
    auto w = weights.view<float>();
    for (int64_t y = 0; y < 64; ++y)
      for (int64_t x = 0; x < 64; ++x) w(y, x) = static_cast<float>(x) / 64.0f;
    formats::WriteNpy(Path("weights.npy"), weights);
  }
  auto run = Run(fmt::format(
      "run virtual-detector {} --param 'masks=disk:31.5,31.5,9;ring:31.5,31.5,12,25;rect:0,0,10,20;"
      "point:5,7;polygon:40.5,40.5,40.5,50.5,50.5,50.5,50.5,40.5' "
      "--param mask_file={} -o {} -q", file, Path("weights.npy"), Path("vd.npy")));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<int64_t> shape;
  const auto intensity = Load(Path("vd.npy"), &shape);
  ASSERT_EQ(shape, (std::vector<int64_t>{12, 10, 6}));
  const auto data = Load(file);
  for (int64_t f = 0; f < 120; ++f) {
    double disk = 0, ring = 0, rect = 0, point = 0, polygon = 0, ramp = 0;
    for (int64_t y = 0; y < 64; ++y) {
      for (int64_t x = 0; x < 64; ++x) {
        const double v = data[static_cast<size_t>(f * 4096 + y * 64 + x)];
        const double d2 = (y - 31.5) * (y - 31.5) + (x - 31.5) * (x - 31.5);
        if (d2 <= 81) disk += v;
        if (d2 >= 144 && d2 <= 625) ring += v;
        if (y >= 0 && y < 10 && x >= 0 && x < 20) rect += v;
        if (y == 5 && x == 7) point += v;
        if (y >= 41 && y <= 50 && x >= 41 && x <= 50) polygon += v;  // centres inside the square
        ramp += v * static_cast<double>(static_cast<float>(x) / 64.0f);
      }
    }
    const double want[6] = {disk, ring, rect, point, polygon, ramp};
    for (int m = 0; m < 6; ++m) {
      EXPECT_NEAR(intensity[static_cast<size_t>(f * 6 + m)], want[m], 1e-5 * want[m] + 1e-2)
          << "frame " << f << " mask " << m;
    }
  }
}

TEST_F(CliTest, SeveralAnalysesInOnePassBitIdenticalOnEveryExecutor) {
  const std::string file = Path("scan.raw");
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 12x10 --frame 64x64 --seed 7", file)).exit_code, 0);
  const std::string opts = "--nav-shape 12x10 --sig-shape 64x64 --dtype float32 --partition-mib 0.05 -q";
  auto inline_run = Run(fmt::format("run sum,stats,frame-sum,com {} {} --executor inline -o {}", file, opts,
                                    Path("a.npy")));
  ASSERT_EQ(inline_run.exit_code, 0) << inline_run.err;
  auto threads_run = Run(fmt::format("run sum,stats,frame-sum,com {} {} --threads 2 -o {}", file, opts,
                                     Path("b.npy")));
  ASSERT_EQ(threads_run.exit_code, 0) << threads_run.err;
  int compared = 0;
  for (const auto& name : Listing()) {
    if (name.rfind("a_", 0) != 0) continue;
    EXPECT_EQ(Slurp(Path(name)), Slurp(Path("b_" + name.substr(2)))) << name;
    ++compared;
  }
  EXPECT_GE(compared, 8);
  // The one-pass sum equals the sum of all frames.
  const auto sum = Load(Path("a_sum_sum.npy"));
  const auto data = Load(file, nullptr, {{"nav_shape", "12x10"}, {"sig_shape", "64x64"}, {"dtype", "float32"}});
  for (int64_t p : {0, 2080, 4095}) {
    double s = 0;
    for (int64_t f = 0; f < 120; ++f) s += data[static_cast<size_t>(f * 4096 + p)];
    EXPECT_DOUBLE_EQ(sum[static_cast<size_t>(p)], s);
  }
}

TEST_F(CliTest, ResultFileCarriesProvenance) {
  const std::string file = Path("scan.npy");
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 12x10 --frame 64x64 --seed 7", file)).exit_code, 0);
  const std::string out = Path("result.h5");
  auto run = Run(fmt::format("run sum,com {} --roi 2:6,0:5 -o {} -q", file, out));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t h5 = H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(h5, 0);
  EXPECT_GT(H5Lexists(h5, "/provenance", H5P_DEFAULT), 0);
  EXPECT_GT(H5Lexists(h5, "/results", H5P_DEFAULT), 0);
  const hid_t prov = H5Gopen2(h5, "/provenance", H5P_DEFAULT);
  for (const char* attr : {"command_line", "tessera_version", "git_hash", "start_time", "end_time", "host", "parameters"}) {
    EXPECT_GT(H5Aexists(prov, attr), 0) << attr;
  }
  H5Gclose(prov);
  H5Fclose(h5);
  EXPECT_EQ(Listing(), (std::vector<std::string>{"result.h5", "scan.npy"}));
}

TEST_F(CliTest, CtrlCLeavesNoOutputBehind) {
  const std::string file = Path("scan.npy");
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 12x10 --frame 64x64 --seed 7", file)).exit_code, 0);
  auto run = Run(fmt::format("run stats {} --partition-mib 0.05 --executor inline -o {}", file, Path("out.h5")),
                 "TESSERA_TEST_SIGINT_AFTER_PARTITIONS=2");
  EXPECT_EQ(run.exit_code, 130) << run.err;
  EXPECT_NE(run.err.find("cancelled"), std::string::npos) << run.err;
  EXPECT_EQ(Listing(), (std::vector<std::string>{"scan.npy"}));
}

TEST_F(CliTest, BadInputsGiveOneClearLineAndNoOutput) {
  const std::string npy = Path("scan.npy");
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 4x4 --frame 32x32 --seed 1", npy)).exit_code, 0);
  // A truncated raw file: half of the bytes its shape needs.
  {
    std::ofstream(Path("short.raw"), std::ios::binary) << std::string(4 * 4 * 32 * 32 * 2, '\0');
  }
  {
    std::ofstream(Path("corrupt.npy"), std::ios::binary) << "\x93NUMPY\x01\x00\x20\x00{'descr': '<f4', 'fortran_";
  }
  {
    std::string header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4, 4), }";
    header.resize(118, ' ');
    header += '\n';
    std::string bytes = "\x93NUMPY\x01";
    bytes += '\0';
    bytes += static_cast<char>(header.size() & 0xff);
    bytes += static_cast<char>(header.size() >> 8);
    bytes += header + std::string(2 * 16 * 4, '\0');
    std::ofstream(Path("fortran.npy"), std::ios::binary) << bytes;
  }
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 4x4 --frame 32x32 --seed 1", Path("scan.h5"))).exit_code, 0);
  struct Case {
    std::string args;
    int exit_code;
    std::vector<std::string> mentions;
  };
  const std::vector<Case> cases = {
      {fmt::format("run sum {} --nav-shape 4x4 --sig-shape 32x32 --dtype float32", Path("short.raw")), 4,
       {"short.raw"}},
      {fmt::format("run sum {} --nav-shape 4x5 --sig-shape 32x32 --dtype float16", Path("short.raw")), 2,
       {"dtype"}},
      {fmt::format("info {}", Path("corrupt.npy")), 4, {"corrupt.npy"}},
      {fmt::format("info {}", Path("fortran.npy")), 5, {"fortran.npy", "fortran_order"}},
      {fmt::format("info {}:/no/such/dataset", Path("scan.h5")), 3, {"scan.h5", "/no/such/dataset"}},
      {fmt::format("info {}", Path("missing.npy")), 3, {"missing.npy"}},
      {fmt::format("run sum {} --roi 0:9,0:2", npy), 2, {"roi"}},
      {fmt::format("run nonsense {}", npy), 2, {"nonsense"}},
      {fmt::format("run sum {} --param bogus=1", npy), 2, {"bogus"}},
      {fmt::format("run virtual-detector {} --param 'masks=disk:100,100,5'", npy), 2, {"masks"}},
      {fmt::format("run com {} --param r=abc", npy), 2, {"r"}},
      {fmt::format("run pick {} --param positions=9,9", npy), 2, {"positions"}},
      {fmt::format("run sum {} -o {}", npy, Path("nodir/out.h5")), 6, {"out.h5"}},
  };
  for (const auto& c : cases) {
    // Runs that would write a result get an output path, so a half-written file would show.
    const bool wants_output = c.args.rfind("run ", 0) == 0 && c.args.find(" -o ") == std::string::npos;
    const auto run = Run(wants_output ? c.args + " -o " + Path("never.h5") : c.args);
    EXPECT_EQ(run.exit_code, c.exit_code) << c.args << "\n" << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << c.args << "\n" << run.err;
    for (const auto& m : c.mentions) EXPECT_NE(run.err.find(m), std::string::npos) << c.args << "\n" << run.err;
  }
  EXPECT_EQ(Listing(), (std::vector<std::string>{"corrupt.npy", "fortran.npy", "scan.h5", "scan.npy", "short.raw"}));
}

TEST_F(CliTest, RepeatableOptionsDoNotSwallowTheFile) {
  const std::string file = Path("scan.npy");
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 4x4 --frame 32x32 --seed 1", file)).exit_code, 0);
  // Options before the positional file, each taking exactly one value.
  auto run = Run(fmt::format("run virtual-detector --param masks=disk:15.5,15.5,4 -o {} -o {} {} -q",
                             Path("a.npy"), Path("b.npy"), file));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Slurp(Path("a.npy")), Slurp(Path("b.npy")));
}

TEST_F(CliTest, OpsListComesFromTheRegistry) {
  auto run = Run("ops list --json");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto j = json::parse(run.out);
  std::vector<std::string> names;
  for (const auto& entry : (j.is_array() ? j : j["analyses"])) names.push_back(entry["name"]);
  for (const char* expected : {"sum", "frame-sum", "stats", "virtual-detector", "com", "radial-profile", "pick"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

std::string TestDataDir() {
  if (const char* env = std::getenv("TESSERA_TESTDATA")) return env;
  return std::string(TESSERA_SOURCE_DIR) + "/../shared/data";
}

/// Real files written by other tools (Prismatic, rosettasciio, HyperSpy): the CLI reproduces the
/// shape, dtype, sum, min and max recorded in their *.expected.json.
TEST_F(CliTest, RealFilesFromOtherToolsMatchTheirExpectedValues) {
  const std::string data = TestDataDir();
  if (!fs::exists(data)) GTEST_SKIP() << "no test data at " << data;
  struct Case {
    std::string file;
    size_t raw_index;
  };
  const std::vector<Case> cases = {{"emd/berkeley/Si100_4D.emd", 0},
                                   {"emd/berkeley/Si100_4D.emd", 1},
                                   {"emd/berkeley/emd_type1_stringDims.h5", 0},
                                   {"emd/berkeley/example_signal.emd", 0}};
  for (const auto& c : cases) {
    const std::string file = data + "/" + c.file;
    const auto expected = json::parse(Slurp(file + ".expected.json"))["raw"][c.raw_index];
    const std::string h5path = expected["group"].get<std::string>() + "/" + expected["dataset"].get<std::string>();
    const std::string target = fmt::format("'{}:{}'", file, h5path);
    auto info = Run("info " + target + " --json");
    ASSERT_EQ(info.exit_code, 0) << c.file << "\n" << info.err;
    const auto meta = json::parse(info.out);
    EXPECT_EQ(meta["shape"], expected["shape"]) << c.file;
    EXPECT_EQ(meta["dtype"], expected["dtype"]) << c.file;
    auto run = Run("run frame-sum,stats " + target + " --json -q");
    ASSERT_EQ(run.exit_code, 0) << c.file << "\n" << run.err;
    const auto out = json::parse(run.out);
    const auto& frame_sum = out["results"]["frame-sum"][0];
    const double frames = out["frames"].get<double>();
    const double total = frame_sum["mean"].get<double>() * frames;
    const double want = expected["stats"]["sum"].get<double>();
    EXPECT_NEAR(total, want, 1e-9 * std::fabs(want) + 1e-9) << c.file;
    double lo = 0, hi = 0;
    for (const auto& r : out["results"]["stats"]) {
      if (r["name"] == "min") lo = r["min"].get<double>();
      if (r["name"] == "max") hi = r["max"].get<double>();
    }
    EXPECT_EQ(lo, expected["stats"]["min"].get<double>()) << c.file;
    EXPECT_EQ(hi, expected["stats"]["max"].get<double>()) << c.file;
  }
  // Detector and microscope formats, opened without a --format flag: the total over all frames
  // (frame-sum) reproduces the sums recorded by mrcfile, HyperSpy and a reference MIB parser.
  struct Detector {
    std::string file;
    std::string section;  // "raw" or "signals"
  };
  for (const auto& d : std::vector<Detector>{{"mib/Single_9_Frame_CounterDepth_12_Rows_256.mib", "raw"},
                                             {"mib/Quad_1_Frame_CounterDepth_6_Rows_256.mib", "raw"},
                                             {"dm4/dmTest_3D_int16_64,65,66.dm4", "signals"},
                                             {"dm3/test_stackbuilder_imagestack.dm3", "signals"},
                                             {"dm4/EELS_SI.dm4", "signals"},
                                             {"mrc/relion31.mrcs", "raw"},
                                             {"empad/map4x4.xml", "signals"},
                                             {"tia/16x16-spectrum_image-5x5x1024.emi", "signals"},
                                             {"blo/test1.blo", "signals"},
                                             {"raw/test_ripple_sdim-2_ndim-1_uint16.rpl", "signals"},
                                             {"msa/example2.msa", "signals"}}) {
    const std::string file = data + "/" + d.file;
    const auto expected = json::parse(Slurp(file + ".expected.json"))[d.section][0];
    auto run = Run(fmt::format("run frame-sum '{}' --json -q", file));
    ASSERT_EQ(run.exit_code, 0) << d.file << "\n" << run.err;
    const auto out = json::parse(run.out);
    EXPECT_EQ(out["input"]["shape"], expected["shape"]) << d.file;
    const double total =
        out["results"]["frame-sum"][0]["mean"].get<double>() * out["frames"].get<double>();
    const double want = expected["stats"]["sum"].get<double>();
    EXPECT_NEAR(total, want, 1e-9 * std::fabs(want) + 1e-6) << d.file;
  }

  // Calibrations come through: Si100_4D's scan step is 0.5 (nm).
  auto info = Run(fmt::format("info '{}/emd/berkeley/Si100_4D.emd:/4DSTEM_simulation/data/datacubes/"
                              "CBED_array_depth0000/datacube' --json", data));
  const auto axes = json::parse(info.out)["axes"];
  EXPECT_DOUBLE_EQ(axes[0]["scale"].get<double>(), 0.5);
  EXPECT_NEAR(axes[2]["scale"].get<double>(), 0.18416208028793335, 1e-7);
}

/// TIFF files, a directory of TIFFs and TVIPS series through the CLI, without --format: shape,
/// dtype, calibration and the total over all frames match their *.expected.json.
TEST_F(CliTest, TiffAndTvipsFilesThroughTheCli) {
  const std::string data = TestDataDir();
  if (!fs::exists(data + "/tiff")) GTEST_SKIP() << "no test data at " << data;
  struct Case {
    std::string target;    // relative to the data directory
    std::string expected;  // *.expected.json relative to the data directory
    std::string section;
  };
  for (const auto& c : std::vector<Case>{
           {"tiff/FEI-Helios-Ebeam-16bits.tif", "tiff/FEI-Helios-Ebeam-16bits.tif", "signals"},
           {"tiff/TVIPS_bin4.tif", "tiff/TVIPS_bin4.tif", "signals"},
           {"tiff/test_loading_image_saved_with_DM_stack.tif",
            "tiff/test_loading_image_saved_with_DM_stack.tif", "signals"},
           {"tiff/test_loading_image_saved_with_imageJ_stack.tif",
            "tiff/test_loading_image_saved_with_imageJ_stack.tif", "signals"},
           {"tiff/savu_image_test/tiffs", "tiff/savu_image_test", "raw"},
           {"tiff/savu_image_test/tiffs/raw_*.tiff", "tiff/savu_image_test", "raw"},
           {"tvips/test_tvips_2233_000.tvips", "tvips/test_tvips_2233_000.tvips", "signals"},
           {"tvips/test_tvips_2345_000.tvips", "tvips/test_tvips_2345_000.tvips", "signals"}}) {
    SCOPED_TRACE(c.target);
    const auto expected = json::parse(Slurp(data + "/" + c.expected + ".expected.json"))[c.section][0];
    const std::string target = fmt::format("'{}/{}'", data, c.target);
    auto info = Run("info " + target + " --json");
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto meta = json::parse(info.out);
    EXPECT_EQ(meta["shape"], expected["shape"]);
    EXPECT_EQ(meta["dtype"], expected["dtype"]);
    if (expected.contains("axes")) {
      const auto& axes = meta["axes"];
      ASSERT_EQ(axes.size(), expected["axes"].size());
      const double scale = expected["axes"].back()["scale"].get<double>();
      EXPECT_NEAR(axes.back()["scale"].get<double>(), scale, 1e-9 * std::fabs(scale));
    }
    auto run = Run("run frame-sum " + target + " --json -q");
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const auto out = json::parse(run.out);
    const double total =
        out["results"]["frame-sum"][0]["mean"].get<double>() * out["frames"].get<double>();
    const double want = expected["stats"]["sum"].get<double>();
    EXPECT_NEAR(total, want, 1e-9 * std::fabs(want) + 1e-6);
  }
  // A damaged TIFF is one clear line naming the file, and no crash.
  const std::string cut = Path("cut.tif");
  const std::string bytes = Slurp(data + "/tiff/FEI-Helios-Ebeam-16bits.tif");
  std::ofstream(cut, std::ios::binary).write(bytes.data(), 1000);
  auto bad = Run("info " + cut);
  EXPECT_EQ(bad.exit_code, 4) << bad.err;
  EXPECT_NE(bad.err.find(cut), std::string::npos) << bad.err;
}

// HyperSpy .zspy stores (a directory and a zip), a DM packed complex FFT and the MRC writer,
// through the command line.
TEST_F(CliTest, ZspyStoresPackedFftAndMrcOutput) {
  const std::string data = TestDataDir();
  if (fs::exists(data + "/zspy")) {
    for (const char* name :
         {"signal1d_10x10-DirectoryStore.zspy", "signal1d_10x10-ZipStore.zspy"}) {
      const std::string store = data + "/zspy/" + name;
      const auto expected = json::parse(Slurp(store + ".expected.json"))["raw"][0];
      auto info = Run(fmt::format("info '{}' --json", store));
      ASSERT_EQ(info.exit_code, 0) << name << "\n" << info.err;
      const auto j = json::parse(info.out);
      EXPECT_EQ(j["format"], "zspy") << name;
      EXPECT_EQ(j["nav_shape"], (std::vector<int64_t>{10})) << name;
      EXPECT_EQ(j["sig_shape"], (std::vector<int64_t>{10})) << name;
      EXPECT_EQ(j["dtype"], expected["dtype"]) << name;
      auto run = Run(fmt::format("run frame-sum '{}' --json -q", store));
      ASSERT_EQ(run.exit_code, 0) << name << "\n" << run.err;
      const auto out = json::parse(run.out);
      EXPECT_EQ(out["input"]["shape"], expected["shape"]) << name;
      const double total =
          out["results"]["frame-sum"][0]["mean"].get<double>() * out["frames"].get<double>();
      EXPECT_NEAR(total, expected["stats"]["sum"].get<double>(), 1e-9) << name;
      // Frame-sum per row of arange(100).reshape(10, 10): 45 + 100 * row.
      const std::string npy = Path("rows.npy");
      ASSERT_EQ(Run(fmt::format("run frame-sum '{}' -o {} -q", store, npy)).exit_code, 0);
      const auto rows = Load(npy);
      ASSERT_EQ(rows.size(), 10u);
      for (size_t r = 0; r < 10; ++r) EXPECT_EQ(rows[r], 45.0 + 100.0 * static_cast<double>(r));
      // zspy -> MRC: int64 has no MRC mode, so convert refuses it with exit code 5.
      auto refuse = Run(fmt::format("convert '{}' {}", store, Path("no.mrc")));
      EXPECT_EQ(refuse.exit_code, 5) << refuse.err;
      EXPECT_NE(refuse.err.find("int64"), std::string::npos) << refuse.err;
      EXPECT_FALSE(fs::exists(Path("no.mrc")));
    }
  }
  if (fs::exists(data + "/dm4/test_fft_packed_complex8.dm4")) {
    auto info = Run(fmt::format("info '{}/dm4/test_fft_packed_complex8.dm4' --json", data));
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto j = json::parse(info.out);
    EXPECT_EQ(j["sig_shape"], (std::vector<int64_t>{5, 5}));
    EXPECT_EQ(j["dtype"], "complex64");
  }
  // npy -> mrc -> back: same values, MRC2014 header.
  auto gen = Run(fmt::format("generate 4dstem {} --scan 4x3 --frame 16x16 --dtype uint16 --seed 3",
                             Path("scan.npy")));
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto conv = Run(fmt::format("convert {} {}", Path("scan.npy"), Path("scan.mrc")));
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  std::vector<int64_t> shape;
  const auto back = Load(Path("scan.mrc"), &shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{12, 16, 16}));  // nav 4x3 flattened into sections
  EXPECT_EQ(back, Load(Path("scan.npy")));
  auto info = Run(fmt::format("info {} --json", Path("scan.mrc")));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto j = json::parse(info.out);
  EXPECT_EQ(j["format"], "mrc");
  EXPECT_EQ(j["dtype"], "uint16");
  const std::string header = Slurp(Path("scan.mrc")).substr(0, 1024);
  EXPECT_EQ(header.substr(208, 4), "MAP ");
  int32_t nversion = 0;
  std::memcpy(&nversion, header.data() + 108, 4);
  EXPECT_EQ(nversion, 20140);
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

/// A RAW-mode (R64) Merlin frame header: one 256x256 chip, counter depth 6.
std::string RawMibHeader(int sequence) {
  std::string text = fmt::format(
      "MQ1,{:06d},00384,01,0256,0256,R64,   1x1,01,2021-04-15 15:01:38.996867,0.001000,0,0,0,"
      "2.000000E+0,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,"
      "0.000000E+0,3RX,011,511,000,175,MQ1A,2021-04-15T14:01:38.996867651Z,1000000ns,6,",
      sequence);
  text.resize(384, '\0');
  return text;
}

/// Merlin RAW mode split over two files behind one .hdr, through the CLI: frame f has every
/// pixel at f + 1 (depth 6: one byte per pixel), so frame-sum is 65536 * (f + 1).
TEST_F(CliTest, MerlinRawMultiFileAcquisition) {
  for (int part = 0; part < 2; ++part) {
    std::string bytes;
    for (int f = 2 * part; f < 2 * part + 2; ++f) {
      bytes += RawMibHeader(f + 1) + std::string(256 * 256, static_cast<char>(f + 1));
    }
    std::ofstream(Path(fmt::format("raw_{}.mib", part + 1)), std::ios::binary) << bytes;
  }
  std::ofstream(Path("raw.hdr"), std::ios::binary)
      << "HDR,\t\r\nFrames in Acquisition (Number):\t4\r\nFrames per Trigger (Number):\t2\r\nEnd\t";
  auto info = Run(fmt::format("info {} --json", Path("raw.hdr")));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto j = json::parse(info.out);
  EXPECT_EQ(j["format"], "mib");
  EXPECT_EQ(j["nav_shape"], (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(j["sig_shape"], (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(j["dtype"], "uint8");
  const std::string npy = Path("raw_sums.npy");
  auto run = Run(fmt::format("run frame-sum {} -o {} -q", Path("raw.hdr"), npy));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Load(npy), (std::vector<double>{65536, 131072, 196608, 262144}));
  // sync_offset=1 drops the first frame; the last position reads as zeros.
  run = Run(fmt::format("run frame-sum {} --open sync_offset=1 -o {} -q", Path("raw.hdr"),
                        Path("shifted.npy")));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(Load(Path("shifted.npy")), (std::vector<double>{131072, 196608, 262144, 0}));
  // A truncated part names the file.
  std::filesystem::resize_file(Path("raw_2.mib"), 384 + 256 * 256 + 10);
  auto bad = Run(fmt::format("info {}", Path("raw.hdr")));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("raw_2.mib"), std::string::npos) << bad.err;
}

/// NeXus tomography: the DIAD scan's image key splits its 3201 frames into projections, flats
/// and darks; together they hold the whole scan's sum.
TEST_F(CliTest, NexusTomographyImageKeySelection) {
  const std::string nxs = TestDataDir() + "/nexus/k11_diad/k11-18014.nxs";
  if (!fs::exists(nxs)) GTEST_SKIP() << "no test data at " << nxs;
  double total = 0.0;
  for (const auto& [images, frames] : {std::pair<std::string, int64_t>{"projections", 3001},
                                       {"flats", 100}, {"darks", 100}}) {
    auto info = Run(fmt::format("info '{}' --open images={} --json", nxs, images));
    ASSERT_EQ(info.exit_code, 0) << images << "\n" << info.err;
    const auto j = json::parse(info.out);
    EXPECT_EQ(j["format"], "hdf5");
    EXPECT_EQ(j["nav_shape"], (std::vector<int64_t>{frames})) << images;
    auto run = Run(fmt::format("run frame-sum '{}' --open images={} --json -q", nxs, images));
    ASSERT_EQ(run.exit_code, 0) << images << "\n" << run.err;
    const auto out = json::parse(run.out);
    total += out["results"]["frame-sum"][0]["mean"].get<double>() * out["frames"].get<double>();
  }
  EXPECT_NEAR(total, 68366387021.0, 68366387021.0 * 1e-9);
  auto bad = Run(fmt::format("info '{}' --open images=sinograms", nxs));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("sinograms"), std::string::npos) << bad.err;
}

/// Thermo Fisher Velox .emd through the CLI: detected without --format, signals listed in
/// `info`, one picked with --open signal=N, frame-sum totals equal to the expected sums.
TEST_F(CliTest, VeloxEmdSignalsThroughTheCli) {
  const std::string data = TestDataDir() + "/emd/velox";
  if (!fs::exists(data)) GTEST_SKIP() << "no test data at " << data;
  const std::string stem = data + "/STEM HAADF-DF4-DF2-BF Diffraction Micro.emd";
  auto info = Run(fmt::format("info '{}' --json", stem));
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto j = json::parse(info.out);
  EXPECT_EQ(j["format"], "velox");
  EXPECT_EQ(j["sig_shape"], (std::vector<int64_t>{128, 128}));
  EXPECT_EQ(j["dtype"], "uint16");
  const auto signals = j["metadata"]["signals"];
  ASSERT_EQ(signals.size(), 4u);
  EXPECT_EQ(signals[0]["title"], "HAADF");
  auto picked = Run(fmt::format("info '{}' --open signal=3 --json", stem));
  ASSERT_EQ(picked.exit_code, 0) << picked.err;
  EXPECT_EQ(json::parse(picked.out)["metadata"]["title"], signals[3]["title"]);
  auto missing = Run(fmt::format("info '{}' --open signal=9", stem));
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no signal 9"), std::string::npos) << missing.err;

  struct Case {
    std::string file;
    std::string open;
    std::vector<int64_t> shape;
    double sum;
  };
  const auto raw_sum = [&](const std::string& file, size_t i) {
    return json::parse(Slurp(data + "/" + file + ".expected.json"))["raw"][i]["stats"]["sum"]
        .get<double>();
  };
  const auto hs_sum = [&](const std::string& file, size_t i) {
    return json::parse(Slurp(data + "/" + file + ".expected.json"))["signals"][i]["stats"]["sum"]
        .get<double>();
  };
  for (const auto& c : std::vector<Case>{
           {"fei_example_tem_stack.emd", "", {2, 3, 3}, raw_sum("fei_example_tem_stack.emd", 1)},
           {"fei_emd_si.emd", "", {16, 16, 4096}, hs_sum("fei_emd_si.emd", 1)},
           {"fei_emd_si.emd", "--open signal=0", {5, 16, 16}, raw_sum("fei_emd_si.emd", 1)},
           {"fei_emd_si.emd", "--open sum_frames=false", {5, 16, 16, 4096},
            hs_sum("fei_emd_si.emd", 1)}}) {
    SCOPED_TRACE(c.file + " " + c.open);
    auto run = Run(fmt::format("run frame-sum '{}/{}' {} --json -q", data, c.file, c.open));
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const auto out = json::parse(run.out);
    EXPECT_EQ(out["input"]["shape"], c.shape);
    const double total =
        out["results"]["frame-sum"][0]["mean"].get<double>() * out["frames"].get<double>();
    EXPECT_NEAR(total, c.sum, 1e-9 * c.sum);
  }
}

}  // namespace
}  // namespace tessera
