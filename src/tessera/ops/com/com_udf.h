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

/// Parameters of the centre-of-mass analysis (LiberTEM's CoMUDF). Coordinates are detector
/// pixels (row, column) with pixel centres at integer coordinates.
struct ComParams {
  std::optional<double> cy, cx;  // disk centre and default reference; default: frame centre
  std::optional<double> r;       // outer radius of the disk; none: the whole frame
  double ri = 0;                 // inner radius excluded (ri^2 < d^2); 0: none
  std::optional<double> ref_y, ref_x;  // reference centre; default (cy, cx)
  double scan_rotation_deg = 0;  // rotates the detector-coordinate shift into scan coordinates
  bool flip_y = false;           // flip the detector y axis before rotating
};

/// Per-frame centre of mass, its shift from a reference rotated into scan coordinates (the DPC
/// field), its magnitude, and for 2-D scans the field's divergence and curl (np.gradient
/// semantics: central differences inside, one-sided at the edges, unit scan-step spacing).
///
/// Transform (as LiberTEM): (dy, dx) = com - ref; if flip_y, dy = -dy; then
/// field_y = cos(a) dy + sin(a) dx, field_x = -sin(a) dy + cos(a) dx with a = scan_rotation.
/// divergence = d(field_y)/dy + d(field_x)/dx, curl = d(field_y)/dx - d(field_x)/dy.
/// Frames with zero intensity in the mask get the reference as centre (zero shift).
class ComUdf final : public udf::Udf {
 public:
  explicit ComUdf(ComParams params = {});

  std::string name() const override { return "com"; }
  DType InputDType(DType native) const override;
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta& meta) const override;
  void PrepareRun(const udf::UdfMeta& meta) override;
  void ProcessTile(const dataset::Tile& tile, udf::BufferSet& buffers) const override;
  std::vector<udf::Result> GetResults(const udf::BufferSet& merged,
                                      const udf::UdfMeta& meta) const override;

 private:
  struct Span {
    int32_t begin;  // first column
    int32_t end;    // one past the last column
  };

  ComParams params_;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  double cy_ = 0, cx_ = 0, ref_y_ = 0, ref_x_ = 0;
  // Columns of row y inside the mask: spans_[row_spans_[y] .. row_spans_[y + 1]).
  std::vector<int64_t> row_spans_;
  std::vector<Span> spans_;
  std::vector<float> column_f32_;   // 0, 1, 2, ... as float (weights for the x moment)
  std::vector<double> column_f64_;  // the same as double
};

/// Make the com analysis from registry parameters.
std::unique_ptr<udf::Udf> MakeCom(const Params& params);

/// Return np.gradient of a (ny, nx) row-major field along `axis` (0: y, 1: x), unit spacing.
std::vector<double> Gradient2d(const std::vector<double>& field, int64_t ny, int64_t nx, int axis);

}  // namespace tessera::ops
