// SPDX-License-Identifier: MIT
// Micro-benchmarks of the readers' hot paths: decoding raw uint16 frames to float32 and serving
// NPY frames straight from the mapping.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "tessera/core/nd_array.h"
#include "tessera/formats/npy/npy_format.h"
#include "tessera/formats/raw/raw_format.h"

namespace tessera::formats {
namespace {

constexpr int64_t kFrames = 256;
constexpr int64_t kSide = 256;

/// A file in the temp dir, removed at exit.
struct TempFile {
  explicit TempFile(const std::string& name)
      : path((std::filesystem::temp_directory_path() /
              (name + "-" + std::to_string(::getpid())))
                 .string()) {}
  ~TempFile() { std::filesystem::remove(path); }
  std::string path;
};

const std::string& RawFile() {
  static TempFile file("tessera-bench.raw");
  static bool written = [] {
    std::vector<uint16_t> data(static_cast<size_t>(kFrames * kSide * kSide));
    std::iota(data.begin(), data.end(), uint16_t{0});
    std::ofstream out(file.path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size() * sizeof(uint16_t)));
    return true;
  }();
  (void)written;
  return file.path;
}

const std::string& NpyFile() {
  static TempFile file("tessera-bench.npy");
  static bool written = [] {
    NdArray array(DType::kFloat32, {kFrames, kSide, kSide});
    auto values = array.flat<float>();
    std::iota(values.begin(), values.end(), 0.0f);
    WriteNpy(file.path, array);
    return true;
  }();
  (void)written;
  return file.path;
}

void BM_RawReadFramesUint16ToFloat32(benchmark::State& state) {
  const int64_t depth = state.range(0);
  auto ds = OpenRaw(RawFile(), {.nav_shape = {kFrames}, .sig_shape = {kSide, kSide},
                                .dtype = DType::kUint16});
  std::vector<float> out(static_cast<size_t>(depth * kSide * kSide));
  int64_t frame = 0;
  for (auto _ : state) {
    if (frame + depth > kFrames) frame = 0;
    ds->ReadFrames(frame, frame + depth, {0, kSide * kSide}, out.data(), DType::kFloat32);
    benchmark::DoNotOptimize(out.data());
    frame += depth;
  }
  // Bytes read from the file per second.
  state.SetBytesProcessed(state.iterations() * depth * kSide * kSide * 2);
}
BENCHMARK(BM_RawReadFramesUint16ToFloat32)->Arg(1)->Arg(16)->Arg(64);

void BM_NpyDirectFramesSum(benchmark::State& state) {
  const int64_t depth = state.range(0);
  auto ds = OpenNpy(NpyFile());
  int64_t frame = 0;
  for (auto _ : state) {
    if (frame + depth > kFrames) frame = 0;
    const auto* data = reinterpret_cast<const float*>(ds->DirectFrames(frame, frame + depth));
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < depth * kSide * kSide; ++i) sum += data[i];
    benchmark::DoNotOptimize(sum);
    frame += depth;
  }
  state.SetBytesProcessed(state.iterations() * depth * kSide * kSide * 4);
}
BENCHMARK(BM_NpyDirectFramesSum)->Arg(1)->Arg(16)->Arg(64);

void BM_NpyReadFramesFloat32(benchmark::State& state) {
  const int64_t depth = state.range(0);
  auto ds = OpenNpy(NpyFile());
  std::vector<float> out(static_cast<size_t>(depth * kSide * kSide));
  int64_t frame = 0;
  for (auto _ : state) {
    if (frame + depth > kFrames) frame = 0;
    ds->ReadFrames(frame, frame + depth, {0, kSide * kSide}, out.data(), DType::kFloat32);
    benchmark::DoNotOptimize(out.data());
    frame += depth;
  }
  state.SetBytesProcessed(state.iterations() * depth * kSide * kSide * 4);
}
BENCHMARK(BM_NpyReadFramesFloat32)->Arg(16);

}  // namespace
}  // namespace tessera::formats
