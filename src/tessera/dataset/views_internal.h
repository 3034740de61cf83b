// SPDX-License-Identifier: MIT
#pragma once

// Shared machinery of the lazy views (views.cc, views_values.cc); not part of the public API.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/error.h"
#include "tessera/dataset/views.h"

namespace tessera::dataset::internal {

/// Bytes a view decodes at once: larger reads go through their scratch in chunks of frames, so
/// a deep tile costs a few MiB of scratch, not a copy of the tile in float64.
inline constexpr int64_t kScratchBytes = int64_t{1} << 20;

/// A per-thread buffer leased for the duration of one call and reused by later calls. Leases
/// nest (a view reading through another view holds one each), so they come from a per-thread
/// stack of free buffers rather than one fixed slot; nothing is shared between threads.
class ScratchBuffer {
 public:
  explicit ScratchBuffer(int64_t bytes);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  std::byte* data() const { return data_; }
  template <class T>
  T* as() const {
    return reinterpret_cast<T*>(data_);
  }

 private:
  std::byte* data_ = nullptr;
  int64_t capacity_ = 0;
};

/// Return a number that no other view has (keys for CachedFrames).
uint64_t NextViewId();

/// Bytes of frames CachedFrames keeps per thread, at most (held until the thread ends).
inline constexpr int64_t kCacheBytes = int64_t{16} << 20;

/// Return frames [frame_begin, frame_end) of view `view_id`, `bytes` in all, decoded whole by
/// `fill(dst)` on a miss and kept by this thread. The runner reads the bands of a tile one after
/// another on one thread, so views whose every band needs whole base frames (excluded-pixel
/// repairs, odd quarter turns) decode them for the first band only. Returns nullptr where the
/// cache cannot serve: more than kCacheBytes, or an enclosing view is filling it. Valid until
/// this thread's next call.
const std::byte* CachedFrames(uint64_t view_id, int64_t frame_begin, int64_t frame_end,
                              int64_t bytes, const std::function<void(std::byte*)>& fill);

/// Return pixels per slice along the first signal axis (the unit the tiling scheme cuts by).
int64_t RowPixels(const Shape& shape);

/// Return the C-order strides of `dims`, in elements.
std::vector<int64_t> CStrides(std::span<const int64_t> dims);

/// Call `chunk(begin, end)` over [begin, end) in pieces whose `bytes_per_item` stay within
/// kScratchBytes (at least one item each).
void ForEachChunk(int64_t begin, int64_t end, int64_t bytes_per_item,
                  const std::function<void(int64_t, int64_t)>& chunk);

/// Return `base` itself, or throw kInvalidArgument naming "base" when it is null or has no
/// signal axes.
const Dataset& CheckBase(const DatasetPtr& base);

/// Return the kInvalidArgument error for `field`, its message ending with the dataset's shape.
Error BadArgument(std::string field, const std::string& message, const Shape& shape);

/// Return a view's meta: format "view", the base's path, files and metadata.
DatasetMeta ViewMeta(const DatasetMeta& base, Shape shape, std::vector<Axis> axes, DType dtype);

/// Return the base's axes, or default ones where a reader gave none (one per dimension).
std::vector<Axis> BaseAxes(const DatasetMeta& meta);

/// Return `axis` with its index order reversed (the far end becomes the origin).
Axis Reversed(Axis axis);

/// A dataset that transforms what another dataset reads. Subclasses decode whole signal rows
/// (slices along the first signal axis); ReadFrames cuts arbitrary signal ranges out of them.
class ViewDataset : public Dataset {
 public:
  ViewDataset(DatasetPtr base, DatasetMeta meta);

  const DatasetMeta& meta() const override { return meta_; }
  /// The same frames as the base, unless a subclass says otherwise.
  int64_t native_depth() const override { return base_->native_depth(); }
  void WillNeed(int64_t frame_begin, int64_t frame_end) const override;
  void ReadFrames(int64_t frame_begin, int64_t frame_end, SigRange sig, void* dst,
                  DType dst_dtype) const final;

 protected:
  /// Decode frames [frame_begin, frame_end), signal rows [row_begin, row_end), into `dst` as a
  /// dense (frames, (row_end - row_begin) * row_pixels()) array of `dst_dtype`. The ranges are
  /// non-empty and inside the view.
  virtual void ReadRows(int64_t frame_begin, int64_t frame_end, int64_t row_begin,
                        int64_t row_end, void* dst, DType dst_dtype) const = 0;

  const Dataset& base() const { return *base_; }
  int64_t row_pixels() const { return row_pixels_; }

 private:
  DatasetPtr base_;
  DatasetMeta meta_;
  int64_t row_pixels_ = 1;
};

}  // namespace tessera::dataset::internal
