// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "tessera/render/line_plot.h"
#include "tessera/render/png_writer.h"
#include "tessera/render/render_image.h"

namespace tessera::render {
namespace {

constexpr int64_t kSide = 1024;

// A smooth float32 test image with Poisson-like noise (fixed seed), like a virtual image.
NdArray MakeImage() {
  NdArray image(DType::kFloat32, {kSide, kSide});
  auto pixels = image.flat<float>();
  std::mt19937 random(7);
  std::normal_distribution<float> noise(0.0f, 5.0f);
  for (int64_t y = 0; y < kSide; ++y) {
    for (int64_t x = 0; x < kSide; ++x) {
      const double r2 = static_cast<double>((y - 400) * (y - 400) + (x - 600) * (x - 600));
      pixels[static_cast<size_t>(y * kSide + x)] =
          static_cast<float>(1000.0 * std::exp(-r2 / 40000.0) + 100.0) + noise(random);
    }
  }
  return image;
}

ImageOptions Viridis() {
  ImageOptions options;
  options.colormap = "viridis";
  options.percentile_low = 0.5;
  options.percentile_high = 99.5;
  return options;
}

void BM_RenderImage(benchmark::State& state) {
  const NdArray image = MakeImage();
  for (auto _ : state) benchmark::DoNotOptimize(RenderImage(image, Viridis()));
  state.SetItemsProcessed(state.iterations() * kSide * kSide);
}
BENCHMARK(BM_RenderImage)->Unit(benchmark::kMillisecond);

void BM_EncodePng(benchmark::State& state) {
  const RgbImage rendered = RenderImage(MakeImage(), Viridis());
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::vector<uint8_t> png = EncodePng(rendered);
    bytes = static_cast<int64_t>(png.size());
    benchmark::DoNotOptimize(png.data());
  }
  state.SetItemsProcessed(state.iterations() * kSide * kSide);
  state.counters["png_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodePng)->Unit(benchmark::kMillisecond);

void BM_RenderImageAndEncodePng(benchmark::State& state) {
  const NdArray image = MakeImage();
  for (auto _ : state) benchmark::DoNotOptimize(EncodePng(RenderImage(image, Viridis())));
  state.SetItemsProcessed(state.iterations() * kSide * kSide);
}
BENCHMARK(BM_RenderImageAndEncodePng)->Unit(benchmark::kMillisecond);

void BM_RenderLinePlot(benchmark::State& state) {
  std::vector<Series> series(4);
  for (size_t s = 0; s < series.size(); ++s) {
    for (int64_t i = 0; i < state.range(0); ++i) {
      const double x = static_cast<double>(i) / 100.0;
      series[s].x.push_back(x);
      series[s].y.push_back(std::sin(x + static_cast<double>(s)) * 100.0);
    }
    series[s].label = "series " + std::to_string(s);
  }
  const PlotOptions options{.title = "benchmark", .xlabel = "x", .ylabel = "y"};
  for (auto _ : state) benchmark::DoNotOptimize(RenderLinePlot(series, options));
  state.SetItemsProcessed(state.iterations() * state.range(0) * 4);
}
BENCHMARK(BM_RenderLinePlot)->Arg(256)->Arg(8192)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tessera::render
