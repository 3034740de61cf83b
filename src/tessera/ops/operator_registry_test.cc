// SPDX-License-Identifier: MIT
#include "tessera/ops/operator_registry.h"

#include <gtest/gtest.h>

#include "tessera/ops/testing_internal.h"

namespace tessera::ops {
namespace {

using testing::ExpectInvalidArgument;

AnalysisEntry MakeEntry(std::string name) {
  return {.name = std::move(name),
          .version = "1",
          .summary = "s",
          .description = "d",
          .params = {{.name = "radius", .type = ParamType::kFloat, .default_value = "2.5",
                      .description = "radius in pixels"},
                     {.name = "count", .type = ParamType::kInt, .description = "required count"},
                     {.name = "centre", .type = ParamType::kFloatList, .default_value = "1,2",
                      .description = "centre"},
                     {.name = "flag", .type = ParamType::kBool, .default_value = "false",
                      .description = "a flag"},
                     {.name = "cy", .type = ParamType::kFloat, .description = "optional",
                      .optional = true}},
          .outputs = {"out"},
          .make = [](const Params&) -> std::unique_ptr<udf::Udf> { return nullptr; }};
}

TEST(Params, TypedGettersFallBackToDefaults) {
  const auto entry = MakeEntry("x");
  Params params(&entry.params, {{"count", "7"}, {"flag", "yes"}}, "x");
  EXPECT_EQ(params.GetInt("count"), 7);
  EXPECT_DOUBLE_EQ(params.GetFloat("radius"), 2.5);
  EXPECT_EQ(params.GetFloatList("centre"), (std::vector<double>{1, 2}));
  EXPECT_TRUE(params.GetBool("flag"));
  EXPECT_TRUE(params.Has("count"));
  EXPECT_FALSE(params.Has("radius"));
  EXPECT_TRUE(params.HasValue("radius"));
  EXPECT_FALSE(params.FindFloat("cy").has_value());
  ExpectInvalidArgument([&] { params.GetFloat("cy"); }, "cy");
  ExpectInvalidArgument([&] { params.GetFloat("nope"); }, "nope");
}

TEST(Params, BadValuesNameTheParameter) {
  const auto entry = MakeEntry("x");
  try {
    Params(&entry.params, {{"count", "1"}, {"radius", "abc"}}, "x");
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(error.info().field, "radius");
    EXPECT_EQ(std::string(error.what()).find("radius: expected a number, got 'abc'") == std::string::npos,
              false)
        << error.what();
  }
  ExpectInvalidArgument([&] { Params(&entry.params, {{"count", "1.5"}}, "x"); }, "count");
  ExpectInvalidArgument([&] { Params(&entry.params, {{"count", "1"}, {"flag", "maybe"}}, "x"); }, "flag");
  ExpectInvalidArgument([&] { Params(&entry.params, {{"count", "1"}, {"centre", "1,,2"}}, "x"); }, "centre");
  ExpectInvalidArgument([&] { Params(&entry.params, {}, "x"); }, "count");
  ExpectInvalidArgument([&] { Params(&entry.params, {{"count", "1"}, {"radiu", "1"}}, "x"); }, "radiu");
}

TEST(OperatorRegistry, AddChecksEntries) {
  OperatorRegistry registry;
  registry.Add(MakeEntry("a"));
  ExpectInvalidArgument([&] { registry.Add(MakeEntry("a")); }, "analysis");
  auto no_docs = MakeEntry("b");
  no_docs.description.clear();
  ExpectInvalidArgument([&] { registry.Add(std::move(no_docs)); }, "analysis");
  auto bad_default = MakeEntry("c");
  bad_default.params[0].default_value = "two";
  ExpectInvalidArgument([&] { registry.Add(std::move(bad_default)); }, "analysis");
  auto bad_name = MakeEntry("Bad Name");
  ExpectInvalidArgument([&] { registry.Add(std::move(bad_name)); }, "analysis");
  ASSERT_NE(registry.Find("a"), nullptr);
  EXPECT_EQ(registry.Find("b"), nullptr);
}

TEST(OperatorRegistry, BuiltinsAreDocumentedAndMakeable) {
  OperatorRegistry registry;
  RegisterBuiltinOps(registry);
  std::vector<std::string> names;
  for (const AnalysisEntry* entry : registry.entries()) names.push_back(entry->name);
  for (const char* expected : {"sum", "frame-sum", "stats", "noop", "virtual-detector", "com",
                               "radial-profile", "pick"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_NE(registry.Make("stats", {}), nullptr);
  try {
    registry.Make("stat", {});
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.info().field, "analysis");
    EXPECT_NE(std::string(error.what()).find("unknown analysis 'stat' (known: "), std::string::npos);
  }
  ExpectInvalidArgument([&] { registry.Make("sum", {{"radius", "1"}}); }, "radius");
  const std::string json = registry.ToJson();
  EXPECT_NE(json.find("\"name\": \"frame-sum\""), std::string::npos);
  EXPECT_NE(json.find("\"outputs\""), std::string::npos);
}

}  // namespace
}  // namespace tessera::ops
