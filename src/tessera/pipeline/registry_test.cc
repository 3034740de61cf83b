// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tessera/pipeline/builtin_ops.h"
#include "tessera/pipeline/test_ops_internal.h"

namespace tessera::pipeline {
namespace {

TEST(PipelineRegistry, DocsOperatorsMdIsGeneratedFromTheRegistry) {
  std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/docs/operators.md");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), BuiltinOperators().ToMarkdown())
      << "docs/operators.md is stale: regenerate it with `tessera pipeline ops --markdown > docs/operators.md`";
}

TEST(PipelineRegistry, EveryBuiltinOperatorIsDocumented) {
  for (const auto* def : BuiltinOperators().entries()) {
    EXPECT_FALSE(def->summary.empty()) << def->name;
    EXPECT_FALSE(def->description.empty()) << def->name;
    EXPECT_EQ((*def->params_schema)["type"], "object") << def->name;
    EXPECT_EQ((*def->params_schema).value("additionalProperties", true), false)
        << def->name << ": unknown parameters must be rejected";
    for (const auto& port : def->outputs) EXPECT_FALSE(port.name.empty()) << def->name;
  }
  EXPECT_NE(BuiltinOperators().Find("eels-background"), nullptr);
  EXPECT_FALSE(BuiltinOperators().Find("eels-background")->citations.empty());
}

TEST(PipelineRegistry, RejectsBadEntries) {
  PipelineRegistry r = testing::TestRegistry();
  OperatorDef dup = *r.Find("const");
  EXPECT_THROW(r.Add(dup), Error);
  OperatorDef bad = dup;
  bad.name = "Bad Name";
  EXPECT_THROW(r.Add(bad), Error);
  OperatorDef no_docs = dup;
  no_docs.name = "nodocs";
  no_docs.summary.clear();
  EXPECT_THROW(r.Add(no_docs), Error);
  OperatorDef bad_schema = dup;
  bad_schema.name = "badschema";
  bad_schema.params_schema = std::make_shared<const Json>(Json::parse(R"({"type": 12})"));
  EXPECT_THROW(r.Add(bad_schema), Error);
  OperatorDef ports = dup;
  ports.name = "ports";
  ports.outputs.push_back(ports.outputs.front());
  EXPECT_THROW(r.Add(ports), Error);
}

TEST(PipelineRegistry, JsonListsSchemasAndPorts) {
  const Json j = BuiltinOperators().ToJson();
  bool found = false;
  for (const auto& op : j) {
    if (op["name"] != "gaussian-blur") continue;
    found = true;
    EXPECT_EQ(op["kind"], "array");
    EXPECT_EQ(op["inputs"][0]["type"], "image");
    EXPECT_TRUE(op["params"]["properties"].contains("sigma"));
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace tessera::pipeline
