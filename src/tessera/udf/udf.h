// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"
#include "tessera/dataset/partition.h"
#include "tessera/dataset/tile.h"

namespace tessera::dataset {
class Roi;
}

namespace tessera::udf {

/// Which part of the dataset a result buffer is indexed by.
enum class BufferKind : uint8_t {
  kNav,     // one entry per navigation position (+ extra_shape)
  kSig,     // one entry per signal pixel (+ extra_shape)
  kSingle,  // just extra_shape
};

/// A result buffer a UDF declares. Partition-local copies are filled by the Process methods and
/// folded together by Merge.
struct BufferSpec {
  std::string name;
  BufferKind kind = BufferKind::kNav;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> extra_shape;
  /// Private buffers are intermediate state, not returned as results.
  bool is_private = false;
};

/// How a UDF wants its data.
enum class Method : uint8_t { kTile, kFrame, kPartition };

/// Tiling preferences; the runner negotiates one scheme for all UDFs of a pass.
struct TilingPreferences {
  int64_t depth = 32;                  // frames per tile, at most
  int64_t total_bytes = int64_t{1} << 20;  // bytes per tile in the input dtype, at most
};

/// What a UDF knows about the run it is part of.
struct UdfMeta {
  const dataset::DatasetMeta* dataset = nullptr;
  DType input_dtype = DType::kFloat32;
  const dataset::Roi* roi = nullptr;  // null: every frame
};

/// One finished result array with its axis calibrations.
struct Result {
  std::string name;
  NdArray data;
  std::vector<dataset::Axis> axes;  // one per dimension of data
  std::string units;                // units of the values, if known
  std::string description;
  /// kNav results start with the nav axes; entries never processed read as NaN.
  BufferKind kind = BufferKind::kSingle;
};

/// The buffers of one UDF in one scope (a partition, or the merged whole).
///
/// Inside ProcessTile / ProcessFrame, nav() views cover the current tile's frames and sig() views
/// the current tile's signal band; Whole() gives the entire buffer.
class BufferSet {
 public:
  BufferSet() = default;
  /// Allocate buffers for `specs` over a partition of `num_frames` frames.
  BufferSet(const std::vector<BufferSpec>& specs, const Shape& shape, int64_t frame_begin,
            int64_t num_frames);

  BufferSet(BufferSet&&) noexcept = default;
  BufferSet& operator=(BufferSet&&) noexcept = default;
  /// Return a deep copy.
  BufferSet Clone() const;

  int size() const { return static_cast<int>(arrays_.size()); }
  const BufferSpec& spec(int index) const { return specs_[static_cast<size_t>(index)]; }
  int IndexOf(const std::string& name) const;
  /// The frames this set covers: one partition, or a run of merged partitions.
  int64_t frame_begin() const { return frame_begin_; }
  int64_t num_frames() const { return num_frames_; }
  /// Widen the covered frames to [frame_begin(), frame_begin() + num_frames) after a merge (the
  /// runner calls this; nav buffers keep their size).
  void ExtendFrames(int64_t num_frames) { num_frames_ = num_frames; }

  /// Return the current tile's rows of a nav buffer: shape (depth, extra...).
  template <class T>
  NdView<T> nav(int index);
  /// Return the current tile's signal band of a sig buffer: shape (band pixels, extra...).
  template <class T>
  NdView<T> sig(int index);
  /// Return a whole buffer: nav (frames, extra...), sig (sig pixels, extra...), single (extra...).
  template <class T>
  NdView<T> Whole(int index) {
    return arrays_[static_cast<size_t>(index)].view<T>();
  }
  template <class T>
  NdView<const T> Whole(int index) const {
    return arrays_[static_cast<size_t>(index)].view<T>();
  }
  NdArray& array(int index) { return arrays_[static_cast<size_t>(index)]; }
  const NdArray& array(int index) const { return arrays_[static_cast<size_t>(index)]; }

  /// Set the scope of nav()/sig() views (the runner calls this per tile).
  void SetScope(const dataset::Tile& tile) {
    tile_frame_offset_ = tile.frame_begin - frame_begin_;
    tile_depth_ = tile.depth;
    tile_sig_ = tile.sig;
  }

 private:
  std::vector<BufferSpec> specs_;
  std::vector<NdArray> arrays_;
  int64_t frame_begin_ = 0;
  int64_t num_frames_ = 0;
  int64_t tile_frame_offset_ = 0;
  int64_t tile_depth_ = 0;
  dataset::SigRange tile_sig_;
};

/// A user-defined function in map-reduce form (LiberTEM's UDF contract, in C++).
///
/// The runner calls, per run: PrepareRun() once; per partition: Preprocess(), the Process method
/// for every tile, Postprocess(); then Merge() into the global buffers in partition order, and
/// GetResults() once at the end. Process methods are const and may run on several threads at
/// once; all mutable state lives in the BufferSet.
class Udf {
 public:
  virtual ~Udf() = default;

  /// Return a short name used in messages and result names ("stats").
  virtual std::string name() const = 0;
  /// Declare the result buffers for a dataset.
  virtual std::vector<BufferSpec> GetResultBuffers(const UdfMeta& meta) const = 0;
  virtual Method method() const { return Method::kTile; }
  virtual TilingPreferences tiling_preferences() const { return {}; }
  /// Return the dtype the UDF wants its tiles in, given the dataset's dtype (default float32).
  virtual DType InputDType(DType native) const;
  /// Return whether the UDF needs whole frames (no splitting of the signal).
  virtual bool needs_full_frames() const { return method() != Method::kTile; }

  /// Validate parameters against the dataset and build read-only per-run state (masks, ...).
  /// Errors name the parameter.
  virtual void PrepareRun(const UdfMeta& meta);
  /// Initialise a partition's (or the global) buffers, e.g. min to +inf. Default: zeros.
  virtual void Preprocess(BufferSet& buffers) const;
  virtual void ProcessTile(const dataset::Tile& tile, BufferSet& buffers) const;
  virtual void ProcessFrame(const dataset::Tile& frame, BufferSet& buffers) const;
  virtual void ProcessPartition(const dataset::Tile& partition, BufferSet& buffers) const;
  /// Finish a partition before it is merged.
  virtual void Postprocess(BufferSet& buffers) const;
  /// Fold the sig/single buffers of `src` into `dest`: two partitions, or two merged runs of
  /// partitions, `dest` covering the lower indices (nav buffers are placed by the runner).
  /// Default: element-wise sum of every sig and single buffer.
  virtual void Merge(BufferSet& dest, const BufferSet& src) const;
  /// Turn the merged buffers into results. Default: every non-private buffer, shaped
  /// nav + extra (nav), sig + extra (sig) or extra (single), with the dataset's axes.
  virtual std::vector<Result> GetResults(const BufferSet& merged, const UdfMeta& meta) const;
};

/// Add `src` into `dest` element-wise (same dtype and size).
void AddInto(NdArray& dest, const NdArray& src);

}  // namespace tessera::udf
