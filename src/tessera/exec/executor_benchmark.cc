// SPDX-License-Identifier: MIT
// Framework overhead: a UDF that touches nothing, over an in-memory dataset, so the time is the
// engine's own (partitioning, tiling, buffer set-up, merging), reported per frame.
#include <benchmark/benchmark.h>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/exec/executor.h"

namespace tessera::exec {
namespace {

class NoOpUdf final : public udf::Udf {
 public:
  std::string name() const override { return "noop"; }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta&) const override { return {}; }
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet&) const override {
    benchmark::DoNotOptimize(tile.data);
  }
};

class FrameSumUdf final : public udf::Udf {
 public:
  std::string name() const override { return "frame-sum"; }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta&) const override {
    return {{.name = "frame_sum", .kind = udf::BufferKind::kNav, .dtype = DType::kFloat64}};
  }
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override {
    auto view = tile.view<float>();
    auto out = buffers.nav<double>(0);
    for (int64_t f = 0; f < view.shape(0); ++f) {
      const float* row = &view(f, 0);
      double acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int64_t p = 0; p < view.shape(1); ++p) acc += row[p];
      out(f) += acc;
    }
  }
};

void BM_NoOpOverheadPerFrame(benchmark::State& state) {
  const int64_t frames = 16384;
  auto ds = dataset::MakeMemoryDataset(NdArray(DType::kFloat32, {128, 128, 16, 16}), 2);
  auto executor = state.range(0) == 0 ? MakeInlineExecutor() : MakeThreadsExecutor(2);
  NoOpUdf udf;
  udf::RunOptions options;
  options.partition_bytes = 256 << 10;
  for (auto _ : state) {
    auto results = RunUdfs(*executor, *ds, {&udf}, options);
    benchmark::DoNotOptimize(results);
  }
  state.counters["ns_per_frame"] = benchmark::Counter(
      static_cast<double>(frames) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_NoOpOverheadPerFrame)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_FrameSumInMemory(benchmark::State& state) {
  auto ds = dataset::MakeMemoryDataset(NdArray(DType::kFloat32, {32, 32, 256, 256}), 2);
  auto executor = MakeThreadsExecutor(static_cast<int>(state.range(0)));
  FrameSumUdf udf;
  for (auto _ : state) {
    auto results = RunUdfs(*executor, *ds, {&udf}, {});
    benchmark::DoNotOptimize(results);
  }
  state.SetBytesProcessed(state.iterations() * 32 * 32 * 256 * 256 * 4);
}
BENCHMARK(BM_FrameSumInMemory)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tessera::exec
