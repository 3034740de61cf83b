// SPDX-License-Identifier: MIT
#include "tessera/render/overlays.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/render/raster_internal.h"

namespace tessera::render {
namespace {

using internal::Box;
using internal::Coverage;

constexpr double kMarkerLineWidth = 1.5;
constexpr double kArrowLineWidth = 1.5;

Coverage WholeCanvas(const RgbImage& canvas) {
  return Coverage(canvas.height, canvas.width, Box{0, 0, canvas.height, canvas.width});
}

void CheckCoordinateScale(double coordinate_scale) {
  if (!(coordinate_scale > 0.0) || !std::isfinite(coordinate_scale)) {
    throw Error::InvalidArgument(
        fmt::format("coordinate scale must be positive and finite, got {}", coordinate_scale),
        "coordinate_scale");
  }
}

// Canvas position of an image coordinate: image pixel i covers canvas [i * s, (i + 1) * s).
double ToCanvas(double image_coordinate, double coordinate_scale) {
  return (image_coordinate + 0.5) * coordinate_scale - 0.5;
}

void AddMarker(Coverage& coverage, std::string_view marker, double y, double x, double radius) {
  if (marker == "circle") {
    coverage.AddRing(y, x, radius, kMarkerLineWidth);
  } else if (marker == "disc") {
    coverage.AddDisc(y, x, radius);
  } else if (marker == "cross") {
    coverage.AddLine(y - radius, x - radius, y + radius, x + radius, kMarkerLineWidth);
    coverage.AddLine(y - radius, x + radius, y + radius, x - radius, kMarkerLineWidth);
  } else {  // "plus"
    coverage.AddLine(y - radius, x, y + radius, x, kMarkerLineWidth);
    coverage.AddLine(y, x - radius, y, x + radius, kMarkerLineWidth);
  }
}

// Return a real 2-D array as float64 values; throws kInvalidArgument naming `field`.
std::vector<double> ToDoubles(const NdArray& array, const char* field) {
  if (array.rank() != 2 || IsComplex(array.dtype())) {
    throw Error::InvalidArgument(fmt::format("expected a real 2-D array, got {} of shape {}",
                                             Name(array.dtype()), FormatDims(array.shape())),
                                 field);
  }
  std::vector<double> values(static_cast<size_t>(array.size()));
  ConvertElements(array.raw(), array.dtype(), false, values.data(), DType::kFloat64, array.size());
  return values;
}

void AddArrow(Coverage& coverage, double y0, double x0, double y1, double x1) {
  const double length = std::hypot(y1 - y0, x1 - x0);
  if (!(length >= 0.5) || !std::isfinite(length)) return;  // too short to show a direction
  coverage.AddLine(y0, x0, y1, x1, kArrowLineWidth);
  const double head = std::min(0.35 * length, 8.0);
  const double angle = std::atan2(y1 - y0, x1 - x0);
  for (const double side : {-1.0, 1.0}) {
    const double barb = angle + std::numbers::pi + side * std::numbers::pi / 6.0;
    coverage.AddLine(y1, x1, y1 + head * std::sin(barb), x1 + head * std::cos(barb),
                     kArrowLineWidth);
  }
}

}  // namespace

void DrawLine(RgbImage& canvas, double y0, double x0, double y1, double x1, Rgb colour,
              double width) {
  if (!(width > 0.0 && width <= 256.0)) {
    throw Error::InvalidArgument(fmt::format("line width {} is outside (0, 256]", width), "width");
  }
  Coverage coverage = WholeCanvas(canvas);
  coverage.AddLine(y0, x0, y1, x1, width);
  coverage.Paint(canvas, colour);
}

void DrawPoints(RgbImage& canvas, std::span<const double> ys, std::span<const double> xs,
                double coordinate_scale, Rgb colour, int64_t radius, std::string_view marker) {
  if (ys.size() != xs.size()) {
    throw Error::InvalidArgument(
        fmt::format("{} x coordinates for {} y coordinates", xs.size(), ys.size()), "xs");
  }
  CheckCoordinateScale(coordinate_scale);
  if (radius < 1 || radius > 1024) {
    throw Error::InvalidArgument(fmt::format("marker radius {} is outside [1, 1024]", radius),
                                 "radius");
  }
  if (marker != "circle" && marker != "disc" && marker != "cross" && marker != "plus") {
    throw Error::InvalidArgument(
        fmt::format("unknown marker '{}' (known: circle, disc, cross, plus)", marker), "marker");
  }
  Coverage coverage = WholeCanvas(canvas);
  for (size_t i = 0; i < ys.size(); ++i) {
    AddMarker(coverage, marker, ToCanvas(ys[i], coordinate_scale),
              ToCanvas(xs[i], coordinate_scale), static_cast<double>(radius));
  }
  coverage.Paint(canvas, colour);
}

void DrawVectors(RgbImage& canvas, const NdArray& vy, const NdArray& vx, double coordinate_scale,
                 int64_t step, double length_scale, Rgb colour) {
  const std::vector<double> dy = ToDoubles(vy, "vy");
  const std::vector<double> dx = ToDoubles(vx, "vx");
  if (vx.shape() != vy.shape()) {
    throw Error::InvalidArgument(fmt::format("vx has shape {} but vy has shape {}",
                                             FormatDims(vx.shape()), FormatDims(vy.shape())),
                                 "vx");
  }
  CheckCoordinateScale(coordinate_scale);
  if (step < 1 || step > (int64_t{1} << 31)) {
    throw Error::InvalidArgument(fmt::format("step {} is outside [1, 2^31]", step), "step");
  }
  if (!std::isfinite(length_scale)) {
    throw Error::InvalidArgument("length scale must be finite", "length_scale");
  }
  const int64_t height = vy.shape()[0];
  const int64_t width = vy.shape()[1];
  const double arrow_scale = length_scale * coordinate_scale;
  Coverage coverage = WholeCanvas(canvas);
  for (int64_t y = step / 2; y < height; y += step) {
    for (int64_t x = step / 2; x < width; x += step) {
      const auto at = static_cast<size_t>(y * width + x);
      const double y0 = ToCanvas(static_cast<double>(y), coordinate_scale);
      const double x0 = ToCanvas(static_cast<double>(x), coordinate_scale);
      AddArrow(coverage, y0, x0, y0 + dy[at] * arrow_scale, x0 + dx[at] * arrow_scale);
    }
  }
  coverage.Paint(canvas, colour);
}

}  // namespace tessera::render
