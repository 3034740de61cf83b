// SPDX-License-Identifier: MIT
#include "tessera/pipeline/document.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "tessera/pipeline/json_schema.h"

namespace tessera::pipeline {

namespace {
constexpr int64_t kMaxSweepValues = 100000;

const JsonSchema& DocumentSchema() {
  static const JsonSchema schema =
      JsonSchema::Compile(Json::parse(PipelineSchemaText()), "pipeline.schema.json");
  return schema;
}

ErrorInfo Problem(std::string node, std::string port, std::string message, std::string field = {}) {
  ErrorInfo info;
  info.code = ErrorCode::kInvalidArgument;
  info.node = std::move(node);
  info.port = std::move(port);
  info.field = std::move(field);
  info.message = std::move(message);
  return info;
}

std::string Known(const PipelineRegistry& registry) {
  std::vector<std::string> names;
  for (const auto* def : registry.entries()) names.push_back(def->name);
  return fmt::format("{}", fmt::join(names, ", "));
}

std::string PortNames(const std::vector<PortSpec>& ports) {
  std::vector<std::string> names;
  for (const auto& p : ports) names.push_back(p.name);
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

const PortSpec* FindPort(const std::vector<PortSpec>& ports, std::string_view name) {
  for (const auto& p : ports) {
    if (p.name == name) return &p;
  }
  return nullptr;
}
}  // namespace

const NodeDoc* PipelineDoc::FindNode(std::string_view id) const {
  for (const auto& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

NodeDoc* PipelineDoc::FindNode(std::string_view id) {
  for (auto& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

Json PipelineDoc::ToJson() const {
  Json j;
  j["tessera"] = 1;
  if (!name.empty()) j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["nodes"] = Json::array();
  for (const auto& n : nodes) {
    Json node = {{"id", n.id}, {"op", n.op}, {"params", n.params}};
    if (!n.ui.is_null()) node["ui"] = n.ui;
    j["nodes"].push_back(std::move(node));
  }
  j["edges"] = Json::array();
  for (const auto& e : edges) {
    j["edges"].push_back({{"from", {{"node", e.from.node}, {"port", e.from.port}}},
                          {"to", {{"node", e.to.node}, {"port", e.to.port}}}});
  }
  return j;
}

PipelineDoc ParsePipeline(std::string_view text, const std::string& source) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw Error::CorruptFile(source, static_cast<int64_t>(e.byte), "json",
                             fmt::format("not valid JSON: {}", e.what()));
  }
  const auto problems = DocumentSchema().Validate(j);
  if (!problems.empty()) {
    throw Error::InvalidArgument(
        fmt::format("{}: not a pipeline document:\n  {}", source, fmt::join(problems, "\n  ")),
        "pipeline");
  }
  PipelineDoc doc;
  doc.name = j.value("name", "");
  doc.description = j.value("description", "");
  for (const auto& n : j["nodes"]) {
    doc.nodes.push_back(NodeDoc{.id = n["id"].get<std::string>(),
                                .op = n["op"].get<std::string>(),
                                .params = n.value("params", Json::object()),
                                .ui = n.value("ui", Json())});
  }
  for (const auto& e : j.value("edges", Json::array())) {
    doc.edges.push_back(EdgeDoc{
        .from = {e["from"]["node"].get<std::string>(), e["from"]["port"].get<std::string>()},
        .to = {e["to"]["node"].get<std::string>(), e["to"]["port"].get<std::string>()}});
  }
  return doc;
}

PipelineDoc LoadPipeline(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error::NotFound("no such pipeline file", path);
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) throw Error::Io("cannot read the pipeline file", path);
  auto doc = ParsePipeline(text.str(), path);
  doc.base_dir = std::filesystem::absolute(path).parent_path().string();
  return doc;
}

bool IsSweep(const Json& value) {
  return value.is_object() && value.size() == 1 && value.contains("sweep");
}

std::vector<Json> ExpandSweep(const Json& value, const std::string& field) {
  const Json& sweep = value["sweep"];
  if (sweep.is_array()) {
    if (sweep.empty()) throw Error::InvalidArgument("a sweep needs at least one value", field);
    if (static_cast<int64_t>(sweep.size()) > kMaxSweepValues) {
      throw Error::InvalidArgument("a sweep has more than 100000 values", field);
    }
    return {sweep.begin(), sweep.end()};
  }
  if (!sweep.is_object() || !sweep.contains("start") || !sweep.contains("stop") ||
      !sweep.contains("step") || !sweep["start"].is_number() || !sweep["stop"].is_number() ||
      !sweep["step"].is_number() || sweep.size() != 3) {
    throw Error::InvalidArgument(
        "a sweep is {\"sweep\": [v1, v2, ...]} or {\"sweep\": {\"start\": a, \"stop\": b, \"step\": s}}",
        field);
  }
  const bool integral = sweep["start"].is_number_integer() && sweep["step"].is_number_integer() &&
                        sweep["stop"].is_number_integer();
  const double start = sweep["start"].get<double>();
  const double stop = sweep["stop"].get<double>();
  const double step = sweep["step"].get<double>();
  if (!(step != 0) || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step) ||
      (stop - start) / step < 0) {
    throw Error::InvalidArgument(
        fmt::format("sweep step {} does not lead from {} to {}", step, start, stop), field);
  }
  // Like numpy.arange with the stop included when it lies on the grid (within rounding).
  const double count = std::floor((stop - start) / step + 1e-9) + 1;
  if (count > kMaxSweepValues) throw Error::InvalidArgument("a sweep has more than 100000 values", field);
  std::vector<Json> values;
  for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) {
    if (integral) {
      values.emplace_back(sweep["start"].get<int64_t>() + i * sweep["step"].get<int64_t>());
    } else {
      values.emplace_back(start + static_cast<double>(i) * step);
    }
  }
  return values;
}

std::vector<Sweep> FindSweeps(const PipelineDoc& doc) {
  std::vector<Sweep> sweeps;
  for (const auto& node : doc.nodes) {
    if (!node.params.is_object()) continue;
    for (const auto& [param, value] : node.params.items()) {
      if (!IsSweep(value)) continue;
      Sweep s{.node = node.id, .param = param,
              .values = ExpandSweep(value, fmt::format("{}.{}", node.id, param))};
      s.uniform = value["sweep"].is_object();
      sweeps.push_back(std::move(s));
    }
  }
  return sweeps;
}

namespace {
void ValidateParams(const NodeDoc& node, const PipelineRegistry& registry, std::vector<ErrorInfo>& out) {
  // Sweeps: check each value in place of the sweep, the other params at their first value.
  Json base = node.params;
  std::vector<std::pair<std::string, std::vector<Json>>> sweeps;
  for (auto& [param, value] : base.items()) {
    if (!IsSweep(value)) continue;
    try {
      auto values = ExpandSweep(value, param);
      value = values.front();
      sweeps.emplace_back(param, std::move(values));
    } catch (const Error& e) {
      out.push_back(Problem(node.id, "", e.info().message, "params/" + param));
      return;
    }
  }
  std::set<std::string> seen;
  auto check = [&](const Json& params, const std::string& where) {
    for (const auto& message : registry.CheckParams(node.op, params)) {
      if (!seen.insert(message).second) continue;
      out.push_back(Problem(node.id, "", fmt::format("params{}{}", message, where), "params"));
    }
  };
  check(base, "");
  for (const auto& [param, values] : sweeps) {
    for (size_t i = 1; i < values.size(); ++i) {
      Json p = base;
      p[param] = values[i];
      check(p, fmt::format(" (sweep value {} of '{}')", i, param));
    }
  }
}
}  // namespace

std::vector<ErrorInfo> Validate(const PipelineDoc& doc, const PipelineRegistry& registry) {
  std::vector<ErrorInfo> out;
  std::map<std::string, const OperatorDef*> ops;
  for (const auto& node : doc.nodes) {
    if (ops.count(node.id) != 0) {
      out.push_back(Problem(node.id, "", "node id used twice", "id"));
      continue;
    }
    const auto* def = registry.Find(node.op);
    ops[node.id] = def;
    if (def == nullptr) {
      out.push_back(Problem(node.id, "",
                            fmt::format("unknown operator '{}' (known: {})", node.op, Known(registry)),
                            "op"));
      continue;
    }
    ValidateParams(node, registry, out);
  }
  std::map<std::pair<std::string, std::string>, int> fan_in;
  for (const auto& edge : doc.edges) {
    const auto from = ops.find(edge.from.node);
    const auto to = ops.find(edge.to.node);
    if (from == ops.end()) {
      out.push_back(Problem(edge.from.node, edge.from.port,
                            fmt::format("edge to '{}.{}' comes from node '{}', which does not exist",
                                        edge.to.node, edge.to.port, edge.from.node), "edges"));
    }
    if (to == ops.end()) {
      out.push_back(Problem(edge.to.node, edge.to.port,
                            fmt::format("edge from '{}.{}' goes to node '{}', which does not exist",
                                        edge.from.node, edge.from.port, edge.to.node), "edges"));
    }
    if (to != ops.end() && ++fan_in[{edge.to.node, edge.to.port}] == 2) {
      out.push_back(Problem(edge.to.node, edge.to.port,
                            "two edges lead into this input; an input takes one edge", "edges"));
    }
    if (from == ops.end() || to == ops.end() || from->second == nullptr || to->second == nullptr) continue;
    const auto* out_port = FindPort(from->second->outputs, edge.from.port);
    const auto* in_port = FindPort(to->second->inputs, edge.to.port);
    if (out_port == nullptr) {
      out.push_back(Problem(edge.from.node, edge.from.port,
                            fmt::format("operator '{}' has no output port '{}' (outputs: {})",
                                        from->second->name, edge.from.port,
                                        PortNames(from->second->outputs)), "edges"));
    }
    if (in_port == nullptr) {
      out.push_back(Problem(edge.to.node, edge.to.port,
                            fmt::format("operator '{}' has no input port '{}' (inputs: {})",
                                        to->second->name, edge.to.port, PortNames(to->second->inputs)),
                            "edges"));
    }
    if (out_port == nullptr || in_port == nullptr) continue;
    if (!CanConnect(out_port->type, in_port->type)) {
      out.push_back(Problem(edge.to.node, edge.to.port,
                            fmt::format("type mismatch: '{}.{}' gives {}, input '{}' takes {}",
                                        edge.from.node, edge.from.port, Name(out_port->type),
                                        edge.to.port, Name(in_port->type)), "edges"));
    }
  }
  for (const auto& node : doc.nodes) {
    const auto* def = ops[node.id];
    if (def == nullptr) continue;
    for (const auto& port : def->inputs) {
      if (!port.optional && fan_in.count({node.id, port.name}) == 0) {
        out.push_back(Problem(node.id, port.name,
                              fmt::format("required input '{}' ({}) has no edge", port.name,
                                          Name(port.type)), "edges"));
      }
    }
  }
  try {
    TopologicalOrder(doc);
  } catch (const Error& e) {
    out.push_back(e.info());
  }
  return out;
}

void CheckValid(const PipelineDoc& doc, const PipelineRegistry& registry, const std::string& source) {
  const auto problems = Validate(doc, registry);
  if (problems.empty()) return;
  std::vector<std::string> lines;
  for (const auto& p : problems) {
    std::string where = p.node.empty() ? "" : fmt::format("node '{}'", p.node);
    if (!p.port.empty()) where += fmt::format(", port '{}'", p.port);
    lines.push_back(where.empty() ? p.message : where + ": " + p.message);
  }
  // One error for all: the document as the file, every problem (with its node and port) in
  // the message. Validate() gives them one by one.
  ErrorInfo info;
  info.code = ErrorCode::kInvalidArgument;
  info.file = source;
  info.message = fmt::format("{} problem{} in the pipeline:\n  {}", problems.size(),
                             problems.size() == 1 ? "" : "s", fmt::join(lines, "\n  "));
  throw Error(std::move(info));
}

void SetParam(PipelineDoc& doc, std::string_view node_dot_param, Json value) {
  const auto dot = node_dot_param.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == node_dot_param.size()) {
    throw Error::InvalidArgument(
        fmt::format("'{}' is not node.param", node_dot_param), "--set");
  }
  const std::string node_id(node_dot_param.substr(0, dot));
  std::string path(node_dot_param.substr(dot + 1));
  NodeDoc* node = doc.FindNode(node_id);
  if (node == nullptr) {
    throw Error::InvalidArgument(fmt::format("no node '{}' in the pipeline", node_id), "--set");
  }
  if (!node->params.is_object()) node->params = Json::object();
  try {
    node->params[Json::json_pointer("/" + path)] = std::move(value);
  } catch (const Json::exception& e) {
    throw Error::InvalidArgument(fmt::format("cannot set '{}': {}", node_dot_param, e.what()), "--set");
  }
}

Json ParseParamValue(std::string_view text) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error&) {
    return Json(std::string(text));
  }
}

std::vector<size_t> TopologicalOrder(const PipelineDoc& doc) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < doc.nodes.size(); ++i) index.emplace(doc.nodes[i].id, i);
  std::vector<std::set<size_t>> consumers(doc.nodes.size());
  std::vector<int> pending(doc.nodes.size(), 0);
  for (const auto& e : doc.edges) {
    const auto f = index.find(e.from.node);
    const auto t = index.find(e.to.node);
    if (f == index.end() || t == index.end()) continue;
    if (consumers[f->second].insert(t->second).second) ++pending[t->second];
  }
  std::vector<size_t> order;
  std::set<size_t> ready;
  for (size_t i = 0; i < doc.nodes.size(); ++i) {
    if (pending[i] == 0) ready.insert(i);
  }
  while (!ready.empty()) {
    const size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t c : consumers[i]) {
      if (--pending[c] == 0) ready.insert(c);
    }
  }
  if (order.size() != doc.nodes.size()) {
    std::vector<std::string> cyclic;
    for (size_t i = 0; i < doc.nodes.size(); ++i) {
      if (pending[i] > 0) cyclic.push_back(doc.nodes[i].id);
    }
    ErrorInfo info;
    info.code = ErrorCode::kInvalidArgument;
    info.node = cyclic.front();
    info.field = "edges";
    info.message = fmt::format("the edges form a cycle through nodes {}", fmt::join(cyclic, ", "));
    throw Error(std::move(info));
  }
  return order;
}

}  // namespace tessera::pipeline
