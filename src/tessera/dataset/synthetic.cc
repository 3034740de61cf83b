// SPDX-License-Identifier: MIT
#include "tessera/dataset/synthetic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"

namespace tessera::dataset {
namespace {

/// SplitMix64: a tiny, well-mixed, platform-independent generator.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in (0, 1).
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

  /// Poisson sample: inversion for small means, Hoermann's PTRS for large ones.
  int64_t Poisson(double lambda) {
    if (lambda <= 0) return 0;
    if (lambda < 10) {
      const double limit = std::exp(-lambda);
      double p = Uniform();
      int64_t k = 0;
      while (p > limit) {
        p *= Uniform();
        ++k;
      }
      return k;
    }
    const double slam = std::sqrt(lambda);
    const double loglam = std::log(lambda);
    const double b = 0.931 + 2.53 * slam;
    const double a = -0.059 + 0.02483 * b;
    const double invalpha = 1.1239 + 1.1328 / (b - 3.4);
    const double vr = 0.9277 - 3.6224 / (b - 2);
    while (true) {
      const double u = Uniform() - 0.5;
      const double v = Uniform();
      const double us = 0.5 - std::fabs(u);
      const auto k = static_cast<int64_t>(std::floor((2 * a / us + b) * u + lambda + 0.43));
      if (us >= 0.07 && v <= vr) return k;
      if (k < 0 || (us < 0.013 && v > us)) continue;
      if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <=
          -lambda + static_cast<double>(k) * loglam - std::lgamma(static_cast<double>(k) + 1)) {
        return k;
      }
    }
  }

 private:
  uint64_t state_;
};

uint64_t Mix(uint64_t seed, uint64_t index) {
  Rng rng(seed * 0x100000001B3ULL ^ (index + 0x632BE59BD9B4E019ULL));
  rng.Next();
  return rng.Next();
}

/// Add `value` times the area fraction of a disk at (cy, cx) radius r to lambda (antialiased
/// over one pixel, so the centre of mass moves continuously with the centre).
void AddDisk(double* lambda, int64_t rows, int64_t cols, double cy, double cx, double r,
             double value) {
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cy - r - 1)));
  const int64_t y1 = std::min<int64_t>(rows - 1, static_cast<int64_t>(std::ceil(cy + r + 1)));
  const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(cx - r - 1)));
  const int64_t x1 = std::min<int64_t>(cols - 1, static_cast<int64_t>(std::ceil(cx + r + 1)));
  for (int64_t y = y0; y <= y1; ++y) {
    for (int64_t x = x0; x <= x1; ++x) {
      const double d = std::hypot(static_cast<double>(y) - cy, static_cast<double>(x) - cx);
      const double cover = std::clamp(r + 0.5 - d, 0.0, 1.0);
      lambda[y * cols + x] += value * cover;
    }
  }
}

}  // namespace

std::unique_ptr<Synthetic4dstem> Synthetic4dstem::Make(SyntheticParams params) {
  if (params.scan.size() != 2) throw Error::InvalidArgument("needs two axes, like 128x128", "scan");
  if (params.frame.size() != 2) throw Error::InvalidArgument("needs two axes, like 256x256", "frame");
  if (params.frame[0] < 16 || params.frame[1] < 16) {
    throw Error::InvalidArgument("frames must be at least 16x16 pixels", "frame");
  }
  for (int64_t d : params.scan) {
    if (d < 1) throw Error::InvalidArgument("must be positive", "scan");
  }
  if (params.dtype != DType::kFloat32 && params.dtype != DType::kUint16 &&
      params.dtype != DType::kFloat64 && params.dtype != DType::kUint32 &&
      params.dtype != DType::kUint8) {
    throw Error::InvalidArgument(
        fmt::format("dtype {} is not offered (float32, float64, uint8, uint16, uint32)",
                    Name(params.dtype)),
        "dtype");
  }
  return std::unique_ptr<Synthetic4dstem>(new Synthetic4dstem(std::move(params)));
}

Synthetic4dstem::Synthetic4dstem(SyntheticParams params) : params_(std::move(params)) {
  meta_.format = "synthetic";
  meta_.path = fmt::format("synthetic:4dstem?seed={}", params_.seed);
  meta_.shape = Shape(params_.scan, params_.frame);
  meta_.dtype = params_.dtype;
  meta_.axes = DefaultAxes(meta_.shape);
  const double size = static_cast<double>(std::min(params_.frame[0], params_.frame[1]));
  bf_radius_ = size / 8;
  bragg_radius_ = size / 24;
  shift_amplitude_ = size / 32;
  const double g = size / 4;
  // Three pairs of Bragg disks at +-g_i: symmetric about the BF disk, so they do not move the
  // centre of mass away from the imposed pattern centre.
  for (double angle_deg : {20.0, 80.0, 140.0}) {
    const double a = angle_deg * std::numbers::pi / 180;
    bragg_offsets_.emplace_back(g * std::sin(a), g * std::cos(a));
    bragg_offsets_.emplace_back(-g * std::sin(a), -g * std::cos(a));
  }
  Rng rng(Mix(params_.seed, ~uint64_t{0}));
  const int64_t pixels = meta_.shape.sig_size();
  while (static_cast<int>(hot_pixels_.size()) < params_.num_hot_pixels) {
    const auto pixel = static_cast<int64_t>(rng.Next() % static_cast<uint64_t>(pixels));
    if (std::find(hot_pixels_.begin(), hot_pixels_.end(), pixel) == hot_pixels_.end()) {
      hot_pixels_.push_back(pixel);
    }
  }
  std::sort(hot_pixels_.begin(), hot_pixels_.end());
  // The hot pixels as "y,x;y,x", ready for `tessera run --excluded-pixels`.
  std::string hot_yx;
  for (int64_t pixel : hot_pixels_) {
    hot_yx += fmt::format("{}{},{}", hot_yx.empty() ? "" : ";", pixel / params_.frame[1],
                          pixel % params_.frame[1]);
  }
  meta_.metadata_json = fmt::format(
      R"({{"generator": "tessera synthetic 4dstem", "seed": {}, "bf_radius_px": {}, )"
      R"("shift_amplitude_px": {}, "bf_counts": {}, "bragg_counts": {}, "hot_pixels": "{}"}})",
      params_.seed, bf_radius_, shift_amplitude_, params_.bf_counts, params_.bragg_counts,
      hot_yx);
}

std::pair<double, double> Synthetic4dstem::Shift(int64_t y, int64_t x) const {
  const double ny = static_cast<double>(params_.scan[0]);
  const double nx = static_cast<double>(params_.scan[1]);
  const double two_pi = 2 * std::numbers::pi;
  // A smooth field with both divergence and curl, so DPC maps show structure.
  const double dy = shift_amplitude_ * std::sin(two_pi * static_cast<double>(x) / nx);
  const double dx = shift_amplitude_ * std::cos(two_pi * static_cast<double>(y) / ny) * 0.75;
  return {dy, dx};
}

std::pair<double, double> Synthetic4dstem::PatternCentre(int64_t y, int64_t x) const {
  const auto [dy, dx] = Shift(y, x);
  return {static_cast<double>(params_.frame[0] - 1) / 2 + dy,
          static_cast<double>(params_.frame[1] - 1) / 2 + dx};
}

void Synthetic4dstem::Render(int64_t frame, double* lambda) const {
  const int64_t rows = params_.frame[0];
  const int64_t cols = params_.frame[1];
  std::fill_n(lambda, rows * cols, 0.0);
  const auto [cy, cx] = PatternCentre(frame / params_.scan[1], frame % params_.scan[1]);
  AddDisk(lambda, rows, cols, cy, cx, bf_radius_, params_.bf_counts);
  for (const auto& [oy, ox] : bragg_offsets_) {
    AddDisk(lambda, rows, cols, cy + oy, cx + ox, bragg_radius_, params_.bragg_counts);
  }
}

std::vector<double> Synthetic4dstem::ExpectedFrame(int64_t frame) const {
  std::vector<double> lambda(static_cast<size_t>(meta_.shape.sig_size()));
  Render(frame, lambda.data());
  for (int64_t pixel : hot_pixels_) lambda[static_cast<size_t>(pixel)] = params_.hot_value;
  return lambda;
}

void Synthetic4dstem::ReadFrames(int64_t frame_begin, int64_t frame_end, SigRange sig, void* dst,
                                 DType dst_dtype) const {
  const int64_t pixels = meta_.shape.sig_size();
  thread_local std::vector<double> lambda;
  thread_local std::vector<double> counts;
  lambda.resize(static_cast<size_t>(pixels));
  counts.resize(static_cast<size_t>(pixels));
  const double max_value = dst_dtype == DType::kUint8 ? 255.0 : 1e300;
  const double stored_max = meta_.dtype == DType::kUint8    ? 255.0
                            : meta_.dtype == DType::kUint16 ? 65535.0
                                                            : 1e300;
  for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
    Render(frame, lambda.data());
    Rng rng(Mix(params_.seed, static_cast<uint64_t>(frame)));
    for (int64_t i = 0; i < pixels; ++i) {
      counts[static_cast<size_t>(i)] = static_cast<double>(rng.Poisson(lambda[static_cast<size_t>(i)]));
    }
    for (int64_t pixel : hot_pixels_) counts[static_cast<size_t>(pixel)] = params_.hot_value;
    for (auto& c : counts) c = std::min({c, stored_max, max_value});
    auto* out = static_cast<std::byte*>(dst) + (frame - frame_begin) * sig.size() * SizeOf(dst_dtype);
    ConvertElements(counts.data() + sig.begin, DType::kFloat64, false, out, dst_dtype, sig.size());
  }
}

}  // namespace tessera::dataset
