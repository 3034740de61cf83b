// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tessera/dataset/dataset.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats::internal {

/// Where one stored frame starts: a file of the dataset and a byte offset in it.
struct FrameSource {
  int32_t file = 0;
  int64_t offset = 0;
};

/// Frames stored whole and uncompressed, each at its own place in one of several mapped files:
/// TIFF pages (one per IFD, anywhere in the file), directories of single-page TIFFs, TVIPS
/// records (a frame header between frames). Frames are served zero copy when they lie in native
/// byte order, are aligned, and a requested range is contiguous in one file; else they are
/// decoded with ConvertFromFile; also the frames of uncompressed HDF5 chunks. The caller has
/// checked that every frame lies inside its file.
class FrameTableDataset final : public dataset::Dataset {
 public:
  FrameTableDataset(dataset::DatasetMeta meta,
                    std::vector<std::shared_ptr<const io::MappedFile>> files,
                    std::vector<FrameSource> frames, bool byteswap, int64_t native_depth = 1);

  const dataset::DatasetMeta& meta() const override { return meta_; }
  /// Frames stored together (an HDF5 chunk of k frames), for tiles that do not cut them.
  int64_t native_depth() const override { return native_depth_; }
  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override;
  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override;
  void WillNeed(int64_t frame_begin, int64_t frame_end) const override;

 private:
  const std::byte* FramePointer(int64_t frame) const;

  dataset::DatasetMeta meta_;
  std::vector<std::shared_ptr<const io::MappedFile>> files_;
  std::vector<FrameSource> frames_;
  int64_t frame_bytes_ = 0;
  bool byteswap_ = false;
  int64_t native_depth_ = 1;
};

}  // namespace tessera::formats::internal
