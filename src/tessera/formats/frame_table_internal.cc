// SPDX-License-Identifier: MIT
#include "tessera/formats/frame_table_internal.h"

#include <algorithm>

#include <fmt/format.h>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"

namespace tessera::formats::internal {

FrameTableDataset::FrameTableDataset(dataset::DatasetMeta meta,
                                     std::vector<std::shared_ptr<const io::MappedFile>> files,
                                     std::vector<FrameSource> frames, bool byteswap,
                                     int64_t native_depth)
    : meta_(std::move(meta)),
      files_(std::move(files)),
      frames_(std::move(frames)),
      frame_bytes_(meta_.shape.sig_size() * SizeOf(meta_.dtype)),
      byteswap_(byteswap && SizeOf(meta_.dtype) > 1),
      native_depth_(std::max<int64_t>(native_depth, 1)) {
  TESSERA_DCHECK(static_cast<int64_t>(frames_.size()) == meta_.shape.nav_size(),
                 "one frame source per frame");
}

const std::byte* FrameTableDataset::FramePointer(int64_t frame) const {
  const FrameSource& source = frames_[static_cast<size_t>(frame)];
  return files_[static_cast<size_t>(source.file)]->bytes().data() + source.offset;
}

const std::byte* FrameTableDataset::DirectFrames(int64_t frame_begin, int64_t frame_end) const {
  if (byteswap_ || meta_.dtype == DType::kBool || frame_begin < 0 || frame_begin >= frame_end ||
      frame_end > meta_.shape.nav_size() || frame_bytes_ == 0) {
    return nullptr;
  }
  const FrameSource& first = frames_[static_cast<size_t>(frame_begin)];
  for (int64_t frame = frame_begin + 1; frame < frame_end; ++frame) {
    const FrameSource& source = frames_[static_cast<size_t>(frame)];
    if (source.file != first.file ||
        source.offset != first.offset + (frame - frame_begin) * frame_bytes_) {
      return nullptr;
    }
  }
  const std::byte* ptr = FramePointer(frame_begin);
  // A typed view of a misaligned pointer is undefined behaviour: decode instead.
  if (reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(SizeOf(meta_.dtype)) != 0) {
    return nullptr;
  }
  return ptr;
}

void FrameTableDataset::ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig,
                                   void* dst, DType dst_dtype) const {
  if (!BeginRead(meta_, frame_begin, frame_end, sig, dst_dtype)) return;
  const int64_t item = SizeOf(meta_.dtype);
  auto* out = static_cast<std::byte*>(dst);
  const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
  for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
    ConvertFromFile(FramePointer(frame) + sig.begin * item, meta_.dtype, byteswap_,
                    out + (frame - frame_begin) * out_frame_bytes, dst_dtype, sig.size());
  }
}

void FrameTableDataset::WillNeed(int64_t frame_begin, int64_t frame_end) const {
  if (frame_begin < 0 || frame_end <= frame_begin || frame_end > meta_.shape.nav_size()) return;
  for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
    const FrameSource& source = frames_[static_cast<size_t>(frame)];
    files_[static_cast<size_t>(source.file)]->Prefetch(source.offset, frame_bytes_);
  }
}

}  // namespace tessera::formats::internal
