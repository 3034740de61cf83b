// SPDX-License-Identifier: MIT
// Merlin RAW-mode decoding: GB/s of packed input turned into assembled frames.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <vector>

#include "tessera/formats/mib/mib_raw.h"

namespace tessera::formats {
namespace {

void BM_MibRawDecode(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  const bool quad = state.range(1) != 0;
  const int64_t side = quad ? 512 : 256;
  const mib::RawGeometry g = mib::MakeRawGeometry(depth, quad, side, side, "bench.mib");
  constexpr int kFrames = 16;
  std::vector<std::byte> packed(static_cast<size_t>(g.packed_bytes * kFrames));
  std::mt19937_64 rng(1);
  for (auto& b : packed) b = static_cast<std::byte>(rng());
  std::vector<std::byte> out(static_cast<size_t>(side * side * SizeOf(g.dtype)));
  int frame = 0;
  for (auto _ : state) {
    mib::DecodeRawRows(g, packed.data() + frame * g.packed_bytes, 0, side, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    frame = (frame + 1) % kFrames;
  }
  state.SetBytesProcessed(state.iterations() * g.packed_bytes);
  state.SetItemsProcessed(state.iterations());  // frames
}

BENCHMARK(BM_MibRawDecode)
    ->ArgNames({"depth", "quad"})
    ->Args({1, 0})
    ->Args({6, 0})
    ->Args({12, 0})
    ->Args({24, 0})
    ->Args({1, 1})
    ->Args({6, 1})
    ->Args({12, 1});

}  // namespace
}  // namespace tessera::formats
