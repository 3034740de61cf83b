// SPDX-License-Identifier: MIT
#include "tessera/dataset/memory_dataset.h"

#include <fmt/format.h>

#include "tessera/core/convert.h"

namespace tessera::dataset {
namespace {

class MemoryDataset final : public Dataset {
 public:
  MemoryDataset(NdArray data, int sig_dims) : data_(std::move(data)) {
    if (sig_dims < 1 || sig_dims > data_.rank()) {
      throw Error::InvalidArgument(
          fmt::format("{} signal axes for an array of rank {}", sig_dims, data_.rank()), "sig_dims");
    }
    const auto& dims = data_.shape();
    const auto split = dims.end() - sig_dims;
    meta_.format = "memory";
    meta_.path = "<memory>";
    meta_.shape = Shape({dims.begin(), split}, {split, dims.end()});
    meta_.dtype = data_.dtype();
    meta_.axes = DefaultAxes(meta_.shape);
  }

  const DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t /*frame_end*/) const override {
    return static_cast<const std::byte*>(data_.raw()) +
           frame_begin * meta_.shape.sig_size() * SizeOf(meta_.dtype);
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, SigRange sig, void* dst,
                  DType dst_dtype) const override {
    const int64_t elem = SizeOf(meta_.dtype);
    const int64_t sig_size = meta_.shape.sig_size();
    for (int64_t f = frame_begin; f < frame_end; ++f) {
      const auto* src = static_cast<const std::byte*>(data_.raw()) + (f * sig_size + sig.begin) * elem;
      auto* out = static_cast<std::byte*>(dst) + (f - frame_begin) * sig.size() * SizeOf(dst_dtype);
      ConvertElements(src, meta_.dtype, false, out, dst_dtype, sig.size());
    }
  }

 private:
  NdArray data_;
  DatasetMeta meta_;
};

}  // namespace

std::unique_ptr<Dataset> MakeMemoryDataset(NdArray data, int sig_dims) {
  return std::make_unique<MemoryDataset>(std::move(data), sig_dims);
}

}  // namespace tessera::dataset
