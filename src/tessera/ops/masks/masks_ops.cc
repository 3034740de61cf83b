// SPDX-License-Identifier: MIT
#include <fmt/format.h>

#include <limits>
#include <memory>

#include "tessera/core/error.h"
#include "tessera/ops/masks/virtual_detector_udf.h"
#include "tessera/ops/operator_registry.h"

namespace tessera::ops {
namespace {

/// The single mask given by shape=..., cy=, cx=, r=, ri=, ro=; a centre left out stays NaN, which
/// VirtualDetectorUdf replaces by the frame centre.
MaskShape ConvenienceMask(const Params& params) {
  const std::string shape = params.GetString("shape");
  const double cy = params.FindFloat("cy").value_or(std::numeric_limits<double>::quiet_NaN());
  const double cx = params.FindFloat("cx").value_or(std::numeric_limits<double>::quiet_NaN());
  auto need = [&](const char* name) {
    if (!params.Has(name)) {
      throw Error::InvalidArgument(fmt::format("shape={} needs parameter '{}'", shape, name), name);
    }
    return params.GetFloat(name);
  };
  MaskShape mask;
  // Errors about the mask's extent name the radius the user gave; move-assigned strings also
  // sidestep a GCC 12 -Wrestrict false positive on literal assignment at -O3.
  std::string field;
  if (shape == "disk") {
    mask = MaskShape::Disk(cy, cx, need("r"));
    field = std::string("r");
  } else if (shape == "ring") {
    mask = MaskShape::Ring(cy, cx, need("ri"), need("ro"));
    field = std::string("ro");
  } else if (shape == "point") {
    mask = MaskShape::Point(cy, cx);
    field = std::string("cy");
  } else {
    throw Error::InvalidArgument(
        fmt::format("shape: expected disk, ring or point, got '{}' (use masks=... for rect, "
                    "polygon and stacks)",
                    shape),
        "shape");
  }
  mask.field = std::move(field);
  mask.centre_field = std::string("cy");
  return mask;
}

MaskBackend ParseBackend(const Params& params) {
  const std::string text = params.GetString("backend");
  if (text == "auto") return MaskBackend::kAuto;
  if (text == "dense") return MaskBackend::kDense;
  if (text == "sparse") return MaskBackend::kSparse;
  if (text == "runs") return MaskBackend::kRuns;
  throw Error::InvalidArgument(
      fmt::format("backend: expected auto, dense, sparse or runs, got '{}'", text), "backend");
}

}  // namespace

std::unique_ptr<udf::Udf> MakeVirtualDetector(const Params& params) {
  std::vector<MaskShape> masks;
  if (params.Has("masks")) masks = ParseMasks(params.GetString("masks"), "masks");
  if (params.Has("shape")) masks.push_back(ConvenienceMask(params));
  for (const char* name : {"cy", "cx", "r", "ri", "ro"}) {
    if (params.Has(name) && !params.Has("shape")) {
      throw Error::InvalidArgument(
          fmt::format("parameter '{}' belongs to shape=disk|ring|point; give shape too", name),
          name);
    }
  }
  if (const NdArray* image = params.FindArray("mask_file")) {
    masks.push_back(MaskShape::Image(image->Clone()));
  } else if (params.Has("mask_file")) {
    throw Error::InvalidArgument(
        "mask_file was given but no array was attached (the caller loads the file)", "mask_file");
  }
  if (masks.empty()) {
    throw Error::InvalidArgument(
        "no mask given: use masks=\"disk:cy,cx,r;...\", shape=disk|ring|point with cy, cx, r / "
        "ri, ro, or mask_file=FILE",
        "masks");
  }
  return std::make_unique<VirtualDetectorUdf>(std::move(masks), ParseBackend(params));
}

void RegisterMaskOps(OperatorRegistry& registry) {
  registry.Add({
      .name = "virtual-detector",
      .version = "1",
      .summary = "Virtual detector images: each frame's dot product with one or many masks.",
      .description =
          "Applies a stack of masks to every frame in one pass; the result 'intensity' has the "
          "navigation shape x the number of masks (float32). Coordinates are detector pixels, "
          "(row, column), with pixel centres at integer coordinates; a pixel belongs to a disk "
          "when (y-cy)^2 + (x-cx)^2 <= r^2 and to a ring when ri^2 < d^2 <= ro^2.\n"
          "Masks are given as masks=\"KIND:NUMBERS;KIND:NUMBERS;...\" with the kinds "
          "disk:cy,cx,r  ring:cy,cx,ri,ro  point:y,x  rect:y0,x0,y1,x1 (half-open, "
          "y0 <= y < y1)  polygon:y0,x0,y1,x1,y2,x2,... (at least three vertices, even-odd "
          "rule); or, for one mask, as shape=disk|ring|point with cy, cx (default: the frame "
          "centre ((sy-1)/2, (sx-1)/2)), r, ri, ro; or as an image of the signal shape with "
          "mask_file (its values are the weights). These may be combined: masks= first, then "
          "shape=, then mask_file. A mask whose centre lies outside the frame or that selects "
          "no pixel is an error naming its parameter.\n"
          "Masks of weight 1 that do not overlap (disks, rings, sectors side by side, one or "
          "many) become a per-pixel label map stored as runs of pixels: every pixel is read "
          "once, whatever the number of masks. Other stacks with few non-zero weights (under "
          "15% for one mask, 4% for several) use a sparse kernel (float64 accumulation); denser "
          "ones OpenBLAS sgemv/sgemm straight on the tile (float32 accumulation, as LiberTEM); "
          "backend= forces one.",
      .params =
          {
              {.name = "masks", .type = ParamType::kString,
               .description = "mask stack, e.g. \"disk:128,128,20;ring:128,128,30,60\" (pixels)",
               .optional = true},
              {.name = "shape", .type = ParamType::kString,
               .description = "single mask: disk, ring or point", .optional = true},
              {.name = "cy", .type = ParamType::kFloat,
               .description = "centre row of shape= (pixels; default (sy-1)/2)", .optional = true},
              {.name = "cx", .type = ParamType::kFloat,
               .description = "centre column of shape= (pixels; default (sx-1)/2)",
               .optional = true},
              {.name = "r", .type = ParamType::kFloat, .description = "disk radius (pixels)",
               .optional = true},
              {.name = "ri", .type = ParamType::kFloat,
               .description = "ring inner radius (pixels, exclusive; 0 keeps the centre)",
               .optional = true},
              {.name = "ro", .type = ParamType::kFloat,
               .description = "ring outer radius (pixels, inclusive)", .optional = true},
              {.name = "mask_file", .type = ParamType::kArrayFile,
               .description = "image of the signal shape whose values are the mask weights "
                              "(loaded by the caller)",
               .optional = true},
              {.name = "backend", .type = ParamType::kString, .default_value = "auto",
               .description = "auto, dense (sgemm), sparse (CSR) or runs (label map)"},
          },
      .outputs = {"intensity"},
      .make = [](const Params& params) { return MakeVirtualDetector(params); },
  });
}

}  // namespace tessera::ops
