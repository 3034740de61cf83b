// SPDX-License-Identifier: MIT
#include "tessera/pipeline/session.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tessera/formats/npy/npy_format.h"
#include "tessera/pipeline/builtin_ops.h"
#include "tessera/pipeline/test_ops_internal.h"

namespace tessera::pipeline {
namespace {

const PipelineRegistry& Registry() {
  static const PipelineRegistry registry = testing::TestRegistry();
  return registry;
}

// a = const(value 2) -> b = scale(x3) -> d = add(b, c); c = const(value 10) ; t = total(d)
PipelineDoc Chain() {
  return ParsePipeline(R"({"tessera": 1, "name": "chain", "nodes": [
    {"id": "a", "op": "const", "params": {"value": 2}},
    {"id": "b", "op": "scale", "params": {"factor": 3}},
    {"id": "c", "op": "const", "params": {"value": 10}},
    {"id": "d", "op": "add"},
    {"id": "t", "op": "total"}],
    "edges": [
      {"from": {"node": "a", "port": "out"}, "to": {"node": "b", "port": "in"}},
      {"from": {"node": "b", "port": "out"}, "to": {"node": "d", "port": "a"}},
      {"from": {"node": "c", "port": "out"}, "to": {"node": "d", "port": "b"}},
      {"from": {"node": "d", "port": "out"}, "to": {"node": "t", "port": "in"}}]})",
                       "chain.json");
}

TEST(PipelineSession, RunsAGraph) {
  Session session(Chain(), Registry());
  const auto result = session.Run();
  EXPECT_DOUBLE_EQ(result.Get("t", "sum").scalar, 4 * (2 * 3 + 10));
  EXPECT_EQ(result.executed, 5);
  EXPECT_EQ(result.cached, 0);
  EXPECT_THROW(result.Get("t", "nope"), Error);
  EXPECT_THROW(result.Get("zz", "sum"), Error);
}

TEST(PipelineSession, ReRunsOnlyWhatChanged) {
  Session session(Chain(), Registry(), {.parallel_nodes = 2});
  session.Run();
  const auto again = session.Run();
  EXPECT_EQ(again.executed, 0);
  EXPECT_EQ(again.cached, 5);
  session.Set("b.factor", 4);
  const auto changed = session.Run();
  EXPECT_DOUBLE_EQ(changed.Get("t", "sum").scalar, 4 * (2 * 4 + 10));
  // b, d and t ran again; a and c came from the cache.
  EXPECT_EQ(changed.executed, 3);
  EXPECT_EQ(session.executions("a"), 1);
  EXPECT_EQ(session.executions("c"), 1);
  EXPECT_EQ(session.executions("b"), 2);
  EXPECT_EQ(session.executions("t"), 2);
  // Back to the old value: everything is cached.
  session.Set("b.factor", 3);
  EXPECT_EQ(session.Run().executed, 0);
  EXPECT_EQ(session.total_executions(), 8);
  EXPECT_GT(session.cache_bytes(), 0);
}

TEST(PipelineSession, SetRejectsInvalidValuesAndKeepsTheDocument) {
  Session session(Chain(), Registry());
  EXPECT_THROW(session.Set("b.factor", "three"), Error);
  EXPECT_EQ(session.document().FindNode("b")->params["factor"].get<int>(), 3);
  EXPECT_THROW(session.Set("zz.factor", 1), Error);
}

TEST(PipelineSession, SweepsAddLeadingAxesDownstream) {
  auto doc = Chain();
  SetParam(doc, "b.factor", Json::parse(R"({"sweep": [1, 2, 5]})"));
  SetParam(doc, "c.value", Json::parse(R"({"sweep": {"start": 0, "stop": 1, "step": 0.5}})"));
  Session session(doc, Registry());
  const auto result = session.Run();
  ASSERT_EQ(result.sweeps.size(), 2u);
  // a has no sweep; b one; d and t both.
  EXPECT_EQ(result.Get("a", "out").array->data.shape(), (std::vector<int64_t>{4}));
  EXPECT_EQ(result.Get("b", "out").array->data.shape(), (std::vector<int64_t>{3, 4}));
  const auto& t = *result.Get("t", "sum").array;
  ASSERT_EQ(t.data.shape(), (std::vector<int64_t>{3, 3}));
  const double factors[] = {1, 2, 5};
  const double values[] = {0, 0.5, 1};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_DOUBLE_EQ(t.data.flat<double>()[static_cast<size_t>(i * 3 + j)], 4 * (2 * factors[i] + values[j]));
    }
  }
  EXPECT_EQ(t.axes[0].name, "b.factor");
  EXPECT_EQ(t.axes[0].values, (std::vector<double>{1, 2, 5}));
  EXPECT_EQ(t.axes[1].name, "c.value");
  EXPECT_DOUBLE_EQ(t.axes[1].offset, 0.0);
  EXPECT_DOUBLE_EQ(t.axes[1].scale, 0.5);
  EXPECT_TRUE(t.axes[1].values.empty());
  // a once, b 3, c 3, d 9, t 9.
  EXPECT_EQ(result.executed, 1 + 3 + 3 + 9 + 9);
  EXPECT_EQ(session.executions("a"), 1);
}

TEST(PipelineSession, ErrorsNameTheNodeAndKeepTheirKind) {
  auto doc = ParsePipeline(R"({"tessera": 1, "nodes": [
    {"id": "a", "op": "const", "params": {"value": 1}}, {"id": "boom", "op": "fail"}],
    "edges": [{"from": {"node": "a", "port": "out"}, "to": {"node": "boom", "port": "in"}}]})", "f.json");
  Session session(doc, Registry());
  try {
    session.Run();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorruptFile);
    EXPECT_EQ(e.info().node, "boom");
    EXPECT_EQ(e.info().file, "bad.bin");
    EXPECT_NE(std::string(e.what()).find("node 'boom'"), std::string::npos);
  }
}

TEST(PipelineSession, CancelStopsBeforeRunning) {
  std::atomic<bool> cancel{true};
  Session session(Chain(), Registry(), {.cancel = &cancel});
  try {
    session.Run();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  EXPECT_EQ(session.total_executions(), 0);
}

TEST(PipelineSession, InvalidDocumentIsRejectedBeforeAnythingRuns) {
  auto doc = Chain();
  doc.edges.pop_back();  // t loses its input
  Session session(doc, Registry());
  EXPECT_THROW(session.Run(), Error);
  EXPECT_EQ(session.total_executions(), 0);
}

TEST(PipelineSession, EventsReportEveryNode) {
  std::vector<std::string> done;
  Session session(Chain(), Registry(), {.on_event = [&](const NodeEvent& e) {
                                          if (e.state == NodeEvent::State::kDone) done.push_back(e.node);
                                        }});
  session.Run();
  EXPECT_EQ(done.size(), 5u);
}

// Built-in operators end to end: read an NPY 4D-STEM stack, sum it, write HDF5 with provenance.
TEST(PipelineBuiltin, ReadReduceWrite) {
  const auto dir = std::filesystem::temp_directory_path() / "tessera-pipeline-test";
  std::filesystem::create_directories(dir);
  NdArray data(DType::kUint16, {2, 3, 4, 5});
  auto flat = data.flat<uint16_t>();
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<uint16_t>(i % 17);
  formats::WriteNpy((dir / "scan.npy").string(), data);
  auto doc = ParsePipeline(R"({"tessera": 1, "name": "e2e", "nodes": [
    {"id": "in", "op": "read", "params": {"path": "scan.npy", "options": {"sig_dims": 2}}},
    {"id": "s", "op": "sum"},
    {"id": "out", "op": "write", "params": {"path": "sum.h5"}}],
    "edges": [{"from": {"node": "in", "port": "data"}, "to": {"node": "s", "port": "data"}},
              {"from": {"node": "s", "port": "sum"}, "to": {"node": "out", "port": "data"}}]})", "e2e");
  doc.base_dir = dir.string();
  Session session(doc, BuiltinOperators(), {.output_dir = dir.string()});
  const auto result = session.Run();
  const auto& sum = result.Get("s", "sum").array->data;
  ASSERT_EQ(sum.shape(), (std::vector<int64_t>{4, 5}));
  for (int64_t p = 0; p < 20; ++p) {
    double expected = 0;
    for (int64_t f = 0; f < 6; ++f) expected += static_cast<double>((f * 20 + p) % 17);
    EXPECT_DOUBLE_EQ(sum.GetAsDouble(p), expected);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "sum.h5"));
  ASSERT_EQ(result.inputs.size(), 1u);
  // A second run reads nothing again but writes again (write has side effects).
  const auto again = session.Run();
  EXPECT_EQ(again.executed, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tessera::pipeline
