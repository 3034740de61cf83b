// SPDX-License-Identifier: MIT
#include "tessera/render/raster_internal.h"

#include <algorithm>
#include <cmath>

#include "tessera/core/error.h"

namespace tessera::render::internal {
namespace {

Box Intersect(const Box& a, const Box& b) {
  const int64_t top = std::max(a.top, b.top);
  const int64_t left = std::max(a.left, b.left);
  const int64_t bottom = std::min(a.bottom(), b.bottom());
  const int64_t right = std::min(a.right(), b.right());
  return {top, left, std::max<int64_t>(bottom - top, 0), std::max<int64_t>(right - left, 0)};
}

Box CanvasBox(const RgbImage& canvas) { return {0, 0, canvas.height, canvas.width}; }

// The four edges of a clip rectangle, for Liang-Barsky.
enum class Edge : uint8_t { kNone, kLeft, kRight, kTop, kBottom };

// Narrow [t0, t1] to where p * t <= q holds, noting which edge moved an end; return false when
// that leaves nothing.
bool ClipEdge(double p, double q, Edge edge, double& t0, Edge& edge0, double& t1, Edge& edge1) {
  if (p == 0.0) return q >= 0.0;
  const double r = q / p;
  if (p < 0.0) {
    if (r > t1) return false;
    if (r > t0) {
      t0 = r;
      edge0 = edge;
    }
  } else {
    if (r < t0) return false;
    if (r < t1) {
      t1 = r;
      edge1 = edge;
    }
  }
  return true;
}

}  // namespace

void FillBox(RgbImage& canvas, const Box& box, Rgb colour) {
  const Box inside = Intersect(box, CanvasBox(canvas));
  for (int64_t y = inside.top; y < inside.bottom(); ++y) {
    for (int64_t x = inside.left; x < inside.right(); ++x) canvas.Set(y, x, colour);
  }
}

void StrokeBox(RgbImage& canvas, const Box& box, Rgb colour) {
  if (box.height <= 0 || box.width <= 0) return;
  FillBox(canvas, {box.top, box.left, 1, box.width}, colour);
  FillBox(canvas, {box.bottom() - 1, box.left, 1, box.width}, colour);
  FillBox(canvas, {box.top, box.left, box.height, 1}, colour);
  FillBox(canvas, {box.top, box.right() - 1, box.height, 1}, colour);
}

bool ClipSegment(double& y0, double& x0, double& y1, double& x1, double top, double left,
                 double bottom, double right) {
  const double dy = y1 - y0;
  const double dx = x1 - x0;
  if (!std::isfinite(dy) || !std::isfinite(dx)) return false;  // also NaN or infinite ends
  double t0 = 0.0;
  double t1 = 1.0;
  Edge edge0 = Edge::kNone;
  Edge edge1 = Edge::kNone;
  if (!ClipEdge(-dx, x0 - left, Edge::kLeft, t0, edge0, t1, edge1) ||
      !ClipEdge(dx, right - x0, Edge::kRight, t0, edge0, t1, edge1) ||
      !ClipEdge(-dy, y0 - top, Edge::kTop, t0, edge0, t1, edge1) ||
      !ClipEdge(dy, bottom - y0, Edge::kBottom, t0, edge0, t1, edge1)) {
    return false;
  }
  // A moved end lies exactly on its edge: setting that coordinate outright keeps it exact even
  // when the segment's ends are so far away (1e300) that start + t * d cancels catastrophically.
  // Clamping bounds the other coordinate, whose rounding may still stray for such segments.
  auto place = [&](double t, Edge edge, double& y, double& x) {
    if (edge == Edge::kNone) return;
    const double start_y = y0;
    const double start_x = x0;
    y = edge == Edge::kTop ? top : edge == Edge::kBottom ? bottom : start_y + t * dy;
    x = edge == Edge::kLeft ? left : edge == Edge::kRight ? right : start_x + t * dx;
    y = std::clamp(y, top, bottom);
    x = std::clamp(x, left, right);
  };
  double new_y0 = y0;
  double new_x0 = x0;
  place(t0, edge0, new_y0, new_x0);
  place(t1, edge1, y1, x1);
  y0 = new_y0;
  x0 = new_x0;
  return true;
}

double DistanceToSegment(double py, double px, double y0, double x0, double y1, double x1) {
  const double dy = y1 - y0;
  const double dx = x1 - x0;
  const double length2 = dy * dy + dx * dx;
  double t = 0.0;
  if (length2 > 0.0) t = std::clamp(((py - y0) * dy + (px - x0) * dx) / length2, 0.0, 1.0);
  return std::hypot(py - (y0 + t * dy), px - (x0 + t * dx));
}

Coverage::Coverage(int64_t height, int64_t width, const Box& clip)
    : height_(height),
      width_(width),
      clip_(Intersect(clip, {0, 0, height, width})),
      alpha_(static_cast<size_t>(height * width), 0.0f),
      touched_top_(height),
      touched_left_(width) {}

void Coverage::Add(int64_t y, int64_t x, double alpha) {
  if (!(alpha > 0.0) || !clip_.Contains(y, x)) return;
  float& slot = alpha_[static_cast<size_t>(y * width_ + x)];
  slot = std::max(slot, static_cast<float>(std::min(alpha, 1.0)));
  touched_top_ = std::min(touched_top_, y);
  touched_left_ = std::min(touched_left_, x);
  touched_bottom_ = std::max(touched_bottom_, y);
  touched_right_ = std::max(touched_right_, x);
}

template <class AlphaAt>
void Coverage::AddAround(double y, double x, double reach, const AlphaAt& alpha_at) {
  if (!std::isfinite(y) || !std::isfinite(x) || !std::isfinite(reach)) return;
  // Decide in floating point first: converting a huge coordinate to int64 would overflow.
  const double top = std::max(y - reach, static_cast<double>(clip_.top));
  const double bottom = std::min(y + reach, static_cast<double>(clip_.bottom() - 1));
  const double left = std::max(x - reach, static_cast<double>(clip_.left));
  const double right = std::min(x + reach, static_cast<double>(clip_.right() - 1));
  if (top > bottom || left > right) return;
  for (auto py = static_cast<int64_t>(std::floor(top));
       py <= static_cast<int64_t>(std::ceil(bottom)); ++py) {
    for (auto px = static_cast<int64_t>(std::floor(left));
         px <= static_cast<int64_t>(std::ceil(right)); ++px) {
      Add(py, px, alpha_at(static_cast<double>(py), static_cast<double>(px)));
    }
  }
}

void Coverage::AddLine(double y0, double x0, double y1, double x1, double width) {
  if (!(width > 0.0) || !std::isfinite(width)) return;
  const double half = width / 2.0;
  const double margin = half + 2.0;
  if (!ClipSegment(y0, x0, y1, x1, clip_.top - margin, clip_.left - margin,
                   clip_.bottom() - 1 + margin, clip_.right() - 1 + margin)) {
    return;
  }
  // Walk the major axis; at each step cover a window across the line around its centre.
  const bool steep = std::abs(y1 - y0) > std::abs(x1 - x0);
  const double major0 = steep ? y0 : x0;
  const double major1 = steep ? y1 : x1;
  const double minor0 = steep ? x0 : y0;
  const double minor1 = steep ? x1 : y1;
  const double reach = 1.5 * half + 1.5;  // covers the window of a 45-degree line too
  const auto first = static_cast<int64_t>(std::floor(std::min(major0, major1) - half - 1.0));
  const auto last = static_cast<int64_t>(std::ceil(std::max(major0, major1) + half + 1.0));
  for (int64_t m = first; m <= last; ++m) {
    const double span = major1 - major0;
    const double t =
        span == 0.0 ? 0.0 : std::clamp((static_cast<double>(m) - major0) / span, 0.0, 1.0);
    const double centre = minor0 + t * (minor1 - minor0);
    const auto low = static_cast<int64_t>(std::floor(centre - reach));
    const auto high = static_cast<int64_t>(std::ceil(centre + reach));
    for (int64_t n = low; n <= high; ++n) {
      const int64_t py = steep ? m : n;
      const int64_t px = steep ? n : m;
      const double d =
          DistanceToSegment(static_cast<double>(py), static_cast<double>(px), y0, x0, y1, x1);
      Add(py, px, half + 0.5 - d);
    }
  }
}

void Coverage::AddDisc(double y, double x, double radius) {
  if (!(radius >= 0.0)) return;
  AddAround(y, x, radius + 1.0,
            [&](double py, double px) { return radius + 0.5 - std::hypot(py - y, px - x); });
}

void Coverage::AddRing(double y, double x, double radius, double width) {
  if (!(radius >= 0.0) || !(width > 0.0)) return;
  AddAround(y, x, radius + width / 2.0 + 1.0, [&](double py, double px) {
    return width / 2.0 + 0.5 - std::abs(std::hypot(py - y, px - x) - radius);
  });
}

void Coverage::Paint(RgbImage& canvas, Rgb colour) const {
  TESSERA_DCHECK(canvas.height == height_ && canvas.width == width_, "canvas size changed");
  for (int64_t y = touched_top_; y <= touched_bottom_; ++y) {
    for (int64_t x = touched_left_; x <= touched_right_; ++x) {
      const float alpha = alpha_[static_cast<size_t>(y * width_ + x)];
      if (alpha > 0.0f) canvas.Set(y, x, Blend(canvas.Get(y, x), colour, alpha));
    }
  }
}

}  // namespace tessera::render::internal
