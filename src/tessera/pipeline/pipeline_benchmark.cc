// SPDX-License-Identifier: MIT
// Engine overhead of a Session: a 10-node chain re-run after changing one parameter (one node
// executes, nine come from the cache) and a fully cached re-run, per node.
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include "tessera/pipeline/builtin_ops.h"
#include "tessera/pipeline/session.h"
#include "tessera/pipeline/test_ops_internal.h"

namespace tessera::pipeline {
namespace {

constexpr int kNodes = 10;

// const -> scale x 9: cheap array operators on `size` doubles.
PipelineDoc Chain(int64_t size) {
  Json doc = {{"tessera", 1}, {"nodes", Json::array()}, {"edges", Json::array()}};
  doc["nodes"].push_back({{"id", "n0"}, {"op", "const"}, {"params", {{"value", 1.0}, {"size", size}}}});
  for (int i = 1; i < kNodes; ++i) {
    doc["nodes"].push_back({{"id", fmt::format("n{}", i)}, {"op", "scale"}, {"params", {{"factor", 1.0 + i}}}});
    doc["edges"].push_back({{"from", {{"node", fmt::format("n{}", i - 1)}, {"port", "out"}}},
                            {"to", {{"node", fmt::format("n{}", i)}, {"port", "in"}}}});
  }
  return ParsePipeline(doc.dump(), "bench");
}

// Wall seconds per node per run (printed with an SI prefix: 13.4u = 13.4 us).
benchmark::Counter PerNode() {
  return benchmark::Counter(kNodes, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

const PipelineRegistry& Registry() {
  static const PipelineRegistry r = testing::TestRegistry();
  return r;
}

void BM_RerunAfterChangingLastParam(benchmark::State& state) {
  Session session(Chain(state.range(0)), Registry());
  session.Run();
  double factor = 2.0;
  for (auto _ : state) {
    session.Set(fmt::format("n{}.factor", kNodes - 1), factor);
    factor += 1.0;  // a new value each time: the last node always executes
    auto result = session.Run();
    benchmark::DoNotOptimize(result);
  }
  state.counters["per_node"] = PerNode();
}
BENCHMARK(BM_RerunAfterChangingLastParam)->Arg(16)->Arg(65536)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_FullyCachedRerun(benchmark::State& state) {
  Session session(Chain(state.range(0)), Registry());
  session.Run();
  for (auto _ : state) {
    auto result = session.Run();
    benchmark::DoNotOptimize(result);
  }
  state.counters["per_node"] = PerNode();
}
BENCHMARK(BM_FullyCachedRerun)->Arg(16)->Arg(65536)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace tessera::pipeline
