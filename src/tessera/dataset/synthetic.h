// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/dataset/dataset.h"

namespace tessera::dataset {

/// Parameters of the simulated 4D-STEM dataset.
struct SyntheticParams {
  std::vector<int64_t> scan{128, 128};
  std::vector<int64_t> frame{256, 256};
  DType dtype = DType::kFloat32;
  uint64_t seed = 0;
  double bf_counts = 20.0;      // mean counts per pixel inside the bright-field disk
  double bragg_counts = 6.0;    // mean counts per pixel inside a Bragg disk
  int num_hot_pixels = 5;
  double hot_value = 4000.0;
};

/// A simulated 4D-STEM scan whose answers are known: a bright-field disk whose centre shifts
/// smoothly across the scan (a known field), three pairs of Bragg disks placed symmetrically about
/// it, Poisson noise and a few hot pixels. Frames are computed on demand, deterministically from
/// the seed and the frame index (our own RNG and Poisson sampler, so the same on every platform).
class Synthetic4dstem final : public Dataset {
 public:
  /// Validate parameters (errors name the field) and build the dataset.
  static std::unique_ptr<Synthetic4dstem> Make(SyntheticParams params);

  const DatasetMeta& meta() const override { return meta_; }
  void ReadFrames(int64_t frame_begin, int64_t frame_end, SigRange sig, void* dst,
                  DType dst_dtype) const override;

  const SyntheticParams& params() const { return params_; }
  /// Return the imposed centre (row, column) of the whole pattern at scan position (y, x).
  std::pair<double, double> PatternCentre(int64_t y, int64_t x) const;
  /// Return the imposed shift from the frame centre at (y, x), in pixels.
  std::pair<double, double> Shift(int64_t y, int64_t x) const;
  double bf_radius() const { return bf_radius_; }
  /// Flat signal indices of the hot pixels.
  const std::vector<int64_t>& hot_pixels() const { return hot_pixels_; }
  /// Compute the noise-free expected frame at flat nav index `frame` as float64 (for tests).
  std::vector<double> ExpectedFrame(int64_t frame) const;

 private:
  explicit Synthetic4dstem(SyntheticParams params);
  void Render(int64_t frame, double* lambda) const;

  SyntheticParams params_;
  DatasetMeta meta_;
  double bf_radius_ = 0;
  double bragg_radius_ = 0;
  double shift_amplitude_ = 0;
  std::vector<std::pair<double, double>> bragg_offsets_;
  std::vector<int64_t> hot_pixels_;
};

}  // namespace tessera::dataset
