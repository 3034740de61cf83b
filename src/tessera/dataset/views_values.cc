// SPDX-License-Identifier: MIT
// The views that compute values: binning, dtype conversion and detector corrections.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/core/convert.h"
#include "tessera/dataset/views.h"
#include "tessera/dataset/views_internal.h"

namespace tessera::dataset {
namespace {

using internal::BadArgument;
using internal::ScratchBuffer;
using internal::ViewDataset;

template <class T>
struct IsComplexT : std::false_type {};
template <class T>
struct IsComplexT<std::complex<T>> : std::true_type {};

// ---------------------------------------------------------------------------------------------
// Binning

/// Return the type sums of `bin_size` elements accumulate in: exact for integers, float64 for
/// floats. Integers of up to 16 bits sum exactly in float32 while |sum| < 2^24, and float32 adds
/// run twice as wide as 64-bit ones.
DType AccumulatorDType(DType dtype, int64_t bin_size) {
  if (IsComplex(dtype)) return DType::kComplex128;
  if (IsFloating(dtype)) return DType::kFloat64;
  if (SizeOf(dtype) <= 2 && bin_size <= 256) return DType::kFloat32;
  return dtype == DType::kUint64 ? DType::kUint64 : DType::kInt64;
}

/// Return the dtype of binned data (documented at BinView).
DType BinnedDType(DType dtype, BinReduce reduce) {
  if (IsComplex(dtype) || (reduce == BinReduce::kSum && IsFloating(dtype))) return dtype;
  if (reduce == BinReduce::kSum) return dtype == DType::kUint64 ? DType::kUint64 : DType::kInt64;
  const bool narrow = SizeOf(dtype) <= 2 || dtype == DType::kFloat32;
  return narrow ? DType::kFloat32 : DType::kFloat64;
}

/// Return the view pixel (within a view row) of each pixel of a base row, or -1 for pixels in a
/// dropped remainder: the map that bins frames of three or more axes.
std::vector<int64_t> PixelMap(std::span<const int64_t> base_sig, std::span<const int64_t> view_sig,
                              std::span<const int64_t> factors) {
  const std::vector<int64_t> base_inner(base_sig.begin() + 1, base_sig.end());
  const std::vector<int64_t> view_inner(view_sig.begin() + 1, view_sig.end());
  const auto base_strides = internal::CStrides(base_inner);
  const auto view_strides = internal::CStrides(view_inner);
  std::vector<int64_t> map(static_cast<size_t>(Product(base_inner)));
  for (int64_t p = 0; p < static_cast<int64_t>(map.size()); ++p) {
    int64_t view_pixel = 0;
    for (size_t d = 0; d < base_inner.size() && view_pixel >= 0; ++d) {
      const int64_t index = p / base_strides[d] % base_inner[d] / factors[d + 1];
      view_pixel = index < view_inner[d] ? view_pixel + index * view_strides[d] : -1;
    }
    map[static_cast<size_t>(p)] = view_pixel;
  }
  return map;
}

/// Each view element sums a block of base elements: nav factors over frames, sig factors over
/// pixels. Sums run in a fixed order (in-bin nav offsets, then signal rows, then columns)
/// whatever ranges are read, so every tiling sees the same values.
class BinDataset final : public ViewDataset {
 public:
  BinDataset(DatasetPtr base, DatasetMeta meta, std::vector<int64_t> nav_factors,
             std::vector<int64_t> sig_factors, BinReduce reduce);

  int64_t native_depth() const override { return native_depth_; }
  void WillNeed(int64_t frame_begin, int64_t frame_end) const override;

 private:
  void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                void* dst, DType dst_dtype) const override;
  template <class Acc>
  void Accumulate(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                  Acc* acc) const;
  template <class Acc>
  void AddRow(const Acc* src, Acc* dst) const;
  /// Divide sums by the bin size (kMean) and store them as Store() does.
  void Finish(const std::byte* acc, int64_t count, std::byte* dst, DType dst_dtype) const;
  /// Write `values` to `dst` as a read of a copy stored in meta().dtype would give them.
  void Store(const std::byte* values, DType values_dtype, int64_t count, std::byte* dst,
             DType dst_dtype) const;
  /// Return the flat base index of the first base frame of view frame `frame`, moved by the
  /// in-bin offset number `outer` over the nav axes before the last.
  int64_t BaseFrame(int64_t frame, int64_t outer) const;
  int64_t ComputeNativeDepth() const;

  std::vector<int64_t> nav_factors_;
  std::vector<int64_t> sig_factors_;
  std::vector<int64_t> view_nav_;
  std::vector<int64_t> base_nav_strides_;
  int64_t outer_offsets_ = 1;  // in-bin offsets over the nav axes before the last
  int64_t base_row_pixels_ = 1;
  int64_t col_factor_ = 1;         // factor of the second signal axis (frames of 1 or 2 axes)
  std::vector<int64_t> pixel_map_;  // frames of 3+ axes: view pixel of each base row pixel, or -1
  BinReduce reduce_;
  DType acc_dtype_ = DType::kFloat64;
  int64_t bin_size_ = 1;
  int64_t native_depth_ = 1;
};

BinDataset::BinDataset(DatasetPtr base, DatasetMeta meta, std::vector<int64_t> nav_factors,
                       std::vector<int64_t> sig_factors, BinReduce reduce)
    : ViewDataset(std::move(base), std::move(meta)),
      nav_factors_(std::move(nav_factors)),
      sig_factors_(std::move(sig_factors)),
      reduce_(reduce) {
  const Shape& base_shape = this->base().meta().shape;
  const auto nav = this->meta().shape.nav();
  view_nav_.assign(nav.begin(), nav.end());
  base_nav_strides_ = internal::CStrides(base_shape.nav());
  if (view_nav_.empty()) {  // a single frame: one nav axis of size 1
    view_nav_ = nav_factors_ = base_nav_strides_ = {1};
  }
  for (size_t i = 0; i + 1 < nav_factors_.size(); ++i) outer_offsets_ *= nav_factors_[i];
  bin_size_ = Product(nav_factors_) * Product(sig_factors_);
  acc_dtype_ = AccumulatorDType(this->base().meta().dtype, bin_size_);
  base_row_pixels_ = internal::RowPixels(base_shape);
  const auto base_sig = base_shape.sig();
  const auto view_sig = this->meta().shape.sig();
  if (base_sig.size() == 2) col_factor_ = sig_factors_[1];
  if (base_sig.size() > 2) pixel_map_ = PixelMap(base_sig, view_sig, sig_factors_);
  native_depth_ = ComputeNativeDepth();
}

int64_t BinDataset::ComputeNativeDepth() const {
  // d view frames along the last nav axis cover d * f base frames: blocks of d start on base
  // blocks when d * f is a multiple of the base depth k, and base rows start on blocks too.
  const int64_t k = std::max<int64_t>(base().native_depth(), 1);
  const int64_t depth = k / std::gcd(k, nav_factors_.back());
  if (view_nav_.size() == 1) return depth;
  const int64_t base_row = base().meta().shape.nav().back();
  return base_row % k == 0 && view_nav_.back() % depth == 0 ? depth : 1;
}

int64_t BinDataset::BaseFrame(int64_t frame, int64_t outer) const {
  int64_t base_frame = 0;
  for (size_t i = view_nav_.size(); i-- > 0;) {
    int64_t offset = 0;
    if (i + 1 < view_nav_.size()) {
      offset = outer % nav_factors_[i];
      outer /= nav_factors_[i];
    }
    base_frame += (frame % view_nav_[i] * nav_factors_[i] + offset) * base_nav_strides_[i];
    frame /= view_nav_[i];
  }
  return base_frame;
}

void BinDataset::WillNeed(int64_t frame_begin, int64_t frame_end) const {
  if (frame_begin >= frame_end) return;
  base().WillNeed(BaseFrame(frame_begin, 0),
                  BaseFrame(frame_end - 1, outer_offsets_ - 1) + nav_factors_.back());
}

template <class Acc>
void BinDataset::AddRow(const Acc* src, Acc* dst) const {
  if (!pixel_map_.empty()) {
    for (int64_t p = 0; p < base_row_pixels_; ++p) {
      const int64_t target = pixel_map_[static_cast<size_t>(p)];
      if (target >= 0) dst[target] += src[p];
    }
    return;
  }
  const int64_t cols = row_pixels();
  if (col_factor_ == 1) {
    for (int64_t c = 0; c < cols; ++c) dst[c] += src[c];
  } else if (col_factor_ == 2) {
    for (int64_t c = 0; c < cols; ++c) dst[c] += src[2 * c] + src[2 * c + 1];
  } else {
    for (int64_t c = 0; c < cols; ++c) {
      const Acc* bin = src + c * col_factor_;
      Acc sum = bin[0];
      for (int64_t k = 1; k < col_factor_; ++k) sum += bin[k];
      dst[c] += sum;
    }
  }
}

template <class Acc>
void BinDataset::Accumulate(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                            int64_t row_end, Acc* acc) const {
  const int64_t row_factor = sig_factors_[0];
  const int64_t last_factor = nav_factors_.back();
  const int64_t view_row = view_nav_.back();
  const SigRange base_band{row_begin * row_factor * base_row_pixels_,
                           row_end * row_factor * base_row_pixels_};
  const int64_t base_rows = (row_end - row_begin) * row_factor;
  const int64_t frame_pixels = (row_end - row_begin) * row_pixels();
  // View frames along the last nav axis read runs of consecutive base frames, one run per
  // in-bin offset over the other nav axes.
  for (int64_t frame = frame_begin; frame < frame_end;) {
    const int64_t end = std::min(frame_end, (frame / view_row + 1) * view_row);
    for (int64_t outer = 0; outer < outer_offsets_; ++outer) {
      const int64_t first = BaseFrame(frame, outer);
      const int64_t count = (end - frame) * last_factor;
      const int64_t bytes = base_band.size() * static_cast<int64_t>(sizeof(Acc));
      internal::ForEachChunk(0, count, bytes, [&](int64_t begin, int64_t stop) {
        ScratchBuffer scratch((stop - begin) * bytes);
        base().ReadFrames(first + begin, first + stop, base_band, scratch.data(), acc_dtype_);
        for (int64_t t = begin; t < stop; ++t) {
          const Acc* src = scratch.as<Acc>() + (t - begin) * base_band.size();
          Acc* dst = acc + (frame - frame_begin + t / last_factor) * frame_pixels;
          for (int64_t y = 0; y < base_rows; ++y) {
            AddRow(src + y * base_row_pixels_, dst + y / row_factor * row_pixels());
          }
        }
      });
    }
    frame = end;
  }
}

/// Write the sums in `acc` divided by `n` to `means` as float64 (complex128 for complex sums);
/// return that dtype.
DType SumsToMeans(const std::byte* acc, DType acc_dtype, int64_t count, double n,
                  std::byte* means) {
  if (acc_dtype == DType::kComplex128) {
    const auto* sums = reinterpret_cast<const std::complex<double>*>(acc);
    auto* out = reinterpret_cast<std::complex<double>*>(means);
    for (int64_t i = 0; i < count; ++i) out[i] = sums[i] / n;
    return acc_dtype;
  }
  auto* out = reinterpret_cast<double*>(means);
  ConvertElements(acc, acc_dtype, false, out, DType::kFloat64, count);
  for (int64_t i = 0; i < count; ++i) out[i] /= n;
  return DType::kFloat64;
}

/// Write real sums divided by `n` straight to float32 or float64 (one pass, same rounding as
/// SumsToMeans followed by a conversion).
template <class Acc, class Out>
void WriteMeans(const Acc* acc, int64_t count, double n, Out* out) {
  // Dividing by a power of two is multiplying by its exact inverse, and much cheaper.
  const double inverse = 1.0 / n;
  if (std::ldexp(1.0, std::ilogb(n)) == n) {
    for (int64_t i = 0; i < count; ++i) {
      out[i] = static_cast<Out>(static_cast<double>(acc[i]) * inverse);
    }
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<Out>(static_cast<double>(acc[i]) / n);
  }
}

template <class Acc>
void WriteMeans(const Acc* acc, int64_t count, double n, std::byte* dst, DType dst_dtype) {
  if (dst_dtype == DType::kFloat32) {
    WriteMeans(acc, count, n, reinterpret_cast<float*>(dst));
  } else {
    WriteMeans(acc, count, n, reinterpret_cast<double*>(dst));
  }
}

void BinDataset::Finish(const std::byte* acc, int64_t count, std::byte* dst,
                        DType dst_dtype) const {
  const double n = static_cast<double>(bin_size_);
  if (reduce_ == BinReduce::kMean && dst_dtype == meta().dtype && !IsComplex(dst_dtype)) {
    switch (acc_dtype_) {
      case DType::kFloat32:
        return WriteMeans(reinterpret_cast<const float*>(acc), count, n, dst, dst_dtype);
      case DType::kFloat64:
        return WriteMeans(reinterpret_cast<const double*>(acc), count, n, dst, dst_dtype);
      case DType::kInt64:
        return WriteMeans(reinterpret_cast<const int64_t*>(acc), count, n, dst, dst_dtype);
      default:
        return WriteMeans(reinterpret_cast<const uint64_t*>(acc), count, n, dst, dst_dtype);
    }
  }
  if (reduce_ == BinReduce::kMean) {
    ScratchBuffer means(count * 16);
    const DType means_dtype = SumsToMeans(acc, acc_dtype_, count, n, means.data());
    Store(means.data(), means_dtype, count, dst, dst_dtype);
  } else {
    Store(acc, acc_dtype_, count, dst, dst_dtype);
  }
}

void BinDataset::Store(const std::byte* values, DType values_dtype, int64_t count, std::byte* dst,
                       DType dst_dtype) const {
  const DType stored = meta().dtype;
  // Exact integer sums held in float32 (|sum| < 2^24) convert to a float, a complex or int64
  // exactly, as their stored int64 would.
  const bool exact = values_dtype == DType::kFloat32 && reduce_ == BinReduce::kSum &&
                     (IsFloating(dst_dtype) || IsComplex(dst_dtype) || dst_dtype == DType::kInt64);
  if (values_dtype == stored || dst_dtype == stored || exact) {
    ConvertElements(values, values_dtype, false, dst, dst_dtype, count);
    return;
  }
  // What a stored copy holds first, then what reading it as dst_dtype gives.
  ScratchBuffer stored_values(count * SizeOf(stored));
  ConvertElements(values, values_dtype, false, stored_values.data(), stored, count);
  ConvertElements(stored_values.data(), stored, false, dst, dst_dtype, count);
}

void BinDataset::ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                          int64_t row_end, void* dst, DType dst_dtype) const {
  const int64_t frame_pixels = (row_end - row_begin) * row_pixels();
  const int64_t acc_size = SizeOf(acc_dtype_);
  const int64_t frame_bytes = frame_pixels * acc_size;
  auto* out = static_cast<std::byte*>(dst);
  internal::ForEachChunk(frame_begin, frame_end, frame_bytes, [&](int64_t begin, int64_t end) {
    const int64_t count = (end - begin) * frame_pixels;
    ScratchBuffer acc(count * acc_size);
    std::memset(acc.data(), 0, static_cast<size_t>(count * acc_size));
    switch (acc_dtype_) {
      case DType::kFloat32: Accumulate(begin, end, row_begin, row_end, acc.as<float>()); break;
      case DType::kInt64: Accumulate(begin, end, row_begin, row_end, acc.as<int64_t>()); break;
      case DType::kUint64: Accumulate(begin, end, row_begin, row_end, acc.as<uint64_t>()); break;
      case DType::kFloat64: Accumulate(begin, end, row_begin, row_end, acc.as<double>()); break;
      default:
        Accumulate(begin, end, row_begin, row_end, acc.as<std::complex<double>>());
        break;
    }
    Finish(acc.data(), count, out + (begin - frame_begin) * frame_pixels * SizeOf(dst_dtype),
           dst_dtype);
  });
}

// ---------------------------------------------------------------------------------------------
// Dtype conversion

/// Return the type a base is read as before saturating: wide enough to hold every value exactly.
DType WideDType(DType dtype) {
  if (IsComplex(dtype)) return DType::kComplex128;
  if (IsFloating(dtype)) return DType::kFloat64;
  const bool is_unsigned = dtype == DType::kUint8 || dtype == DType::kUint16 ||
                           dtype == DType::kUint32 || dtype == DType::kUint64;
  return is_unsigned ? DType::kUint64 : DType::kInt64;
}

/// Convert a float64 to Dst: integers rounded to nearest (ties to even) and clamped, NaN -> 0;
/// float32 clamps finite values to its largest finite value.
template <class Dst>
Dst SaturateFloat(double value) noexcept {
  using Limits = std::numeric_limits<Dst>;
  if constexpr (std::is_same_v<Dst, bool>) {
    return value != 0;
  } else if constexpr (std::is_integral_v<Dst>) {
    if (std::isnan(value)) return 0;
    const double rounded = std::nearbyint(value);
    // Both bounds are 0 or powers of two, exact in float64.
    constexpr double kLow = static_cast<double>(Limits::min());
    constexpr double kHighExclusive = 2.0 * static_cast<double>(Limits::max() / 2 + 1);
    if (rounded < kLow) return Limits::min();
    if (rounded >= kHighExclusive) return Limits::max();
    return static_cast<Dst>(rounded);
  } else if constexpr (IsComplexT<Dst>::value) {
    return Dst(SaturateFloat<typename Dst::value_type>(value), 0);
  } else if constexpr (std::is_same_v<Dst, float>) {
    constexpr double kMax = Limits::max();
    return static_cast<float>(std::isfinite(value) ? std::clamp(value, -kMax, kMax) : value);
  } else {
    return value;
  }
}

/// Convert an int64 or uint64 to Dst, clamping integers to the target range.
template <class Dst, class Int>
Dst SaturateInteger(Int value) noexcept {
  using Limits = std::numeric_limits<Dst>;
  if constexpr (std::is_same_v<Dst, bool>) {
    return value != 0;
  } else if constexpr (std::is_integral_v<Dst>) {
    if (std::cmp_less(value, Limits::min())) return Limits::min();
    if (std::cmp_greater(value, Limits::max())) return Limits::max();
    return static_cast<Dst>(value);
  } else if constexpr (IsComplexT<Dst>::value) {
    return Dst(static_cast<typename Dst::value_type>(value), 0);
  } else {
    return static_cast<Dst>(value);
  }
}

template <class Dst, class Wide>
Dst Saturate(Wide value) noexcept {
  if constexpr (std::is_same_v<Wide, double>) {
    return SaturateFloat<Dst>(value);
  } else if constexpr (IsComplexT<Wide>::value) {
    if constexpr (IsComplexT<Dst>::value) {
      using Part = typename Dst::value_type;
      return Dst(SaturateFloat<Part>(value.real()), SaturateFloat<Part>(value.imag()));
    } else {
      return SaturateFloat<Dst>(value.real());  // not reached: DTypeView refuses complex -> real
    }
  } else {
    return SaturateInteger<Dst>(value);
  }
}

template <class Wide, class Dst>
void SaturateKernel(const Wide* src, void* dst, int64_t count) noexcept {
  Dst* out = static_cast<Dst*>(dst);
  for (int64_t i = 0; i < count; ++i) out[i] = Saturate<Dst>(src[i]);
}

template <class Wide>
void SaturateTo(const Wide* src, void* dst, DType dst_dtype, int64_t count) noexcept {
  switch (dst_dtype) {
    case DType::kBool: return SaturateKernel<Wide, bool>(src, dst, count);
    case DType::kInt8: return SaturateKernel<Wide, int8_t>(src, dst, count);
    case DType::kUint8: return SaturateKernel<Wide, uint8_t>(src, dst, count);
    case DType::kInt16: return SaturateKernel<Wide, int16_t>(src, dst, count);
    case DType::kUint16: return SaturateKernel<Wide, uint16_t>(src, dst, count);
    case DType::kInt32: return SaturateKernel<Wide, int32_t>(src, dst, count);
    case DType::kUint32: return SaturateKernel<Wide, uint32_t>(src, dst, count);
    case DType::kInt64: return SaturateKernel<Wide, int64_t>(src, dst, count);
    case DType::kUint64: return SaturateKernel<Wide, uint64_t>(src, dst, count);
    case DType::kFloat32: return SaturateKernel<Wide, float>(src, dst, count);
    case DType::kFloat64: return SaturateKernel<Wide, double>(src, dst, count);
    case DType::kComplex64: return SaturateKernel<Wide, std::complex<float>>(src, dst, count);
    case DType::kComplex128: return SaturateKernel<Wide, std::complex<double>>(src, dst, count);
  }
}

/// Convert `count` elements of a wide dtype (WideDType) to `dst_dtype`, saturating.
void SaturateElements(const std::byte* src, DType wide, void* dst, DType dst_dtype,
                      int64_t count) noexcept {
  switch (wide) {
    case DType::kInt64:
      return SaturateTo(reinterpret_cast<const int64_t*>(src), dst, dst_dtype, count);
    case DType::kUint64:
      return SaturateTo(reinterpret_cast<const uint64_t*>(src), dst, dst_dtype, count);
    case DType::kFloat64:
      return SaturateTo(reinterpret_cast<const double*>(src), dst, dst_dtype, count);
    default:
      return SaturateTo(reinterpret_cast<const std::complex<double>*>(src), dst, dst_dtype,
                        count);
  }
}

/// The base read wide, then saturated to meta().dtype.
class DTypeDataset final : public ViewDataset {
 public:
  DTypeDataset(DatasetPtr base, DatasetMeta meta)
      : ViewDataset(std::move(base), std::move(meta)),
        wide_(WideDType(this->base().meta().dtype)),
        identity_(this->base().meta().dtype == this->meta().dtype) {}

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    return identity_ ? base().DirectFrames(frame_begin, frame_end) : nullptr;
  }

 private:
  void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                void* dst, DType dst_dtype) const override;

  DType wide_;
  bool identity_;
};

void DTypeDataset::ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                            int64_t row_end, void* dst, DType dst_dtype) const {
  const SigRange band{row_begin * row_pixels(), row_end * row_pixels()};
  if (identity_) {
    base().ReadFrames(frame_begin, frame_end, band, dst, dst_dtype);
    return;
  }
  const DType stored = meta().dtype;
  const int64_t frame_bytes = band.size() * SizeOf(wide_);
  auto* out = static_cast<std::byte*>(dst);
  internal::ForEachChunk(frame_begin, frame_end, frame_bytes, [&](int64_t begin, int64_t end) {
    const int64_t count = (end - begin) * band.size();
    std::byte* chunk_out = out + (begin - frame_begin) * band.size() * SizeOf(dst_dtype);
    ScratchBuffer wide(count * SizeOf(wide_));
    base().ReadFrames(begin, end, band, wide.data(), wide_);
    if (dst_dtype == stored) {
      SaturateElements(wide.data(), wide_, chunk_out, stored, count);
      return;
    }
    ScratchBuffer converted(count * SizeOf(stored));
    SaturateElements(wide.data(), wide_, converted.data(), stored, count);
    ConvertElements(converted.data(), stored, false, chunk_out, dst_dtype, count);
  });
}

// ---------------------------------------------------------------------------------------------
// Corrections

/// The base read as float32 and corrected in place.
class CorrectedDataset final : public ViewDataset {
 public:
  CorrectedDataset(DatasetPtr base, DatasetMeta meta, CorrectionSet corrections)
      : ViewDataset(std::move(base), std::move(meta)),
        corrections_(std::move(corrections)),
        id_(internal::NextViewId()) {}

 private:
  void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                void* dst, DType dst_dtype) const override;
  /// Correct frames [frame_begin, frame_end) chunk by chunk and keep the pixels of `band`.
  void ReadChunked(int64_t frame_begin, int64_t frame_end, SigRange read, SigRange band,
                   std::byte* dst, DType dst_dtype) const;

  CorrectionSet corrections_;
  uint64_t id_;
};

void CorrectedDataset::ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                                int64_t row_end, void* dst, DType dst_dtype) const {
  const SigRange band{row_begin * row_pixels(), row_end * row_pixels()};
  const int64_t sig_size = meta().shape.sig_size();
  // A repair reads its neighbours, so with excluded pixels a band is cut from whole frames.
  const SigRange read = corrections_.needs_full_frames() ? SigRange{0, sig_size} : band;
  auto* out = static_cast<std::byte*>(dst);
  if (read == band && dst_dtype == DType::kFloat32) {
    base().ReadFrames(frame_begin, frame_end, band, dst, DType::kFloat32);
    corrections_.Apply(static_cast<float*>(dst), frame_end - frame_begin, band.size(), band);
    return;
  }
  const std::byte* cached = nullptr;
  if (read != band) {
    const int64_t frames = frame_end - frame_begin;
    auto fill = [&](std::byte* bytes) {
      auto* corrected = reinterpret_cast<float*>(bytes);
      base().ReadFrames(frame_begin, frame_end, read, corrected, DType::kFloat32);
      corrections_.Apply(corrected, frames, sig_size, read);
    };
    cached = internal::CachedFrames(id_, frame_begin, frame_end, frames * sig_size * 4, fill);
  }
  if (cached == nullptr) {
    ReadChunked(frame_begin, frame_end, read, band, out, dst_dtype);
    return;
  }
  const auto* frames = reinterpret_cast<const float*>(cached);
  for (int64_t f = 0; f < frame_end - frame_begin; ++f) {
    ConvertElements(frames + f * sig_size + band.begin, DType::kFloat32, false,
                    out + f * band.size() * SizeOf(dst_dtype), dst_dtype, band.size());
  }
}

void CorrectedDataset::ReadChunked(int64_t frame_begin, int64_t frame_end, SigRange read,
                                   SigRange band, std::byte* dst, DType dst_dtype) const {
  const int64_t out_frame_bytes = band.size() * SizeOf(dst_dtype);
  internal::ForEachChunk(frame_begin, frame_end, read.size() * 4, [&](int64_t begin, int64_t end) {
    ScratchBuffer scratch((end - begin) * read.size() * 4);
    float* frames = scratch.as<float>();
    base().ReadFrames(begin, end, read, frames, DType::kFloat32);
    corrections_.Apply(frames, end - begin, read.size(), read);
    for (int64_t f = 0; f < end - begin; ++f) {
      ConvertElements(frames + f * read.size() + (band.begin - read.begin), DType::kFloat32, false,
                      dst + (begin - frame_begin + f) * out_frame_bytes, dst_dtype, band.size());
    }
  });
}

/// Return `axis` binned by `factor` into `size` bins, each at the centre of its members.
Axis BinnedAxis(Axis axis, int64_t factor, int64_t size) {
  axis.offset += static_cast<double>(factor - 1) / 2 * axis.scale;
  axis.scale *= static_cast<double>(factor);
  axis.size = size;
  if (!axis.values.empty()) {
    std::vector<double> centres(static_cast<size_t>(size));
    for (size_t bin = 0; bin < centres.size(); ++bin) {
      const auto first = axis.values.begin() + static_cast<int64_t>(bin) * factor;
      centres[bin] = std::accumulate(first, first + factor, 0.0) / static_cast<double>(factor);
    }
    axis.values = std::move(centres);
  }
  return axis;
}

/// Check factors against `dims` (empty: all 1) and return them complete.
std::vector<int64_t> CheckFactors(std::vector<int64_t> factors, std::span<const int64_t> dims,
                                  const char* field, const Shape& shape) {
  if (factors.empty()) factors.assign(dims.size(), 1);
  if (factors.size() != dims.size()) {
    throw BadArgument(field, fmt::format("{} factors given for {} axes", factors.size(),
                                         dims.size()), shape);
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    if (factors[i] < 1 || factors[i] > dims[i]) {
      throw BadArgument(field, fmt::format("factor {} of axis {} is not in [1, {}]", factors[i], i,
                                           dims[i]), shape);
    }
  }
  return factors;
}

}  // namespace

DatasetPtr BinView(DatasetPtr base, std::vector<int64_t> nav_factors,
                   std::vector<int64_t> sig_factors, BinReduce reduce) {
  const DatasetMeta& meta = internal::CheckBase(base).meta();
  const Shape& shape = meta.shape;
  nav_factors = CheckFactors(std::move(nav_factors), shape.nav(), "nav_factors", shape);
  sig_factors = CheckFactors(std::move(sig_factors), shape.sig(), "sig_factors", shape);
  if (reduce != BinReduce::kSum && reduce != BinReduce::kMean) {
    throw BadArgument("reduce", fmt::format("unknown reduction {}", static_cast<int>(reduce)),
                      shape);
  }
  std::vector<Axis> axes = internal::BaseAxes(meta);
  std::vector<int64_t> view_nav, view_sig;
  for (size_t i = 0; i < axes.size(); ++i) {
    const bool is_nav = i < nav_factors.size();
    const int64_t factor = is_nav ? nav_factors[i] : sig_factors[i - nav_factors.size()];
    axes[i] = BinnedAxis(std::move(axes[i]), factor, shape.dims()[i] / factor);
    (is_nav ? view_nav : view_sig).push_back(axes[i].size);
  }
  auto view_meta = internal::ViewMeta(meta, Shape(view_nav, view_sig), std::move(axes),
                                      BinnedDType(meta.dtype, reduce));
  return std::make_shared<BinDataset>(std::move(base), std::move(view_meta),
                                      std::move(nav_factors), std::move(sig_factors), reduce);
}

DatasetPtr DTypeView(DatasetPtr base, DType dtype) {
  const DatasetMeta& meta = internal::CheckBase(base).meta();
  if (IsComplex(meta.dtype) && !IsComplex(dtype)) {
    throw BadArgument("dtype", fmt::format("{} data cannot be converted to {}", Name(meta.dtype),
                                           Name(dtype)), meta.shape);
  }
  auto view_meta = internal::ViewMeta(meta, meta.shape, internal::BaseAxes(meta), dtype);
  return std::make_shared<DTypeDataset>(std::move(base), std::move(view_meta));
}

DatasetPtr CorrectedView(DatasetPtr base, CorrectionSet corrections) {
  const DatasetMeta& meta = internal::CheckBase(base).meta();
  const auto sig = meta.shape.sig();
  const auto& made_for = corrections.sig_shape();
  const bool fits = std::equal(sig.begin(), sig.end(), made_for.begin(), made_for.end());
  if (!fits && !(corrections.empty() && made_for.empty())) {
    throw BadArgument("corrections", fmt::format("made for frames of {}, these are {}",
                                                 FormatDims(made_for), FormatDims(sig)),
                      meta.shape);
  }
  auto view_meta =
      internal::ViewMeta(meta, meta.shape, internal::BaseAxes(meta), DType::kFloat32);
  return std::make_shared<CorrectedDataset>(std::move(base), std::move(view_meta),
                                            std::move(corrections));
}

}  // namespace tessera::dataset
