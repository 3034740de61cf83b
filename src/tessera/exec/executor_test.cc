// SPDX-License-Identifier: MIT
#include "tessera/exec/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>

#include "tessera/dataset/memory_dataset.h"

namespace tessera::exec {
namespace {

/// Sums frames in float32 on purpose: the order of additions shows in the last bits, so equal
/// bits across executors prove the merge order is fixed.
class FloatSumUdf final : public udf::Udf {
 public:
  std::string name() const override { return "float-sum"; }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta&) const override {
    return {{.name = "sum", .kind = udf::BufferKind::kSig, .dtype = DType::kFloat32}};
  }
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override {
    auto view = tile.view<float>();
    auto sum = buffers.sig<float>(0);
    for (int64_t f = 0; f < view.shape(0); ++f)
      for (int64_t p = 0; p < view.shape(1); ++p) sum(p) += view(f, p);
  }
};

NdArray MakeData() {
  NdArray data(DType::kFloat32, {64, 8, 8});
  auto flat = data.flat<float>();
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = 1.0f / static_cast<float>(1 + (i * 31) % 977);
  return data;
}

TEST(Executors, BitIdenticalOnEveryExecutorAndThreadCount) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);
  udf::RunOptions options;
  options.partition_bytes = 8 * 8 * 4 * 5;
  std::vector<NdArray> sums;
  std::vector<std::unique_ptr<Executor>> executors;
  executors.push_back(MakeInlineExecutor());
  for (int threads : {1, 2, 3, 8}) executors.push_back(MakeThreadsExecutor(threads));
  for (auto& executor : executors) {
    FloatSumUdf udf;
    sums.push_back(std::move(RunUdfs(*executor, *ds, {&udf}, options)[0][0].data));
  }
  for (size_t i = 1; i < sums.size(); ++i) {
    EXPECT_EQ(std::memcmp(sums[0].raw(), sums[i].raw(), static_cast<size_t>(sums[0].nbytes())), 0)
        << executors[i]->name() << " " << executors[i]->concurrency();
  }
}

TEST(Executors, ProgressAfterEveryPartitionAndErrorsPropagate) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);
  udf::RunOptions options;
  options.partition_bytes = 8 * 8 * 4 * 10;
  auto executor = MakeThreadsExecutor(2);
  FloatSumUdf udf;
  std::vector<int64_t> done;
  RunUdfs(*executor, *ds, {&udf}, options, [&](const udf::Progress& p, const udf::UdfRunner& r) {
    done.push_back(p.partitions_done);
    EXPECT_EQ(r.Snapshot().size(), 1u);
  });
  EXPECT_EQ(done, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  std::atomic<bool> cancel{true};
  options.cancel = &cancel;
  try {
    RunUdfs(*executor, *ds, {&udf}, options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_THROW(MakeExecutor("gpu"), Error);
}

}  // namespace
}  // namespace tessera::exec
