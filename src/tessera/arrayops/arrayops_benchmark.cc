// SPDX-License-Identifier: MIT
// Micro-benchmarks of the array operators on 1024 x 1024 images (bytes are those of the input).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "tessera/arrayops/array_ops.h"
#include "tessera/arrayops/fft.h"
#include "tessera/arrayops/peaks.h"

namespace tessera::arrayops {
namespace {

constexpr int64_t kSide = 1024;
constexpr int64_t kLattice = 20;  // 20 x 20 = 400 spots

/// A 1024 x 1024 float32 image: a 20 x 20 lattice of jittered Gaussian spots (sigma 2 px) on a
/// background of 20 counts, Poisson noise, fixed seed.
const NdArray& SpotImage() {
  static const NdArray image = [] {
    NdArray out(DType::kFloat32, {kSide, kSide});
    std::vector<double> values(kSide * kSide, 20.0);
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> jitter(-5, 5);
    const double pitch = static_cast<double>(kSide) / kLattice;
    for (int64_t i = 0; i < kLattice; ++i) {
      for (int64_t j = 0; j < kLattice; ++j) {
        const double cy = (static_cast<double>(i) + 0.5) * pitch + jitter(rng);
        const double cx = (static_cast<double>(j) + 0.5) * pitch + jitter(rng);
        for (int64_t y = static_cast<int64_t>(cy) - 10; y <= static_cast<int64_t>(cy) + 10; ++y) {
          for (int64_t x = static_cast<int64_t>(cx) - 10; x <= static_cast<int64_t>(cx) + 10; ++x) {
            const double d2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
            values[y * kSide + x] += 300 * std::exp(-d2 / 8);
          }
        }
      }
    }
    const auto flat = out.flat<float>();
    for (int64_t i = 0; i < kSide * kSide; ++i) {
      flat[i] = static_cast<float>(std::poisson_distribution<int64_t>(values[i])(rng));
    }
    return out;
  }();
  return image;
}

const PeakOptions kPeakOptions{.min_distance = 10, .threshold_rel = 0.3};

void SetThroughput(benchmark::State& state, const NdArray& input) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * input.nbytes());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * input.size());
}

void BM_GaussianBlur(benchmark::State& state) {
  const NdArray& image = SpotImage();
  for (auto _ : state) benchmark::DoNotOptimize(GaussianBlur(image, 2.0, 2.0));
  SetThroughput(state, image);
}
BENCHMARK(BM_GaussianBlur)->Unit(benchmark::kMillisecond);

void BM_FftMagnitude(benchmark::State& state) {
  const NdArray& image = SpotImage();
  for (auto _ : state) benchmark::DoNotOptimize(FftMagnitude(image));
  SetThroughput(state, image);
}
BENCHMARK(BM_FftMagnitude)->Unit(benchmark::kMillisecond);

void BM_Diffractogram(benchmark::State& state) {
  const NdArray& image = SpotImage();
  for (auto _ : state) benchmark::DoNotOptimize(Diffractogram(image));
  SetThroughput(state, image);
}
BENCHMARK(BM_Diffractogram)->Unit(benchmark::kMillisecond);

void BM_FindPeaks(benchmark::State& state) {
  const NdArray& image = SpotImage();
  int64_t peaks = 0;
  for (auto _ : state) peaks = FindPeaks(image, kPeakOptions).rows();
  SetThroughput(state, image);
  state.counters["peaks"] = static_cast<double>(peaks);
}
BENCHMARK(BM_FindPeaks)->Unit(benchmark::kMillisecond);

/// Items are peaks: refined peaks per second.
void BM_RefinePeaksGaussian(benchmark::State& state) {
  const NdArray& image = SpotImage();
  const Table peaks = FindPeaks(image, kPeakOptions);
  int64_t converged = 0;
  for (auto _ : state) {
    const Table refined = RefinePeaksGaussian(image, peaks, 5);
    converged = 0;
    for (const double c : refined.Column("converged")) converged += c == 1;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * peaks.rows());
  state.counters["peaks"] = static_cast<double>(peaks.rows());
  state.counters["converged"] = static_cast<double>(converged);
}
BENCHMARK(BM_RefinePeaksGaussian)->Unit(benchmark::kMillisecond);

void BM_FindAndRefinePeaks(benchmark::State& state) {
  const NdArray& image = SpotImage();
  for (auto _ : state) {
    benchmark::DoNotOptimize(RefinePeaksGaussian(image, FindPeaks(image, kPeakOptions), 5));
  }
  SetThroughput(state, image);
}
BENCHMARK(BM_FindAndRefinePeaks)->Unit(benchmark::kMillisecond);

void BM_ArithmeticBroadcastRow(benchmark::State& state) {
  const NdArray& image = SpotImage();
  NdArray row(DType::kFloat64, {kSide});
  row.Fill(2.0);
  for (auto _ : state) benchmark::DoNotOptimize(Arithmetic(image, row, BinaryOp::kSubtract));
  SetThroughput(state, image);
}
BENCHMARK(BM_ArithmeticBroadcastRow)->Unit(benchmark::kMillisecond);

void BM_NormaliseZScore(benchmark::State& state) {
  const NdArray& image = SpotImage();
  for (auto _ : state) benchmark::DoNotOptimize(Normalise(image, NormaliseMode::kZScore));
  SetThroughput(state, image);
}
BENCHMARK(BM_NormaliseZScore)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::arrayops
