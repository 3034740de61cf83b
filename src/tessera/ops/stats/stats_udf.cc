// SPDX-License-Identifier: MIT
#include "tessera/ops/stats/stats_udf.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tessera/ops/kernels_internal.h"

namespace tessera::ops {
namespace {

enum Buffer : int { kCount, kMean, kM2, kMin, kMax };

/// Per-pixel running moments of one scope (partition or whole).
struct Moments {
  double* count;
  double* mean;
  double* m2;
  double* min;
  double* max;
};

/// Fold (n_b, mean_b, m2_b) into pixel p of `acc` (Chan et al. 1979).
TESSERA_ALWAYS_INLINE void ChanMerge(const Moments& acc, int64_t p, double n_b, double mean_b,
                      double m2_b) noexcept {
  const double n_a = acc.count[p];
  const double n = n_a + n_b;
  const double delta = mean_b - acc.mean[p];
  acc.mean[p] += delta * (n_b / n);
  acc.m2[p] += m2_b + delta * delta * (n_a * n_b / n);
  acc.count[p] = n;
}

// Chunks of 1024 pixels: per frame the inner loop streams 2-8 KiB of contiguous data while the
// accumulators (shift, s1, s2, lo, hi: at most 40 KiB) stay in L1/L2. Frames outer, pixels inner keeps the reads sequential; a pixel block
// walked down all frames instead jumps a whole frame every 128 bytes and stalls on memory latency.
constexpr int64_t kChunk = 1024;

template <class T>
TESSERA_MULTIVERSION void ReduceTile(const T* data, int64_t depth, int64_t stride, int64_t pixels,
                                     const Moments& acc) noexcept {
  if (depth <= 0) return;
  alignas(64) double shift[kChunk];
  alignas(64) double s1[kChunk];
  alignas(64) double s2[kChunk];
  alignas(64) T lo[kChunk];
  alignas(64) T hi[kChunk];
  const double n_b = static_cast<double>(depth);
  for (int64_t p0 = 0; p0 < pixels; p0 += kChunk) {
    const int64_t nb = std::min(kChunk, pixels - p0);
    const T* first = data + p0;
    for (int64_t q = 0; q < nb; ++q) {
      shift[q] = static_cast<double>(first[q]);
      s1[q] = 0;
      s2[q] = 0;
      lo[q] = first[q];
      hi[q] = first[q];
    }
    int64_t f = 1;
    // Four frames per sweep: four memory streams in flight, and a quarter of the accumulator
    // loads and stores.
    for (; f + 4 <= depth; f += 4) {
      const T* __restrict r0 = data + f * stride + p0;
      const T* __restrict r1 = r0 + stride;
      const T* __restrict r2 = r1 + stride;
      const T* __restrict r3 = r2 + stride;
#pragma omp simd
      for (int64_t q = 0; q < nb; ++q) {
        const double d0 = static_cast<double>(r0[q]) - shift[q];
        const double d1 = static_cast<double>(r1[q]) - shift[q];
        const double d2 = static_cast<double>(r2[q]) - shift[q];
        const double d3 = static_cast<double>(r3[q]) - shift[q];
        s1[q] += (d0 + d1) + (d2 + d3);
        s2[q] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
        const T lo01 = r1[q] < r0[q] ? r1[q] : r0[q];
        const T lo23 = r3[q] < r2[q] ? r3[q] : r2[q];
        const T hi01 = r1[q] > r0[q] ? r1[q] : r0[q];
        const T hi23 = r3[q] > r2[q] ? r3[q] : r2[q];
        const T lo4 = lo23 < lo01 ? lo23 : lo01;
        const T hi4 = hi23 > hi01 ? hi23 : hi01;
        lo[q] = lo4 < lo[q] ? lo4 : lo[q];
        hi[q] = hi4 > hi[q] ? hi4 : hi[q];
      }
    }
    for (; f < depth; ++f) {
      const T* __restrict row = data + f * stride + p0;
#pragma omp simd
      for (int64_t q = 0; q < nb; ++q) {
        const double d = static_cast<double>(row[q]) - shift[q];
        s1[q] += d;
        s2[q] += d * d;
        lo[q] = row[q] < lo[q] ? row[q] : lo[q];
        hi[q] = row[q] > hi[q] ? row[q] : hi[q];
      }
    }
    for (int64_t q = 0; q < nb; ++q) {
      const int64_t p = p0 + q;
      const double mean_b = shift[q] + s1[q] / n_b;
      const double m2_b = std::max(0.0, s2[q] - s1[q] * s1[q] / n_b);
      ChanMerge(acc, p, n_b, mean_b, m2_b);
      acc.min[p] = std::min(acc.min[p], static_cast<double>(lo[q]));
      acc.max[p] = std::max(acc.max[p], static_cast<double>(hi[q]));
    }
  }
}

Moments SigMoments(udf::BufferSet& buffers) {
  return {buffers.sig<double>(kCount).data(), buffers.sig<double>(kMean).data(),
          buffers.sig<double>(kM2).data(), buffers.sig<double>(kMin).data(),
          buffers.sig<double>(kMax).data()};
}

Moments WholeMoments(udf::BufferSet& buffers) {
  return {buffers.Whole<double>(kCount).data(), buffers.Whole<double>(kMean).data(),
          buffers.Whole<double>(kM2).data(), buffers.Whole<double>(kMin).data(),
          buffers.Whole<double>(kMax).data()};
}

}  // namespace

DType StatsUdf::InputDType(DType native) const { return internal::KernelDType(native); }

std::vector<udf::BufferSpec> StatsUdf::GetResultBuffers(const udf::UdfMeta& /*meta*/) const {
  using udf::BufferKind;
  return {
      {.name = "count", .kind = BufferKind::kSig, .dtype = DType::kFloat64, .is_private = true},
      {.name = "mean", .kind = BufferKind::kSig, .dtype = DType::kFloat64},
      {.name = "m2", .kind = BufferKind::kSig, .dtype = DType::kFloat64, .is_private = true},
      {.name = "min", .kind = BufferKind::kSig, .dtype = DType::kFloat64},
      {.name = "max", .kind = BufferKind::kSig, .dtype = DType::kFloat64},
  };
}

void StatsUdf::Preprocess(udf::BufferSet& buffers) const {
  buffers.array(kMin).Fill(std::numeric_limits<double>::infinity());
  buffers.array(kMax).Fill(-std::numeric_limits<double>::infinity());
}

void StatsUdf::ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const {
  const Moments acc = SigMoments(buffers);
  internal::DispatchKernelDType(tile.dtype, [&]<class T>(std::type_identity<T>) {
    ReduceTile(static_cast<const T*>(tile.data), tile.depth, tile.frame_stride, tile.sig.size(),
               acc);
  });
}

void StatsUdf::Merge(udf::BufferSet& dest, const udf::BufferSet& src) const {
  const Moments acc = WholeMoments(dest);
  const auto count = src.Whole<double>(kCount);
  const auto mean = src.Whole<double>(kMean);
  const auto m2 = src.Whole<double>(kM2);
  const auto min = src.Whole<double>(kMin);
  const auto max = src.Whole<double>(kMax);
  const int64_t pixels = dest.array(kCount).size();
  for (int64_t p = 0; p < pixels; ++p) {
    if (count(p) == 0) continue;
    ChanMerge(acc, p, count(p), mean(p), m2(p));
    acc.min[p] = std::min(acc.min[p], min(p));
    acc.max[p] = std::max(acc.max[p], max(p));
  }
}

std::vector<udf::Result> StatsUdf::GetResults(const udf::BufferSet& merged,
                                              const udf::UdfMeta& meta) const {
  std::vector<udf::Result> base = Udf::GetResults(merged, meta);  // mean, min, max
  const auto count = merged.Whole<double>(kCount);
  const auto m2 = merged.Whole<double>(kM2);
  const int64_t pixels = merged.array(kCount).size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Pixels never seen (empty ROI) read as NaN, not as 0 / +-inf.
  for (auto& result : base) {
    auto values = result.data.flat<double>();
    for (int64_t p = 0; p < pixels; ++p) {
      if (count(p) == 0) values[static_cast<size_t>(p)] = nan;
    }
  }
  udf::Result var;
  var.name = "var";
  var.kind = udf::BufferKind::kSig;
  var.axes = base.front().axes;
  var.data = NdArray(DType::kFloat64, base.front().data.shape());
  var.description = "variance over frames (population, ddof = 0)";
  udf::Result std_dev;
  std_dev.name = "std";
  std_dev.kind = udf::BufferKind::kSig;
  std_dev.axes = base.front().axes;
  std_dev.data = NdArray(DType::kFloat64, base.front().data.shape());
  std_dev.description = "standard deviation over frames (population, ddof = 0)";
  auto var_values = var.data.flat<double>();
  auto std_values = std_dev.data.flat<double>();
  for (int64_t p = 0; p < pixels; ++p) {
    const double v = count(p) > 0 ? m2(p) / count(p) : nan;
    var_values[static_cast<size_t>(p)] = v;
    std_values[static_cast<size_t>(p)] = std::sqrt(v);
  }
  base[0].description = "mean over frames";
  base[1].description = "minimum over frames";
  base[2].description = "maximum over frames";
  // Order: mean, var, std, min, max.
  std::vector<udf::Result> results;
  results.push_back(std::move(base[0]));
  results.push_back(std::move(var));
  results.push_back(std::move(std_dev));
  results.push_back(std::move(base[1]));
  results.push_back(std::move(base[2]));
  return results;
}

}  // namespace tessera::ops
