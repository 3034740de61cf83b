// SPDX-License-Identifier: MIT
// The io operators: read, load, write.
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/checksum.h"
#include "tessera/core/system_info.h"
#include "tessera/core/error.h"
#include "tessera/formats/format_registry.h"
#include "tessera/formats/image_writers.h"
#include "tessera/formats/npy/npy_format.h"
#include "tessera/formats/results_writer.h"
#include "tessera/pipeline/builtin_ops.h"

namespace tessera::pipeline {

std::string FileStamp(const std::string& path) {
  const auto file = formats::SplitDatasetPath(path).first;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return "missing:" + path;
  return fmt::format("{}|{}|{}.{}", std::filesystem::absolute(path).string(), st.st_size,
                     st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

NdArray ReadWhole(const dataset::Dataset& ds, DType dtype, const std::string& field) {
  const auto& meta = ds.meta();
  if (meta.shape.size() > (int64_t{1} << 31)) {
    throw Error::InvalidArgument(
        fmt::format("{} has {} elements: too large to hold as one array (at most 2^31)", meta.path,
                    meta.shape.size()),
        field);
  }
  NdArray array(dtype, meta.shape.dims());
  const int64_t frames = std::max<int64_t>(meta.shape.nav_size(), 1);
  if (array.size() > 0) ds.ReadFrames(0, frames, {0, meta.shape.sig_size()}, array.raw(), dtype);
  return array;
}

namespace {

std::string OptionText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& x : v) parts.push_back(x.is_string() ? x.get<std::string>() : x.dump());
    return fmt::format("{}", fmt::join(parts, "x"));
  }
  return v.dump();
}

formats::OpenParams OpenOptions(const Json& params) {
  formats::OpenParams out;
  const Json options = params.value("options", Json::object());
  for (const auto& [name, value] : options.items()) {
    out[name] = OptionText(value);
  }
  return out;
}

void AddRead(PipelineRegistry& registry, const formats::FormatRegistry& formats) {
  std::vector<std::string> names;
  for (const auto* f : formats.entries()) names.push_back(f->name);
  Json schema = Json::parse(R"js({
    "type": "object", "additionalProperties": false, "required": ["path"],
    "properties": {
      "path": {"type": "string", "minLength": 1, "description": "File to read, relative to the pipeline file; HDF5 may name a dataset as file.h5:/group/data."},
      "format": {"type": "string", "description": "Force a format; default: detect from the content"},
      "options": {"type": "object", "description": "Format parameters (nav_shape, sig_shape, dtype, ...; see docs/formats)", "additionalProperties": {"type": ["string", "number", "boolean", "array"]}}
    }})js");
  schema["properties"]["format"]["enum"] = names;
  registry.Add(OperatorDef{
      .name = "read",
      .version = "1",
      .kind = OpKind::kIo,
      .summary = "Open a file of any registered format as a lazy dataset",
      .description = "Opens the file without reading frames: reduce operators stream it later, map "
                     "operators wrap it in lazy views. Relative paths resolve against the pipeline "
                     "file's directory; `tessera pipeline run --input NODE=PATH` replaces the path "
                     "(and is recorded in the result's provenance).",
      .inputs = {},
      .outputs = {{.name = "data", .type = PortType::kDataset, .description = "the dataset"}},
      .params_schema = std::make_shared<const Json>(std::move(schema)),
      .external_key = [](const OpContext& ctx) {
        return FileStamp(ctx.ResolvePath((*ctx.params)["path"].get<std::string>()));
      },
      .run = [&formats](const OpContext& ctx) -> std::vector<Value> {
        const auto path = ctx.ResolvePath((*ctx.params)["path"].get<std::string>());
        std::shared_ptr<const dataset::Dataset> ds =
            formats.Open(path, OpenOptions(*ctx.params), ctx.params->value("format", ""));
        return {Value::Dataset(std::move(ds))};
      },
  });
}

void AddLoad(PipelineRegistry& registry) {
  registry.Add(OperatorDef{
      .name = "load",
      .version = "1",
      .kind = OpKind::kIo,
      .summary = "Read a small dataset whole into an in-memory array (spectrum, image, stack)",
      .description = "Reads every frame into one float64 array of the dataset's full shape (nav "
                     "axes then signal axes) with its calibrated axes. The output is a spectrum "
                     "for a 1-D result, an image for a 2-D one. Refuses more than 2^31 elements: "
                     "use reduce operators on large data.",
      .inputs = {{.name = "data", .type = PortType::kDataset}},
      .outputs = {{.name = "array", .type = PortType::kArray}},
      .params_schema = ParseSchema(R"js({"type": "object", "additionalProperties": false, "properties": {
        "squeeze": {"type": "boolean", "default": true, "description": "Drop axes of length 1"}}})js"),
      .run = [](const OpContext& ctx) -> std::vector<Value> {
        const auto& ds = *ctx.Input(0).dataset;
        NdArray a = ReadWhole(ds, DType::kFloat64, "data");
        auto axes = ds.meta().axes;
        if (ctx.params->value("squeeze", true)) {
          std::vector<int64_t> shape;
          std::vector<dataset::Axis> kept;
          for (size_t i = 0; i < axes.size(); ++i) {
            if (a.shape()[i] == 1) continue;
            shape.push_back(a.shape()[i]);
            kept.push_back(axes[i]);
          }
          a.Reshape(shape);
          axes = std::move(kept);
        }
        const auto type = ArrayTypeOfRank(a.shape().size());
        return {Value::Array(type, std::move(a), std::move(axes))};
      },
  });
}


void AddWrite(PipelineRegistry& registry) {
  registry.Add(OperatorDef{
      .name = "write",
      .version = "1",
      .kind = OpKind::kIo,
      .summary = "Write an array to HDF5 (with provenance), NPY, TIFF or PNG",
      .description = "The format follows the extension: .h5/.hdf5 (the array at /results/<name> with "
                     "its axes, and a /provenance group: the pipeline, Tessera version and git "
                     "hash, operator versions, every upstream input with size and XXH3-128 "
                     "checksum, host, start and end time), .npy, .tif/.tiff (float32) or .png "
                     "(8-bit grey, autoscaled). Relative paths go under the run's output "
                     "directory (-o). Files are written atomically. Under a sweep, each "
                     "combination writes its own file, suffixed _i_j.",
      .inputs = {{.name = "data", .type = PortType::kArray}},
      .outputs = {},
      .params_schema = ParseSchema(R"js({"type": "object", "additionalProperties": false, "required": ["path"],
        "properties": {
          "path": {"type": "string", "pattern": "\\.(h5|hdf5|npy|tif|tiff|png)$", "description": "Output file; the extension picks the format"},
          "name": {"type": "string", "pattern": "^[^/]+$", "default": "data", "description": "Dataset name in an HDF5 file"}}})js"),
      .side_effects = true,
      .run = [](const OpContext& ctx) -> std::vector<Value> {
        std::filesystem::path path = (*ctx.params)["path"].get<std::string>();
        if (path.is_relative() && !ctx.output_dir.empty()) path = std::filesystem::path(ctx.output_dir) / path;
        if (!ctx.combination_suffix.empty()) {
          path.replace_filename(path.stem().string() + ctx.combination_suffix + path.extension().string());
        }
        const auto ext = path.extension().string();
        const ArrayData& a = *ctx.Input(0).array;
        if (ext == ".npy") {
          formats::WriteNpy(path.string(), a.data);
        } else if (ext == ".tif" || ext == ".tiff") {
          formats::WriteTiff(path.string(), a.data);
        } else if (ext == ".png") {
          formats::WritePng(path.string(), a.data);
        } else {
          formats::ResultArray r{.name = ctx.params->value("name", "data"), .data = &a.data,
                                 .axes = a.axes, .units = a.units, .description = ""};
          formats::Provenance prov;
          if (ctx.run != nullptr) {
            prov.command_line = ctx.run->command_line;
            prov.tessera_version = ctx.run->tessera_version;
            prov.git_hash = ctx.run->git_hash;
            prov.start_time = ctx.run->start_time;
            prov.parameters_json = Json{{"pipeline", *ctx.run->document},
                                        {"operators", ctx.run->operator_versions},
                                        {"node", ctx.node}}.dump();
          }
          prov.host = HostName();
          for (const auto& in : ctx.upstream_inputs) {
            prov.inputs.push_back({std::filesystem::absolute(in.path).string(), in.size,
                                   ChecksumFile(in.path).ToHex()});
          }
          prov.end_time = NowIso8601();
          formats::WriteResultsHdf5(path.string(), std::span(&r, 1), prov);
        }
        return {};
      },
  });
}

}  // namespace

void RegisterIoOps(PipelineRegistry& registry, const formats::FormatRegistry& formats) {
  AddRead(registry, formats);
  AddLoad(registry);
  AddWrite(registry);
}

}  // namespace tessera::pipeline
