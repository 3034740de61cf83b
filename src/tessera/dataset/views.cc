// SPDX-License-Identifier: MIT
// The shared view machinery and the views that only move elements: crop, flip/rotate and the
// nav/sig transpose. Views that compute values live in views_values.cc.
#include "tessera/dataset/views.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <numeric>

#include "tessera/core/convert.h"
#include "tessera/dataset/views_internal.h"

namespace tessera::dataset {
namespace internal {
namespace {

constexpr std::align_val_t kScratchAlignment{64};

/// One thread's free scratch buffers; leased buffers are off the stack until returned.
struct ScratchStack {
  struct Entry {
    std::byte* data;
    int64_t capacity;
  };
  std::vector<Entry> free;
  ~ScratchStack() {
    for (const Entry& entry : free) ::operator delete[](entry.data, kScratchAlignment);
  }
};

ScratchStack& ThreadScratch() {
  thread_local ScratchStack stack;
  return stack;
}

/// The frames one thread decoded last (CachedFrames).
struct FramesCache {
  uint64_t view_id = 0;  // 0: nothing valid
  int64_t frame_begin = 0;
  int64_t frame_end = 0;
  bool filling = false;
  std::vector<std::byte> frames;
};

}  // namespace

uint64_t NextViewId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

const std::byte* CachedFrames(uint64_t view_id, int64_t frame_begin, int64_t frame_end,
                              int64_t bytes, const std::function<void(std::byte*)>& fill) {
  thread_local FramesCache cache;
  if (cache.filling || bytes > kCacheBytes) return nullptr;
  if (cache.view_id == view_id && cache.frame_begin == frame_begin &&
      cache.frame_end == frame_end) {
    return cache.frames.data();
  }
  struct Filling {  // cleared however the fill ends
    FramesCache& cache;
    ~Filling() { cache.filling = false; }
  } filling{cache};
  cache.filling = true;
  cache.view_id = 0;
  cache.frames.resize(static_cast<size_t>(bytes));
  fill(cache.frames.data());
  cache.view_id = view_id;
  cache.frame_begin = frame_begin;
  cache.frame_end = frame_end;
  return cache.frames.data();
}

ScratchBuffer::ScratchBuffer(int64_t bytes) {
  auto& free = ThreadScratch().free;
  if (!free.empty()) {
    data_ = free.back().data;
    capacity_ = free.back().capacity;
    free.pop_back();
  }
  if (capacity_ < bytes) {
    ::operator delete[](data_, kScratchAlignment);
    data_ = static_cast<std::byte*>(
        ::operator new[](static_cast<size_t>(bytes), kScratchAlignment));
    capacity_ = bytes;
  }
}

ScratchBuffer::~ScratchBuffer() {
  if (data_ != nullptr) ThreadScratch().free.push_back({data_, capacity_});
}

int64_t RowPixels(const Shape& shape) {
  const int64_t rows = shape.sig_dims() > 0 ? shape.sig()[0] : 1;
  return rows > 0 ? shape.sig_size() / rows : 0;
}

std::vector<int64_t> CStrides(std::span<const int64_t> dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
  return strides;
}

void ForEachChunk(int64_t begin, int64_t end, int64_t bytes_per_item,
                  const std::function<void(int64_t, int64_t)>& chunk) {
  const int64_t step = std::max<int64_t>(kScratchBytes / std::max<int64_t>(bytes_per_item, 1), 1);
  for (int64_t b = begin; b < end; b += step) chunk(b, std::min(end, b + step));
}

const Dataset& CheckBase(const DatasetPtr& base) {
  if (base == nullptr) throw Error::InvalidArgument("no dataset to view", "base");
  if (base->meta().shape.sig_dims() < 1) {
    throw BadArgument("base", "views need at least one signal axis", base->meta().shape);
  }
  return *base;
}

Error BadArgument(std::string field, const std::string& message, const Shape& shape) {
  return Error::InvalidArgument(fmt::format("{} (dataset {})", message, shape.ToString()),
                                std::move(field));
}

DatasetMeta ViewMeta(const DatasetMeta& base, Shape shape, std::vector<Axis> axes, DType dtype) {
  DatasetMeta meta;
  meta.format = "view";
  meta.path = base.path;
  meta.shape = std::move(shape);
  meta.dtype = dtype;
  meta.axes = std::move(axes);
  meta.metadata_json = base.metadata_json;
  meta.files = base.files;
  return meta;
}

std::vector<Axis> BaseAxes(const DatasetMeta& meta) {
  return static_cast<int>(meta.axes.size()) == meta.shape.rank() ? meta.axes
                                                                  : DefaultAxes(meta.shape);
}

Axis Reversed(Axis axis) {
  axis.offset += static_cast<double>(axis.size - 1) * axis.scale;
  axis.scale = -axis.scale;
  std::reverse(axis.values.begin(), axis.values.end());
  return axis;
}

ViewDataset::ViewDataset(DatasetPtr base, DatasetMeta meta)
    : base_(std::move(base)), meta_(std::move(meta)), row_pixels_(RowPixels(meta_.shape)) {}

void ViewDataset::WillNeed(int64_t frame_begin, int64_t frame_end) const {
  base_->WillNeed(frame_begin, frame_end);
}

void ViewDataset::ReadFrames(int64_t frame_begin, int64_t frame_end, SigRange sig, void* dst,
                             DType dst_dtype) const {
  TESSERA_DCHECK(frame_begin >= 0 && frame_begin <= frame_end &&
                     frame_end <= meta_.shape.nav_size(),
                 "frame range outside the view");
  TESSERA_DCHECK(sig.begin >= 0 && sig.begin <= sig.end && sig.end <= meta_.shape.sig_size(),
                 "signal range outside the view");
  if (frame_begin == frame_end || sig.size() == 0) return;
  const int64_t row_begin = sig.begin / row_pixels_;
  const int64_t row_end = (sig.end + row_pixels_ - 1) / row_pixels_;
  if (row_begin * row_pixels_ == sig.begin && row_end * row_pixels_ == sig.end) {
    ReadRows(frame_begin, frame_end, row_begin, row_end, dst, dst_dtype);
    return;
  }
  // A range that cuts rows: decode the rows it touches and keep the pixels asked for.
  const int64_t elem = SizeOf(dst_dtype);
  const int64_t band = (row_end - row_begin) * row_pixels_;
  const int64_t skip = sig.begin - row_begin * row_pixels_;
  auto* out = static_cast<std::byte*>(dst);
  ForEachChunk(frame_begin, frame_end, band * elem, [&](int64_t begin, int64_t end) {
    ScratchBuffer rows((end - begin) * band * elem);
    ReadRows(begin, end, row_begin, row_end, rows.data(), dst_dtype);
    for (int64_t f = 0; f < end - begin; ++f) {
      std::memcpy(out + ((begin - frame_begin + f) * sig.size()) * elem,
                  rows.data() + (f * band + skip) * elem, static_cast<size_t>(sig.size() * elem));
    }
  });
}

}  // namespace internal

namespace {

using internal::BadArgument;
using internal::ScratchBuffer;
using internal::ViewDataset;
using Ranges = std::vector<std::pair<int64_t, int64_t>>;

// ---------------------------------------------------------------------------------------------
// Crop

/// Check per-axis ranges against `dims` (empty: whole axes) and return them complete.
Ranges CheckRanges(Ranges ranges, std::span<const int64_t> dims, const char* field,
                   const Shape& shape) {
  if (ranges.empty()) {
    for (int64_t d : dims) ranges.emplace_back(0, d);
    return ranges;
  }
  if (ranges.size() != dims.size()) {
    throw BadArgument(field, fmt::format("{} ranges given for {} {} axes", ranges.size(),
                                         dims.size(), field), shape);
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    const auto [begin, end] = ranges[i];
    if (begin < 0 || begin >= end || end > dims[i]) {
      throw BadArgument(field, fmt::format("range [{}, {}) of {} axis {} is empty or outside "
                                           "[0, {})", begin, end, field, i, dims[i]), shape);
    }
  }
  return ranges;
}

/// Return where each kept line (a run along the last signal axis) of a cropped signal row starts
/// within a base row, in view order; `sig` crops every signal axis (at least two).
std::vector<int64_t> LineOffsets(std::span<const int64_t> base_sig, const Ranges& sig) {
  std::vector<int64_t> offsets{sig.back().first};
  int64_t stride = base_sig.back();
  // From the innermost axis but one out to the second: each index times the lines inside it.
  for (size_t d = base_sig.size() - 1; d-- > 1;) {
    std::vector<int64_t> outer;
    for (int64_t i = sig[d].first; i < sig[d].second; ++i) {
      for (int64_t offset : offsets) outer.push_back(i * stride + offset);
    }
    offsets = std::move(outer);
    stride *= base_sig[d];
  }
  return offsets;
}

/// A crop: frames map onto runs of base frames, signal rows onto base rows.
class CropDataset final : public ViewDataset {
 public:
  CropDataset(DatasetPtr base, DatasetMeta meta, const Ranges& nav, const Ranges& sig);

  int64_t native_depth() const override { return native_depth_; }
  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override;
  void WillNeed(int64_t frame_begin, int64_t frame_end) const override;

 private:
  void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                void* dst, DType dst_dtype) const override;
  /// Read `count` base frames from `base_frame` and keep the cropped part of each row.
  void ReadCroppedRows(int64_t base_frame, int64_t count, SigRange base_band, int64_t rows,
                       std::byte* dst, DType dst_dtype) const;
  /// Return the flat base index of view frame `frame`.
  int64_t BaseFrame(int64_t frame) const;
  /// Return the end of the run of view frames, contiguous in the base, that holds `frame`.
  int64_t RunEnd(int64_t frame) const { return (frame / run_length_ + 1) * run_length_; }
  int64_t ComputeNativeDepth() const;

  std::vector<int64_t> nav_begin_;
  std::vector<int64_t> view_nav_;
  std::vector<int64_t> base_nav_strides_;
  int64_t run_length_ = 1;
  int run_axis_ = 0;  // the outermost nav axis a run spans
  int64_t sig_row_begin_ = 0;
  int64_t base_row_pixels_ = 1;
  bool whole_rows_ = true;  // only the first signal axis is cropped
  std::vector<int64_t> line_offsets_;  // within a base row: where each kept line starts
  int64_t line_length_ = 0;
  int64_t native_depth_ = 1;
};

CropDataset::CropDataset(DatasetPtr base, DatasetMeta meta, const Ranges& nav, const Ranges& sig)
    : ViewDataset(std::move(base), std::move(meta)) {
  const Shape& base_shape = this->base().meta().shape;
  const auto base_nav = base_shape.nav();
  base_nav_strides_ = internal::CStrides(base_nav);
  for (const auto& [begin, end] : nav) {
    nav_begin_.push_back(begin);
    view_nav_.push_back(end - begin);
  }
  // Runs: the innermost nav axes that are whole, plus the first cropped one.
  for (int i = static_cast<int>(view_nav_.size()) - 1; i >= 0; --i) {
    run_length_ *= view_nav_[i];
    run_axis_ = i;
    if (view_nav_[i] != base_nav[i]) break;
  }
  run_length_ = std::max<int64_t>(run_length_, 1);
  sig_row_begin_ = sig.front().first;
  base_row_pixels_ = internal::RowPixels(base_shape);
  const auto base_sig = base_shape.sig();
  for (size_t i = 1; i < sig.size(); ++i) {
    whole_rows_ = whole_rows_ && sig[i].first == 0 && sig[i].second == base_sig[i];
  }
  if (!whole_rows_) {
    line_offsets_ = LineOffsets(base_sig, sig);
    line_length_ = sig.back().second - sig.back().first;
  }
  native_depth_ = ComputeNativeDepth();
}

int64_t CropDataset::ComputeNativeDepth() const {
  // Blocks of d view frames must map onto base frames starting at a multiple of d, inside one
  // run: d divides the base depth, the first frame's base index, the run length (when there are
  // several runs) and the base strides between runs.
  int64_t depth = std::gcd(std::max<int64_t>(base().native_depth(), 1), BaseFrame(0));
  if (run_length_ < meta().shape.nav_size()) {
    depth = std::gcd(depth, run_length_);
    for (int i = 0; i < run_axis_; ++i) depth = std::gcd(depth, base_nav_strides_[i]);
  }
  return std::max<int64_t>(depth, 1);
}

int64_t CropDataset::BaseFrame(int64_t frame) const {
  int64_t base_frame = 0;
  for (size_t i = view_nav_.size(); i-- > 0;) {
    base_frame += (nav_begin_[i] + frame % view_nav_[i]) * base_nav_strides_[i];
    frame /= view_nav_[i];
  }
  return base_frame;
}

const std::byte* CropDataset::DirectFrames(int64_t frame_begin, int64_t frame_end) const {
  if (!whole_rows_ || frame_begin >= frame_end) return nullptr;
  const bool whole_frames =
      sig_row_begin_ == 0 && meta().shape.sig()[0] == base().meta().shape.sig()[0];
  if (!whole_frames || RunEnd(frame_begin) < frame_end) return nullptr;
  const int64_t base_frame = BaseFrame(frame_begin);
  return base().DirectFrames(base_frame, base_frame + frame_end - frame_begin);
}

void CropDataset::WillNeed(int64_t frame_begin, int64_t frame_end) const {
  if (frame_begin >= frame_end) return;
  base().WillNeed(BaseFrame(frame_begin), BaseFrame(frame_end - 1) + 1);
}

void CropDataset::ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                           int64_t row_end, void* dst, DType dst_dtype) const {
  const int64_t frame_bytes = (row_end - row_begin) * row_pixels() * SizeOf(dst_dtype);
  const SigRange base_band{(sig_row_begin_ + row_begin) * base_row_pixels_,
                           (sig_row_begin_ + row_end) * base_row_pixels_};
  auto* out = static_cast<std::byte*>(dst);
  for (int64_t frame = frame_begin; frame < frame_end;) {
    const int64_t end = std::min(frame_end, RunEnd(frame));
    std::byte* run_out = out + (frame - frame_begin) * frame_bytes;
    if (whole_rows_) {
      base().ReadFrames(BaseFrame(frame), BaseFrame(frame) + end - frame, base_band, run_out,
                        dst_dtype);
    } else {
      ReadCroppedRows(BaseFrame(frame), end - frame, base_band, row_end - row_begin, run_out,
                      dst_dtype);
    }
    frame = end;
  }
}

void CropDataset::ReadCroppedRows(int64_t base_frame, int64_t count, SigRange base_band,
                                  int64_t rows, std::byte* dst, DType dst_dtype) const {
  const int64_t elem = SizeOf(dst_dtype);
  const size_t line_bytes = static_cast<size_t>(line_length_ * elem);
  internal::ForEachChunk(0, count, base_band.size() * elem, [&](int64_t begin, int64_t end) {
    ScratchBuffer scratch((end - begin) * base_band.size() * elem);
    base().ReadFrames(base_frame + begin, base_frame + end, base_band, scratch.data(), dst_dtype);
    std::byte* out = dst + begin * rows * row_pixels() * elem;
    for (int64_t row = 0; row < (end - begin) * rows; ++row) {
      const std::byte* src = scratch.data() + row * base_row_pixels_ * elem;
      for (int64_t offset : line_offsets_) {
        std::memcpy(out, src + offset * elem, line_bytes);
        out += line_bytes;
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Flip and rotate

/// Where a frame's elements come from: output row i, column j reads source element
/// first + i * row_stride + j * col_stride (element strides, signed).
struct Gather {
  int64_t first = 0;
  int64_t row_stride = 0;
  int64_t col_stride = 0;
  int64_t rows = 0;
  int64_t cols = 0;
};

template <class Element>
void GatherFrame(const std::byte* src, const Gather& g, std::byte* dst) {
  const Element* in = reinterpret_cast<const Element*>(src) + g.first;
  Element* out = reinterpret_cast<Element*>(dst);
  if (g.col_stride == 1) {
    for (int64_t i = 0; i < g.rows; ++i) {
      std::memcpy(out + i * g.cols, in + i * g.row_stride,
                  sizeof(Element) * static_cast<size_t>(g.cols));
    }
    return;
  }
  if (g.row_stride == 1 || g.row_stride == -1) {
    // Columns become rows: take blocks of 8 rows so each column step reads 8 neighbours.
    constexpr int64_t kBlock = 8;
    for (int64_t i0 = 0; i0 < g.rows; i0 += kBlock) {
      const int64_t block = std::min(kBlock, g.rows - i0);
      for (int64_t j = 0; j < g.cols; ++j) {
        const Element* column = in + i0 * g.row_stride + j * g.col_stride;
        for (int64_t b = 0; b < block; ++b) out[(i0 + b) * g.cols + j] = column[b * g.row_stride];
      }
    }
    return;
  }
  for (int64_t i = 0; i < g.rows; ++i) {
    for (int64_t j = 0; j < g.cols; ++j) {
      out[i * g.cols + j] = in[i * g.row_stride + j * g.col_stride];
    }
  }
}

struct Bytes16 {
  std::byte bytes[16];
};

/// Gather one frame of `elem`-byte elements.
void GatherFrame(const std::byte* src, const Gather& g, std::byte* dst, int64_t elem) {
  switch (elem) {
    case 1: return GatherFrame<uint8_t>(src, g, dst);
    case 2: return GatherFrame<uint16_t>(src, g, dst);
    case 4: return GatherFrame<uint32_t>(src, g, dst);
    case 8: return GatherFrame<uint64_t>(src, g, dst);
    default: return GatherFrame<Bytes16>(src, g, dst);
  }
}

/// Each frame flipped, then rotated: view pixel (i, j) reads base pixel (y, x) with
/// y = y0 + yi * i + yj * j and x = x0 + xi * i + xj * j. Frames are gathered in the stored
/// dtype (narrower than most reads), then converted.
class FlipRotateDataset final : public ViewDataset {
 public:
  FlipRotateDataset(DatasetPtr base, DatasetMeta meta, bool flip_y, bool flip_x, int quarter_turns);

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    return identity_ ? base().DirectFrames(frame_begin, frame_end) : nullptr;
  }

 private:
  void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                void* dst, DType dst_dtype) const override;
  /// Return the band of base rows that view rows [row_begin, row_end) read.
  SigRange BaseBand(int64_t row_begin, int64_t row_end) const;
  /// Gather view rows [row_begin, row_end) of `count` frames from their base band (stored
  /// dtype) and write them as `dst_dtype`.
  void GatherFrames(const std::byte* band, int64_t count, SigRange base_band, int64_t row_begin,
                    int64_t row_end, std::byte* dst, DType dst_dtype) const;

  int64_t base_width_ = 0;
  int64_t y0_ = 0, yi_ = 0, yj_ = 0;
  int64_t x0_ = 0, xi_ = 0, xj_ = 0;
  bool identity_ = false;
  uint64_t id_ = internal::NextViewId();
};

FlipRotateDataset::FlipRotateDataset(DatasetPtr base, DatasetMeta meta, bool flip_y, bool flip_x,
                                     int quarter_turns)
    : ViewDataset(std::move(base), std::move(meta)) {
  const auto sig = this->base().meta().shape.sig();
  const int64_t height = sig[0];
  base_width_ = sig[1];
  // np.rot90 of the flipped frame m: view (i, j) reads m(u, v) with
  // k=0: (i, j)   k=1: (j, W-1-i)   k=2: (H-1-i, W-1-j)   k=3: (H-1-j, i).
  int64_t u0 = 0, ui = 0, uj = 0, v0 = 0, vi = 0, vj = 0;
  switch (quarter_turns) {
    case 0: ui = 1, vj = 1; break;
    case 1: uj = 1, v0 = base_width_ - 1, vi = -1; break;
    case 2: u0 = height - 1, ui = -1, v0 = base_width_ - 1, vj = -1; break;
    default: u0 = height - 1, uj = -1, vi = 1; break;
  }
  // The flips: base y = H-1-u, base x = W-1-v.
  const int64_t sy = flip_y ? -1 : 1, sx = flip_x ? -1 : 1;
  y0_ = flip_y ? height - 1 - u0 : u0, yi_ = sy * ui, yj_ = sy * uj;
  x0_ = flip_x ? base_width_ - 1 - v0 : v0, xi_ = sx * vi, xj_ = sx * vj;
  identity_ = !flip_y && !flip_x && quarter_turns == 0;
}

SigRange FlipRotateDataset::BaseBand(int64_t row_begin, int64_t row_end) const {
  // y is affine in (i, j), so its extremes lie at the corners.
  const int64_t last_col = row_pixels() - 1;
  const int64_t first = y0_ + yi_ * row_begin, last = y0_ + yi_ * (row_end - 1);
  const int64_t corners[4] = {first, first + yj_ * last_col, last, last + yj_ * last_col};
  const int64_t y_lo = *std::min_element(corners, corners + 4);
  const int64_t y_hi = *std::max_element(corners, corners + 4);
  return {y_lo * base_width_, (y_hi + 1) * base_width_};
}

void FlipRotateDataset::ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                                 int64_t row_end, void* dst, DType dst_dtype) const {
  if (identity_) {
    base().ReadFrames(frame_begin, frame_end, {row_begin * base_width_, row_end * base_width_}, dst,
                      dst_dtype);
    return;
  }
  const DType stored = meta().dtype;
  const SigRange base_band = BaseBand(row_begin, row_end);
  const int64_t band_bytes = base_band.size() * SizeOf(stored);
  const int64_t out_frame_bytes = (row_end - row_begin) * row_pixels() * SizeOf(dst_dtype);
  // Odd quarter turns read whole base frames for any band of rows: decode them once per tile.
  const bool partial = row_end - row_begin < meta().shape.sig()[0];
  const std::byte* cached = nullptr;
  if (partial && base_band.size() == meta().shape.sig_size()) {
    auto fill = [&](std::byte* frames) {
      base().ReadFrames(frame_begin, frame_end, base_band, frames, stored);
    };
    cached = internal::CachedFrames(id_, frame_begin, frame_end,
                                    (frame_end - frame_begin) * band_bytes, fill);
  }
  auto* out = static_cast<std::byte*>(dst);
  internal::ForEachChunk(frame_begin, frame_end, band_bytes, [&](int64_t begin, int64_t end) {
    ScratchBuffer scratch(cached != nullptr ? 0 : (end - begin) * band_bytes);
    const std::byte* band = scratch.data();
    if (cached != nullptr) {
      band = cached + (begin - frame_begin) * band_bytes;
    } else {
      base().ReadFrames(begin, end, base_band, scratch.data(), stored);
    }
    GatherFrames(band, end - begin, base_band, row_begin, row_end,
                 out + (begin - frame_begin) * out_frame_bytes, dst_dtype);
  });
}

void FlipRotateDataset::GatherFrames(const std::byte* band, int64_t count, SigRange base_band,
                                     int64_t row_begin, int64_t row_end, std::byte* dst,
                                     DType dst_dtype) const {
  const DType stored = meta().dtype;
  const int64_t elem = SizeOf(stored);
  const Gather gather{
      .first = y0_ * base_width_ + x0_ - base_band.begin + row_begin * (yi_ * base_width_ + xi_),
      .row_stride = yi_ * base_width_ + xi_,
      .col_stride = yj_ * base_width_ + xj_,
      .rows = row_end - row_begin,
      .cols = row_pixels()};
  const int64_t pixels = gather.rows * gather.cols;
  ScratchBuffer converted(dst_dtype == stored ? 0 : count * pixels * elem);
  std::byte* out = dst_dtype == stored ? dst : converted.data();
  for (int64_t f = 0; f < count; ++f) {
    GatherFrame(band + f * base_band.size() * elem, gather, out + f * pixels * elem, elem);
  }
  if (dst_dtype != stored) {
    ConvertElements(converted.data(), stored, false, dst, dst_dtype, count * pixels);
  }
}

// ---------------------------------------------------------------------------------------------
// Projection <-> sinogram

/// nav (N) x sig (R, C) seen as nav (R) x sig (N, C): view frame r, row a is base frame a, row r.
class TransposeDataset final : public ViewDataset {
 public:
  using ViewDataset::ViewDataset;

  /// Every view frame holds one row of every base frame.
  int64_t native_depth() const override { return 1; }
  void WillNeed(int64_t /*frame_begin*/, int64_t /*frame_end*/) const override {
    base().WillNeed(0, base().meta().shape.nav_size());
  }

 private:
  void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin, int64_t row_end,
                void* dst, DType dst_dtype) const override;
};

void TransposeDataset::ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                                int64_t row_end, void* dst, DType dst_dtype) const {
  // A band of view rows is a range of base frames; the view frames are a band of base rows.
  const int64_t cols = row_pixels();
  const int64_t frames = frame_end - frame_begin;
  const int64_t angles = row_end - row_begin;
  const int64_t line_bytes = cols * SizeOf(dst_dtype);
  const SigRange base_band{frame_begin * cols, frame_end * cols};
  auto* out = static_cast<std::byte*>(dst);
  internal::ForEachChunk(row_begin, row_end, frames * line_bytes, [&](int64_t begin, int64_t end) {
    ScratchBuffer scratch((end - begin) * frames * line_bytes);
    base().ReadFrames(begin, end, base_band, scratch.data(), dst_dtype);
    for (int64_t a = 0; a < end - begin; ++a) {
      for (int64_t f = 0; f < frames; ++f) {
        std::memcpy(out + (f * angles + begin - row_begin + a) * line_bytes,
                    scratch.data() + (a * frames + f) * line_bytes,
                    static_cast<size_t>(line_bytes));
      }
    }
  });
}

}  // namespace

DatasetPtr CropView(DatasetPtr base, std::vector<std::pair<int64_t, int64_t>> nav,
                    std::vector<std::pair<int64_t, int64_t>> sig) {
  const DatasetMeta& meta = internal::CheckBase(base).meta();
  const Shape& shape = meta.shape;
  nav = CheckRanges(std::move(nav), shape.nav(), "nav", shape);
  sig = CheckRanges(std::move(sig), shape.sig(), "sig", shape);
  std::vector<int64_t> view_nav, view_sig;
  std::vector<Axis> axes = internal::BaseAxes(meta);
  for (size_t i = 0; i < axes.size(); ++i) {
    const auto [begin, end] = i < nav.size() ? nav[i] : sig[i - nav.size()];
    (i < nav.size() ? view_nav : view_sig).push_back(end - begin);
    Axis& axis = axes[i];
    axis.offset += static_cast<double>(begin) * axis.scale;
    axis.size = end - begin;
    if (!axis.values.empty()) {
      axis.values = std::vector<double>(axis.values.begin() + begin, axis.values.begin() + end);
    }
  }
  auto view_meta = internal::ViewMeta(meta, Shape(view_nav, view_sig), std::move(axes), meta.dtype);
  return std::make_shared<CropDataset>(std::move(base), std::move(view_meta), nav, sig);
}

DatasetPtr FlipRotateView(DatasetPtr base, bool flip_y, bool flip_x, int rot90) {
  const DatasetMeta& meta = internal::CheckBase(base).meta();
  if (meta.shape.sig_dims() != 2) {
    throw BadArgument("base", fmt::format("flips and rotations need 2-D frames, these have {} "
                                          "signal axes", meta.shape.sig_dims()), meta.shape);
  }
  const int quarter_turns = ((rot90 % 4) + 4) % 4;
  const int nav_dims = meta.shape.nav_dims();
  const std::vector<Axis> base_axes = internal::BaseAxes(meta);
  const Axis& axis_y = base_axes[static_cast<size_t>(nav_dims)];
  const Axis& axis_x = base_axes[static_cast<size_t>(nav_dims) + 1];
  const Axis u = flip_y ? internal::Reversed(axis_y) : axis_y;
  const Axis v = flip_x ? internal::Reversed(axis_x) : axis_x;
  const std::pair<Axis, Axis> rotated[4] = {{u, v},
                                            {internal::Reversed(v), u},
                                            {internal::Reversed(u), internal::Reversed(v)},
                                            {v, internal::Reversed(u)}};
  std::vector<Axis> axes(base_axes.begin(), base_axes.begin() + nav_dims);
  axes.push_back(rotated[quarter_turns].first);
  axes.push_back(rotated[quarter_turns].second);
  const auto nav = meta.shape.nav();
  Shape shape({nav.begin(), nav.end()}, {axes[nav_dims].size, axes[nav_dims + 1].size});
  auto view_meta = internal::ViewMeta(meta, std::move(shape), std::move(axes), meta.dtype);
  return std::make_shared<FlipRotateDataset>(std::move(base), std::move(view_meta), flip_y, flip_x,
                                             quarter_turns);
}

DatasetPtr TransposeNavSigView(DatasetPtr base) {
  const DatasetMeta& meta = internal::CheckBase(base).meta();
  const Shape& shape = meta.shape;
  if (shape.nav_dims() != 1 || shape.sig_dims() != 2) {
    throw BadArgument("base", "the projection/sinogram swap needs one nav axis and 2-D frames",
                      shape);
  }
  const auto axes = internal::BaseAxes(meta);
  Shape view_shape({shape.sig()[0]}, {shape.nav()[0], shape.sig()[1]});
  auto view_meta = internal::ViewMeta(meta, std::move(view_shape), {axes[1], axes[0], axes[2]},
                                      meta.dtype);
  return std::make_shared<TransposeDataset>(std::move(base), std::move(view_meta));
}

}  // namespace tessera::dataset
