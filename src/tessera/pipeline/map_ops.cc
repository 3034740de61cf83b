// SPDX-License-Identifier: MIT
// The map operators: lazy views of a dataset, fused into the read of whatever reduces it.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/error.h"
#include "tessera/dataset/corrections.h"
#include "tessera/dataset/views.h"
#include "tessera/formats/format_registry.h"
#include "tessera/pipeline/builtin_ops.h"

namespace tessera::pipeline {

namespace {

std::vector<std::pair<int64_t, int64_t>> Ranges(const Json& params, const char* name) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& r : params.value(name, Json::array())) out.emplace_back(r[0].get<int64_t>(), r[1].get<int64_t>());
  return out;
}

std::vector<int64_t> Ints(const Json& params, const char* name) {
  std::vector<int64_t> out;
  for (const auto& v : params.value(name, Json::array())) out.push_back(v.get<int64_t>());
  return out;
}

dataset::DatasetPtr Base(const OpContext& ctx) { return ctx.Input(0).dataset; }

OperatorDef MapOp(std::string name, std::string summary, std::string description, const char* schema) {
  return OperatorDef{
      .name = std::move(name),
      .version = "1",
      .kind = OpKind::kMap,
      .summary = std::move(summary),
      .description = std::move(description) +
                     "\n\nLazy: nothing is read or copied here; the transform runs inside the read "
                     "of whichever reduce operator consumes the dataset.",
      .inputs = {{.name = "data", .type = PortType::kDataset}},
      .outputs = {{.name = "data", .type = PortType::kDataset}},
      .params_schema = ParseSchema(schema),
  };
}

NdArray LoadFloat(const formats::FormatRegistry& formats, const OpContext& ctx, const std::string& param) {
  const auto path = ctx.ResolvePath((*ctx.params)[param].get<std::string>());
  auto ds = formats.Open(path, {});
  return ReadWhole(*ds, DType::kFloat32, param);
}

}  // namespace

void RegisterMapOps(PipelineRegistry& registry, const formats::FormatRegistry& formats) {
  auto crop = MapOp("crop", "Crop scan and/or frame axes",
                    "Keeps [begin, end) per axis (0-based, end exclusive); an omitted list keeps those "
                    "axes whole. Axis offsets move to the new origin.",
                    R"js({"type": "object", "additionalProperties": false, "properties": {
      "nav": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2}, "description": "[[begin, end], ...] per scan axis"},
      "sig": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2}, "description": "[[begin, end], ...] per frame axis"}}})js");
  crop.run = [](const OpContext& ctx) -> std::vector<Value> {
    return {Value::Dataset(dataset::CropView(Base(ctx), Ranges(*ctx.params, "nav"), Ranges(*ctx.params, "sig")))};
  };
  registry.Add(std::move(crop));

  auto bin = MapOp("bin", "Bin scan and/or frame axes by integer factors",
                   "Sums (exact for integers) or averages bins of `nav` x `sig` factors; trailing "
                   "remainders are dropped. Axis scales grow by the factor.",
                   R"js({"type": "object", "additionalProperties": false, "properties": {
      "nav": {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": "factor per scan axis (default 1)"},
      "sig": {"type": "array", "items": {"type": "integer", "minimum": 1}, "description": "factor per frame axis (default 1)"},
      "reduce": {"enum": ["sum", "mean"], "default": "sum"}}})js");
  bin.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto reduce = ctx.params->value("reduce", "sum") == "mean" ? dataset::BinReduce::kMean : dataset::BinReduce::kSum;
    return {Value::Dataset(dataset::BinView(Base(ctx), Ints(*ctx.params, "nav"), Ints(*ctx.params, "sig"), reduce))};
  };
  registry.Add(std::move(bin));

  auto flip = MapOp("flip-rotate", "Flip and rotate every frame",
                    "Flips each 2-D frame up-down and/or left-right, then rotates it by rot90 x 90 degrees "
                    "counter-clockwise (numpy.rot90), e.g. to match a detector's orientation to the scan.",
                    R"js({"type": "object", "additionalProperties": false, "properties": {
      "flip_y": {"type": "boolean", "default": false}, "flip_x": {"type": "boolean", "default": false},
      "rot90": {"type": "integer", "default": 0, "description": "quarter turns counter-clockwise"}}})js");
  flip.run = [](const OpContext& ctx) -> std::vector<Value> {
    return {Value::Dataset(dataset::FlipRotateView(Base(ctx), ctx.params->value("flip_y", false),
                                                   ctx.params->value("flip_x", false),
                                                   static_cast<int>(ctx.params->value("rot90", 0))))};
  };
  registry.Add(std::move(flip));

  auto transpose = MapOp("transpose", "Swap projections and sinograms (nav <-> first frame axis)",
                         "A tomography stack of N projections (rows x cols) becomes rows sinograms of "
                         "N x cols, as Savu's projection/sinogram switch; applied twice it is the identity. "
                         "Needs one scan axis and 2-D frames.",
                         R"js({"type": "object", "additionalProperties": false, "properties": {}})js");
  transpose.run = [](const OpContext& ctx) -> std::vector<Value> {
    return {Value::Dataset(dataset::TransposeNavSigView(Base(ctx)))};
  };
  registry.Add(std::move(transpose));

  auto dtype = MapOp("dtype", "Convert the element type",
                     "To integers by rounding to nearest (ties to even) with saturation, NaN -> 0; to "
                     "floats by IEEE rounding.",
                     R"js({"type": "object", "additionalProperties": false, "required": ["dtype"], "properties": {
      "dtype": {"enum": ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "complex64", "complex128"]}}})js");
  dtype.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto text = (*ctx.params)["dtype"].get<std::string>();
    const auto t = ParseDType(text);
    if (!t) throw Error::InvalidArgument(fmt::format("unknown dtype '{}'", text), "dtype");
    return {Value::Dataset(dataset::DTypeView(Base(ctx), *t))};
  };
  registry.Add(std::move(dtype));

  auto corrections = MapOp(
      "corrections", "Detector corrections: dark, gain, dead/hot pixels",
      "Applies (x - dark) * gain to every frame, then replaces each excluded pixel by the mean of its "
      "valid neighbours. Dark and gain are files of the frame shape (any readable format); excluded "
      "pixels are [y, x] pairs and/or a mask file (non-zero = excluded). The output is float32.",
      R"js({"type": "object", "additionalProperties": false, "properties": {
      "dark": {"type": "string", "description": "dark frame file"},
      "gain": {"type": "string", "description": "gain map file"},
      "excluded_pixels": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2}, "description": "[[y, x], ...]"},
      "excluded_mask": {"type": "string", "description": "mask file, non-zero = excluded"}}})js");
  corrections.external_key = [](const OpContext& ctx) {
    std::string key;
    for (const char* p : {"dark", "gain", "excluded_mask"}) {
      if (!ctx.params->contains(p)) continue;
      key += FileStamp(ctx.ResolvePath((*ctx.params)[p].get<std::string>())) + ";";
    }
    return key;
  };
  corrections.run = [&formats](const OpContext& ctx) -> std::vector<Value> {
    auto base = Base(ctx);
    const auto& shape = base->meta().shape;
    const NdArray dark = ctx.params->contains("dark") ? LoadFloat(formats, ctx, "dark") : NdArray();
    const NdArray gain = ctx.params->contains("gain") ? LoadFloat(formats, ctx, "gain") : NdArray();
    std::vector<int64_t> excluded;
    const auto sig = shape.sig();
    const int64_t width = sig.empty() ? 1 : sig.back();
    const int64_t height = shape.sig_size() / std::max<int64_t>(width, 1);
    for (const auto& p : ctx.params->value("excluded_pixels", Json::array())) {
      const int64_t y = p[0].get<int64_t>();
      const int64_t x = p[1].get<int64_t>();
      if (y >= height || x >= width) {
        throw Error::InvalidArgument(
            fmt::format("excluded pixel [{}, {}] lies outside the {}x{} frame", y, x, height, width),
            "excluded_pixels");
      }
      excluded.push_back(y * width + x);
    }
    if (ctx.params->contains("excluded_mask")) {
      const NdArray mask = LoadFloat(formats, ctx, "excluded_mask");
      if (mask.size() != shape.sig_size()) {
        throw Error::InvalidArgument(fmt::format("mask has {} pixels, frames have {}", mask.size(), shape.sig_size()),
                                     "excluded_mask");
      }
      const auto m = mask.flat<float>();
      for (int64_t i = 0; i < mask.size(); ++i) {
        if (m[static_cast<size_t>(i)] != 0) excluded.push_back(i);
      }
    }
    std::sort(excluded.begin(), excluded.end());
    excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
    return {Value::Dataset(dataset::CorrectedView(base, dataset::CorrectionSet::Make(shape, dark, gain, excluded)))};
  };
  registry.Add(std::move(corrections));
}

}  // namespace tessera::pipeline
