// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/udf/udf.h"

namespace tessera::ops {

class Params;

/// Parameters of the radial profile. Distances in detector pixels from (cy, cx).
struct RadialProfileParams {
  std::optional<double> cy, cx;  // default: frame centre ((sy-1)/2, (sx-1)/2)
  std::optional<int64_t> bins;   // number of bins
  std::optional<double> bin_width;  // default 1 (unless bins and r_max fix it)
  std::optional<double> r_max;   // outer edge of the last bin; default: the farthest corner
};

/// Azimuthal average of each frame: pixel (y, x) falls into bin floor(d / bin_width) with
/// d = sqrt((y-cy)^2 + (x-cx)^2); pixels beyond the last bin are ignored. One pass with a
/// precomputed per-pixel bin-label map. Result "profile": navigation shape x bins, float32, the
/// mean intensity per bin (NaN for bins without pixels), with a "radius" axis calibrated to the
/// bin centres.
class RadialProfileUdf final : public udf::Udf {
 public:
  explicit RadialProfileUdf(RadialProfileParams params = {});

  std::string name() const override { return "radial-profile"; }
  DType InputDType(DType native) const override;
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& meta) const override;
  void PrepareRun(const udf::UdfMeta& meta) override;
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override;
  std::vector<udf::Result> GetResults(const udf::BufferSet& merged,
                                      const udf::UdfMeta& meta) const override;

  int64_t bins() const { return bins_; }
  double bin_width() const { return width_; }

 private:
  RadialProfileParams params_;
  int64_t bins_ = 0;
  double width_ = 1;
  std::vector<int32_t> labels_;        // per signal pixel; bins_ = outside every bin
  std::vector<int64_t> bin_pixels_;    // pixels per bin
};

/// Make the radial-profile analysis from registry parameters.
std::unique_ptr<udf::Udf> MakeRadialProfile(const Params& params);

}  // namespace tessera::ops
