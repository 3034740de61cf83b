// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/nd_array.h"

namespace tessera::ops {

/// The kinds of virtual-detector masks.
enum class MaskKind : uint8_t {
  kDisk,       // cy, cx, r
  kRing,       // cy, cx, ri, ro
  kPoint,      // y, x
  kRectangle,  // y0, x0, y1, x1 (half-open: y0 <= y < y1, x0 <= x < x1)
  kPolygon,    // y0, x0, y1, x1, y2, x2, ... (at least three vertices, even-odd rule)
  kImage,      // an array of the signal shape, used as weights
};

/// One mask, in detector pixel coordinates: pixel (y, x) has its centre at (y, x).
struct MaskShape {
  MaskKind kind = MaskKind::kDisk;
  std::vector<double> values;
  std::shared_ptr<const NdArray> image;  // kImage only
  /// The parameter the mask came from, named in errors ("masks", "r", ...).
  std::string field = "masks";
  /// The parameter that holds the centre, if different from `field` ("cy").
  std::string centre_field;

  static MaskShape Disk(double cy, double cx, double r);
  static MaskShape Ring(double cy, double cx, double ri, double ro);
  static MaskShape Point(double y, double x);
  static MaskShape Rectangle(double y0, double x0, double y1, double x1);
  static MaskShape Polygon(std::vector<double> vertices_yx);
  static MaskShape Image(NdArray weights);
};

/// Parse a mask stack: "disk:cy,cx,r;ring:cy,cx,ri,ro;point:y,x;rect:y0,x0,y1,x1;
/// polygon:y0,x0,y1,x1,y2,x2,...". Errors are kInvalidArgument naming `field`.
std::vector<MaskShape> ParseMasks(std::string_view text, const std::string& field = "masks");

/// Rasterise `mask` onto a frame of `sig_shape` as row-major float32 weights (1 inside, 0
/// outside; image masks keep their values). Membership is decided at pixel centres:
/// disk: (y-cy)^2 + (x-cx)^2 <= r^2; ring: ri^2 < d^2 <= ro^2 (ri = 0 includes the centre);
/// point: the nearest pixel. Throws kInvalidArgument naming the mask's field when the centre lies
/// outside the frame, the mask selects no pixel, or its values are malformed.
std::vector<float> Rasterize(const MaskShape& mask, std::span<const int64_t> sig_shape);

/// Return a short description: "disk(cy=128, cx=128, r=20)".
std::string Describe(const MaskShape& mask);

}  // namespace tessera::ops
