// SPDX-License-Identifier: MIT
#include "tessera/formats/mapped_array_internal.h"

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"

namespace tessera::formats::internal {

/// Convert like ConvertElements, also from sources that are not aligned for their dtype (raw
/// files at odd offsets): those go through a small aligned bounce buffer. Bool sources are
/// decoded as bytes, so a stray value other than 0 or 1 in a file is no undefined behaviour.
void ConvertFromFile(const std::byte* src, DType src_dtype, bool byteswap, std::byte* dst,
                     DType dst_dtype, int64_t count) {
  if (src_dtype == DType::kBool) src_dtype = DType::kUint8;
  const int64_t item = SizeOf(src_dtype);
  if (reinterpret_cast<uintptr_t>(src) % static_cast<uintptr_t>(item) == 0) {
    ConvertElements(src, src_dtype, byteswap, dst, dst_dtype, count);
    return;
  }
  if (src_dtype == dst_dtype && !byteswap) {
    // memcpy needs no alignment: straight into the destination, no bounce.
    std::memcpy(dst, src, static_cast<size_t>(count * item));
    return;
  }
  // Typed loads need aligned elements: copy through a per-thread bounce buffer (cache-sized,
  // allocated once per thread, not per call).
  constexpr int64_t kBounceBytes = 64 * 1024;
  thread_local std::vector<uint64_t> bounce(kBounceBytes / sizeof(uint64_t));
  const int64_t per_pass = kBounceBytes / item;
  const int64_t dst_item = SizeOf(dst_dtype);
  for (int64_t done = 0; done < count; done += per_pass) {
    const int64_t n = std::min(per_pass, count - done);
    std::memcpy(bounce.data(), src + done * item, static_cast<size_t>(n * item));
    ConvertElements(bounce.data(), src_dtype, byteswap, dst + done * dst_item, dst_dtype, n);
  }
}

void CheckReadRange(const dataset::DatasetMeta& meta, int64_t frame_begin, int64_t frame_end,
                    dataset::SigRange sig) {
  const int64_t nav_size = meta.shape.nav_size();
  const int64_t sig_size = meta.shape.sig_size();
  if (frame_begin < 0 || frame_begin > frame_end || frame_end > nav_size) {
    throw Error::InvalidArgument(
        fmt::format("{}: frames [{}, {}) outside [0, {})", meta.path, frame_begin, frame_end,
                    nav_size),
        "frames");
  }
  if (sig.begin < 0 || sig.begin > sig.end || sig.end > sig_size) {
    throw Error::InvalidArgument(fmt::format("{}: signal range [{}, {}) outside [0, {})", meta.path,
                                             sig.begin, sig.end, sig_size),
                                 "sig");
  }
}

void CheckRead(const dataset::DatasetMeta& meta, int64_t frame_begin, int64_t frame_end,
               dataset::SigRange sig, DType dst_dtype) {
  CheckReadRange(meta, frame_begin, frame_end, sig);
  if (!CanConvert(meta.dtype, dst_dtype)) {
    throw Error::Unsupported(
        fmt::format("cannot convert {} to {}", Name(meta.dtype), Name(dst_dtype)), meta.path);
  }
}

bool BeginRead(const dataset::DatasetMeta& meta, int64_t frame_begin, int64_t frame_end,
               dataset::SigRange sig, DType dst_dtype) {
  CheckRead(meta, frame_begin, frame_end, sig, dst_dtype);
  return frame_begin != frame_end && sig.size() != 0;
}

MappedArrayDataset::MappedArrayDataset(dataset::DatasetMeta meta,
                                       std::shared_ptr<const io::MappedFile> file,
                                       int64_t data_offset, bool byteswap, int64_t native_depth)
    : meta_(std::move(meta)),
      file_(std::move(file)),
      data_offset_(data_offset),
      frame_bytes_(meta_.shape.sig_size() * SizeOf(meta_.dtype)),
      byteswap_(byteswap && SizeOf(meta_.dtype) > 1),
      native_depth_(native_depth) {}

const std::byte* MappedArrayDataset::DirectFrames(int64_t frame_begin, int64_t frame_end) const {
  // Bool frames could hold bytes other than 0 and 1, which a bool view must never see.
  if (byteswap_ || meta_.dtype == DType::kBool || frame_begin < 0 || frame_begin > frame_end ||
      frame_end > meta_.shape.nav_size() || file_->size() == 0) {
    return nullptr;
  }
  const std::byte* ptr = file_->bytes().data() + data_offset_ + frame_begin * frame_bytes_;
  // A typed view of a misaligned pointer is undefined behaviour: decode instead.
  const auto align = static_cast<uintptr_t>(SizeOf(meta_.dtype));
  if (reinterpret_cast<uintptr_t>(ptr) % align != 0) return nullptr;
  return ptr;
}

void MappedArrayDataset::ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig,
                                    void* dst, DType dst_dtype) const {
  if (!BeginRead(meta_, frame_begin, frame_end, sig, dst_dtype)) return;
  const int64_t item = SizeOf(meta_.dtype);
  const std::byte* base = file_->bytes().data() + data_offset_;
  const int64_t sig_size = meta_.shape.sig_size();
  if (sig.begin == 0 && sig.end == sig_size) {
    // Whole frames are one contiguous run: convert in a single call.
    ConvertFromFile(base + frame_begin * frame_bytes_, meta_.dtype, byteswap_,
                    static_cast<std::byte*>(dst), dst_dtype, (frame_end - frame_begin) * sig_size);
    return;
  }
  auto* out = static_cast<std::byte*>(dst);
  const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
  for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
    ConvertFromFile(base + frame * frame_bytes_ + sig.begin * item, meta_.dtype, byteswap_,
                    out + (frame - frame_begin) * out_frame_bytes, dst_dtype, sig.size());
  }
}

void MappedArrayDataset::WillNeed(int64_t frame_begin, int64_t frame_end) const {
  if (frame_begin < 0 || frame_end <= frame_begin) return;
  file_->Prefetch(data_offset_ + frame_begin * frame_bytes_,
                  (frame_end - frame_begin) * frame_bytes_);
}

}  // namespace tessera::formats::internal
