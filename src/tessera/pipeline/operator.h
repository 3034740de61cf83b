// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tessera/pipeline/value.h"

namespace tessera::pipeline {

using Json = nlohmann::json;

/// How an operator works on its inputs (DESIGN.md §4).
enum class OpKind : uint8_t {
  kIo,       // read a file into a dataset, write a value to a file
  kMap,      // per-frame transform of a dataset, fused lazily into the read
  kReduce,   // runs UDFs over a dataset (one pass over the data)
  kArray,    // arrays in, arrays out
  kDisplay,  // renders a figure (an RGB image) for people to look at
};
std::string_view Name(OpKind kind);

struct PortSpec {
  std::string name;
  PortType type = PortType::kArray;
  std::string description;
  bool optional = false;  // inputs only
};

struct OpCitation {
  std::string doi;
  std::string bibtex;
};

/// A file that a run read, for provenance.
struct RunInput {
  std::string path;
  int64_t size = 0;
};

/// What a run is, for the provenance that write operators record.
struct RunInfo {
  const Json* document = nullptr;  // the pipeline as run (sweeps unexpanded)
  std::map<std::string, std::string> operator_versions;  // of every operator the pipeline uses
  std::string tessera_version;
  std::string git_hash;
  std::string command_line;
  std::string start_time;  // ISO 8601
};

/// What an operator gets when it runs.
struct OpContext {
  std::string node;        // the node id, for messages
  const Json* params = nullptr;  // validated against the operator's schema, sweeps resolved
  std::vector<const Value*> inputs;  // by input port; nullptr for an absent optional input
  /// Directory that relative input paths in params are resolved against (the pipeline's).
  std::string base_dir;
  int threads = 0;  // for reduce operators; 0: all cores
  const std::atomic<bool>* cancel = nullptr;
  /// Report progress of a long operator in [0, 1].
  std::function<void(double)> progress;
  /// Where write operators put relative paths ("": the current directory).
  std::string output_dir;
  const RunInfo* run = nullptr;
  /// The files that the data reaching this node came from (read nodes upstream).
  std::vector<RunInput> upstream_inputs;
  /// Suffix that makes file names unique per sweep combination ("" without sweeps, "_1_0").
  std::string combination_suffix;

  const Value& Input(size_t port) const;  // throws kInternal for an absent input
  bool HasInput(size_t port) const { return port < inputs.size() && inputs[port] != nullptr; }
  /// Resolve a path param against base_dir.
  std::string ResolvePath(const std::string& path) const;
};

/// One entry of the operator registry: everything the CLI, the docs, the web UI and Python
/// need to know, and the function that runs it.
struct OperatorDef {
  std::string name;  // "gaussian-blur": lower case, digits, '-'
  std::string version;
  OpKind kind = OpKind::kArray;
  std::string summary;      // one line
  std::string description;  // paragraphs
  std::vector<PortSpec> inputs;
  std::vector<PortSpec> outputs;
  std::shared_ptr<const Json> params_schema;  // a JSON Schema (draft 7) for the params object
  std::vector<OpCitation> citations;
  /// Inputs identified by content that the cache key cannot see (files): return a string that
  /// changes when they change (e.g. path, size and mtime). Empty function: none.
  std::function<std::string(const OpContext&)> external_key;
  /// Never served from the cache (writes files).
  bool side_effects = false;
  /// Compute the outputs, one per output port, in order.
  std::function<std::vector<Value>(const OpContext&)> run;
};

/// Parse a params schema written as JSON text (for OperatorDef::params_schema).
std::shared_ptr<const Json> ParseSchema(std::string_view text);

/// The operators a pipeline may use. The single source of truth for `tessera pipeline ops`,
/// `docs/operators.md`, the web UI's forms and Python docstrings.
class PipelineRegistry {
 public:
  PipelineRegistry();
  ~PipelineRegistry();
  PipelineRegistry(PipelineRegistry&&) noexcept;
  PipelineRegistry& operator=(PipelineRegistry&&) noexcept;

  /// Add an operator; throws kInvalidArgument (field "operator") on a duplicate or bad name,
  /// missing docs, duplicate port names or a schema that does not compile.
  void Add(OperatorDef def);
  const OperatorDef* Find(std::string_view name) const;
  std::vector<const OperatorDef*> entries() const;  // sorted by name

  /// Check `params` against the operator's schema; return one message per violation, each
  /// starting with the JSON pointer of the offending value ("/sigma: ...").
  std::vector<std::string> CheckParams(std::string_view op, const Json& params) const;

  /// Every operator as a JSON array (name, version, kind, summary, description, inputs, outputs,
  /// params schema, citations).
  Json ToJson() const;
  /// Markdown reference of every operator (docs/operators.md is generated from it).
  std::string ToMarkdown() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::pipeline
