// SPDX-License-Identifier: MIT
#include "tessera/pipeline/results.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <unistd.h>

#include <fmt/format.h>

#include "tessera/arrayops/table.h"
#include "tessera/core/checksum.h"
#include "tessera/core/system_info.h"

namespace tessera::pipeline {

namespace {


// A table as a (rows, columns) float64 array.
NdArray TableArray(const arrayops::Table& table) {
  NdArray a(DType::kFloat64, {table.rows(), static_cast<int64_t>(table.columns.size())});
  auto flat = a.flat<double>();
  for (size_t c = 0; c < table.columns.size(); ++c) {
    for (int64_t r = 0; r < table.rows(); ++r) {
      flat[static_cast<size_t>(r) * table.columns.size() + c] = table.values[c][static_cast<size_t>(r)];
    }
  }
  return a;
}

}  // namespace

void WriteRunResults(const std::string& path, const PipelineDoc& doc, const PipelineRegistry& registry,
                     const RunResult& result, const RunStamp& stamp) {
  std::vector<NdArray> owned;  // scalars and tables turned into arrays
  owned.reserve(1024);
  std::vector<formats::ResultArray> arrays;
  for (const auto& node : doc.nodes) {
    const auto it = result.nodes.find(node.id);
    if (it == result.nodes.end()) continue;
    const NodeResult& nr = it->second;
    const auto* def = registry.Find(nr.op);
    if (def != nullptr && def->kind == OpKind::kDisplay) continue;  // figures go to PNG files
    for (size_t p = 0; p < nr.outputs.size(); ++p) {
      const Value& v = nr.outputs[p];
      formats::ResultArray r{.name = fmt::format("{}.{}", node.id, nr.port_names[p])};
      if (v.is_array_like()) {
        r.data = &v.array->data;
        r.axes = v.array->axes;
        r.units = v.array->units;
        r.description = fmt::format("{} output '{}' of node '{}'", nr.op, nr.port_names[p], node.id);
      } else if (v.type == PortType::kScalar) {
        NdArray a(DType::kFloat64, {1});
        a.flat<double>()[0] = v.scalar;
        owned.push_back(std::move(a));
        r.data = &owned.back();
        r.description = fmt::format("scalar output '{}' of node '{}'", nr.port_names[p], node.id);
      } else if (v.type == PortType::kTable && v.table) {
        owned.push_back(TableArray(*v.table));
        r.data = &owned.back();
        r.axes = {dataset::Axis{.name = "row", .size = v.table->rows(), .units = ""},
                  dataset::Axis{.name = "column", .size = static_cast<int64_t>(v.table->columns.size())}};
        r.description = fmt::format("table '{}' of node '{}'; columns: {}", nr.port_names[p], node.id,
                                    fmt::join(v.table->columns, ", "));
        r.units = fmt::format("{}", fmt::join(v.table->units, ", "));
      } else {
        continue;
      }
      arrays.push_back(std::move(r));
    }
  }
  formats::Provenance prov;
  prov.command_line = stamp.command_line;
  prov.tessera_version = stamp.tessera_version;
  prov.git_hash = stamp.git_hash;
  prov.start_time = stamp.start_time;
  prov.end_time = stamp.end_time;
  prov.host = stamp.host.empty() ? HostName() : stamp.host;
  Json versions = Json::object();
  for (const auto& node : doc.nodes) {
    if (const auto* def = registry.Find(node.op)) versions[node.op] = def->version;
  }
  prov.parameters_json =
      Json{{"pipeline", doc.ToJson()}, {"base_dir", doc.base_dir}, {"operators", versions}}.dump();
  for (const auto& in : result.inputs) {
    prov.inputs.push_back({std::filesystem::absolute(in.path).string(), in.size, ChecksumFile(in.path).ToHex()});
  }
  formats::WriteResultsHdf5(path, arrays, prov);
}

PipelineDoc StoredPipeline(const formats::StoredResults& stored, const std::string& path) {
  Json params;
  try {
    params = Json::parse(stored.provenance.parameters_json);
  } catch (const Json::parse_error&) {
    throw Error::CorruptFile(path, std::nullopt, "/provenance/parameters", "not valid JSON");
  }
  if (!params.is_object() || !params.contains("pipeline")) {
    throw Error::Unsupported("this result was not made by a pipeline (no pipeline in its provenance)", path);
  }
  auto doc = ParsePipeline(params["pipeline"].dump(), path + ":/provenance/parameters");
  doc.base_dir = params.value("base_dir", "");
  return doc;
}

namespace {

std::string ParamsText(const Json& params) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : params.items()) {
    parts.push_back(fmt::format("{} = {}", k, v.is_string() ? v.get<std::string>() : v.dump()));
  }
  return parts.empty() ? "default parameters" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string BibKey(const std::string& bibtex) {
  const auto brace = bibtex.find('{');
  const auto comma = bibtex.find(',', brace);
  if (brace == std::string::npos || comma == std::string::npos) return "";
  return bibtex.substr(brace + 1, comma - brace - 1);
}

constexpr const char* kTesseraBibtex = R"(@software{tessera,
  title = {Tessera: reproducible, high-throughput processing of multidimensional detector data},
  author = {{The Tessera developers}},
  year = {2026},
  license = {MIT},
  note = {Version %VERSION%, git %GIT%}
})";

}  // namespace

std::string CiteText(const formats::StoredResults& stored, const PipelineRegistry& registry,
                     const std::string& path) {
  const auto& prov = stored.provenance;
  Json params = Json::object();
  try {
    params = Json::parse(prov.parameters_json.empty() ? "{}" : prov.parameters_json);
  } catch (const Json::parse_error&) {
    throw Error::CorruptFile(path, std::nullopt, "/provenance/parameters", "not valid JSON");
  }
  std::vector<std::string> steps;
  std::vector<OpCitation> citations;
  auto cite_op = [&](const std::string& op, const std::string& version, const Json& op_params) {
    const auto* def = registry.Find(op);
    std::string text = fmt::format("{} (`{}` v{}; {})", def != nullptr ? def->summary : op, op, version,
                                   ParamsText(op_params));
    if (def != nullptr) {
      if (def->version != version) text += fmt::format(" [this Tessera has v{}]", def->version);
      for (const auto& c : def->citations) {
        if (std::none_of(citations.begin(), citations.end(), [&](const OpCitation& x) { return x.doi == c.doi; })) {
          citations.push_back(c);
        }
      }
      if (!def->citations.empty()) {
        std::vector<std::string> keys;
        for (const auto& c : def->citations) keys.push_back(BibKey(c.bibtex));
        text += fmt::format(" [{}]", fmt::join(keys, "; "));
      }
    }
    steps.push_back(text);
  };
  std::string what;
  if (params.contains("pipeline")) {
    const auto doc = StoredPipeline(stored, path);
    const Json versions = params.value("operators", Json::object());
    for (size_t i : TopologicalOrder(doc)) {
      const auto& node = doc.nodes[i];
      cite_op(node.op, versions.value(node.op, std::string("?")), node.params);
    }
    what = doc.name.empty() ? "a processing pipeline" : fmt::format("the processing pipeline '{}'", doc.name);
  } else {
    // A `tessera run` result: analyses by name with their parameters.
    for (const auto& [name, value] : params.items()) {
      if (registry.Find(name) != nullptr && value.is_object()) cite_op(name, registry.Find(name)->version, value);
    }
    what = "a single pass of analyses over the data";
  }
  std::vector<std::string> inputs;
  for (const auto& in : prov.inputs) {
    inputs.push_back(fmt::format("{} ({} bytes, XXH3-128 {})", std::filesystem::path(in.path).filename().string(),
                                 in.size, in.xxh3_128));
  }
  std::string out = fmt::format(
      "Methods\n\nData were processed with Tessera {} (git {}) [tessera], running {} on {}. "
      "The steps were, in order: {}. The run started at {} and ended at {} on host {}; the complete "
      "pipeline document and input checksums are stored in the result file ({}), and "
      "`tessera reproduce` re-runs it.\n\nReferences (BibTeX)\n\n",
      prov.tessera_version, prov.git_hash, what, inputs.empty() ? "generated data" : fmt::format("{}", fmt::join(inputs, ", ")),
      steps.empty() ? "none recorded" : fmt::format("{}", fmt::join(steps, "; ")), prov.start_time, prov.end_time,
      prov.host, std::filesystem::path(path).filename().string());
  std::string tessera_bib = kTesseraBibtex;
  tessera_bib.replace(tessera_bib.find("%VERSION%"), 9, prov.tessera_version);
  tessera_bib.replace(tessera_bib.find("%GIT%"), 5, prov.git_hash);
  out += tessera_bib + "\n";
  for (const auto& c : citations) out += "\n" + c.bibtex + "\n";
  return out;
}

bool ReproduceReport::identical() const {
  return std::all_of(inputs.begin(), inputs.end(), [](const Input& i) { return i.identical; }) &&
         std::all_of(outputs.begin(), outputs.end(), [](const Output& o) { return o.identical; }) &&
         !outputs.empty();
}

namespace {

ReproduceReport::Output Compare(const std::string& name, const NdArray& before, const NdArray& after) {
  ReproduceReport::Output out{.name = name};
  if (before.shape() != after.shape() || before.dtype() != after.dtype()) {
    out.difference = fmt::format("shape or type changed: {} {} vs {} {}", fmt::join(before.shape(), "x"),
                                 Name(before.dtype()), fmt::join(after.shape(), "x"), Name(after.dtype()));
    return out;
  }
  if (before.nbytes() == 0 || std::memcmp(before.raw(), after.raw(), static_cast<size_t>(before.nbytes())) == 0) {
    out.identical = true;
    return out;
  }
  int64_t differ = 0;
  double max_diff = 0;
  for (int64_t i = 0; i < before.size(); ++i) {
    const double a = before.GetAsDouble(i);
    const double b = after.GetAsDouble(i);
    if (std::memcmp(&a, &b, sizeof a) == 0) continue;
    ++differ;
    if (std::isfinite(a) && std::isfinite(b)) max_diff = std::max(max_diff, std::abs(a - b));
  }
  out.difference = fmt::format("{} of {} elements differ, max |a-b| = {:.3g}", differ, before.size(), max_diff);
  return out;
}

}  // namespace

ReproduceReport Reproduce(const std::string& result_path, const std::string& output_dir,
                          const PipelineRegistry& registry, const RunStamp& stamp) {
  const auto stored = formats::ReadResultsHdf5(result_path);
  auto doc = StoredPipeline(stored, result_path);
  ReproduceReport report;
  for (const auto& in : stored.provenance.inputs) {
    ReproduceReport::Input r{.path = in.path};
    std::error_code ec;
    r.found = std::filesystem::is_regular_file(in.path, ec);
    r.identical = r.found && static_cast<int64_t>(std::filesystem::file_size(in.path, ec)) == in.size &&
                  ChecksumFile(in.path).ToHex() == in.xxh3_128;
    report.inputs.push_back(r);
  }
  for (const auto& r : report.inputs) {
    if (!r.identical) return report;  // the caller reports which input changed
  }
  std::filesystem::create_directories(output_dir);
  SessionOptions options{.output_dir = output_dir,
                         .tessera_version = stamp.tessera_version,
                         .git_hash = stamp.git_hash,
                         .command_line = stamp.command_line};
  Session session(doc, registry, options);
  const auto result = session.Run();
  std::filesystem::path written = std::filesystem::path(output_dir) / std::filesystem::path(result_path).filename();
  if (std::filesystem::weakly_canonical(written) == std::filesystem::weakly_canonical(result_path)) {
    written.replace_filename(written.stem().string() + ".reproduced.h5");  // never overwrite the original
  }
  report.written = written.string();
  WriteRunResults(report.written, doc, registry, result, stamp);
  const auto again = formats::ReadResultsHdf5(report.written);
  for (size_t i = 0; i < stored.names.size(); ++i) {
    const auto it = std::find(again.names.begin(), again.names.end(), stored.names[i]);
    if (it == again.names.end()) {
      report.outputs.push_back({.name = stored.names[i], .difference = "missing from the new result"});
      continue;
    }
    report.outputs.push_back(Compare(stored.names[i], stored.arrays[i],
                                     again.arrays[static_cast<size_t>(it - again.names.begin())]));
  }
  return report;
}

}  // namespace tessera::pipeline
