// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/ops/masks/mask_shapes.h"
#include "tessera/udf/udf.h"

namespace tessera::ops {

class Params;

/// How the mask stack is applied. kAuto picks kRuns for non-overlapping binary masks (rings,
/// sectors, disks side by side: each pixel read once, whatever the number of masks), else sparse
/// below SparseDensityThreshold(masks), else dense.
enum class MaskBackend : uint8_t {
  kAuto,
  kDense,   // OpenBLAS sgemm/sgemv straight on the (strided) tile
  kSparse,  // per-mask lists of (pixel, weight), float64 accumulation
  kRuns,    // non-overlapping masks of weight 1: a per-pixel label map stored as runs of pixels
};

/// Return the fraction of non-zero weights below which kAuto picks the sparse kernel. Measured
/// with BM_Masks (128 x 128 float32 frames): one mask, sparse wins below ~15 % (sgemv reads every
/// pixel); sixteen masks, below ~4 % (sgemm amortises each pixel over all masks).
inline double SparseDensityThreshold(int64_t num_masks) { return num_masks == 1 ? 0.15 : 0.04; }

/// Make the virtual-detector analysis from registry parameters (masks=, shape=..., an array
/// attached as mask_file, backend=); errors name the parameter.
std::unique_ptr<udf::Udf> MakeVirtualDetector(const Params& params);

/// Virtual detectors: the dot product of every frame with each mask of a stack, in one pass.
/// Result "intensity": navigation shape x number of masks, float32 (as LiberTEM). A NaN centre
/// of a disk, ring or point stands for the frame centre ((sy-1)/2, (sx-1)/2).
class VirtualDetectorUdf final : public udf::Udf {
 public:
  explicit VirtualDetectorUdf(std::vector<MaskShape> masks, MaskBackend backend = MaskBackend::kAuto);

  std::string name() const override { return "virtual-detector"; }
  DType InputDType(DType native) const override;
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& meta) const override;
  /// Dense stacks of several masks ask for deep tiles: OpenBLAS packs the mask band on every
  /// sgemm call, and deeper tiles amortise it (BM_Masks/16/100/0/depth: ~1.7x from 16 to 256).
  udf::TilingPreferences tiling_preferences() const override;
  /// Rasterise the masks (errors name the parameter) and build the dense or sparse stack.
  void PrepareRun(const udf::UdfMeta& meta) override;
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override;
  std::vector<udf::Result> GetResults(const udf::BufferSet& merged,
                                      const udf::UdfMeta& meta) const override;

  int64_t num_masks() const { return static_cast<int64_t>(masks_.size()); }
  /// Return whether the run uses the sparse kernel (valid after PrepareRun).
  bool sparse() const { return used_ == MaskBackend::kSparse; }
  /// Return the kernel the run uses (valid after PrepareRun).
  MaskBackend used_backend() const { return used_; }
  /// Return the fraction of non-zero weights (valid after PrepareRun).
  double density() const { return density_; }

 private:
  void ProcessDense(const dataset::Tile& tile, float* out) const;
  void ProcessSparse(const dataset::Tile& tile, float* out) const;
  void ProcessRuns(const dataset::Tile& tile, float* out) const;

  std::vector<MaskShape> masks_;
  MaskBackend backend_;
  MaskBackend used_ = MaskBackend::kDense;
  double density_ = 0;
  // Dense: (pixels, masks) row-major, so the rows of a signal band are one contiguous block.
  std::vector<float> dense_;
  // Sparse: mask m owns entries [offsets_[m], offsets_[m + 1]) of pixels_/weights_, by pixel.
  std::vector<int64_t> offsets_;
  std::vector<int32_t> pixels_;
  std::vector<float> weights_;
  // Runs: pixels [begin, end) all belong to mask `mask`; runs never cross a row of the first
  // signal axis (tiles are bands of whole rows), and row r owns runs [row_runs_[r], row_runs_[r+1]).
  struct Run {
    int32_t begin;
    int32_t end;
    int32_t mask;
  };
  std::vector<Run> runs_;
  std::vector<int64_t> row_runs_;
  int64_t row_pixels_ = 1;
};

}  // namespace tessera::ops
