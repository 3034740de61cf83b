// SPDX-License-Identifier: MIT
#include "tessera/ops/masks/mask_shapes.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/ops/param_parse_internal.h"

namespace tessera::ops {
namespace {

const char* KindName(MaskKind kind) {
  switch (kind) {
    case MaskKind::kDisk: return "disk";
    case MaskKind::kRing: return "ring";
    case MaskKind::kPoint: return "point";
    case MaskKind::kRectangle: return "rect";
    case MaskKind::kPolygon: return "polygon";
    case MaskKind::kImage: return "image";
  }
  return "?";
}

Error Invalid(const MaskShape& mask, const std::string& why, bool about_centre = false) {
  const std::string& field =
      about_centre && !mask.centre_field.empty() ? mask.centre_field : mask.field;
  return Error::InvalidArgument(fmt::format("{}: {}: {}", field, Describe(mask), why), field);
}

void ExpectCount(const MaskShape& mask, size_t count, const char* syntax) {
  if (mask.values.size() != count) {
    throw Error::InvalidArgument(fmt::format("{}: {} takes {} numbers ({}), got {}", mask.field,
                                             KindName(mask.kind), count, syntax,
                                             mask.values.size()),
                                 mask.field);
  }
}

void CheckCentreInside(const MaskShape& mask, double cy, double cx, int64_t sy, int64_t sx) {
  if (!(cy >= 0 && cy <= static_cast<double>(sy - 1) && cx >= 0 &&
        cx <= static_cast<double>(sx - 1))) {
    throw Invalid(mask, fmt::format("the centre lies outside the {}x{} frame", sy, sx), true);
  }
}

/// Even-odd rule at point (y, x) against the closed polygon `v` = (y0, x0, y1, x1, ...).
bool InsidePolygon(const std::vector<double>& v, double y, double x) {
  const size_t n = v.size() / 2;
  bool inside = false;
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const double yi = v[2 * i], xi = v[2 * i + 1], yj = v[2 * j], xj = v[2 * j + 1];
    if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

}  // namespace

MaskShape MaskShape::Disk(double cy, double cx, double r) {
  return {.kind = MaskKind::kDisk, .values = {cy, cx, r}};
}
MaskShape MaskShape::Ring(double cy, double cx, double ri, double ro) {
  return {.kind = MaskKind::kRing, .values = {cy, cx, ri, ro}};
}
MaskShape MaskShape::Point(double y, double x) {
  return {.kind = MaskKind::kPoint, .values = {y, x}};
}
MaskShape MaskShape::Rectangle(double y0, double x0, double y1, double x1) {
  return {.kind = MaskKind::kRectangle, .values = {y0, x0, y1, x1}};
}
MaskShape MaskShape::Polygon(std::vector<double> vertices_yx) {
  return {.kind = MaskKind::kPolygon, .values = std::move(vertices_yx)};
}
MaskShape MaskShape::Image(NdArray weights) {
  return {.kind = MaskKind::kImage,
          .image = std::make_shared<const NdArray>(std::move(weights)),
          .field = "mask_file"};
}

std::string Describe(const MaskShape& mask) {
  const auto& v = mask.values;
  auto at = [&](size_t i) { return i < v.size() ? v[i] : std::nan(""); };
  switch (mask.kind) {
    case MaskKind::kDisk: return fmt::format("disk(cy={}, cx={}, r={})", at(0), at(1), at(2));
    case MaskKind::kRing:
      return fmt::format("ring(cy={}, cx={}, ri={}, ro={})", at(0), at(1), at(2), at(3));
    case MaskKind::kPoint: return fmt::format("point(y={}, x={})", at(0), at(1));
    case MaskKind::kRectangle:
      return fmt::format("rect(y0={}, x0={}, y1={}, x1={})", at(0), at(1), at(2), at(3));
    case MaskKind::kPolygon: return fmt::format("polygon({})", fmt::join(v, ","));
    case MaskKind::kImage:
      return mask.image ? fmt::format("image({})", FormatDims(mask.image->shape())) : "image()";
  }
  return "?";
}

std::vector<MaskShape> ParseMasks(std::string_view text, const std::string& field) {
  std::vector<MaskShape> masks;
  for (std::string_view item : internal::Split(text, ';')) {
    if (item.empty()) continue;  // tolerate "a;b;"
    const size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      throw Error::InvalidArgument(
          fmt::format("{}: expected KIND:NUMBERS (disk, ring, point, rect, polygon), got '{}'",
                      field, item),
          field);
    }
    const std::string kind(internal::Trim(item.substr(0, colon)));
    MaskShape mask;
    if (kind == "disk") mask.kind = MaskKind::kDisk;
    else if (kind == "ring") mask.kind = MaskKind::kRing;
    else if (kind == "point") mask.kind = MaskKind::kPoint;
    else if (kind == "rect" || kind == "rectangle") mask.kind = MaskKind::kRectangle;
    else if (kind == "polygon") mask.kind = MaskKind::kPolygon;
    else {
      throw Error::InvalidArgument(
          fmt::format("{}: unknown mask kind '{}' (known: disk, ring, point, rect, polygon)", field,
                      kind),
          field);
    }
    mask.values = internal::ParseDoubleList(item.substr(colon + 1), field);
    mask.field = field;
    masks.push_back(std::move(mask));
  }
  if (masks.empty()) throw Error::InvalidArgument(fmt::format("{}: no mask given", field), field);
  return masks;
}

std::vector<float> Rasterize(const MaskShape& mask, std::span<const int64_t> sig_shape) {
  const int64_t pixels = Product(sig_shape);
  std::vector<float> weights(static_cast<size_t>(pixels), 0.0f);
  if (mask.kind == MaskKind::kImage) {
    if (!mask.image || mask.image->size() != pixels ||
        (mask.image->rank() != 1 &&
         !std::equal(mask.image->shape().begin(), mask.image->shape().end(), sig_shape.begin(),
                     sig_shape.end()))) {
      throw Invalid(mask, fmt::format("the mask image must have the signal shape {}",
                                      FormatDims(sig_shape)));
    }
    bool any = false;
    for (int64_t p = 0; p < pixels; ++p) {
      const double w = mask.image->GetAsDouble(p);
      if (!std::isfinite(w)) throw Invalid(mask, fmt::format("pixel {} is not finite", p));
      weights[static_cast<size_t>(p)] = static_cast<float>(w);
      any = any || w != 0;
    }
    if (!any) throw Invalid(mask, "every weight is zero");
    return weights;
  }
  if (sig_shape.size() != 2) {
    throw Error::Unsupported(fmt::format("{} masks need 2-D frames, the signal shape is {}",
                                         KindName(mask.kind), FormatDims(sig_shape)));
  }
  const int64_t sy = sig_shape[0], sx = sig_shape[1];
  const auto& v = mask.values;
  for (double value : v) {
    if (!std::isfinite(value)) throw Invalid(mask, "values must be finite numbers");
  }
  // inside(y, x) is evaluated at every pixel centre of the bounding box [ylo, yhi) x [xlo, xhi).
  auto fill = [&](double ylo, double yhi, double xlo, double xhi, auto&& inside) {
    const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(ylo)), 0, sy);
    const int64_t y1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(yhi)) + 1, 0, sy);
    const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(xlo)), 0, sx);
    const int64_t x1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(xhi)) + 1, 0, sx);
    for (int64_t y = y0; y < y1; ++y) {
      for (int64_t x = x0; x < x1; ++x) {
        if (inside(static_cast<double>(y), static_cast<double>(x))) {
          weights[static_cast<size_t>(y * sx + x)] = 1.0f;
        }
      }
    }
  };
  switch (mask.kind) {
    case MaskKind::kDisk: {
      ExpectCount(mask, 3, "cy,cx,r");
      const double cy = v[0], cx = v[1], r = v[2];
      if (r <= 0) throw Invalid(mask, "the radius must be positive");
      CheckCentreInside(mask, cy, cx, sy, sx);
      fill(cy - r, cy + r, cx - r, cx + r, [&](double y, double x) {
        return (y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r;
      });
      break;
    }
    case MaskKind::kRing: {
      ExpectCount(mask, 4, "cy,cx,ri,ro");
      const double cy = v[0], cx = v[1], ri = v[2], ro = v[3];
      if (ri < 0 || ro <= ri) throw Invalid(mask, "the radii must satisfy 0 <= ri < ro");
      CheckCentreInside(mask, cy, cx, sy, sx);
      fill(cy - ro, cy + ro, cx - ro, cx + ro, [&](double y, double x) {
        const double d2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
        return d2 <= ro * ro && (ri == 0 || d2 > ri * ri);
      });
      break;
    }
    case MaskKind::kPoint: {
      ExpectCount(mask, 2, "y,x");
      const double y = std::round(v[0]), x = std::round(v[1]);
      if (!(y >= 0 && y < static_cast<double>(sy) && x >= 0 && x < static_cast<double>(sx))) {
        throw Invalid(mask, fmt::format("the point lies outside the {}x{} frame", sy, sx), true);
      }
      weights[static_cast<size_t>(static_cast<int64_t>(y) * sx + static_cast<int64_t>(x))] = 1.0f;
      break;
    }
    case MaskKind::kRectangle: {
      ExpectCount(mask, 4, "y0,x0,y1,x1");
      const double y0 = v[0], x0 = v[1], y1 = v[2], x1 = v[3];
      if (y1 <= y0 || x1 <= x0) throw Invalid(mask, "expected y0 < y1 and x0 < x1");
      fill(y0, y1, x0, x1, [&](double y, double x) { return y >= y0 && y < y1 && x >= x0 && x < x1; });
      break;
    }
    case MaskKind::kPolygon: {
      if (v.size() < 6 || v.size() % 2 != 0) {
        throw Invalid(mask, "a polygon takes at least three vertices y,x,y,x,y,x");
      }
      double ylo = v[0], yhi = v[0], xlo = v[1], xhi = v[1];
      for (size_t i = 0; i < v.size(); i += 2) {
        ylo = std::min(ylo, v[i]);
        yhi = std::max(yhi, v[i]);
        xlo = std::min(xlo, v[i + 1]);
        xhi = std::max(xhi, v[i + 1]);
      }
      fill(ylo, yhi, xlo, xhi, [&](double y, double x) { return InsidePolygon(v, y, x); });
      break;
    }
    case MaskKind::kImage: break;
  }
  if (std::none_of(weights.begin(), weights.end(), [](float w) { return w != 0; })) {
    throw Invalid(mask, fmt::format("the mask selects no pixel of the {}x{} frame", sy, sx));
  }
  return weights;
}

}  // namespace tessera::ops
