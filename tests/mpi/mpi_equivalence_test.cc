// SPDX-License-Identifier: MIT
// Run under `mpirun -n N`: every analysis gives bit-identical results on N ranks and in one
// process (inline executor), for several partitionings, dtypes and ROIs. Every rank runs every
// test; rank 0 compares and reports; the other ranks' output is silenced.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tessera/dataset/roi.h"
#include "tessera/dataset/synthetic.h"
#include "tessera/exec/executor.h"
#include "tessera/exec/mpi_world.h"
#include "tessera/ops/operator_registry.h"

namespace tessera {
namespace {

exec::MpiWorld* g_world = nullptr;

const ops::OperatorRegistry& Operators() {
  static const ops::OperatorRegistry registry = [] {
    ops::OperatorRegistry r;
    ops::RegisterBuiltinOps(r);
    return r;
  }();
  return registry;
}

/// Every analysis, with parameters that exercise its code paths.
std::vector<std::pair<std::string, std::map<std::string, std::string>>> Analyses() {
  return {
      {"sum", {}},
      {"frame-sum", {}},
      {"stats", {}},
      {"virtual-detector", {{"shape", "ring"}, {"ri", "3"}, {"ro", "9"}}},
      {"virtual-detector",
       {{"masks", "disk:12,12,4;ring:12,12,5,9;disk:10,14,3"}, {"backend", "dense"}}},
      {"virtual-detector", {{"masks", "disk:12,12,4;ring:11,12,2,9"}, {"backend", "sparse"}}},
      {"com", {{"r", "8"}}},
      {"radial-profile", {{"bins", "6"}}},
      {"pick", {{"positions", "3,2;5,7;10,8"}}},
  };
}

void ExpectBitIdentical(const std::vector<udf::Result>& a, const std::vector<udf::Result>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].name, b[i].name);
    ASSERT_EQ(a[i].data.shape(), b[i].data.shape()) << a[i].name;
    ASSERT_EQ(a[i].data.dtype(), b[i].data.dtype()) << a[i].name;
    EXPECT_EQ(std::memcmp(a[i].data.raw(), b[i].data.raw(), static_cast<size_t>(a[i].data.nbytes())),
              0)
        << a[i].name << " differs";
  }
}

struct Case {
  DType dtype;
  int64_t partition_bytes;
  const char* roi;  // "" for none
  int threads;
};

class MpiEquivalence : public ::testing::TestWithParam<Case> {};

TEST_P(MpiEquivalence, EveryAnalysisIsBitIdenticalToOneProcess) {
  const Case c = GetParam();
  dataset::SyntheticParams params;
  params.scan = {13, 11};  // 143 frames: partitions do not divide evenly among ranks
  params.frame = {24, 24};
  params.dtype = c.dtype;
  params.seed = 7;
  auto ds = dataset::Synthetic4dstem::Make(params);
  std::optional<dataset::Roi> roi;
  if (std::strlen(c.roi) > 0) roi = dataset::Roi::Parse(ds->meta().shape.nav(), c.roi);
  udf::RunOptions options;
  options.partition_bytes = c.partition_bytes;
  options.roi = roi ? &*roi : nullptr;

  // All analyses in one pass, as `tessera run a,b,c` does.
  std::vector<std::unique_ptr<udf::Udf>> owned;
  std::vector<udf::Udf*> udfs;
  for (const auto& [name, p] : Analyses()) {
    owned.push_back(Operators().Make(name, p));
    udfs.push_back(owned.back().get());
  }
  auto threads = exec::MakeThreadsExecutor(c.threads);
  const auto distributed = exec::RunUdfsMpi(*g_world, *threads, *ds, udfs, options);
  if (!g_world->is_root()) {
    EXPECT_TRUE(distributed.empty());
    return;
  }
  auto inline_executor = exec::MakeInlineExecutor();
  const auto reference = exec::RunUdfs(*inline_executor, *ds, udfs, options);
  ASSERT_EQ(distributed.size(), reference.size());
  for (size_t u = 0; u < reference.size(); ++u) {
    SCOPED_TRACE(Analyses()[u].first);
    ExpectBitIdentical(distributed[u], reference[u]);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Partitionings, MpiEquivalence,
    ::testing::Values(Case{DType::kFloat32, 24 * 24 * 4 * 5, "", 1},    // 29 partitions of 5 frames
                      Case{DType::kUint16, 24 * 24 * 4 * 3, "", 2},     // 48 partitions, 2 threads
                      Case{DType::kFloat32, 24 * 24 * 4 * 7, "2:11,1:9", 2},  // ROI
                      Case{DType::kFloat32, 24 * 24 * 4 * 100, "", 1},  // 2 partitions: idle ranks
                      Case{DType::kUint16, int64_t{64} << 20, "", 1}));  // 1 partition

TEST(MpiWorld, RanksAgreeWithTheEnvironment) {
  EXPECT_TRUE(exec::LaunchedByMpi());
  EXPECT_GE(g_world->size(), 1);
  EXPECT_LT(g_world->rank(), g_world->size());
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (!tessera::exec::LaunchedByMpi()) {
    std::fprintf(stderr, "run this test under mpirun (ctest does)\n");
    return 2;
  }
  auto world = tessera::exec::MpiWorld::InitIfLaunched();
  tessera::g_world = world.get();
  if (!world->is_root()) {
    // Only rank 0 reports; the other ranks take part in every run.
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int status = RUN_ALL_TESTS();
  if (status != 0 && world->size() > 1) world->Abort(status);
  return status;
}
