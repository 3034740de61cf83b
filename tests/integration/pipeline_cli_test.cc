// SPDX-License-Identifier: MIT
// `tessera pipeline validate|show|run|ops`, `tessera cite` and `tessera reproduce`, end to end.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli_harness.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class PipelineCliTest : public testing::CliHarness {
 protected:
  testing::CliResult Run(const std::string& args) const { return RunProgram(TESSERA_CLI, args); }

  // A generated scan and a pipeline: sum -> blur -> figure, bf virtual image.
  std::string WritePipeline() const {
    EXPECT_EQ(Run(fmt::format("generate 4dstem {} --scan 6x5 --frame 32x32 --dtype uint16", Path("scan.npy"))).exit_code, 0);
    const json doc = {
        {"tessera", 1},
        {"name", "small"},
        {"nodes",
         {{{"id", "scan"}, {"op", "read"}, {"params", {{"path", "scan.npy"}, {"options", {{"sig_dims", 2}}}}}},
          {{"id", "total"}, {"op", "sum"}},
          {{"id", "smooth"}, {"op", "gaussian-blur"}, {"params", {{"sigma", 1.5}}}},
          {{"id", "show"}, {"op", "image"}, {"params", {{"colormap", "viridis"}}}},
          {{"id", "bf"}, {"op", "virtual-detector"}, {"params", {{"shape", "disk"}, {"r", 4}}}}}},
        {"edges",
         {{{"from", {{"node", "scan"}, {"port", "data"}}}, {"to", {{"node", "total"}, {"port", "data"}}}},
          {{"from", {{"node", "total"}, {"port", "sum"}}}, {"to", {{"node", "smooth"}, {"port", "in"}}}},
          {{"from", {{"node", "smooth"}, {"port", "out"}}}, {"to", {{"node", "show"}, {"port", "image"}}}},
          {{"from", {{"node", "scan"}, {"port", "data"}}}, {"to", {{"node", "bf"}, {"port", "data"}}}}}}};
    std::ofstream(Path("p.json")) << doc.dump(2);
    return Path("p.json");
  }
};

TEST_F(PipelineCliTest, ValidateShowRunCiteReproduce) {
  const auto p = WritePipeline();
  auto r = Run("pipeline validate " + p);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("valid (5 nodes, 4 edges"), std::string::npos) << r.out;
  r = Run("pipeline show " + p);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("smooth = gaussian-blur v1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<- total.sum"), std::string::npos) << r.out;

  r = Run(fmt::format("pipeline run {} -o {} --json", p, Path("out")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(summary["executed"], 5);
  EXPECT_EQ(summary["nodes"]["bf"]["outputs"]["intensity"], "image 6x5 float32");
  EXPECT_TRUE(fs::exists(Path("out/small.h5")));
  EXPECT_GT(fs::file_size(Path("out/show.png")), 500u);
  for (const auto& e : fs::directory_iterator(Path("out"))) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "temp file left: " << e.path();
  }

  r = Run("cite " + Path("out/small.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("`gaussian-blur` v1; sigma = 1.5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("scan.npy ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("@software{tessera"), std::string::npos) << r.out;

  r = Run(fmt::format("reproduce {} -o {}", Path("out/small.h5"), Path("again")));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("every result is bit-identical"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("smooth.out"), std::string::npos) << r.out;

  // A changed input is caught by its checksum before anything runs (exit 4, corrupt file).
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 6x5 --frame 32x32 --dtype uint16 --seed 9", Path("scan.npy"))).exit_code, 0);
  r = Run(fmt::format("reproduce {} -o {}", Path("out/small.h5"), Path("again2")));
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("scan.npy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("changed"), std::string::npos) << r.err;
}

TEST_F(PipelineCliTest, SetAndInputChangeARunAndAreRecorded) {
  const auto p = WritePipeline();
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 3x3 --frame 32x32", Path("other.npy"))).exit_code, 0);
  auto r = Run(fmt::format("pipeline run {} --input scan={} --set smooth.sigma=[1,3] --set show.colormap=magma -o {} --json",
                           p, Path("other.npy"), Path("out")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["nodes"]["bf"]["outputs"]["intensity"], "image 3x3 float32");
  r = Run("cite " + Path("out/small.h5"));
  EXPECT_NE(r.out.find("sigma = [1,3]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("colormap = magma"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("other.npy"), std::string::npos) << r.out;
}

TEST_F(PipelineCliTest, SweepsWriteOneFigurePerValue) {
  const auto p = WritePipeline();
  auto r = Run(fmt::format("pipeline run {} --set 'smooth.sigma={{\"sweep\": [0.5, 1, 2]}}' -o {}", p, Path("out")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(fs::exists(Path(fmt::format("out/show_{}.png", i)))) << i;
}

TEST_F(PipelineCliTest, BadDocumentsExitWithClearErrors) {
  const auto p = WritePipeline();
  // Every problem at once, exit 2.
  auto r = Run(fmt::format("pipeline validate {} --set smooth.sigma=-1 --set bf.shape=3", p));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("2 problems"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("node 'smooth': params/sigma"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("node 'bf': params/shape"), std::string::npos) << r.err;
  r = Run(fmt::format("pipeline validate {} --json --set smooth.sigma=-1", p));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(json::parse(r.out)["problems"][0]["node"], "smooth");
  // Not JSON: the file and the byte offset.
  std::ofstream(Path("broken.json")) << "{\"tessera\": 1, \"nodes\": [";
  r = Run("pipeline run " + Path("broken.json"));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("broken.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offset"), std::string::npos) << r.err;
  // No such file, no such node for --set.
  EXPECT_EQ(Run("pipeline run " + Path("nope.json")).exit_code, 3);
  r = Run(fmt::format("pipeline run {} --set ghost.sigma=1", p));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no node 'ghost'"), std::string::npos) << r.err;
  // A missing input file: the read node and the path, exit 3, no output written.
  r = Run(fmt::format("pipeline run {} --input {} -o {}", p, Path("missing.npy"), Path("out")));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("node 'scan'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(Path("out/small.h5")));
  // cite on a file that is not a result.
  EXPECT_NE(Run("cite " + Path("scan.npy")).exit_code, 0);
}

TEST_F(PipelineCliTest, CiteWorksOnRunResultsToo) {
  ASSERT_EQ(Run(fmt::format("generate 4dstem {} --scan 4x4 --frame 32x32", Path("scan.npy"))).exit_code, 0);
  ASSERT_EQ(Run(fmt::format("run sum,com {} -p com.r=6 -o {}", Path("scan.npy"), Path("r.h5"))).exit_code, 0);
  const auto r = Run("cite " + Path("r.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("`com` v"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("r = 6"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("single pass of analyses"), std::string::npos) << r.out;
}

TEST_F(PipelineCliTest, OpsListsTheRegistry) {
  auto r = Run("pipeline ops --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json ops = json::parse(r.out);
  std::set<std::string> names;
  for (const auto& op : ops) names.insert(op["name"].get<std::string>());
  for (const char* name : {"read", "write", "load", "crop", "bin", "flip-rotate", "transpose", "corrections", "dtype",
                           "sum", "virtual-detector", "com", "gaussian-blur", "fft", "arithmetic", "normalise",
                           "threshold", "find-peaks", "eels-background", "spectrum-peaks", "image", "line-plot",
                           "overlay-points", "overlay-vectors"}) {
    EXPECT_EQ(names.count(name), 1u) << name;
  }
  r = Run("pipeline ops --markdown");
  EXPECT_NE(r.out.find("## `eels-background` (array operator, version 1)"), std::string::npos);
}

}  // namespace
}  // namespace tessera
