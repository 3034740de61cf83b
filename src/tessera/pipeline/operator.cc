// SPDX-License-Identifier: MIT
#include "tessera/pipeline/operator.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/error.h"
#include "tessera/pipeline/json_schema.h"

namespace tessera::pipeline {

std::string_view Name(OpKind kind) {
  switch (kind) {
    case OpKind::kIo: return "io";
    case OpKind::kMap: return "map";
    case OpKind::kReduce: return "reduce";
    case OpKind::kArray: return "array";
    case OpKind::kDisplay: return "display";
  }
  return "?";
}

std::shared_ptr<const Json> ParseSchema(std::string_view text) {
  return std::make_shared<const Json>(Json::parse(text));
}

const Value& OpContext::Input(size_t port) const {
  if (!HasInput(port)) throw Error::Internal(fmt::format("node '{}': input {} absent", node, port));
  return *inputs[port];
}

std::string OpContext::ResolvePath(const std::string& path) const {
  if (path.empty() || std::filesystem::path(path).is_absolute() || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

struct PipelineRegistry::Impl {
  struct Entry {
    OperatorDef def;
    JsonSchema schema;
  };
  std::map<std::string, Entry, std::less<>> entries;
};

PipelineRegistry::PipelineRegistry() : impl_(std::make_unique<Impl>()) {}
PipelineRegistry::~PipelineRegistry() = default;
PipelineRegistry::PipelineRegistry(PipelineRegistry&&) noexcept = default;
PipelineRegistry& PipelineRegistry::operator=(PipelineRegistry&&) noexcept = default;

namespace {
void CheckPorts(const OperatorDef& def, const std::vector<PortSpec>& ports, const char* what) {
  std::set<std::string> seen;
  for (const auto& port : ports) {
    if (port.name.empty() || !seen.insert(port.name).second) {
      throw Error::InvalidArgument(
          fmt::format("operator '{}': empty or duplicate {} port '{}'", def.name, what, port.name),
          "operator");
    }
  }
}
}  // namespace

void PipelineRegistry::Add(OperatorDef def) {
  static const std::regex kName("[a-z][a-z0-9-]*");
  if (!std::regex_match(def.name, kName)) {
    throw Error::InvalidArgument(fmt::format("bad operator name '{}'", def.name), "operator");
  }
  if (impl_->entries.count(def.name) != 0) {
    throw Error::InvalidArgument(fmt::format("operator '{}' registered twice", def.name), "operator");
  }
  if (def.version.empty() || def.summary.empty() || def.description.empty() || !def.run) {
    throw Error::InvalidArgument(
        fmt::format("operator '{}' lacks a version, summary, description or run function", def.name),
        "operator");
  }
  CheckPorts(def, def.inputs, "input");
  CheckPorts(def, def.outputs, "output");
  if (def.params_schema == nullptr) {
    def.params_schema = std::make_shared<const Json>(
        Json{{"type", "object"}, {"properties", Json::object()}, {"additionalProperties", false}});
  }
  auto schema = JsonSchema::Compile(*def.params_schema, "operator " + def.name);
  const std::string name = def.name;
  impl_->entries.emplace(name, Impl::Entry{std::move(def), std::move(schema)});
}

const OperatorDef* PipelineRegistry::Find(std::string_view name) const {
  const auto it = impl_->entries.find(name);
  return it == impl_->entries.end() ? nullptr : &it->second.def;
}

std::vector<const OperatorDef*> PipelineRegistry::entries() const {
  std::vector<const OperatorDef*> out;
  for (const auto& [name, entry] : impl_->entries) out.push_back(&entry.def);
  return out;
}

std::vector<std::string> PipelineRegistry::CheckParams(std::string_view op, const Json& params) const {
  const auto it = impl_->entries.find(op);
  if (it == impl_->entries.end()) return {fmt::format("unknown operator '{}'", op)};
  return it->second.schema.Validate(params);
}

namespace {
Json PortsJson(const std::vector<PortSpec>& ports) {
  Json out = Json::array();
  for (const auto& p : ports) {
    out.push_back({{"name", p.name},
                   {"type", std::string(Name(p.type))},
                   {"description", p.description},
                   {"optional", p.optional}});
  }
  return out;
}
}  // namespace

Json PipelineRegistry::ToJson() const {
  Json out = Json::array();
  for (const auto* def : entries()) {
    Json citations = Json::array();
    for (const auto& c : def->citations) citations.push_back({{"doi", c.doi}, {"bibtex", c.bibtex}});
    out.push_back({{"name", def->name},
                   {"version", def->version},
                   {"kind", std::string(Name(def->kind))},
                   {"summary", def->summary},
                   {"description", def->description},
                   {"inputs", PortsJson(def->inputs)},
                   {"outputs", PortsJson(def->outputs)},
                   {"params", *def->params_schema},
                   {"citations", citations}});
  }
  return out;
}

namespace {
std::string SchemaType(const Json& schema) {
  if (schema.contains("enum")) {
    std::vector<std::string> values;
    for (const auto& v : schema["enum"]) values.push_back(v.dump());
    return fmt::format("one of {}", fmt::join(values, ", "));
  }
  if (!schema.contains("type")) return "any";
  const auto& type = schema["type"];
  if (type.is_string()) {
    std::string t = type.get<std::string>();
    if (t == "array" && schema.contains("items") && schema["items"].contains("type")) {
      t += " of " + schema["items"]["type"].dump();
    }
    return t;
  }
  std::vector<std::string> types;
  for (const auto& t : type) types.push_back(t.get<std::string>());
  return fmt::format("{}", fmt::join(types, " or "));
}
}  // namespace

std::string PipelineRegistry::ToMarkdown() const {
  std::string md =
      "# Operators\n\nGenerated from the operator registry by `tessera pipeline ops --markdown > "
      "docs/operators.md`; do not edit by hand (a test compares the two). How pipelines use them: "
      "[pipelines.md](pipelines.md).\n\n";
  for (const auto* def : entries()) {
    md += fmt::format("## `{}` ({} operator, version {})\n\n{}\n\n{}\n\n", def->name, Name(def->kind),
                      def->version, def->summary, def->description);
    auto ports = [&](const char* title, const std::vector<PortSpec>& list) {
      if (list.empty()) return;
      md += fmt::format("**{}:** ", title);
      std::vector<std::string> items;
      for (const auto& p : list) {
        items.push_back(fmt::format("`{}` ({}{}){}", p.name, Name(p.type), p.optional ? ", optional" : "",
                                    p.description.empty() ? "" : " " + p.description));
      }
      md += fmt::format("{}\n\n", fmt::join(items, "; "));
    };
    ports("Inputs", def->inputs);
    ports("Outputs", def->outputs);
    const auto& schema = *def->params_schema;
    if (schema.contains("properties") && !schema["properties"].empty()) {
      std::set<std::string> required;
      if (schema.contains("required")) {
        for (const auto& r : schema["required"]) required.insert(r.get<std::string>());
      }
      md += "| parameter | type | default | description |\n|---|---|---|---|\n";
      for (const auto& [name, prop] : schema["properties"].items()) {
        md += fmt::format("| `{}` | {} | {} | {} |\n", name, SchemaType(prop),
                          prop.contains("default") ? "`" + prop["default"].dump() + "`"
                                                   : (required.count(name) ? "required" : "—"),
                          prop.value("description", ""));
      }
      md += "\n";
    }
    for (const auto& c : def->citations) md += fmt::format("Cite: doi:{}\n\n", c.doi);
  }
  return md;
}

}  // namespace tessera::pipeline
