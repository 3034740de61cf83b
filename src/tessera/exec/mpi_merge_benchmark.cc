// SPDX-License-Identifier: MIT
// Under `mpirun -n N`: the cost MPI adds to a run. Prints one JSON line (rank 0):
//   merge: time rank 0 spends folding the other ranks' shares of a 256x256 float64 sig buffer
//          (serialise, send, receive, deserialise, merge along the rank tree), median of many runs;
//   per_partition: engine + MPI time per partition for an analysis that does no work.
// Google Benchmark's runner does not coordinate ranks, hence a plain program.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/exec/mpi_world.h"

namespace tessera::exec {
namespace {

/// Sums frames into a float64 sig buffer (as the `sum` analysis does).
class SumF64 final : public udf::Udf {
 public:
  std::string name() const override { return "sum-f64"; }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta&) const override {
    return {{.name = "sum", .kind = udf::BufferKind::kSig, .dtype = DType::kFloat64}};
  }
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override {
    auto sum = buffers.sig<double>(0);
    const auto* data = static_cast<const float*>(tile.data);
    for (int64_t f = 0; f < tile.depth; ++f) {
      for (int64_t p = 0; p < tile.sig.size(); ++p) sum(p) += data[f * tile.frame_stride + p];
    }
  }
};

/// Does nothing: what remains is the engine's cost per partition.
class Nothing final : public udf::Udf {
 public:
  std::string name() const override { return "nothing"; }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta&) const override { return {}; }
  void ProcessTile(const dataset::Tile&, udf::BufferSet&) const override {}
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main() {
  auto world = MpiWorld::InitIfLaunched();
  if (!world) {
    std::fprintf(stderr, "run under mpirun\n");
    return 2;
  }
  auto local = MakeThreadsExecutor(1);
  // One 256x256 frame per rank: compute is negligible, the reduce phase is the merge.
  NdArray frames(DType::kFloat32, {world->size(), 256, 256});
  auto flat = frames.flat<float>();
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<float>(i % 97);
  auto ds = dataset::MakeMemoryDataset(std::move(frames), 2);
  SumF64 sum;
  udf::RunOptions options;
  options.partition_bytes = 256 * 256 * 4;  // one frame per partition
  std::vector<double> merge;
  for (int i = 0; i < 200; ++i) {
    MpiRunStats stats;
    RunUdfsMpi(*world, *local, *ds, {&sum}, options, {}, &stats);
    merge.push_back(stats.reduce_s);
  }
  // Many tiny partitions, no work.
  NdArray small(DType::kFloat32, {4096, 8, 8});
  auto small_ds = dataset::MakeMemoryDataset(std::move(small), 2);
  Nothing nothing;
  options.partition_bytes = 8 * 8 * 4;  // 4096 partitions of one frame
  std::vector<double> per_partition;
  for (int i = 0; i < 10; ++i) {
    MpiRunStats stats;
    const auto t0 = std::chrono::steady_clock::now();
    RunUdfsMpi(*world, *local, *small_ds, {&nothing}, options, {}, &stats);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    per_partition.push_back(s / 4096.0 * world->size());  // per partition, per rank
  }
  if (world->is_root()) {
    std::printf("{\"ranks\": %d, \"merge_256x256_f64_s\": %.9f, \"per_partition_s\": %.9f}\n",
                world->size(), Median(merge), Median(per_partition));
  }
  return 0;
}

}  // namespace
}  // namespace tessera::exec

int main() { return tessera::exec::Main(); }
