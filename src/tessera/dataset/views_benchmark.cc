// SPDX-License-Identifier: MIT
// Read throughput of lazy views against the bare in-memory dataset they wrap: a 64 x 64 scan of
// 256 x 256 uint16 frames (512 MiB) read whole, as float32, in tiles of 32 frames. Argument 0
// reads whole frames; argument 1 reads the runner's default bands (32 frames x 1 MiB of float32).
// Bytes processed count the base's uint16 bytes, so every line reads as GB/s of the raw data.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <vector>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/views.h"

namespace tessera::dataset {
namespace {

constexpr int64_t kScan = 64, kFrame = 256, kDepth = 32;
constexpr int64_t kBandBytes = int64_t{1} << 20;

const DatasetPtr& Scan() {
  static const DatasetPtr scan = [] {
    NdArray data(DType::kUint16, {kScan, kScan, kFrame, kFrame});
    uint32_t state = 1;
    for (auto& value : data.flat<uint16_t>()) {
      state = state * 1664525u + 1013904223u;
      value = static_cast<uint16_t>(state >> 22);  // 0..1023 counts
    }
    return DatasetPtr(MakeMemoryDataset(std::move(data), 2));
  }();
  return scan;
}

CorrectionSet Corrections(bool excluded) {
  const Shape& shape = Scan()->meta().shape;
  NdArray dark(DType::kFloat32, {kFrame, kFrame});
  NdArray gain(DType::kFloat32, {kFrame, kFrame});
  dark.Fill(3.0);
  gain.Fill(1.25);
  std::vector<int64_t> pixels;
  if (excluded) pixels = {0, 1000, 30000, 30001, 65535};
  return CorrectionSet::Make(shape, dark, gain, pixels);
}

/// Read all of `ds` as float32, tile by tile, whole frames or in bands of rows.
void ReadAll(benchmark::State& state, const Dataset& ds) {
  const Shape& shape = ds.meta().shape;
  const int64_t frames = shape.nav_size(), sig_size = shape.sig_size();
  const int64_t row = sig_size / shape.sig()[0];
  const int64_t band_rows = state.range(0) == 0
                                ? shape.sig()[0]
                                : std::clamp<int64_t>(kBandBytes / (kDepth * row * 4), 1,
                                                      shape.sig()[0]);
  std::vector<float> tile(static_cast<size_t>(kDepth * band_rows * row));
  for (auto _ : state) {
    for (int64_t f = 0; f < frames; f += kDepth) {
      for (int64_t r = 0; r < shape.sig()[0]; r += band_rows) {
        const SigRange band{r * row, std::min(sig_size, (r + band_rows) * row)};
        ds.ReadFrames(f, std::min(frames, f + kDepth), band, tile.data(), DType::kFloat32);
        benchmark::DoNotOptimize(tile.data());
      }
    }
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * Scan()->meta().shape.size() * 2);
}

void BM_Memory(benchmark::State& state) { ReadAll(state, *Scan()); }

void BM_BinSig2x2Sum(benchmark::State& state) {
  ReadAll(state, *BinView(Scan(), {}, {2, 2}, BinReduce::kSum));
}

void BM_BinSig2x2Mean(benchmark::State& state) {
  ReadAll(state, *BinView(Scan(), {}, {2, 2}, BinReduce::kMean));
}

void BM_BinNav2x2Sum(benchmark::State& state) {
  ReadAll(state, *BinView(Scan(), {2, 2}, {}, BinReduce::kSum));
}

void BM_CorrectedDarkGain(benchmark::State& state) {
  ReadAll(state, *CorrectedView(Scan(), Corrections(false)));
}

void BM_CorrectedExcluded(benchmark::State& state) {
  ReadAll(state, *CorrectedView(Scan(), Corrections(true)));
}

void BM_Rotate90(benchmark::State& state) {
  ReadAll(state, *FlipRotateView(Scan(), false, false, 1));
}

void BM_FlipY(benchmark::State& state) { ReadAll(state, *FlipRotateView(Scan(), true, false, 0)); }

void BM_Crop(benchmark::State& state) {
  ReadAll(state, *CropView(Scan(), {{0, 64}, {0, 64}}, {{16, 240}, {16, 240}}));
}

BENCHMARK(BM_Memory)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BinSig2x2Sum)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BinSig2x2Mean)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BinNav2x2Sum)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CorrectedDarkGain)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CorrectedExcluded)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Rotate90)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlipY)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Crop)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::dataset
