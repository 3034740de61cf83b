// SPDX-License-Identifier: MIT
#include "tessera/arrayops/array_ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <vector>

#include "tessera/arrayops/arrayops_internal.h"

namespace tessera::arrayops {
namespace {

using internal::RequireRealArray;
using internal::ToFloat64;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- Crop -----------------------------------------------------------------------------------

void CheckCropBounds(const NdArray& a, std::span<const int64_t> begin,
                     std::span<const int64_t> end) {
  const auto rank = static_cast<size_t>(a.rank());
  if (begin.size() != rank) {
    throw Error::InvalidArgument(
        fmt::format("has {} entries for an array of rank {}", begin.size(), rank), "begin");
  }
  if (end.size() != rank) {
    throw Error::InvalidArgument(
        fmt::format("has {} entries for an array of rank {}", end.size(), rank), "end");
  }
  for (size_t axis = 0; axis < rank; ++axis) {
    const int64_t dim = a.shape()[axis];
    if (begin[axis] < 0 || begin[axis] > dim) {
      throw Error::InvalidArgument(
          fmt::format("axis {}: {} is outside [0, {}]", axis, begin[axis], dim), "begin");
    }
    if (end[axis] < begin[axis] || end[axis] > dim) {
      throw Error::InvalidArgument(
          fmt::format("axis {}: {} is outside [{}, {}]", axis, end[axis], begin[axis], dim), "end");
    }
  }
}

// ---- Broadcasting ---------------------------------------------------------------------------

/// Where each operand's elements sit for every index of the broadcast output.
struct BroadcastLayout {
  std::vector<int64_t> shape;      // output shape
  std::vector<int64_t> a_strides;  // element strides of a per output axis (0: broadcast)
  std::vector<int64_t> b_strides;
};

std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& operand, size_t out_rank) {
  std::vector<int64_t> strides(out_rank, 0);
  int64_t stride = 1;
  for (size_t i = 0; i < operand.size(); ++i) {
    const size_t axis = operand.size() - 1 - i;
    const size_t out_axis = out_rank - 1 - i;
    strides[out_axis] = operand[axis] == 1 ? 0 : stride;
    stride *= operand[axis];
  }
  return strides;
}

BroadcastLayout Broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  BroadcastLayout layout;
  layout.shape.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      throw Error::InvalidArgument(fmt::format("shapes ({}) and ({}) cannot be broadcast together",
                                               FormatDims(a), FormatDims(b)),
                                   "b");
    }
    layout.shape[rank - 1 - i] = da == 1 ? db : da;
  }
  layout.a_strides = BroadcastStrides(a, rank);
  layout.b_strides = BroadcastStrides(b, rank);
  return layout;
}

/// Apply `op` over the broadcast output: an odometer over the outer axes, a strided inner loop.
template <class Op>
void BroadcastLoop(const double* a, const double* b, double* out, const BroadcastLayout& layout,
                   Op op) {
  const auto rank = static_cast<int>(layout.shape.size());
  if (rank == 0) {
    out[0] = op(a[0], b[0]);
    return;
  }
  const int64_t inner = layout.shape.back();
  const int64_t total = Product(layout.shape);
  if (total == 0) return;
  const int64_t sa = layout.a_strides.back();
  const int64_t sb = layout.b_strides.back();
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  int64_t offset_a = 0;
  int64_t offset_b = 0;
  for (int64_t row = 0; row < total / inner; ++row) {
    double* out_row = out + row * inner;
    for (int64_t i = 0; i < inner; ++i) out_row[i] = op(a[offset_a + i * sa], b[offset_b + i * sb]);
    for (int axis = rank - 2; axis >= 0; --axis) {  // advance the odometer over outer axes
      const auto ax = static_cast<size_t>(axis);
      offset_a += layout.a_strides[ax];
      offset_b += layout.b_strides[ax];
      if (++index[ax] < layout.shape[ax]) break;
      offset_a -= layout.a_strides[ax] * layout.shape[ax];
      offset_b -= layout.b_strides[ax] * layout.shape[ax];
      index[ax] = 0;
    }
  }
}

/// Call `f(op_functor)` for `op`, so the loops are compiled once per operation.
template <class F>
void DispatchOp(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::kAdd: return f([](double x, double y) { return x + y; });
    case BinaryOp::kSubtract: return f([](double x, double y) { return x - y; });
    case BinaryOp::kMultiply: return f([](double x, double y) { return x * y; });
    case BinaryOp::kDivide: return f([](double x, double y) { return x / y; });
    case BinaryOp::kMinimum:
      return f([](double x, double y) {
        return std::isnan(x) || std::isnan(y) ? kNaN : std::min(x, y);
      });
    case BinaryOp::kMaximum:
      return f([](double x, double y) {
        return std::isnan(x) || std::isnan(y) ? kNaN : std::max(x, y);
      });
  }
  throw Error::InvalidArgument("unknown operation", "op");
}

// ---- Normalise ------------------------------------------------------------------------------

/// Statistics of the non-NaN elements.
struct Stats {
  int64_t count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double max_abs = 0;
  double sum = 0;
};

Stats NanStats(std::span<const double> values) {
  Stats stats;
  for (const double v : values) {
    if (std::isnan(v)) continue;
    ++stats.count;
    stats.min = std::min(stats.min, v);
    stats.max = std::max(stats.max, v);
    stats.max_abs = std::max(stats.max_abs, std::abs(v));
    stats.sum += v;
  }
  return stats;
}

/// Return the population standard deviation of the non-NaN elements about `mean` (two-pass).
double NanStd(std::span<const double> values, double mean, int64_t count) {
  double sum_squares = 0;
  for (const double v : values) {
    if (!std::isnan(v)) sum_squares += (v - mean) * (v - mean);
  }
  return std::sqrt(sum_squares / static_cast<double>(count));
}

/// Replace every element v by (v - shift) / divisor (NaN stays NaN).
void ShiftScale(std::span<double> values, double shift, double divisor) {
  for (double& v : values) v = (v - shift) / divisor;
}

/// Set every non-NaN element to 0.
void ZeroFinite(std::span<double> values) {
  for (double& v : values) {
    if (!std::isnan(v)) v = 0;
  }
}

}  // namespace

NdArray Crop(const NdArray& a, std::span<const int64_t> begin, std::span<const int64_t> end) {
  RequireRealArray(a, "a");
  CheckCropBounds(a, begin, end);
  std::vector<int64_t> out_shape(begin.size());
  for (size_t axis = 0; axis < begin.size(); ++axis) out_shape[axis] = end[axis] - begin[axis];
  NdArray out(a.dtype(), out_shape);
  if (out.size() == 0) return out;
  if (a.rank() == 0) return a.Clone();
  const int rank = a.rank();
  const int64_t item = SizeOf(a.dtype());
  const int64_t row_bytes = out_shape.back() * item;
  std::vector<int64_t> in_strides(static_cast<size_t>(rank), 1);
  for (int axis = rank - 2; axis >= 0; --axis) {
    in_strides[static_cast<size_t>(axis)] =
        in_strides[static_cast<size_t>(axis) + 1] * a.shape()[static_cast<size_t>(axis) + 1];
  }
  const auto* src = static_cast<const std::byte*>(a.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  std::vector<int64_t> index(begin.begin(), begin.end());  // input index of the current row
  const int64_t rows = out.size() / out_shape.back();
  for (int64_t row = 0; row < rows; ++row) {
    int64_t offset = 0;
    for (int axis = 0; axis < rank; ++axis) {
      offset += index[static_cast<size_t>(axis)] * in_strides[static_cast<size_t>(axis)];
    }
    std::memcpy(dst + row * row_bytes, src + offset * item, static_cast<size_t>(row_bytes));
    for (int axis = rank - 2; axis >= 0; --axis) {
      const auto ax = static_cast<size_t>(axis);
      if (++index[ax] < end[ax]) break;
      index[ax] = begin[ax];
    }
  }
  return out;
}

NdArray Arithmetic(const NdArray& a, const NdArray& b, BinaryOp op) {
  RequireRealArray(a, "a");
  RequireRealArray(b, "b");
  const BroadcastLayout layout = Broadcast(a.shape(), b.shape());
  const NdArray a64 = ToFloat64(a, "a");
  const NdArray b64 = ToFloat64(b, "b");
  NdArray out(DType::kFloat64, layout.shape);
  DispatchOp(op, [&](auto f) {
    BroadcastLoop(a64.flat<double>().data(), b64.flat<double>().data(), out.flat<double>().data(),
                  layout, f);
  });
  return out;
}

NdArray Arithmetic(const NdArray& a, double b, BinaryOp op) {
  NdArray out = ToFloat64(a, "a");
  DispatchOp(op, [&](auto f) {
    for (double& v : out.flat<double>()) v = f(v, b);
  });
  return out;
}

NdArray Normalise(const NdArray& a, NormaliseMode mode) {
  NdArray out = ToFloat64(a, "a");
  const std::span<double> values = out.flat<double>();
  const Stats stats = NanStats(values);
  if (stats.count == 0) return out;  // nothing but NaNs (or nothing at all)
  const bool constant = stats.max == stats.min;
  switch (mode) {
    case NormaliseMode::kMinMax:
      if (constant) {
        ZeroFinite(values);
      } else {
        ShiftScale(values, stats.min, stats.max - stats.min);
      }
      return out;
    case NormaliseMode::kZScore: {
      if (constant) {
        ZeroFinite(values);
        return out;
      }
      const double mean = stats.sum / static_cast<double>(stats.count);
      const double std = NanStd(values, mean, stats.count);
      if (std > 0) {
        ShiftScale(values, mean, std);
      } else {
        ZeroFinite(values);
      }
      return out;
    }
    case NormaliseMode::kSum:
      if (stats.sum != 0) ShiftScale(values, 0, stats.sum);
      return out;
    case NormaliseMode::kMax:
      if (stats.max_abs != 0) ShiftScale(values, 0, stats.max_abs);
      return out;
  }
  throw Error::InvalidArgument("unknown normalisation", "mode");
}

NdArray Threshold(const NdArray& a, double value, ThresholdMode mode) {
  if (std::isnan(value)) throw Error::InvalidArgument("must not be NaN", "value");
  NdArray out = ToFloat64(a, "a");
  std::span<double> values = out.flat<double>();
  switch (mode) {
    case ThresholdMode::kBinary:
      for (double& v : values) v = v > value ? 1.0 : 0.0;
      return out;
    case ThresholdMode::kToZero:
      for (double& v : values) v = v > value || std::isnan(v) ? v : 0.0;
      return out;
    case ThresholdMode::kClip:
      for (double& v : values) v = v > value ? value : v;
      return out;
  }
  throw Error::InvalidArgument("unknown threshold mode", "mode");
}

}  // namespace tessera::arrayops
