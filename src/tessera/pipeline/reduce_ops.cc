// SPDX-License-Identifier: MIT
// One reduce operator per analysis of the ops layer: same name, parameters, outputs, version.
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/error.h"
#include "tessera/exec/executor.h"
#include "tessera/formats/format_registry.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/pipeline/builtin_ops.h"

namespace tessera::pipeline {

namespace {

Json PropertySchema(const ops::ParamSpec& spec) {
  Json p;
  switch (spec.type) {
    case ops::ParamType::kInt: p["type"] = "integer"; break;
    case ops::ParamType::kFloat: p["type"] = "number"; break;
    case ops::ParamType::kBool: p["type"] = "boolean"; break;
    case ops::ParamType::kString: p["type"] = "string"; break;
    case ops::ParamType::kFloatList:
      p["type"] = Json::array({"array", "number", "string"});
      p["items"] = {{"type", "number"}};
      break;
    case ops::ParamType::kIntList:
    case ops::ParamType::kShape:
      p["type"] = Json::array({"array", "integer", "string"});
      p["items"] = {{"type", "integer"}};
      break;
    case ops::ParamType::kArrayFile:
      p["type"] = "string";
      p["description"] = "";
      break;
  }
  p["description"] = spec.type == ops::ParamType::kArrayFile
                         ? spec.description + " (a file path, relative to the pipeline file)"
                         : spec.description;
  if (!spec.default_value.empty()) {
    // Defaults are written as CLI text; show them as JSON where they parse.
    try {
      p["default"] = Json::parse(spec.default_value);
    } catch (const Json::parse_error&) {
      p["default"] = spec.default_value;
    }
  }
  return p;
}

Json ParamsSchema(const ops::AnalysisEntry& entry) {
  Json schema = {{"type", "object"}, {"additionalProperties", false}, {"properties", Json::object()}};
  Json required = Json::array();
  for (const auto& spec : entry.params) {
    schema["properties"][spec.name] = PropertySchema(spec);
    if (spec.required()) required.push_back(spec.name);
  }
  if (!required.empty()) schema["required"] = required;
  return schema;
}

// JSON param values in the text form the analyses parse ("1.5,2", "128x128", "true").
std::string ParamText(const ops::ParamSpec& spec, const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& x : v) parts.push_back(x.dump());
    return fmt::format("{}", fmt::join(parts, spec.type == ops::ParamType::kShape ? "x" : ","));
  }
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());  // shortest round trip
  return v.dump();
}

void AddAnalysis(PipelineRegistry& registry, const ops::OperatorRegistry& analyses,
                 const ops::AnalysisEntry& entry, const formats::FormatRegistry& formats) {
  OperatorDef def;
  def.name = entry.name;
  def.version = entry.version;
  def.kind = OpKind::kReduce;
  def.summary = entry.summary;
  def.description = entry.description +
                    "\n\nIn a pipeline it reads its input dataset in one pass on all cores, like "
                    "`tessera run`; map operators upstream are applied on the fly.";
  def.inputs = {{.name = "data", .type = PortType::kDataset, .description = "the dataset to reduce"}};
  for (const auto& out : entry.outputs) def.outputs.push_back({.name = out, .type = PortType::kArray});
  def.params_schema = std::make_shared<const Json>(ParamsSchema(entry));
  for (const auto& c : entry.citations) def.citations.push_back({c.doi, c.bibtex});
  const ops::AnalysisEntry* e = &entry;
  def.external_key = [e](const OpContext& ctx) {
    // Weight files given by path: their content matters, not just their name.
    std::string key;
    for (const auto& spec : e->params) {
      if (spec.type != ops::ParamType::kArrayFile || !ctx.params->contains(spec.name)) continue;
      key += FileStamp(ctx.ResolvePath((*ctx.params)[spec.name].get<std::string>())) + ";";
    }
    return key;
  };
  def.run = [e, &analyses, &formats, schema = def.params_schema](const OpContext& ctx) -> std::vector<Value> {
    std::map<std::string, std::string> params;
    std::map<std::string, NdArray> arrays;
    for (const auto& spec : e->params) {
      if (!ctx.params->contains(spec.name)) continue;
      const Json& v = (*ctx.params)[spec.name];
      // The engine fills in schema defaults; the analysis applies its own, and some of them
      // care whether a value was given at all (radial-profile's bins / bin_width / r_max).
      const Json& property = (*schema)["properties"][spec.name];
      if (property.contains("default") && property["default"] == v) continue;
      params[spec.name] = ParamText(spec, v);
      if (spec.type == ops::ParamType::kArrayFile) {
        const auto path = ctx.ResolvePath(v.get<std::string>());
        params[spec.name] = path;
        auto ds = formats.Open(path, {});
        arrays.emplace(spec.name, ReadWhole(*ds, DType::kFloat32, spec.name));
      }
    }
    auto udf = analyses.Make(e->name, params, std::move(arrays));
    const auto& ds = *ctx.Input(0).dataset;
    auto executor = exec::MakeThreadsExecutor(ctx.threads);
    udf::RunOptions options;
    options.cancel = ctx.cancel;
    auto on_partial = [&](const udf::Progress& p, const udf::UdfRunner&) {
      if (ctx.progress && p.frames_total > 0) {
        ctx.progress(static_cast<double>(p.frames_done) / static_cast<double>(p.frames_total));
      }
    };
    auto results = exec::RunUdfs(*executor, ds, {udf.get()}, options, on_partial);
    std::vector<Value> out;
    for (const auto& name : e->outputs) {
      auto it = std::find_if(results.front().begin(), results.front().end(),
                             [&](const udf::Result& r) { return r.name == name; });
      if (it == results.front().end()) {
        throw Error::Internal(fmt::format("analysis '{}' gave no result '{}'", e->name, name));
      }
      // One mask, one ring...: a nav result's trailing length-1 axes go, so that a virtual
      // detector image is 2-D like the scan.
      if (it->kind == udf::BufferKind::kNav) {
        const size_t nav_rank = ds.meta().shape.nav().size();
        auto shape = it->data.shape();
        while (shape.size() > std::max<size_t>(nav_rank, 1) && shape.back() == 1) {
          shape.pop_back();
          if (it->axes.size() > shape.size()) it->axes.pop_back();
        }
        it->data.Reshape(shape);
      }
      const size_t rank = it->data.shape().size();
      out.push_back(Value::Array(ArrayTypeOfRank(rank), std::move(it->data), std::move(it->axes), std::move(it->units)));
    }
    return out;
  };
  registry.Add(std::move(def));
}

}  // namespace

void RegisterReduceOps(PipelineRegistry& registry, const ops::OperatorRegistry& analyses,
                       const formats::FormatRegistry& formats) {
  for (const auto* entry : analyses.entries()) {
    if (entry->name == "noop") continue;  // no outputs: nothing for a pipeline to use
    AddAnalysis(registry, analyses, *entry, formats);
  }
}

}  // namespace tessera::pipeline
