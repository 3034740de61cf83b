// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/core/shape.h"

namespace tessera::dataset {

/// Calibration of one axis: physical coordinate = offset + index * scale, in `units`.
struct Axis {
  std::string name;
  int64_t size = 0;
  double scale = 1.0;
  double offset = 0.0;
  std::string units;
  /// Explicit coordinates, for axes that are not evenly spaced (a parameter sweep over a list of
  /// values); empty when offset and scale describe the axis.
  std::vector<double> values;
  bool operator==(const Axis&) const = default;
};

/// A file a dataset reads from, for provenance.
struct InputFile {
  std::string path;
  int64_t size = 0;
};

/// What a reader knows about its dataset before reading any frame.
struct DatasetMeta {
  std::string format;              // registry name: "raw", "npy", "hdf5", "synthetic"
  std::string path;                // the path the user gave (may carry ":/h5/path")
  Shape shape;                     // nav axes then sig axes
  DType dtype = DType::kFloat32;   // element type as stored (after byte-order decoding)
  std::vector<Axis> axes;          // one per dimension of `shape`
  std::string metadata_json = "{}";  // the file's own metadata as a JSON object
  std::vector<InputFile> files;    // every file read, for provenance and checksums
};

/// Return default axes: nav axes "y","x" (or "nav0".."), sig axes "sy","sx" (or "sig0"..), unit
/// pixels.
std::vector<Axis> DefaultAxes(const Shape& shape);

/// A contiguous range of flattened signal pixels [begin, end). The tiling scheme only cuts along
/// the first signal axis, so a range is always a band of whole rows.
struct SigRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool operator==(const SigRange&) const = default;
};

/// An N-D dataset split into navigation and signal axes, read frame-range by frame-range.
///
/// Implementations must be safe to read from several threads at once.
class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual const DatasetMeta& meta() const = 0;

  /// Return the frames per native I/O block (HDF5 chunk depth, ...); partitions align to it.
  virtual int64_t native_depth() const { return 1; }

  /// Return a pointer to frames [frame_begin, frame_end) if they lie contiguous in memory in
  /// meta().dtype and native byte order (zero copy from a mapping), else nullptr.
  virtual const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const;

  /// Decode frames [frame_begin, frame_end), signal pixels `sig`, into `dst` as `dst_dtype`,
  /// laid out as a dense (frames, sig.size()) array. Throws kCorruptFile / kIo naming the file.
  virtual void ReadFrames(int64_t frame_begin, int64_t frame_end, SigRange sig, void* dst,
                          DType dst_dtype) const = 0;

  /// Hint that frames [frame_begin, frame_end) are about to be read.
  virtual void WillNeed(int64_t frame_begin, int64_t frame_end) const;
};

}  // namespace tessera::dataset
