// SPDX-License-Identifier: MIT
// The array operators: in-memory arrays in, arrays and tables out (arrayops layer).
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/arrayops/array_ops.h"
#include "tessera/arrayops/eels.h"
#include "tessera/arrayops/fft.h"
#include "tessera/arrayops/peaks.h"
#include "tessera/arrayops/table.h"
#include "tessera/core/error.h"
#include "tessera/pipeline/builtin_ops.h"

namespace tessera::pipeline {

namespace {

const OpCitation kEgerton{
    .doi = "10.1007/978-1-4419-9583-4",
    .bibtex = "@book{egerton2011,\n  author = {Egerton, R. F.},\n  title = {Electron Energy-Loss "
              "Spectroscopy in the Electron Microscope},\n  edition = {3},\n  publisher = {Springer},\n  "
              "year = {2011},\n  doi = {10.1007/978-1-4419-9583-4}\n}"};

OperatorDef ArrayOp(std::string name, std::string summary, std::string description,
                    std::vector<PortSpec> inputs, std::vector<PortSpec> outputs, const char* schema) {
  return OperatorDef{.name = std::move(name), .version = "1", .kind = OpKind::kArray,
                     .summary = std::move(summary), .description = std::move(description),
                     .inputs = std::move(inputs), .outputs = std::move(outputs),
                     .params_schema = ParseSchema(schema)};
}

const ArrayData& In(const OpContext& ctx, size_t port = 0) { return *ctx.Input(port).array; }

// The same axes when the shape is unchanged, else defaults.
Value Like(const ArrayData& a, NdArray out, std::string units) {
  auto axes = out.shape() == a.data.shape() ? a.axes : DefaultArrayAxes(out.shape());
  const auto type = ArrayTypeOfRank(out.shape().size());
  return Value::Array(type, std::move(out), std::move(axes), std::move(units));
}

const ArrayData& Image(const OpContext& ctx, size_t port = 0) {
  const auto& a = In(ctx, port);
  if (a.data.shape().size() < 2) {
    throw Error::InvalidArgument(fmt::format("needs an image (2-D), got {}-D", a.data.shape().size()), "image");
  }
  return a;
}

arrayops::EnergyAxis Energy(const ArrayData& s) {
  if (s.data.shape().size() != 1) {
    throw Error::InvalidArgument(fmt::format("needs a spectrum (1-D), got {}-D", s.data.shape().size()), "spectrum");
  }
  return {.offset = s.axes[0].offset, .scale = s.axes[0].scale};
}

Value Spectrum(const ArrayData& like, NdArray data, std::string units) {
  return Value::Array(PortType::kSpectrum, std::move(data), like.axes, std::move(units));
}

Value TableValue(arrayops::Table table) {
  return Value::Table(std::make_shared<const arrayops::Table>(std::move(table)));
}

void AddCropBlurFft(PipelineRegistry& registry) {
  auto crop = ArrayOp("array-crop", "Crop an array",
                      "Keeps [begin, end) along each axis; axis offsets move to the new origin.",
                      {{.name = "in", .type = PortType::kArray}}, {{.name = "out", .type = PortType::kArray}},
                      R"js({"type": "object", "additionalProperties": false, "required": ["begin", "end"], "properties": {
        "begin": {"type": "array", "items": {"type": "integer", "minimum": 0}, "description": "first index per axis"},
        "end": {"type": "array", "items": {"type": "integer", "minimum": 0}, "description": "end (exclusive) per axis"}}})js");
  crop.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto& a = In(ctx);
    const auto begin = (*ctx.params)["begin"].get<std::vector<int64_t>>();
    const auto end = (*ctx.params)["end"].get<std::vector<int64_t>>();
    NdArray out = arrayops::Crop(a.data, begin, end);
    auto axes = a.axes;
    for (size_t i = 0; i < axes.size() && i < begin.size(); ++i) {
      axes[i].offset += static_cast<double>(begin[i]) * axes[i].scale;
    }
    const auto type = ArrayTypeOfRank(out.shape().size());
    return {Value::Array(type, std::move(out), std::move(axes), a.units)};
  };
  registry.Add(std::move(crop));

  auto blur = ArrayOp("gaussian-blur", "Gaussian blur of images (the last two axes)",
                      "Separable Gaussian filter with reflected borders, as scipy.ndimage.gaussian_filter "
                      "(mode 'reflect', truncate 4). Leading axes are a stack of images.",
                      {{.name = "in", .type = PortType::kImage}}, {{.name = "out", .type = PortType::kImage}},
                      R"js({"type": "object", "additionalProperties": false, "required": ["sigma"], "properties": {
        "sigma": {"type": ["number", "array"], "minimum": 0, "items": {"type": "number", "minimum": 0}, "minItems": 2, "maxItems": 2, "description": "standard deviation in pixels, or [sigma_y, sigma_x]"},
        "truncate": {"type": "number", "exclusiveMinimum": 0, "default": 4.0, "description": "kernel radius in sigmas"}}})js");
  blur.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto& a = Image(ctx);
    const Json& s = (*ctx.params)["sigma"];
    const double sy = s.is_array() ? s[0].get<double>() : s.get<double>();
    const double sx = s.is_array() ? s[1].get<double>() : s.get<double>();
    return {Like(a, arrayops::GaussianBlur(a.data, sy, sx, ctx.params->value("truncate", 4.0)), a.units)};
  };
  registry.Add(std::move(blur));

  auto fft = ArrayOp("fft", "Fourier transform magnitude or HRTEM diffractogram of an image",
                     "`magnitude`: |FFT2| with the zero frequency centred. `diffractogram`: mean removed, "
                     "optional Hann window, |FFT|^2 centred, optionally log(1 + x): the usual view of lattice "
                     "fringes. The axes become spatial frequencies (1/units of the image axes).",
                     {{.name = "in", .type = PortType::kImage}}, {{.name = "out", .type = PortType::kImage}},
                     R"js({"type": "object", "additionalProperties": false, "properties": {
        "mode": {"enum": ["magnitude", "diffractogram"], "default": "diffractogram"},
        "hann": {"type": "boolean", "default": true, "description": "diffractogram: Hann window against edge streaks"},
        "log": {"type": "boolean", "default": true, "description": "diffractogram: log(1 + power)"}}})js");
  fft.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto& a = Image(ctx);
    const bool magnitude = ctx.params->value("mode", "diffractogram") == "magnitude";
    NdArray out = magnitude ? arrayops::FftMagnitude(a.data, true)
                            : arrayops::Diffractogram(a.data, ctx.params->value("hann", true), ctx.params->value("log", true));
    auto axes = a.axes;
    const size_t r = axes.size();
    for (size_t i = r - 2; i < r; ++i) {
      const double n = static_cast<double>(axes[i].size);
      axes[i].scale = 1.0 / (n * axes[i].scale);
      axes[i].offset = -std::floor(n / 2) * axes[i].scale;
      axes[i].units = axes[i].units.empty() || axes[i].units == "px" ? "1/px" : "1/" + axes[i].units;
      axes[i].name = "k" + axes[i].name;
    }
    return {Value::Array(PortType::kImage, std::move(out), std::move(axes))};
  };
  registry.Add(std::move(fft));
}

void AddElementwise(PipelineRegistry& registry) {
  auto arith = ArrayOp("arithmetic", "a (+ - * / min max) b, with NumPy broadcasting",
                       "Combines two arrays element by element (shapes broadcast as in NumPy), or an array "
                       "and the number `value` when `b` is not connected. The result keeps a's axes.",
                       {{.name = "a", .type = PortType::kArray}, {.name = "b", .type = PortType::kArray, .optional = true}},
                       {{.name = "out", .type = PortType::kArray}},
                       R"js({"type": "object", "additionalProperties": false, "required": ["op"], "properties": {
        "op": {"enum": ["add", "subtract", "multiply", "divide", "minimum", "maximum"]},
        "value": {"type": "number", "description": "the second operand when input b is not connected"}}})js");
  arith.run = [](const OpContext& ctx) -> std::vector<Value> {
    static const std::map<std::string, arrayops::BinaryOp> kOps = {
        {"add", arrayops::BinaryOp::kAdd}, {"subtract", arrayops::BinaryOp::kSubtract},
        {"multiply", arrayops::BinaryOp::kMultiply}, {"divide", arrayops::BinaryOp::kDivide},
        {"minimum", arrayops::BinaryOp::kMinimum}, {"maximum", arrayops::BinaryOp::kMaximum}};
    const auto op = kOps.at((*ctx.params)["op"].get<std::string>());
    const auto& a = In(ctx);
    if (ctx.HasInput(1)) return {Like(a, arrayops::Arithmetic(a.data, In(ctx, 1).data, op), a.units)};
    if (!ctx.params->contains("value")) {
      throw Error::InvalidArgument("connect input 'b' or give 'value'", "value");
    }
    return {Like(a, arrayops::Arithmetic(a.data, (*ctx.params)["value"].get<double>(), op), a.units)};
  };
  registry.Add(std::move(arith));

  auto norm = ArrayOp("normalise", "Normalise an array (min-max, z-score, sum or max)",
                      "minmax: range to [0, 1]; zscore: (a - mean) / std; sum: a / sum; max: a / max|a|. "
                      "NaNs are ignored in the statistics; a constant array gives zeros.",
                      {{.name = "in", .type = PortType::kArray}}, {{.name = "out", .type = PortType::kArray}},
                      R"js({"type": "object", "additionalProperties": false, "properties": {
        "mode": {"enum": ["minmax", "zscore", "sum", "max"], "default": "minmax"}}})js");
  norm.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto mode = ctx.params->value("mode", "minmax");
    const auto m = mode == "zscore" ? arrayops::NormaliseMode::kZScore
                   : mode == "sum"  ? arrayops::NormaliseMode::kSum
                   : mode == "max"  ? arrayops::NormaliseMode::kMax
                                    : arrayops::NormaliseMode::kMinMax;
    return {Like(In(ctx), arrayops::Normalise(In(ctx).data, m), "")};
  };
  registry.Add(std::move(norm));

  auto thr = ArrayOp("threshold", "Threshold an array",
                     "binary: 1 where a > value else 0; to-zero: a where a > value else 0; clip: min(a, value).",
                     {{.name = "in", .type = PortType::kArray}}, {{.name = "out", .type = PortType::kArray}},
                     R"js({"type": "object", "additionalProperties": false, "required": ["value"], "properties": {
        "value": {"type": "number"},
        "mode": {"enum": ["binary", "to-zero", "clip"], "default": "binary"}}})js");
  thr.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto mode = ctx.params->value("mode", "binary");
    const auto m = mode == "to-zero" ? arrayops::ThresholdMode::kToZero
                   : mode == "clip"  ? arrayops::ThresholdMode::kClip
                                     : arrayops::ThresholdMode::kBinary;
    const auto& a = In(ctx);
    return {Like(a, arrayops::Threshold(a.data, (*ctx.params)["value"].get<double>(), m), mode == "binary" ? "" : a.units)};
  };
  registry.Add(std::move(thr));
}

void AddPeaks(PipelineRegistry& registry) {
  auto peaks = ArrayOp(
      "find-peaks", "Local maxima of an image, refined to sub-pixel by 2-D Gaussian fits",
      "Finds local maxima as skimage.feature.peak_local_max (maximum filter of size 2 min_distance + 1, "
      "thresholds, border exclusion, brightest first), then fits A exp(-(x-x0)^2/2sx^2 - (y-y0)^2/2sy^2) + c "
      "on a (2 half_window + 1)^2 window around each with Ceres (Levenberg-Marquardt). Columns: y, x "
      "(pixels, sub-pixel when refined), intensity or amplitude, sigma_y, sigma_x, background, converged; "
      "y_cal and x_cal in the image axes' units.",
      {{.name = "image", .type = PortType::kImage}}, {{.name = "peaks", .type = PortType::kTable}},
      R"js({"type": "object", "additionalProperties": false, "properties": {
        "min_distance": {"type": "integer", "minimum": 0, "default": 1, "description": "pixels between peaks"},
        "threshold_abs": {"type": "number", "description": "minimum intensity (default: the image minimum)"},
        "threshold_rel": {"type": "number", "minimum": 0, "maximum": 1, "default": 0, "description": "minimum as a fraction of the maximum"},
        "max_peaks": {"type": "integer", "minimum": 0, "default": 0, "description": "0: all"},
        "exclude_border": {"type": "integer", "minimum": -1, "default": -1, "description": "-1: min_distance"},
        "refine": {"type": "boolean", "default": true},
        "half_window": {"type": "integer", "minimum": 1, "default": 3, "description": "fit window half-width in pixels"}}})js");
  peaks.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto& img = Image(ctx);
    if (img.data.shape().size() != 2) throw Error::InvalidArgument("needs one 2-D image", "image");
    arrayops::PeakOptions o;
    o.min_distance = ctx.params->value("min_distance", int64_t{1});
    if (ctx.params->contains("threshold_abs")) o.threshold_abs = (*ctx.params)["threshold_abs"].get<double>();
    o.threshold_rel = ctx.params->value("threshold_rel", 0.0);
    o.max_peaks = ctx.params->value("max_peaks", int64_t{0});
    o.exclude_border = ctx.params->value("exclude_border", int64_t{-1});
    auto table = arrayops::FindPeaks(img.data, o);
    if (ctx.params->value("refine", true)) {
      table = arrayops::RefinePeaksGaussian(img.data, table, ctx.params->value("half_window", int64_t{3}));
    }
    std::vector<double> yc;
    std::vector<double> xc;
    for (double y : table.Column("y")) yc.push_back(img.axes[0].offset + y * img.axes[0].scale);
    for (double x : table.Column("x")) xc.push_back(img.axes[1].offset + x * img.axes[1].scale);
    table.AddColumn("y_cal", img.axes[0].units, std::move(yc));
    table.AddColumn("x_cal", img.axes[1].units, std::move(xc));
    return {TableValue(std::move(table))};
  };
  registry.Add(std::move(peaks));
}

void AddEels(PipelineRegistry& registry) {
  auto bg = ArrayOp(
      "eels-background", "EELS power-law background fitted on a pre-edge window and subtracted",
      "Fits I(E) = A E^-r on channels with window_start <= E <= window_end (eV, from the spectrum's "
      "energy axis): a straight-line fit of log I against log E for the start, then Ceres least squares "
      "in linear space. Outputs the background over the whole axis (NaN where E <= 0), the spectrum minus "
      "it, and a one-row table of A, r and R^2 of the fit.",
      {{.name = "spectrum", .type = PortType::kSpectrum}},
      {{.name = "subtracted", .type = PortType::kSpectrum},
       {.name = "background", .type = PortType::kSpectrum},
       {.name = "fit", .type = PortType::kTable}},
      R"js({"type": "object", "additionalProperties": false, "required": ["window_start", "window_end"], "properties": {
        "window_start": {"type": "number", "description": "fit window start, eV"},
        "window_end": {"type": "number", "description": "fit window end, eV (before the edge onset)"}}})js");
  bg.citations = {kEgerton};
  bg.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto& s = In(ctx);
    auto fit = arrayops::FitPowerLawBackground(s.data, Energy(s), (*ctx.params)["window_start"].get<double>(),
                                               (*ctx.params)["window_end"].get<double>());
    arrayops::Table t;
    t.AddColumn("amplitude", s.units, {fit.amplitude});
    t.AddColumn("exponent", "", {fit.exponent});
    t.AddColumn("r_squared", "", {fit.r_squared});
    t.AddColumn("converged", "", {fit.converged ? 1.0 : 0.0});
    return {Spectrum(s, std::move(fit.subtracted), s.units), Spectrum(s, std::move(fit.background), s.units),
            TableValue(std::move(t))};
  };
  registry.Add(std::move(bg));

  auto pk = ArrayOp(
      "spectrum-peaks", "Fit Gaussian or Lorentzian peaks on a spectrum",
      "Fits the sum of one peak per initial centre plus a constant on the window [window_start, "
      "window_end] (axis units, e.g. eV) with Ceres (Levenberg-Marquardt). Reports centre, FWHM, "
      "amplitude and area with standard errors from the covariance scaled by the residual variance, "
      "and the fitted model over the whole axis.",
      {{.name = "spectrum", .type = PortType::kSpectrum}},
      {{.name = "fitted", .type = PortType::kSpectrum}, {.name = "peaks", .type = PortType::kTable}},
      R"js({"type": "object", "additionalProperties": false, "required": ["centres", "window_start", "window_end"], "properties": {
        "shape": {"enum": ["gaussian", "lorentzian"], "default": "gaussian"},
        "centres": {"type": "array", "minItems": 1, "items": {"type": "number"}, "description": "initial peak centres (axis units)"},
        "window_start": {"type": "number"}, "window_end": {"type": "number"}}})js");
  pk.run = [](const OpContext& ctx) -> std::vector<Value> {
    const auto& s = In(ctx);
    const auto centres = (*ctx.params)["centres"].get<std::vector<double>>();
    const auto shape = ctx.params->value("shape", "gaussian") == "lorentzian" ? arrayops::PeakShape::kLorentzian
                                                                              : arrayops::PeakShape::kGaussian;
    auto fit = arrayops::FitSpectrumPeaks(s.data, Energy(s), shape, centres,
                                          (*ctx.params)["window_start"].get<double>(),
                                          (*ctx.params)["window_end"].get<double>());
    return {Spectrum(s, std::move(fit.fitted), s.units), TableValue(std::move(fit.table))};
  };
  registry.Add(std::move(pk));
}

}  // namespace

void RegisterArrayOps(PipelineRegistry& registry) {
  AddCropBlurFft(registry);
  AddElementwise(registry);
  AddPeaks(registry);
  AddEels(registry);
}

}  // namespace tessera::pipeline
