// SPDX-License-Identifier: MIT
// The display operators: figures (RGB images, height x width x 3 uint8) for people to look at.
// A CLI run writes them as PNG; the web UI shows the same arrays.
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/arrayops/table.h"
#include "tessera/core/error.h"
#include "tessera/pipeline/builtin_ops.h"
#include "tessera/pipeline/results.h"
#include "tessera/render/colormap.h"
#include "tessera/render/line_plot.h"
#include "tessera/render/overlays.h"
#include "tessera/render/png_writer.h"
#include "tessera/render/render_image.h"

namespace tessera::pipeline {

namespace {


Value Figure(const render::RgbImage& image) {
  NdArray a(DType::kUint8, {image.height, image.width, 3});
  if (!image.pixels.empty()) std::memcpy(a.raw(), image.pixels.data(), image.pixels.size());
  std::vector<dataset::Axis> axes = {{.name = "y", .size = image.height, .units = "px"},
                                     {.name = "x", .size = image.width, .units = "px"},
                                     {.name = "rgb", .size = 3}};
  return Value::Array(PortType::kImage, std::move(a), std::move(axes));
}

render::RgbImage RgbOf(const NdArray& figure) {
  render::RgbImage image;
  image.height = figure.shape()[0];
  image.width = figure.shape()[1];
  const auto* p = static_cast<const uint8_t*>(figure.raw());
  image.pixels.assign(p, p + figure.nbytes());
  return image;
}

bool IsFigure(const NdArray& a) {
  return a.dtype() == DType::kUint8 && a.shape().size() == 3 && a.shape()[2] == 3;
}

const NdArray& Image2d(const OpContext& ctx, size_t port) {
  const auto& a = ctx.Input(port).array->data;
  if (a.shape().size() != 2) {
    throw Error::InvalidArgument(
        fmt::format("needs a 2-D image, got shape {}", fmt::join(a.shape(), "x")), "image");
  }
  return a;
}

render::ImageOptions ImageOptionsOf(const Json& p) {
  render::ImageOptions o;
  o.colormap = p.value("colormap", "gray");
  if (p.contains("vmin")) o.vmin = p["vmin"].get<double>();
  if (p.contains("vmax")) o.vmax = p["vmax"].get<double>();
  o.percentile_low = p.value("percentile_low", 0.5);
  o.percentile_high = p.value("percentile_high", 99.5);
  o.log_scale = p.value("log", false);
  o.scale = p.value("scale", int64_t{1});
  return o;
}

std::string ColormapEnum() {
  Json names = render::ColormapNames();
  return names.dump();
}

// The image-display params, shared by image and the overlays.
std::string ImageProperties() {
  return fmt::format(R"js(
    "colormap": {{"enum": {}, "default": "gray"}},
    "vmin": {{"type": "number", "description": "value at the low end (default: percentile_low)"}},
    "vmax": {{"type": "number", "description": "value at the high end (default: percentile_high)"}},
    "percentile_low": {{"type": "number", "minimum": 0, "maximum": 100, "default": 0.5}},
    "percentile_high": {{"type": "number", "minimum": 0, "maximum": 100, "default": 99.5}},
    "log": {{"type": "boolean", "default": false, "description": "log10 intensity scale"}},
    "scale": {{"type": "integer", "minimum": 1, "maximum": 64, "default": 1, "description": "integer zoom"}},
    "colourbar": {{"type": "boolean", "default": true}})js",
                     ColormapEnum());
}

render::RgbImage RenderWithBar(const NdArray& image, const Json& p) {
  const auto options = ImageOptionsOf(p);
  auto rgb = render::RenderImage(image, options);
  if (p.value("colourbar", true)) {
    rgb = render::AppendColourbar(rgb, options.colormap, render::ResolveDisplayRange(image, options));
  }
  return rgb;
}

render::Rgb ParseColour(const Json& p, const char* name, render::Rgb fallback) {
  if (!p.contains(name)) return fallback;
  const auto c = p[name].get<std::vector<int>>();
  return render::Rgb{static_cast<uint8_t>(c[0]), static_cast<uint8_t>(c[1]), static_cast<uint8_t>(c[2])};
}

constexpr const char* kColourSchema =
    R"js({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}, "minItems": 3, "maxItems": 3})js";

OperatorDef DisplayOp(std::string name, std::string summary, std::string description, std::vector<PortSpec> inputs,
                      const std::string& schema) {
  return OperatorDef{.name = std::move(name), .version = "1", .kind = OpKind::kDisplay,
                     .summary = std::move(summary), .description = std::move(description),
                     .inputs = std::move(inputs),
                     .outputs = {{.name = "figure", .type = PortType::kImage,
                                  .description = "RGB image (height x width x 3, uint8)"}},
                     .params_schema = std::make_shared<const Json>(Json::parse(schema))};
}

}  // namespace

void RegisterDisplayOps(PipelineRegistry& registry) {
  auto image = DisplayOp("image", "Show an image through a colour map, with a colour bar",
                         "Maps values to colours between vmin and vmax (default: the 0.5 and 99.5 "
                         "percentiles, robust to hot pixels), optionally on a log scale. NaN shows magenta.",
                         {{.name = "image", .type = PortType::kImage}},
                         fmt::format(R"js({{"type": "object", "additionalProperties": false, "properties": {{{}}}}})js",
                                     ImageProperties()));
  image.run = [](const OpContext& ctx) -> std::vector<Value> {
    return {Figure(RenderWithBar(Image2d(ctx, 0), *ctx.params))};
  };
  registry.Add(std::move(image));

  auto plot = DisplayOp(
      "line-plot", "Plot one to four spectra or profiles against their axis",
      "Draws each connected input as a line against its calibrated axis (e.g. energy loss in eV), with "
      "ticks, labels and a legend. The x label defaults to the first input's axis name and units.",
      {{.name = "y", .type = PortType::kSpectrum},
       {.name = "y2", .type = PortType::kSpectrum, .optional = true},
       {.name = "y3", .type = PortType::kSpectrum, .optional = true},
       {.name = "y4", .type = PortType::kSpectrum, .optional = true}},
      R"js({"type": "object", "additionalProperties": false, "properties": {
        "title": {"type": "string"}, "xlabel": {"type": "string"}, "ylabel": {"type": "string", "default": "intensity"},
        "labels": {"type": "array", "items": {"type": "string"}, "maxItems": 4, "description": "legend entries, in input order"},
        "xmin": {"type": "number"}, "xmax": {"type": "number"}, "ymin": {"type": "number"}, "ymax": {"type": "number"},
        "log_y": {"type": "boolean", "default": false},
        "width": {"type": "integer", "minimum": 64, "maximum": 16384, "default": 800},
        "height": {"type": "integer", "minimum": 64, "maximum": 16384, "default": 500}}})js");
  plot.run = [](const OpContext& ctx) -> std::vector<Value> {
    const Json& p = *ctx.params;
    const auto labels = p.value("labels", std::vector<std::string>{});
    std::vector<render::Series> series;
    std::string xlabel;
    for (size_t port = 0; port < 4; ++port) {
      if (!ctx.HasInput(port)) continue;
      const auto& a = *ctx.Input(port).array;
      if (a.data.shape().size() != 1) {
        throw Error::InvalidArgument(fmt::format("input {} is not 1-D (shape {})", port + 1, fmt::join(a.data.shape(), "x")),
                                     "y");
      }
      render::Series s;
      for (int64_t i = 0; i < a.data.size(); ++i) {
        s.x.push_back(a.axes[0].offset + static_cast<double>(i) * a.axes[0].scale);
        s.y.push_back(a.data.GetAsDouble(i));
      }
      s.label = port < labels.size() ? labels[port] : "";
      if (xlabel.empty()) {
        xlabel = a.axes[0].units.empty() ? a.axes[0].name : fmt::format("{} ({})", a.axes[0].name, a.axes[0].units);
      }
      series.push_back(std::move(s));
    }
    render::PlotOptions o;
    o.width = p.value("width", int64_t{800});
    o.height = p.value("height", int64_t{500});
    o.title = p.value("title", "");
    o.xlabel = p.value("xlabel", xlabel);
    o.ylabel = p.value("ylabel", "intensity");
    if (p.contains("xmin")) o.xmin = p["xmin"].get<double>();
    if (p.contains("xmax")) o.xmax = p["xmax"].get<double>();
    if (p.contains("ymin")) o.ymin = p["ymin"].get<double>();
    if (p.contains("ymax")) o.ymax = p["ymax"].get<double>();
    o.log_y = p.value("log_y", false);
    return {Figure(render::RenderLinePlot(series, o))};
  };
  registry.Add(std::move(plot));

  auto points = DisplayOp(
      "overlay-points", "Mark points (e.g. found peaks) on an image",
      "Renders the image as `image` does and draws a marker at each row of the table's y and x columns "
      "(pixels; sub-pixel positions are drawn anti-aliased).",
      {{.name = "image", .type = PortType::kImage}, {.name = "points", .type = PortType::kTable}},
      fmt::format(R"js({{"type": "object", "additionalProperties": false, "properties": {{{},
        "marker": {{"enum": ["circle", "cross", "plus"], "default": "circle"}},
        "radius": {{"type": "integer", "minimum": 1, "maximum": 200, "default": 4}},
        "colour": {}}}}})js",
                  ImageProperties(), kColourSchema));
  points.run = [](const OpContext& ctx) -> std::vector<Value> {
    const Json& p = *ctx.params;
    auto rgb = RenderWithBar(Image2d(ctx, 0), p);
    const auto& table = *ctx.Input(1).table;
    render::DrawPoints(rgb, table.Column("y"), table.Column("x"), static_cast<double>(p.value("scale", int64_t{1})),
                       ParseColour(p, "colour", render::Rgb{255, 64, 0}), p.value("radius", int64_t{4}),
                       p.value("marker", "circle"));
    return {Figure(rgb)};
  };
  registry.Add(std::move(points));

  auto vectors = DisplayOp(
      "overlay-vectors", "Draw a vector field (e.g. centre-of-mass shifts) over an image",
      "Renders the image and draws an arrow (vy, vx) from every `step`-th pixel, lengths multiplied by "
      "`length_scale`.",
      {{.name = "image", .type = PortType::kImage}, {.name = "vy", .type = PortType::kImage}, {.name = "vx", .type = PortType::kImage}},
      fmt::format(R"js({{"type": "object", "additionalProperties": false, "properties": {{{},
        "step": {{"type": "integer", "minimum": 1, "default": 4}},
        "length_scale": {{"type": "number", "exclusiveMinimum": 0, "default": 1}},
        "colour": {}}}}})js",
                  ImageProperties(), kColourSchema));
  vectors.run = [](const OpContext& ctx) -> std::vector<Value> {
    const Json& p = *ctx.params;
    auto rgb = RenderWithBar(Image2d(ctx, 0), p);
    render::DrawVectors(rgb, Image2d(ctx, 1), Image2d(ctx, 2), static_cast<double>(p.value("scale", int64_t{1})),
                        p.value("step", int64_t{4}), p.value("length_scale", 1.0),
                        ParseColour(p, "colour", render::Rgb{255, 64, 0}));
    return {Figure(rgb)};
  };
  registry.Add(std::move(vectors));
}

std::vector<std::string> WriteFigures(const std::string& dir, const RunResult& result) {
  std::vector<std::string> written;
  for (const auto& [id, nr] : result.nodes) {
    for (size_t c = 0; c < nr.per_combination.size(); ++c) {
      for (const auto& v : nr.per_combination[c]) {
        if (!v.is_array_like() || !IsFigure(v.array->data)) continue;
        std::string name = id;
        if (nr.per_combination.size() > 1) {
          int64_t rest = static_cast<int64_t>(c);
          std::vector<int64_t> index(nr.sweeps.size());
          for (size_t k = nr.sweeps.size(); k-- > 0;) {
            const auto n = static_cast<int64_t>(result.sweeps[nr.sweeps[k]].values.size());
            index[k] = rest % n;
            rest /= n;
          }
          for (int64_t i : index) name += fmt::format("_{}", i);
        }
        const auto path = (std::filesystem::path(dir) / (name + ".png")).string();
        render::WritePng(path, RgbOf(v.array->data));
        written.push_back(path);
      }
    }
  }
  return written;
}

}  // namespace tessera::pipeline
