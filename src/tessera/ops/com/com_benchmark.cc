// SPDX-License-Identifier: MIT
#include "tessera/ops/benchmark_internal.h"
#include "tessera/ops/com/com_udf.h"

namespace tessera::ops {
namespace {

void BM_ComTiles(benchmark::State& state, DType dtype) {
  ComUdf udf;
  bench::ProcessTiles(state, udf, dtype);
}
BENCHMARK_CAPTURE(BM_ComTiles, f32, DType::kFloat32)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_ComTiles, u16, DType::kUint16)->Threads(1)->UseRealTime();

void BM_ComRun(benchmark::State& state, DType dtype) {
  ComUdf udf;
  bench::RunWhole(state, udf, dtype);
}
BENCHMARK_CAPTURE(BM_ComRun, f32, DType::kFloat32)->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_ComRun, u16, DType::kUint16)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace tessera::ops
