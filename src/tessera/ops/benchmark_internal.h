// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the ops layer's micro-benchmarks (not part of the library).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "tessera/core/nd_array.h"
#include "tessera/dataset/memory_dataset.h"
#include "tessera/exec/executor.h"
#include "tessera/udf/udf.h"

namespace tessera::ops::bench {

/// 4096 frames of 128 x 128 (256 MiB as float32): larger than every cache, like page-cache data.
/// TESSERA_BENCH_FRAMES=256 (a multiple of 64) shrinks it into the last-level cache, to separate
/// kernel speed from memory bandwidth.
inline const int64_t kFrames = [] {
  const char* env = std::getenv("TESSERA_BENCH_FRAMES");
  return env != nullptr ? std::max<int64_t>(64, std::atoll(env) / 64 * 64) : int64_t{4096};
}();
inline constexpr int64_t kSide = 128;

/// A shared in-memory dataset of `dtype`, filled with small counts.
inline const dataset::Dataset& Data(DType dtype) {
  static std::unique_ptr<dataset::Dataset> f32, u16;
  auto& slot = dtype == DType::kFloat32 ? f32 : u16;
  if (!slot) {
    NdArray array(dtype, {kFrames / 64, 64, kSide, kSide});
    for (int64_t i = 0; i < array.size(); ++i) {
      const auto v = static_cast<uint16_t>((i * 2654435761u >> 7) % 64);
      if (dtype == DType::kFloat32) array.flat<float>()[static_cast<size_t>(i)] = v;
      else array.flat<uint16_t>()[static_cast<size_t>(i)] = v;
    }
    slot = dataset::MakeMemoryDataset(std::move(array), 2);
  }
  return *slot;
}

/// Time udf.ProcessTile over the thread's share of the frames, in tiles of `depth` whole frames
/// straight from memory (what the runner hands out for uncorrected native-dtype data).
inline void ProcessTiles(benchmark::State& state, udf::Udf& udf, DType dtype, int64_t depth = 0) {
  const auto& ds = Data(dtype);
  const auto& meta = ds.meta();
  udf::UdfMeta udf_meta{.dataset = &meta, .input_dtype = dtype};
  udf.PrepareRun(udf_meta);  // every benchmark thread owns its UDF
  const int64_t sig = meta.shape.sig_size();
  const int64_t elem = SizeOf(dtype);
  if (depth == 0) depth = std::clamp<int64_t>((int64_t{1} << 20) / (sig * 4), 1, 32);
  const int64_t per_thread = kFrames / state.threads();
  const int64_t first = per_thread * state.thread_index();
  udf::BufferSet buffers(udf.GetResultBuffers(udf_meta), meta.shape, first, per_thread);
  udf.Preprocess(buffers);
  for (auto _ : state) {
    for (int64_t f = first; f < first + per_thread; f += depth) {
      dataset::Tile tile;
      tile.data = ds.DirectFrames(f, f + depth);
      tile.dtype = dtype;
      tile.depth = std::min(depth, first + per_thread - f);
      tile.frame_begin = f;
      tile.frame_stride = sig;
      tile.sig = {0, sig};
      buffers.SetScope(tile);
      udf.ProcessTile(tile, buffers);
    }
  }
  state.SetBytesProcessed(state.iterations() * per_thread * sig * elem);
}

/// Time a whole run (partitioning, tiling, merging) on the threads executor.
inline void RunWhole(benchmark::State& state, udf::Udf& udf, DType dtype) {
  const auto& ds = Data(dtype);
  auto executor = exec::MakeThreadsExecutor(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto results = exec::RunUdfs(*executor, ds, {&udf}, {});
    benchmark::DoNotOptimize(results);
  }
  state.SetBytesProcessed(state.iterations() * ds.meta().shape.size() * SizeOf(dtype));
}

}  // namespace tessera::ops::bench
