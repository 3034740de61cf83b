// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessera::pipeline {

/// A compiled JSON Schema (draft 7, via valijson). valijson's templates stay inside
/// json_schema.cc, so including this header costs nothing.
class JsonSchema {
 public:
  /// Compile `schema`; throws kInvalidArgument (field `what`) if it is not a valid schema.
  static JsonSchema Compile(const nlohmann::json& schema, const std::string& what);

  JsonSchema();
  ~JsonSchema();
  JsonSchema(JsonSchema&&) noexcept;
  JsonSchema& operator=(JsonSchema&&) noexcept;

  /// Return one message per violation, "<json pointer>: <what is wrong>"; empty when valid.
  /// valijson reports a failing parent once per failing child: repeated lines are dropped.
  std::vector<std::string> Validate(const nlohmann::json& document) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::pipeline
