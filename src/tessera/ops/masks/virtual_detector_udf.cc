// SPDX-License-Identifier: MIT
#include "tessera/ops/masks/virtual_detector_udf.h"

#include <cblas.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "tessera/core/error.h"

namespace tessera::ops {
namespace {

/// The executor already runs one partition per core: OpenBLAS must not start threads of its own.
void UseSingleThreadedBlas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

/// out[f * nmasks + m] += sum_k row_f[pixel_k - band_begin] * weight_k over mask m's entries in
/// the band. Masks outer, frames inner: a mask's entries stay in L1 while the tile (L2) is swept.
void SparseKernel(const float* data, int64_t depth, int64_t stride, int64_t band_begin,
                  int64_t band_end, const int64_t* offsets, const int32_t* pixels,
                  const float* weights, int64_t nmasks, float* out) noexcept {
  for (int64_t m = 0; m < nmasks; ++m) {
    const int32_t* first = pixels + offsets[m];
    const int32_t* last = pixels + offsets[m + 1];
    const int64_t lo = std::lower_bound(first, last, band_begin) - pixels;
    const int64_t hi = std::lower_bound(first, last, band_end) - pixels;
    if (lo == hi) continue;
    const float* base = data - band_begin;  // indexable by absolute pixel
    for (int64_t f = 0; f < depth; ++f) {
      const float* row = base + f * stride;
      double acc = 0;
      for (int64_t k = lo; k < hi; ++k) acc += static_cast<double>(row[pixels[k]]) * static_cast<double>(weights[k]);
      out[f * nmasks + m] += static_cast<float>(acc);
    }
  }
}

}  // namespace

VirtualDetectorUdf::VirtualDetectorUdf(std::vector<MaskShape> masks, MaskBackend backend)
    : masks_(std::move(masks)), backend_(backend) {
  if (masks_.empty()) throw Error::InvalidArgument("no mask given", "masks");
}

std::vector<udf::BufferSpec> VirtualDetectorUdf::GetResultBuffers(const udf::UdfMeta& /*meta*/) const {
  return {{.name = "intensity",
           .kind = udf::BufferKind::kNav,
           .dtype = DType::kFloat32,
           .extra_shape = {num_masks()}}};
}

udf::TilingPreferences VirtualDetectorUdf::tiling_preferences() const {
  if (sparse_ || num_masks() == 1) return {};
  return {.depth = 128, .total_bytes = int64_t{8} << 20};
}

void VirtualDetectorUdf::PrepareRun(const udf::UdfMeta& meta) {
  UseSingleThreadedBlas();
  const auto sig = meta.dataset->shape.sig();
  const int64_t pixels = meta.dataset->shape.sig_size();
  if (pixels > std::numeric_limits<int32_t>::max()) {
    throw Error::Unsupported("frames of more than 2^31 pixels");
  }
  const int64_t nmasks = num_masks();
  dense_.assign(static_cast<size_t>(pixels * nmasks), 0.0f);
  int64_t nonzero = 0;
  for (int64_t m = 0; m < nmasks; ++m) {
    MaskShape mask = masks_[static_cast<size_t>(m)];
    const bool centred = mask.kind == MaskKind::kDisk || mask.kind == MaskKind::kRing ||
                         mask.kind == MaskKind::kPoint;
    if (centred && sig.size() == 2 && mask.values.size() >= 2) {
      if (std::isnan(mask.values[0])) mask.values[0] = static_cast<double>(sig[0] - 1) / 2;
      if (std::isnan(mask.values[1])) mask.values[1] = static_cast<double>(sig[1] - 1) / 2;
    }
    const std::vector<float> weights = Rasterize(mask, sig);
    for (int64_t p = 0; p < pixels; ++p) {
      const float w = weights[static_cast<size_t>(p)];
      dense_[static_cast<size_t>(p * nmasks + m)] = w;
      nonzero += w != 0;
    }
  }
  density_ = static_cast<double>(nonzero) / static_cast<double>(pixels * nmasks);
  sparse_ = backend_ == MaskBackend::kSparse ||
            (backend_ == MaskBackend::kAuto && density_ < SparseDensityThreshold(nmasks));
  offsets_.clear();
  pixels_.clear();
  weights_.clear();
  if (sparse_) {
    offsets_.push_back(0);
    for (int64_t m = 0; m < nmasks; ++m) {
      for (int64_t p = 0; p < pixels; ++p) {
        const float w = dense_[static_cast<size_t>(p * nmasks + m)];
        if (w == 0) continue;
        pixels_.push_back(static_cast<int32_t>(p));
        weights_.push_back(w);
      }
      offsets_.push_back(static_cast<int64_t>(pixels_.size()));
    }
    dense_.clear();
    dense_.shrink_to_fit();
  }
}

void VirtualDetectorUdf::ProcessDense(const dataset::Tile& tile, float* out) const {
  const int64_t nmasks = num_masks();
  const float* data = static_cast<const float*>(tile.data);
  const float* band = dense_.data() + tile.sig.begin * nmasks;
  const auto depth = static_cast<blasint>(tile.depth);
  const auto band_pixels = static_cast<blasint>(tile.sig.size());
  const auto lda = static_cast<blasint>(tile.frame_stride);
  if (nmasks == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, depth, band_pixels, 1.0f, data, lda, band, 1, 1.0f,
                out, 1);
  } else {
    const auto n = static_cast<blasint>(nmasks);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, depth, n, band_pixels, 1.0f, data, lda,
                band, n, 1.0f, out, n);
  }
}

void VirtualDetectorUdf::ProcessSparse(const dataset::Tile& tile, float* out) const {
  SparseKernel(static_cast<const float*>(tile.data), tile.depth, tile.frame_stride,
               tile.sig.begin, tile.sig.end, offsets_.data(), pixels_.data(), weights_.data(),
               num_masks(), out);
}

void VirtualDetectorUdf::ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const {
  float* out = buffers.nav<float>(0).data();
  if (sparse_) {
    ProcessSparse(tile, out);
  } else {
    ProcessDense(tile, out);
  }
}

std::vector<udf::Result> VirtualDetectorUdf::GetResults(const udf::BufferSet& merged,
                                                        const udf::UdfMeta& meta) const {
  auto results = Udf::GetResults(merged, meta);
  for (auto& result : results) {
    result.axes.back().name = "mask";
    std::vector<std::string> names;
    for (const auto& mask : masks_) names.push_back(Describe(mask));
    result.description = fmt::format("virtual detector intensities, masks: {}", fmt::join(names, "; "));
  }
  return results;
}

}  // namespace tessera::ops
