// SPDX-License-Identifier: MIT
#include "tessera/ops/benchmark_internal.h"
#include "tessera/ops/masks/virtual_detector_udf.h"

namespace tessera::ops {
namespace {

/// `count` masks: rings around the frame centre, or rectangles covering `density` of the frame.
std::vector<MaskShape> Masks(int64_t count, double density) {
  std::vector<MaskShape> masks;
  const double rows = density * bench::kSide;
  for (int64_t m = 0; m < count; ++m) {
    masks.push_back(MaskShape::Rectangle(0, 0, std::max(1.0, rows), bench::kSide));
  }
  return masks;
}

// Args: masks, density in percent, backend (0 dense, 1 sparse), frames per tile (0: as the runner).
void BM_Masks(benchmark::State& state) {
  VirtualDetectorUdf udf(Masks(state.range(0), static_cast<double>(state.range(1)) / 100),
                         state.range(2) == 0 ? MaskBackend::kDense : MaskBackend::kSparse);
  bench::ProcessTiles(state, udf, DType::kFloat32, state.range(3));
}

void DensitySweep(benchmark::internal::Benchmark* b) {
  for (int64_t masks : {1, 16}) {
    for (int64_t density : {1, 2, 5, 10, 25, 100}) {
      for (int64_t backend : {0, 1}) b->Args({masks, density, backend, 0});
    }
  }
}
BENCHMARK(BM_Masks)->Apply(DensitySweep)->UseRealTime();
BENCHMARK(BM_Masks)->Args({1, 100, 0, 0})->Args({16, 100, 0, 0})->Threads(2)->UseRealTime();
// Tile depth: sgemm packs the mask band on every call, so deeper tiles amortise it.
BENCHMARK(BM_Masks)->Args({16, 100, 0, 16})->Args({16, 100, 0, 64})->Args({16, 100, 0, 256})->UseRealTime();

void BM_MasksRun(benchmark::State& state) {
  VirtualDetectorUdf udf(Masks(state.range(1), 1.0), MaskBackend::kDense);
  bench::RunWhole(state, udf, DType::kFloat32);
}
BENCHMARK(BM_MasksRun)->Args({1, 1})->Args({2, 1})->Args({2, 16})->UseRealTime();

}  // namespace
}  // namespace tessera::ops
