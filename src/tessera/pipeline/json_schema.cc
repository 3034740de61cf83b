// SPDX-License-Identifier: MIT
#define VALIJSON_USE_EXCEPTIONS 1
#include "tessera/pipeline/json_schema.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "tessera/core/error.h"

namespace tessera::pipeline {

struct JsonSchema::Impl {
  valijson::Schema schema;
};

JsonSchema::JsonSchema() = default;
JsonSchema::~JsonSchema() = default;
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;
JsonSchema& JsonSchema::operator=(JsonSchema&&) noexcept = default;

JsonSchema JsonSchema::Compile(const nlohmann::json& schema, const std::string& what) {
  JsonSchema out;
  out.impl_ = std::make_unique<Impl>();
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, out.impl_->schema);
  } catch (const std::exception& e) {
    throw Error::InvalidArgument(fmt::format("invalid JSON Schema: {}", e.what()), what);
  }
  return out;
}

namespace {
// valijson's context is {"<root>", "[key]", "[0]", ...}: turn it into a JSON pointer.
std::string Pointer(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string key = part;
    if (key.size() >= 2 && key.front() == '[' && key.back() == ']') key = key.substr(1, key.size() - 2);
    if (key.size() >= 2 && key.front() == '"' && key.back() == '"') key = key.substr(1, key.size() - 2);
    out += "/" + key;
  }
  return out.empty() ? "/" : out;
}
}  // namespace

std::vector<std::string> JsonSchema::Validate(const nlohmann::json& document) const {
  TESSERA_DCHECK(impl_ != nullptr, "Validate on an empty JsonSchema");
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(document);
  if (validator.validate(impl_->schema, adapter, &results)) return {};
  std::vector<std::string> messages;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    auto line = fmt::format("{}: {}", Pointer(error.context), error.description);
    if (std::find(messages.begin(), messages.end(), line) == messages.end()) {
      messages.push_back(std::move(line));
    }
  }
  // valijson adds a summary line for every enclosing object ("Failed to validate against
  // schema associated with property name 'x'"): keep them only if nothing more precise exists.
  std::vector<std::string> precise;
  std::copy_if(messages.begin(), messages.end(), std::back_inserter(precise), [](const auto& m) {
    return m.find("Failed to validate against schema associated with property") == std::string::npos &&
           m.find("Failed to validate item #") == std::string::npos;
  });
  return precise.empty() ? messages : precise;
}

}  // namespace tessera::pipeline
