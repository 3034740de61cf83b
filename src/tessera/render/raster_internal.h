// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <vector>

#include "tessera/render/rgb_image.h"

namespace tessera::render::internal {

/// A rectangle of pixels: rows [top, top + height), columns [left, left + width).
struct Box {
  int64_t top = 0;
  int64_t left = 0;
  int64_t height = 0;
  int64_t width = 0;

  int64_t bottom() const { return top + height; }  // one past the last row
  int64_t right() const { return left + width; }   // one past the last column
  bool Contains(int64_t y, int64_t x) const {
    return y >= top && y < bottom() && x >= left && x < right();
  }
};

/// Fill `box` (clipped to the canvas) with `colour`.
void FillBox(RgbImage& canvas, const Box& box, Rgb colour);
/// Draw the one-pixel outline just inside `box` (clipped to the canvas).
void StrokeBox(RgbImage& canvas, const Box& box, Rgb colour);

/// Anti-aliased coverage of shapes in one colour, composited once, so that overlapping shapes
/// (the joints of a polyline, an arrow's head and shaft) do not darken where they meet.
///
/// Coordinates are in pixels with pixel centres at integers: pixel (y, x) spans
/// [y - 0.5, y + 0.5) x [x - 0.5, x + 0.5). Non-finite coordinates are skipped; shapes far outside
/// are clipped before rasterisation, so huge coordinates cost nothing.
class Coverage {
 public:
  /// Cover a canvas of this size; shapes are clipped to `clip`, which must lie inside it.
  Coverage(int64_t height, int64_t width, const Box& clip);

  /// Add a line segment `width` pixels wide with round caps.
  void AddLine(double y0, double x0, double y1, double x1, double width);
  /// Add a filled disc.
  void AddDisc(double y, double x, double radius);
  /// Add a circle outline `width` pixels wide.
  void AddRing(double y, double x, double radius, double width);
  /// Blend `colour` into the canvas (of the size given above) by the coverage of each pixel.
  void Paint(RgbImage& canvas, Rgb colour) const;

 private:
  void Add(int64_t y, int64_t x, double alpha);
  // Rasterise the pixels near (y, x) within `reach`, covering each by `alpha_at(py, px)`.
  template <class AlphaAt>
  void AddAround(double y, double x, double reach, const AlphaAt& alpha_at);

  int64_t height_;
  int64_t width_;
  Box clip_;
  std::vector<float> alpha_;
  // Bounding box of the touched pixels, so that Paint visits only those.
  int64_t touched_top_;
  int64_t touched_left_;
  int64_t touched_bottom_ = -1;
  int64_t touched_right_ = -1;
};

/// Clip the segment (y0, x0)-(y1, x1) to [top, bottom] x [left, right] in place (Liang-Barsky);
/// return false when nothing of it is inside or a coordinate is not finite.
bool ClipSegment(double& y0, double& x0, double& y1, double& x1, double top, double left,
                 double bottom, double right);

/// Return the distance from (py, px) to the segment (y0, x0)-(y1, x1).
double DistanceToSegment(double py, double px, double y0, double x0, double y1, double x1);

}  // namespace tessera::render::internal
