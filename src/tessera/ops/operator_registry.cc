// SPDX-License-Identifier: MIT
#include "tessera/ops/operator_registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "tessera/core/strings.h"
#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/ops/param_parse_internal.h"

namespace tessera::ops {
namespace internal {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(Trim(text.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

std::optional<double> ParseDouble(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  text = Trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> ParseBool(std::string_view text) {
  std::string lower(Trim(text));
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

std::vector<double> ParseDoubleList(std::string_view text, const std::string& field) {
  std::vector<double> values;
  if (Trim(text).empty()) return values;
  for (std::string_view part : Split(text, ',')) {
    const auto value = ParseDouble(part);
    if (!value) {
      throw Error::InvalidArgument(
          fmt::format("{}: expected a comma-separated list of numbers, got '{}'", field, text),
          field);
    }
    values.push_back(*value);
  }
  return values;
}

std::vector<int64_t> ParseIntList(std::string_view text, const std::string& field) {
  std::vector<int64_t> values;
  if (Trim(text).empty()) return values;
  for (std::string_view part : Split(text, ',')) {
    const auto value = ParseInt(part);
    if (!value) {
      throw Error::InvalidArgument(
          fmt::format("{}: expected a comma-separated list of integers, got '{}'", field, text),
          field);
    }
    values.push_back(*value);
  }
  return values;
}

}  // namespace internal

namespace {

using internal::ParseBool;
using internal::ParseDouble;
using internal::ParseInt;

/// Throw kInvalidArgument unless `text` parses as `type`.
void CheckValue(const ParamSpec& spec, const std::string& text) {
  const std::string& field = spec.name;
  auto fail = [&](std::string_view expected) {
    throw Error::InvalidArgument(fmt::format("{}: expected {}, got '{}'", field, expected, text),
                                 field);
  };
  switch (spec.type) {
    case ParamType::kInt:
      if (!ParseInt(text)) fail("an integer");
      break;
    case ParamType::kFloat:
      if (!ParseDouble(text)) fail("a number");
      break;
    case ParamType::kBool:
      if (!ParseBool(text)) fail("true or false");
      break;
    case ParamType::kFloatList: internal::ParseDoubleList(text, field); break;
    case ParamType::kIntList: internal::ParseIntList(text, field); break;
    case ParamType::kShape: ParseDims(text, field); break;
    case ParamType::kString:
    case ParamType::kArrayFile: break;
  }
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

std::string_view Name(ParamType type) {
  switch (type) {
    case ParamType::kInt: return "int";
    case ParamType::kFloat: return "float";
    case ParamType::kBool: return "bool";
    case ParamType::kString: return "string";
    case ParamType::kFloatList: return "float-list";
    case ParamType::kIntList: return "int-list";
    case ParamType::kShape: return "shape";
    case ParamType::kArrayFile: return "array-file";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Params

Params::Params(const std::vector<ParamSpec>* specs, std::map<std::string, std::string> values,
               std::string analysis)
    : specs_(specs), analysis_(std::move(analysis)) {
  TESSERA_DCHECK(specs_ != nullptr, "Params without a schema");
  for (auto& [name, text] : values) {
    const auto it = std::find_if(specs_->begin(), specs_->end(),
                                 [&name = name](const ParamSpec& spec) { return spec.name == name; });
    if (it == specs_->end()) {
      std::vector<std::string> known;
      for (const auto& spec : *specs_) known.push_back(spec.name);
      throw Error::InvalidArgument(
          fmt::format("unknown parameter '{}'{} (known: {})", name,
                      analysis_.empty() ? "" : fmt::format(" for analysis '{}'", analysis_),
                      known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))),
          name);
    }
    CheckValue(*it, text);
    values_.emplace(name, std::move(text));
  }
  for (const auto& spec : *specs_) {
    if (spec.required() && !values_.contains(spec.name)) {
      throw Error::InvalidArgument(
          fmt::format("missing required parameter '{}'{}: {}", spec.name,
                      analysis_.empty() ? "" : fmt::format(" of analysis '{}'", analysis_),
                      spec.description),
          spec.name);
    }
  }
}

const ParamSpec& Params::Spec(std::string_view name) const {
  if (specs_ != nullptr) {
    for (const auto& spec : *specs_) {
      if (spec.name == name) return spec;
    }
  }
  throw Error::InvalidArgument(fmt::format("unknown parameter '{}'", name), std::string(name));
}

bool Params::Has(std::string_view name) const { return values_.find(name) != values_.end(); }

bool Params::HasValue(std::string_view name) const {
  return Has(name) || !Spec(name).default_value.empty();
}

const std::string& Params::Text(std::string_view name) const {
  if (const auto it = values_.find(name); it != values_.end()) return it->second;
  const ParamSpec& spec = Spec(name);
  if (spec.default_value.empty()) {
    throw Error::InvalidArgument(fmt::format("missing parameter '{}': {}", name, spec.description),
                                 std::string(name));
  }
  return spec.default_value;
}

int64_t Params::GetInt(std::string_view name) const {
  const std::string& text = Text(name);
  if (auto v = ParseInt(text)) return *v;
  throw Error::InvalidArgument(fmt::format("{}: expected an integer, got '{}'", name, text),
                               std::string(name));
}

double Params::GetFloat(std::string_view name) const {
  const std::string& text = Text(name);
  if (auto v = ParseDouble(text)) return *v;
  throw Error::InvalidArgument(fmt::format("{}: expected a number, got '{}'", name, text),
                               std::string(name));
}

bool Params::GetBool(std::string_view name) const {
  const std::string& text = Text(name);
  if (auto v = ParseBool(text)) return *v;
  throw Error::InvalidArgument(fmt::format("{}: expected true or false, got '{}'", name, text),
                               std::string(name));
}

std::string Params::GetString(std::string_view name) const { return Text(name); }

std::vector<double> Params::GetFloatList(std::string_view name) const {
  return internal::ParseDoubleList(Text(name), std::string(name));
}

std::vector<int64_t> Params::GetIntList(std::string_view name) const {
  return internal::ParseIntList(Text(name), std::string(name));
}

std::vector<int64_t> Params::GetShape(std::string_view name) const {
  return ParseDims(Text(name), std::string(name));
}

std::optional<double> Params::FindFloat(std::string_view name) const {
  if (!HasValue(name)) return std::nullopt;
  return GetFloat(name);
}

std::optional<int64_t> Params::FindInt(std::string_view name) const {
  if (!HasValue(name)) return std::nullopt;
  return GetInt(name);
}

void Params::AttachArray(const std::string& name, NdArray array) {
  arrays_[name] = std::make_shared<const NdArray>(std::move(array));
}

const NdArray* Params::FindArray(std::string_view name) const {
  const auto it = arrays_.find(name);
  return it == arrays_.end() ? nullptr : it->second.get();
}

// ---------------------------------------------------------------------------------------------
// OperatorRegistry

void OperatorRegistry::Add(AnalysisEntry entry) {
  auto fail = [&](const std::string& why) {
    throw Error::InvalidArgument(fmt::format("analysis '{}': {}", entry.name, why), "analysis");
  };
  if (!ValidName(entry.name)) fail("the name must be lower case letters, digits, '-' or '_'");
  if (entries_.contains(entry.name)) fail("registered twice");
  if (entry.version.empty()) fail("no version");
  if (entry.summary.empty()) fail("no summary");
  if (entry.description.empty()) fail("no description");
  if (entry.outputs.empty()) fail("no outputs listed");
  if (!entry.make) fail("no factory");
  for (size_t i = 0; i < entry.params.size(); ++i) {
    const ParamSpec& spec = entry.params[i];
    if (!ValidName(spec.name)) fail(fmt::format("bad parameter name '{}'", spec.name));
    if (spec.description.empty()) fail(fmt::format("parameter '{}' has no description", spec.name));
    for (size_t j = 0; j < i; ++j) {
      if (entry.params[j].name == spec.name) fail(fmt::format("parameter '{}' twice", spec.name));
    }
    if (!spec.default_value.empty()) {
      try {
        CheckValue(spec, spec.default_value);
      } catch (const Error& error) {
        fail(fmt::format("default of '{}' does not parse: {}", spec.name, error.what()));
      }
    }
  }
  for (const Citation& citation : entry.citations) {
    if (citation.doi.empty() && citation.bibtex.empty()) fail("empty citation");
  }
  const std::string name = entry.name;
  entries_.emplace(name, std::make_unique<AnalysisEntry>(std::move(entry)));
}

const AnalysisEntry* OperatorRegistry::Find(std::string_view name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.get();
}

std::vector<const AnalysisEntry*> OperatorRegistry::entries() const {
  std::vector<const AnalysisEntry*> all;
  for (const auto& [name, entry] : entries_) all.push_back(entry.get());
  return all;
}

const AnalysisEntry& OperatorRegistry::Get(std::string_view name) const {
  if (const AnalysisEntry* entry = Find(name)) return *entry;
  std::vector<std::string_view> known;
  for (const auto& [entry_name, entry] : entries_) known.push_back(entry_name);
  throw Error::InvalidArgument(
      fmt::format("unknown analysis '{}' (known: {})", name, fmt::join(known, ", ")), "analysis");
}

Params OperatorRegistry::MakeParams(std::string_view name,
                                    const std::map<std::string, std::string>& params) const {
  const AnalysisEntry& entry = Get(name);
  return Params(&entry.params, params, entry.name);
}

std::unique_ptr<udf::Udf> OperatorRegistry::Make(std::string_view name,
                                                 const std::map<std::string, std::string>& params,
                                                 std::map<std::string, NdArray> arrays) const {
  const AnalysisEntry& entry = Get(name);
  Params checked(&entry.params, params, entry.name);
  for (auto& [param, array] : arrays) {
    const auto it = std::find_if(entry.params.begin(), entry.params.end(),
                                 [&param = param](const ParamSpec& spec) { return spec.name == param; });
    if (it == entry.params.end() || it->type != ParamType::kArrayFile) {
      throw Error::InvalidArgument(
          fmt::format("analysis '{}' takes no array parameter '{}'", entry.name, param), param);
    }
    checked.AttachArray(param, std::move(array));
  }
  return entry.make(checked);
}

std::string OperatorRegistry::ToJson() const {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const AnalysisEntry* entry : entries()) {
    nlohmann::ordered_json item;
    item["name"] = entry->name;
    item["version"] = entry->version;
    item["summary"] = entry->summary;
    item["description"] = entry->description;
    nlohmann::ordered_json params = nlohmann::ordered_json::array();
    for (const ParamSpec& spec : entry->params) {
      nlohmann::ordered_json param;
      param["name"] = spec.name;
      param["type"] = std::string(Name(spec.type));
      param["required"] = spec.required();
      if (!spec.default_value.empty()) param["default"] = spec.default_value;
      param["description"] = spec.description;
      params.push_back(std::move(param));
    }
    item["params"] = std::move(params);
    item["outputs"] = entry->outputs;
    nlohmann::ordered_json citations = nlohmann::ordered_json::array();
    for (const Citation& citation : entry->citations) {
      citations.push_back({{"doi", citation.doi}, {"bibtex", citation.bibtex}});
    }
    item["citations"] = std::move(citations);
    all.push_back(std::move(item));
  }
  return all.dump(2);
}

void RegisterBuiltinOps(OperatorRegistry& registry) {
  RegisterStatsOps(registry);
  RegisterMaskOps(registry);
  RegisterComOps(registry);
  RegisterRadialOps(registry);
  RegisterPickOps(registry);
}

const OperatorRegistry& BuiltinAnalyses() {
  static const OperatorRegistry registry = [] {
    OperatorRegistry r;
    RegisterBuiltinOps(r);
    return r;
  }();
  return registry;
}

}  // namespace tessera::ops
