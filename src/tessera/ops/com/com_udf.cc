// SPDX-License-Identifier: MIT
#include "tessera/ops/com/com_udf.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>

#include "tessera/core/error.h"
#include "tessera/dataset/roi.h"
#include "tessera/ops/kernels_internal.h"
#include "tessera/ops/operator_registry.h"

namespace tessera::ops {
namespace {

enum Buffer : int { kSum, kSumY, kSumX };

constexpr int kLanes = 16;

/// Add (sum v, sum v * column) over row[begin, end) into the lanes: lane k takes the elements
/// begin + k, begin + k + 16, ...; the tail goes to the first lanes.
template <class T, class Acc>
TESSERA_ALWAYS_INLINE void RowMoments(const T* __restrict row, const Acc* __restrict column,
                                      int64_t begin, int64_t end, Acc* __restrict s,
                                      Acc* __restrict w) noexcept {
  int64_t x = begin;
  for (; x + kLanes <= end; x += kLanes) {
#pragma omp simd
    for (int k = 0; k < kLanes; ++k) {
      const Acc v = static_cast<Acc>(row[x + k]);
      s[k] += v;
      w[k] += v * column[x + k];
    }
  }
  for (int k = 0; x < end; ++x, ++k) {
    const Acc v = static_cast<Acc>(row[x]);
    s[k] += v;
    w[k] += v * column[x];
  }
}

/// Accumulate the sums of kGroup frames side by side, row by row: kGroup concurrent memory
/// streams keep more cache misses in flight than one frame at a time (the tile may be a
/// zero-copy view whose frames lie a whole frame apart). Each frame's arithmetic is the same
/// whatever the group size, so results do not depend on it.
template <int kGroup, class T, class Acc, class Span>
TESSERA_ALWAYS_INLINE void ComFrames(const T* data, int64_t stride, int64_t band_begin,
                                     int64_t cols, int64_t row_begin, int64_t row_end,
                                     const int64_t* row_spans, const Span* spans, const Acc* column,
                                     double* sum, double* sum_y, double* sum_x) noexcept {
  double total[kGroup][kLanes] = {}, moment_y[kGroup][kLanes] = {}, moment_x[kGroup][kLanes] = {};
  for (int64_t y = row_begin; y < row_end; ++y) {
    const double weight_y = static_cast<double>(y);
    for (int g = 0; g < kGroup; ++g) {
      const T* row = data + g * stride - band_begin + y * cols;  // indexed by signal pixel
      Acc s[kLanes] = {}, w[kLanes] = {};
      for (int64_t i = row_spans[y]; i < row_spans[y + 1]; ++i) {
        RowMoments(row, column, spans[i].begin, spans[i].end, s, w);
      }
#pragma omp simd
      for (int k = 0; k < kLanes; ++k) {
        total[g][k] += static_cast<double>(s[k]);
        moment_y[g][k] += static_cast<double>(s[k]) * weight_y;
        moment_x[g][k] += static_cast<double>(w[k]);
      }
    }
  }
  for (int g = 0; g < kGroup; ++g) {
    double t = 0, my = 0, mx = 0;
    for (int k = 0; k < kLanes; ++k) {
      t += total[g][k];
      my += moment_y[g][k];
      mx += moment_x[g][k];
    }
    sum[g] += t;
    sum_y[g] += my;
    sum_x[g] += mx;
  }
}

/// Accumulate each frame's sum, sum * row and sum * column over the in-mask spans of rows
/// [row_begin, row_end) (the tile's band) into sum/sum_y/sum_x. A row is summed in `Acc` lanes
/// (float for narrow types: a row of 16 k pixels keeps 16-bit counts exact), then the lanes are
/// folded into float64 lanes for the frame, so precision does not depend on the frame size.
template <class T, class Acc, class Span>
TESSERA_MULTIVERSION void ComTile(const T* data, int64_t depth, int64_t stride, int64_t band_begin,
                                  int64_t cols, int64_t row_begin, int64_t row_end,
                                  const int64_t* row_spans, const Span* spans, const Acc* column,
                                  double* sum, double* sum_y, double* sum_x) noexcept {
  int64_t f = 0;
  for (; f + 4 <= depth; f += 4) {
    ComFrames<4>(data + f * stride, stride, band_begin, cols, row_begin, row_end, row_spans, spans,
                 column, sum + f, sum_y + f, sum_x + f);
  }
  for (; f < depth; ++f) {
    ComFrames<1>(data + f * stride, stride, band_begin, cols, row_begin, row_end, row_spans, spans,
                 column, sum + f, sum_y + f, sum_x + f);
  }
}

}  // namespace

ComUdf::ComUdf(ComParams params) : params_(params) {}

DType ComUdf::InputDType(DType native) const { return internal::KernelDType(native); }

std::vector<udf::BufferSpec> ComUdf::GetResultBuffers(const udf::UdfMeta& /*meta*/) const {
  using udf::BufferKind;
  return {{.name = "sum", .kind = BufferKind::kNav, .dtype = DType::kFloat64, .is_private = true},
          {.name = "sum_y", .kind = BufferKind::kNav, .dtype = DType::kFloat64, .is_private = true},
          {.name = "sum_x", .kind = BufferKind::kNav, .dtype = DType::kFloat64, .is_private = true}};
}

void ComUdf::PrepareRun(const udf::UdfMeta& meta) {
  const auto sig = meta.dataset->shape.sig();
  if (sig.size() != 2) {
    throw Error::Unsupported(fmt::format("com needs 2-D frames, the signal shape is {}",
                                         meta.dataset->shape.ToString()));
  }
  rows_ = sig[0];
  cols_ = sig[1];
  cy_ = params_.cy.value_or(static_cast<double>(rows_ - 1) / 2);
  cx_ = params_.cx.value_or(static_cast<double>(cols_ - 1) / 2);
  ref_y_ = params_.ref_y.value_or(cy_);
  ref_x_ = params_.ref_x.value_or(cx_);
  for (const auto& [value, field] : {std::pair{cy_, "cy"}, std::pair{cx_, "cx"},
                                     std::pair{ref_y_, "ref_y"}, std::pair{ref_x_, "ref_x"},
                                     std::pair{params_.ri, "ri"},
                                     std::pair{params_.scan_rotation_deg, "scan_rotation"}}) {
    if (!std::isfinite(value)) {
      throw Error::InvalidArgument(fmt::format("{}: must be a finite number", field), field);
    }
  }
  if (params_.r) {
    if (!(*params_.r > 0)) throw Error::InvalidArgument("r: the radius must be positive", "r");
    if (!(cy_ >= 0 && cy_ <= static_cast<double>(rows_ - 1) && cx_ >= 0 &&
          cx_ <= static_cast<double>(cols_ - 1))) {
      throw Error::InvalidArgument(
          fmt::format("cy: the disk centre ({}, {}) lies outside the {}x{} frame", cy_, cx_,
                      rows_, cols_),
          "cy");
    }
    if (params_.ri < 0 || params_.ri >= *params_.r) {
      throw Error::InvalidArgument("ri: expected 0 <= ri < r", "ri");
    }
  }
  // Spans of columns inside the mask, row by row: the kernel then streams plain runs of pixels.
  row_spans_.assign(1, 0);
  spans_.clear();
  for (int64_t y = 0; y < rows_; ++y) {
    if (!params_.r) {
      spans_.push_back({0, static_cast<int32_t>(cols_)});
    } else {
      const double r = *params_.r, ri = params_.ri, dy = static_cast<double>(y) - cy_;
      int64_t x = 0;
      while (x < cols_) {
        auto inside = [&](int64_t col) {
          const double dx = static_cast<double>(col) - cx_;
          const double d2 = dy * dy + dx * dx;
          return d2 <= r * r && (ri == 0 || d2 > ri * ri);
        };
        while (x < cols_ && !inside(x)) ++x;
        const int64_t begin = x;
        while (x < cols_ && inside(x)) ++x;
        if (x > begin) spans_.push_back({static_cast<int32_t>(begin), static_cast<int32_t>(x)});
      }
    }
    row_spans_.push_back(static_cast<int64_t>(spans_.size()));
  }
  if (spans_.empty()) throw Error::InvalidArgument("r: the disk selects no pixel", "r");
  column_f32_.resize(static_cast<size_t>(cols_));
  column_f64_.resize(static_cast<size_t>(cols_));
  for (int64_t x = 0; x < cols_; ++x) {
    column_f32_[static_cast<size_t>(x)] = static_cast<float>(x);
    column_f64_[static_cast<size_t>(x)] = static_cast<double>(x);
  }
}

void ComUdf::ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const {
  double* sum = buffers.nav<double>(kSum).data();
  double* sum_y = buffers.nav<double>(kSumY).data();
  double* sum_x = buffers.nav<double>(kSumX).data();
  // Bands are whole rows.
  const int64_t row_begin = tile.sig.begin / cols_;
  const int64_t row_end = tile.sig.end / cols_;
  internal::DispatchKernelDType(tile.dtype, [&]<class T>(std::type_identity<T>) {
    using Acc = std::conditional_t<(sizeof(T) <= 2 || std::is_same_v<T, float>), float, double>;
    const Acc* column;
    if constexpr (std::is_same_v<Acc, float>) {
      column = column_f32_.data();
    } else {
      column = column_f64_.data();
    }
    ComTile(static_cast<const T*>(tile.data), tile.depth, tile.frame_stride, tile.sig.begin,
            cols_, row_begin, row_end, row_spans_.data(), spans_.data(), column, sum, sum_y,
            sum_x);
  });
}

std::vector<double> Gradient2d(const std::vector<double>& field, int64_t ny, int64_t nx, int axis) {
  std::vector<double> out(field.size(), 0.0);
  const int64_t n = axis == 0 ? ny : nx;
  const int64_t step = axis == 0 ? nx : 1;
  if (n < 2) return out;
  for (int64_t y = 0; y < ny; ++y) {
    for (int64_t x = 0; x < nx; ++x) {
      const int64_t i = y * nx + x;
      const int64_t pos = axis == 0 ? y : x;
      const auto at = [&](int64_t offset) { return field[static_cast<size_t>(i + offset * step)]; };
      double g;
      if (pos == 0) g = at(1) - at(0);
      else if (pos == n - 1) g = at(0) - at(-1);
      else g = (at(1) - at(-1)) / 2;
      out[static_cast<size_t>(i)] = g;
    }
  }
  return out;
}

std::vector<udf::Result> ComUdf::GetResults(const udf::BufferSet& merged,
                                            const udf::UdfMeta& meta) const {
  const auto& ds = *meta.dataset;
  const int64_t frames = ds.shape.nav_size();
  const auto sum = merged.Whole<double>(kSum);
  const auto sum_y = merged.Whole<double>(kSumY);
  const auto sum_x = merged.Whole<double>(kSumX);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double angle = params_.scan_rotation_deg * std::numbers::pi / 180;
  const double cos_a = std::cos(angle), sin_a = std::sin(angle);
  std::vector<double> com_y(static_cast<size_t>(frames)), com_x(com_y.size()),
      field_y(com_y.size()), field_x(com_y.size()), magnitude(com_y.size());
  for (int64_t f = 0; f < frames; ++f) {
    const auto i = static_cast<size_t>(f);
    if (meta.roi != nullptr && !meta.roi->selected(f)) {
      com_y[i] = com_x[i] = field_y[i] = field_x[i] = magnitude[i] = nan;
      continue;
    }
    com_y[i] = sum(f) != 0 ? sum_y(f) / sum(f) : ref_y_;
    com_x[i] = sum(f) != 0 ? sum_x(f) / sum(f) : ref_x_;
    const double dy = (params_.flip_y ? -1.0 : 1.0) * (com_y[i] - ref_y_);
    const double dx = com_x[i] - ref_x_;
    field_y[i] = cos_a * dy + sin_a * dx;
    field_x[i] = -sin_a * dy + cos_a * dx;
    magnitude[i] = std::hypot(field_y[i], field_x[i]);
  }
  const int nav_dims = ds.shape.nav_dims();
  std::vector<dataset::Axis> nav_axes(ds.axes.begin(), ds.axes.begin() + nav_dims);
  std::vector<int64_t> nav_shape(ds.shape.nav().begin(), ds.shape.nav().end());
  std::vector<udf::Result> results;
  auto add = [&](const char* name, const std::vector<double>& values, const char* units,
                 const char* description) {
    udf::Result result;
    result.name = name;
    result.kind = udf::BufferKind::kNav;
    result.axes = nav_axes;
    result.units = units;
    result.description = description;
    result.data = NdArray(DType::kFloat64, nav_shape);
    std::copy(values.begin(), values.end(), result.data.flat<double>().begin());
    results.push_back(std::move(result));
  };
  add("com_y", com_y, "px", "centre of mass, detector row");
  add("com_x", com_x, "px", "centre of mass, detector column");
  add("field_y", field_y, "px", "shift from the reference, rotated into scan coordinates, y");
  add("field_x", field_x, "px", "shift from the reference, rotated into scan coordinates, x");
  add("magnitude", magnitude, "px", "length of the shift");
  if (nav_dims == 2 && nav_shape[0] >= 2 && nav_shape[1] >= 2) {
    const int64_t ny = nav_shape[0], nx = nav_shape[1];
    const auto dfy_dy = Gradient2d(field_y, ny, nx, 0);
    const auto dfx_dx = Gradient2d(field_x, ny, nx, 1);
    const auto dfy_dx = Gradient2d(field_y, ny, nx, 1);
    const auto dfx_dy = Gradient2d(field_x, ny, nx, 0);
    std::vector<double> divergence(field_y.size()), curl(field_y.size());
    for (size_t i = 0; i < divergence.size(); ++i) {
      divergence[i] = dfy_dy[i] + dfx_dx[i];
      curl[i] = dfy_dx[i] - dfx_dy[i];
    }
    add("divergence", divergence, "px/step", "d(field_y)/dy + d(field_x)/dx (np.gradient)");
    add("curl", curl, "px/step", "d(field_y)/dx - d(field_x)/dy (np.gradient)");
  }
  return results;
}

std::unique_ptr<udf::Udf> MakeCom(const Params& params) {
  ComParams p;
  p.cy = params.FindFloat("cy");
  p.cx = params.FindFloat("cx");
  p.r = params.FindFloat("r");
  p.ri = params.GetFloat("ri");
  p.ref_y = params.FindFloat("ref_y");
  p.ref_x = params.FindFloat("ref_x");
  p.scan_rotation_deg = params.GetFloat("scan_rotation");
  p.flip_y = params.GetBool("flip_y");
  if (p.ri != 0 && !p.r) throw Error::InvalidArgument("ri: needs r (the outer radius)", "ri");
  return std::make_unique<ComUdf>(p);
}

void RegisterComOps(OperatorRegistry& registry) {
  registry.Add({
      .name = "com",
      .version = "1",
      .summary = "Centre of mass of each frame and the DPC field (shift, divergence, curl).",
      .description =
          "Computes each frame's centre of mass (row, column) in detector pixels, optionally "
          "only over a disk (r) or ring (ri, r) around (cy, cx). The shift from the reference "
          "(ref_y, ref_x; default (cy, cx), which default to the frame centre "
          "((sy-1)/2, (sx-1)/2)) is flipped (flip_y) and rotated by scan_rotation into scan "
          "coordinates as in LiberTEM's CoMUDF: field_y = cos(a) dy + sin(a) dx, "
          "field_x = -sin(a) dy + cos(a) dx. For 2-D scans the divergence "
          "d(field_y)/dy + d(field_x)/dx and curl d(field_y)/dx - d(field_x)/dy are computed "
          "with central differences (np.gradient, unit scan step). All outputs are float64 "
          "navigation-shaped maps; positions outside the ROI are NaN, and so are the "
          "divergence and curl next to them.",
      .params =
          {
              {.name = "cy", .type = ParamType::kFloat,
               .description = "disk centre row (pixels; default (sy-1)/2)", .optional = true},
              {.name = "cx", .type = ParamType::kFloat,
               .description = "disk centre column (pixels; default (sx-1)/2)", .optional = true},
              {.name = "r", .type = ParamType::kFloat,
               .description = "disk radius (pixels; default: the whole frame)", .optional = true},
              {.name = "ri", .type = ParamType::kFloat, .default_value = "0",
               .description = "inner radius excluded from the disk (pixels)"},
              {.name = "ref_y", .type = ParamType::kFloat,
               .description = "reference row the shift is measured from (pixels; default cy)",
               .optional = true},
              {.name = "ref_x", .type = ParamType::kFloat,
               .description = "reference column (pixels; default cx)", .optional = true},
              {.name = "scan_rotation", .type = ParamType::kFloat, .default_value = "0",
               .description = "scan rotation (degrees; positive rotates the shift clockwise)"},
              {.name = "flip_y", .type = ParamType::kBool, .default_value = "false",
               .description = "flip the detector y axis before rotating"},
          },
      .citations = {{.doi = "10.5281/zenodo.1477847",
                     .bibtex = "@software{libertem,\n  author = {Clausen, Alexander and Weber, "
                               "Dieter and others},\n  title = {LiberTEM},\n  doi = "
                               "{10.5281/zenodo.1477847}\n}"}},
      .outputs = {"com_y", "com_x", "field_y", "field_x", "magnitude", "divergence", "curl"},
      .make = [](const Params& params) { return MakeCom(params); },
  });
}

}  // namespace tessera::ops
