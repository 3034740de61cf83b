// SPDX-License-Identifier: MIT
#include "tessera/ops/benchmark_internal.h"
#include "tessera/ops/stats/frame_sum_udf.h"
#include "tessera/ops/stats/noop_udf.h"
#include "tessera/ops/stats/stats_udf.h"
#include "tessera/ops/stats/sum_udf.h"

namespace tessera::ops {
namespace {

// Per analysis: ProcessTile on whole-frame tiles straight from memory (1 and 2 threads), and a
// whole run on the threads executor (1 and 2 workers).
#define TESSERA_STATS_BENCH(U, NAME)                                                        \
  void BM_Tiles_##NAME(benchmark::State& state, DType dtype) {                              \
    U udf;                                                                                   \
    bench::ProcessTiles(state, udf, dtype);                                                  \
  }                                                                                          \
  void BM_Run_##NAME(benchmark::State& state, DType dtype) {                                \
    U udf;                                                                                   \
    bench::RunWhole(state, udf, dtype);                                                      \
  }                                                                                          \
  BENCHMARK_CAPTURE(BM_Tiles_##NAME, f32, DType::kFloat32)->Threads(1)->Threads(2)->UseRealTime(); \
  BENCHMARK_CAPTURE(BM_Tiles_##NAME, u16, DType::kUint16)->Threads(1)->UseRealTime();      \
  BENCHMARK_CAPTURE(BM_Run_##NAME, f32, DType::kFloat32)->Arg(1)->Arg(2)->UseRealTime();    \
  BENCHMARK_CAPTURE(BM_Run_##NAME, u16, DType::kUint16)->Arg(2)->UseRealTime();

TESSERA_STATS_BENCH(SumUdf, Sum)
TESSERA_STATS_BENCH(FrameSumUdf, FrameSum)
TESSERA_STATS_BENCH(StatsUdf, Stats)
TESSERA_STATS_BENCH(NoopUdf, Noop)

}  // namespace
}  // namespace tessera::ops
