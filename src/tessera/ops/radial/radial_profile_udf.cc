// SPDX-License-Identifier: MIT
#include "tessera/ops/radial/radial_profile_udf.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "tessera/core/error.h"
#include "tessera/ops/kernels_internal.h"
#include "tessera/ops/operator_registry.h"

namespace tessera::ops {
namespace {

/// sums[f * (bins + 1) + label[p]] += tile[f, p]; the extra last slot swallows unbinned pixels,
/// so the loop has no branch.
template <class T>
void BinFrames(const T* data, int64_t depth, int64_t stride, int64_t pixels, const int32_t* labels,
               int64_t slots, double* sums) noexcept {
  for (int64_t f = 0; f < depth; ++f) {
    const T* row = data + f * stride;
    double* out = sums + f * slots;
    for (int64_t p = 0; p < pixels; ++p) out[labels[p]] += static_cast<double>(row[p]);
  }
}

}  // namespace

RadialProfileUdf::RadialProfileUdf(RadialProfileParams params) : params_(params) {
  if (params_.bins && params_.r_max && params_.bin_width) {
    throw Error::InvalidArgument("bin_width: give at most two of bins, bin_width and r_max",
                                 "bin_width");
  }
  if (params_.bins && *params_.bins <= 0) {
    throw Error::InvalidArgument("bins: must be positive", "bins");
  }
  if (params_.bin_width && !(*params_.bin_width > 0)) {
    throw Error::InvalidArgument("bin_width: must be positive", "bin_width");
  }
  if (params_.r_max && !(*params_.r_max > 0)) {
    throw Error::InvalidArgument("r_max: must be positive", "r_max");
  }
}

DType RadialProfileUdf::InputDType(DType native) const { return internal::KernelDType(native); }

std::vector<udf::BufferSpec> RadialProfileUdf::GetResultBuffers(const udf::UdfMeta& /*meta*/) const {
  return {{.name = "sums",
           .kind = udf::BufferKind::kNav,
           .dtype = DType::kFloat64,
           .extra_shape = {bins_ + 1},
           .is_private = true}};
}

void RadialProfileUdf::PrepareRun(const udf::UdfMeta& meta) {
  const auto sig = meta.dataset->shape.sig();
  if (sig.size() != 2) {
    throw Error::Unsupported(fmt::format("radial-profile needs 2-D frames, the shape is {}",
                                         meta.dataset->shape.ToString()));
  }
  const int64_t rows = sig[0], cols = sig[1];
  const double cy = params_.cy.value_or(static_cast<double>(rows - 1) / 2);
  const double cx = params_.cx.value_or(static_cast<double>(cols - 1) / 2);
  if (!(cy >= 0 && cy <= static_cast<double>(rows - 1))) {
    throw Error::InvalidArgument(fmt::format("cy: {} lies outside the {}x{} frame", cy, rows, cols), "cy");
  }
  if (!(cx >= 0 && cx <= static_cast<double>(cols - 1))) {
    throw Error::InvalidArgument(fmt::format("cx: {} lies outside the {}x{} frame", cx, rows, cols), "cx");
  }
  const double far_y = std::max(cy, static_cast<double>(rows - 1) - cy);
  const double far_x = std::max(cx, static_cast<double>(cols - 1) - cx);
  const double corner = std::hypot(far_y, far_x);
  if (params_.bins && params_.r_max) {
    bins_ = *params_.bins;
    width_ = *params_.r_max / static_cast<double>(bins_);
  } else if (params_.bins) {
    bins_ = *params_.bins;
    width_ = params_.bin_width.value_or(1.0);
  } else {
    width_ = params_.bin_width.value_or(1.0);
    // Default: up to and including the farthest pixel.
    bins_ = params_.r_max ? static_cast<int64_t>(std::ceil(*params_.r_max / width_))
                          : static_cast<int64_t>(std::floor(corner / width_)) + 1;
  }
  if (bins_ > (int64_t{1} << 24)) throw Error::InvalidArgument("bins: too many bins", "bins");
  const double r_max = params_.r_max.value_or(static_cast<double>(bins_) * width_);
  labels_.assign(static_cast<size_t>(rows * cols), static_cast<int32_t>(bins_));
  bin_pixels_.assign(static_cast<size_t>(bins_), 0);
  for (int64_t y = 0; y < rows; ++y) {
    for (int64_t x = 0; x < cols; ++x) {
      const double d = std::hypot(static_cast<double>(y) - cy, static_cast<double>(x) - cx);
      if (d >= r_max) continue;
      const auto bin = static_cast<int64_t>(std::floor(d / width_));
      if (bin >= bins_) continue;
      labels_[static_cast<size_t>(y * cols + x)] = static_cast<int32_t>(bin);
      ++bin_pixels_[static_cast<size_t>(bin)];
    }
  }
}

void RadialProfileUdf::ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const {
  double* sums = buffers.nav<double>(0).data();
  const int32_t* labels = labels_.data() + tile.sig.begin;
  internal::DispatchKernelDType(tile.dtype, [&]<class T>(std::type_identity<T>) {
    BinFrames(static_cast<const T*>(tile.data), tile.depth, tile.frame_stride, tile.sig.size(),
              labels, bins_ + 1, sums);
  });
}

std::vector<udf::Result> RadialProfileUdf::GetResults(const udf::BufferSet& merged,
                                                      const udf::UdfMeta& meta) const {
  const auto& ds = *meta.dataset;
  const int64_t frames = ds.shape.nav_size();
  const auto sums = merged.Whole<double>(0);
  udf::Result profile;
  profile.name = "profile";
  profile.kind = udf::BufferKind::kNav;
  profile.description = "mean intensity per radial bin";
  std::vector<int64_t> dims(ds.shape.nav().begin(), ds.shape.nav().end());
  dims.push_back(bins_);
  profile.data = NdArray(DType::kFloat32, dims);
  profile.axes.assign(ds.axes.begin(), ds.axes.begin() + ds.shape.nav_dims());
  const auto& sig_axis = ds.axes[static_cast<size_t>(ds.shape.nav_dims())];
  profile.axes.push_back({.name = "radius",
                          .size = bins_,
                          .scale = width_ * sig_axis.scale,
                          .offset = width_ / 2 * sig_axis.scale,
                          .units = sig_axis.units});
  auto out = profile.data.flat<float>();
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t b = 0; b < bins_; ++b) {
      const int64_t n = bin_pixels_[static_cast<size_t>(b)];
      out[static_cast<size_t>(f * bins_ + b)] =
          n > 0 ? static_cast<float>(sums(f, b) / static_cast<double>(n))
                : std::numeric_limits<float>::quiet_NaN();
    }
  }
  std::vector<udf::Result> results;
  results.push_back(std::move(profile));
  return results;
}

std::unique_ptr<udf::Udf> MakeRadialProfile(const Params& params) {
  RadialProfileParams p;
  p.cy = params.FindFloat("cy");
  p.cx = params.FindFloat("cx");
  p.bins = params.FindInt("bins");
  if (params.Has("bin_width")) p.bin_width = params.GetFloat("bin_width");
  p.r_max = params.FindFloat("r_max");
  return std::make_unique<RadialProfileUdf>(p);
}

void RegisterRadialOps(OperatorRegistry& registry) {
  registry.Add({
      .name = "radial-profile",
      .version = "1",
      .summary = "Azimuthally averaged intensity of each frame in radial bins.",
      .description =
          "Pixel (y, x) belongs to bin floor(d / bin_width), d = sqrt((y-cy)^2 + (x-cx)^2), "
          "for d < r_max. Any two of bins, bin_width and r_max fix the bins; the default is "
          "bin_width = 1 pixel out to the farthest pixel of the frame. The result 'profile' has "
          "the navigation shape x bins (float32): the mean intensity of each bin's pixels, NaN "
          "for bins that hold no pixel. Its last axis, 'radius', is calibrated to the bin "
          "centres (offset bin_width/2, scale bin_width, in the detector's units).",
      .params =
          {
              {.name = "cy", .type = ParamType::kFloat,
               .description = "centre row (pixels; default (sy-1)/2)", .optional = true},
              {.name = "cx", .type = ParamType::kFloat,
               .description = "centre column (pixels; default (sx-1)/2)", .optional = true},
              {.name = "bins", .type = ParamType::kInt, .description = "number of bins",
               .optional = true},
              {.name = "bin_width", .type = ParamType::kFloat,
               .description = "bin width (pixels; default 1)", .optional = true},
              {.name = "r_max", .type = ParamType::kFloat,
               .description = "outer edge of the last bin (pixels; default: farthest pixel)",
               .optional = true},
          },
      .outputs = {"profile"},
      .make = [](const Params& params) { return MakeRadialProfile(params); },
  });
}

}  // namespace tessera::ops
