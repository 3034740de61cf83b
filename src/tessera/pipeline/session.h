// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/pipeline/document.h"

namespace tessera::pipeline {

/// Something that happened to a node during Session::Run, for progress displays.
struct NodeEvent {
  enum class State : uint8_t { kStarted, kProgress, kDone, kCached };
  std::string node;
  State state = State::kStarted;
  double fraction = 0.0;   // kProgress: how far, in [0, 1]
  double seconds = 0.0;    // kDone: how long it ran
  int64_t combination = 0; // which sweep combination of this node (0 without sweeps)
  int64_t combinations = 1;
};

struct SessionOptions {
  int threads = 0;         // threads of a reduce operator's pass (0: all cores)
  int parallel_nodes = 0;  // nodes running at once (0: up to the number of cores)
  const std::atomic<bool>* cancel = nullptr;  // set from any thread to stop between nodes/tiles
  /// Where write operators put relative paths.
  std::string output_dir;
  /// Recorded in written results.
  std::string tessera_version;
  std::string git_hash;
  std::string command_line;
  /// Called from worker threads (one at a time) for every node event.
  std::function<void(const NodeEvent&)> on_event;
};

/// The outputs of one node after a run.
struct NodeResult {
  std::string op;
  /// The sweeps (indices into RunResult::sweeps) this node depends on, in order: its outputs
  /// carry one leading axis per sweep, of that sweep's length.
  std::vector<size_t> sweeps;
  /// Outputs per combination of those sweeps (row-major over `sweeps`), per output port.
  std::vector<std::vector<Value>> per_combination;
  /// Outputs per port: array-like and scalar outputs stacked along the sweep axes (a scalar
  /// becomes a 1-D array per sweep); tables are concatenated with a leading column per sweep;
  /// dataset outputs and figures (display nodes) are those of combination 0.
  std::vector<Value> outputs;
  std::vector<std::string> port_names;
  int64_t executed = 0;  // combinations computed in this run (the rest came from the cache)

  const Value* Find(std::string_view port) const;
};

struct RunResult {
  std::vector<Sweep> sweeps;
  std::map<std::string, NodeResult, std::less<>> nodes;
  std::vector<RunInput> inputs;
  int64_t executed = 0;  // operator executions in this run
  int64_t cached = 0;    // node combinations served from the cache
  double seconds = 0.0;

  /// Return the output `port` of `node`; throws kInvalidArgument naming what is missing.
  const Value& Get(std::string_view node, std::string_view port) const;
};

/// A pipeline being worked on: run it, change a parameter, run again. Each node's outputs are
/// cached by a key of (operator, version, canonical params, external key, input keys), so a run
/// after Set() recomputes only the changed node and what depends on it. Thread-compatible: one
/// caller at a time.
class Session {
 public:
  Session(PipelineDoc doc, const PipelineRegistry& registry, SessionOptions options = {});
  ~Session();

  const PipelineDoc& document() const { return doc_; }
  const PipelineRegistry& registry() const { return *registry_; }
  /// Set `node.param` to `value`; the document is validated and left unchanged on error.
  void Set(std::string_view node_dot_param, Json value);
  /// Replace the whole document (the web UI's edits); cached results stay usable.
  void SetDocument(PipelineDoc doc);
  /// Validate, then run every node that is not cached. Throws the first operator error with
  /// its node named (Error::info().node), kCancelled when cancelled.
  RunResult Run();

  /// How many times `node`'s operator has run in this session (cache misses).
  int64_t executions(std::string_view node) const;
  int64_t total_executions() const;
  /// Drop every cached result.
  void ClearCache();
  /// Bytes of arrays held by the cache.
  int64_t cache_bytes() const;

 private:
  struct CacheEntry;
  PipelineDoc doc_;
  const PipelineRegistry* registry_;
  SessionOptions options_;
  std::map<std::string, std::shared_ptr<const CacheEntry>> cache_;
  std::map<std::string, int64_t, std::less<>> executions_;
  bool validated_ = false;  // doc_ passed CheckValid since it last changed
  mutable std::mutex mutex_;
};

}  // namespace tessera::pipeline
