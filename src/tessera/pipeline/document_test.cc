// SPDX-License-Identifier: MIT
#include "tessera/pipeline/document.h"

#include <gtest/gtest.h>

#include "tessera/pipeline/test_ops_internal.h"

namespace tessera::pipeline {
namespace {

PipelineDoc Parse(const char* text) { return ParsePipeline(text, "test.json"); }

std::vector<ErrorInfo> Problems(const char* text) {
  static const PipelineRegistry registry = testing::TestRegistry();
  return Validate(Parse(text), registry);
}

bool HasProblem(const std::vector<ErrorInfo>& problems, const std::string& node, const std::string& port,
                const std::string& fragment) {
  for (const auto& p : problems) {
    if (p.node == node && p.port == port && p.message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

TEST(PipelineDocument, ParsesAndRoundTrips) {
  const auto doc = Parse(R"({"tessera": 1, "name": "t",
    "nodes": [{"id": "a", "op": "const", "params": {"value": 2}}, {"id": "b", "op": "scale"}],
    "edges": [{"from": {"node": "a", "port": "out"}, "to": {"node": "b", "port": "in"}}]})");
  EXPECT_EQ(doc.name, "t");
  ASSERT_EQ(doc.nodes.size(), 2u);
  EXPECT_EQ(doc.edges[0].to.port, "in");
  const auto again = ParsePipeline(doc.ToJson().dump(), "again");
  EXPECT_EQ(again.ToJson(), doc.ToJson());
}

TEST(PipelineDocument, SyntaxErrorNamesFileAndOffset) {
  try {
    Parse(R"({"tessera": 1, "nodes": [)");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.info().file, "test.json");
    EXPECT_TRUE(e.info().offset.has_value());
  }
}

TEST(PipelineDocument, StructuralErrorsAreListedTogether) {
  try {
    Parse(R"({"tessera": 2, "nodes": [{"op": "x"}], "extra": 1})");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("/tessera"), std::string::npos) << m;
    EXPECT_NE(m.find("/nodes/0"), std::string::npos) << m;
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(PipelineValidate, AcceptsAValidGraph) {
  EXPECT_TRUE(Problems(R"({"tessera": 1, "nodes": [
    {"id": "a", "op": "const", "params": {"value": 1}}, {"id": "b", "op": "add"}],
    "edges": [{"from": {"node": "a", "port": "out"}, "to": {"node": "b", "port": "a"}}]})").empty());
}

TEST(PipelineValidate, ReportsEveryProblemWithNodeAndPort) {
  const auto problems = Problems(R"({"tessera": 1, "nodes": [
    {"id": "a", "op": "const", "params": {"value": "x", "size": 0}},
    {"id": "b", "op": "nope"},
    {"id": "c", "op": "add"},
    {"id": "d", "op": "scale"},
    {"id": "s", "op": "stream"},
    {"id": "a", "op": "const", "params": {"value": 1}}],
    "edges": [
      {"from": {"node": "a", "port": "out"}, "to": {"node": "c", "port": "b"}},
      {"from": {"node": "a", "port": "out"}, "to": {"node": "d", "port": "in"}},
      {"from": {"node": "s", "port": "data"}, "to": {"node": "d", "port": "in"}},
      {"from": {"node": "ghost", "port": "out"}, "to": {"node": "c", "port": "a"}},
      {"from": {"node": "a", "port": "nope"}, "to": {"node": "c", "port": "zzz"}}]})");
  EXPECT_TRUE(HasProblem(problems, "a", "", "params/value")) << problems.size();
  EXPECT_TRUE(HasProblem(problems, "a", "", "params/size"));
  EXPECT_TRUE(HasProblem(problems, "a", "", "node id used twice"));
  EXPECT_TRUE(HasProblem(problems, "b", "", "unknown operator 'nope'"));
  EXPECT_TRUE(HasProblem(problems, "d", "in", "type mismatch: 's.data' gives dataset"));
  EXPECT_TRUE(HasProblem(problems, "d", "in", "two edges"));
  EXPECT_TRUE(HasProblem(problems, "ghost", "out", "does not exist"));
  EXPECT_TRUE(HasProblem(problems, "a", "nope", "no output port 'nope'"));
  EXPECT_TRUE(HasProblem(problems, "c", "zzz", "no input port 'zzz'"));
  EXPECT_FALSE(HasProblem(problems, "c", "a", "required input"));  // the ghost edge counts
}

TEST(PipelineValidate, MissingRequiredInputAndCycle) {
  const auto problems = Problems(R"({"tessera": 1, "nodes": [
    {"id": "x", "op": "scale"}, {"id": "y", "op": "scale"}, {"id": "lonely", "op": "scale"}],
    "edges": [{"from": {"node": "x", "port": "out"}, "to": {"node": "y", "port": "in"}},
              {"from": {"node": "y", "port": "out"}, "to": {"node": "x", "port": "in"}}]})");
  EXPECT_TRUE(HasProblem(problems, "lonely", "in", "required input 'in'"));
  EXPECT_TRUE(HasProblem(problems, "x", "", "cycle through nodes x, y"));
}

TEST(PipelineValidate, ChecksEverySweepValue) {
  const auto problems = Problems(R"({"tessera": 1, "nodes": [
    {"id": "a", "op": "const", "params": {"value": 1, "size": {"sweep": [2, 0, 3]}}},
    {"id": "b", "op": "const", "params": {"value": {"sweep": {"start": 0, "stop": 1, "step": -1}}}}]})");
  EXPECT_TRUE(HasProblem(problems, "a", "", "sweep value 1 of 'size'"));
  EXPECT_TRUE(HasProblem(problems, "b", "", "does not lead"));
}

TEST(PipelineValidate, CheckValidThrowsOneErrorListingAll) {
  static const PipelineRegistry registry = testing::TestRegistry();
  const auto doc = Parse(R"({"tessera": 1, "nodes": [{"id": "a", "op": "nope"}, {"id": "b", "op": "scale"}]})");
  try {
    CheckValid(doc, registry, "p.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string m = e.what();
    EXPECT_NE(m.find("p.json: 2 problems"), std::string::npos) << m;
    EXPECT_NE(m.find("node 'a': unknown operator"), std::string::npos) << m;
    EXPECT_NE(m.find("node 'b', port 'in'"), std::string::npos) << m;
  }
}

TEST(PipelineSweep, ExpandsListsAndRanges) {
  EXPECT_EQ(ExpandSweep(Json::parse(R"({"sweep": [1, "a"]})"), "f").size(), 2u);
  const auto r = ExpandSweep(Json::parse(R"({"sweep": {"start": 0.5, "stop": 1.0, "step": 0.25}})"), "f");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_DOUBLE_EQ(r[2].get<double>(), 1.0);
  const auto i = ExpandSweep(Json::parse(R"({"sweep": {"start": 10, "stop": 0, "step": -5}})"), "f");
  ASSERT_EQ(i.size(), 3u);
  EXPECT_TRUE(i[2].is_number_integer());
  EXPECT_EQ(i[2].get<int>(), 0);
  EXPECT_THROW(ExpandSweep(Json::parse(R"({"sweep": []})"), "f"), Error);
  EXPECT_THROW(ExpandSweep(Json::parse(R"({"sweep": {"start": 0, "stop": 1e9, "step": 1e-3}})"), "f"), Error);
  EXPECT_THROW(ExpandSweep(Json::parse(R"({"sweep": {"start": 0, "stop": 1}})"), "f"), Error);
}

TEST(PipelineSetParam, SetsNestedValuesAndRejectsUnknownNodes) {
  auto doc = Parse(R"({"tessera": 1, "nodes": [{"id": "a", "op": "const", "params": {"value": 1}}]})");
  SetParam(doc, "a.value", ParseParamValue("2.5"));
  EXPECT_EQ(doc.nodes[0].params["value"].get<double>(), 2.5);
  SetParam(doc, "a.label", ParseParamValue("hello world"));
  EXPECT_EQ(doc.nodes[0].params["label"].get<std::string>(), "hello world");
  EXPECT_THROW(SetParam(doc, "zz.value", 1), Error);
  EXPECT_THROW(SetParam(doc, "novalue", 1), Error);
}

}  // namespace
}  // namespace tessera::pipeline
