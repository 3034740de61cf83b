// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>

#include "tessera/dataset/dataset.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats::internal {

/// Convert like ConvertElements, also from sources that are not aligned for their dtype (raw
/// files at odd offsets, pixels after a header of any length): those go through a small aligned
/// bounce buffer. Bool sources are decoded as bytes.
void ConvertFromFile(const std::byte* src, DType src_dtype, bool byteswap, std::byte* dst,
                     DType dst_dtype, int64_t count);

/// A dense C-order array at a byte offset of a mapped file: the common back end of raw, NPY and
/// contiguous HDF5 datasets. Frames are served zero copy when stored in native byte order.
class MappedArrayDataset final : public dataset::Dataset {
 public:
  /// `meta.shape` and `meta.dtype` describe the array; the caller has checked that
  /// [data_offset, data_offset + nbytes) lies inside `file`.
  MappedArrayDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
                     int64_t data_offset, bool byteswap, int64_t native_depth = 1);

  const dataset::DatasetMeta& meta() const override { return meta_; }
  int64_t native_depth() const override { return native_depth_; }
  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override;
  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override;
  void WillNeed(int64_t frame_begin, int64_t frame_end) const override;

 private:
  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
  int64_t data_offset_ = 0;
  int64_t frame_bytes_ = 0;
  bool byteswap_ = false;
  int64_t native_depth_ = 1;
};

/// Throw kInvalidArgument unless 0 <= frame_begin <= frame_end <= nav_size and `sig` lies in
/// [0, sig_size].
void CheckReadRange(const dataset::DatasetMeta& meta, int64_t frame_begin, int64_t frame_end,
                    dataset::SigRange sig);

/// The checks that open every ReadFrames: CheckReadRange, then throw kUnsupported unless
/// `meta.dtype` converts to `dst_dtype`.
void CheckRead(const dataset::DatasetMeta& meta, int64_t frame_begin, int64_t frame_end,
               dataset::SigRange sig, DType dst_dtype);

/// CheckRead, then return whether [frame_begin, frame_end) x `sig` holds any element (false:
/// nothing to read, the caller returns).
[[nodiscard]] bool BeginRead(const dataset::DatasetMeta& meta, int64_t frame_begin,
                             int64_t frame_end, dataset::SigRange sig, DType dst_dtype);

/// Return whether the host is little-endian (the byte order Tessera writes).
constexpr bool kHostLittleEndian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

}  // namespace tessera::formats::internal
