// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/core/error.h"
#include "tessera/pipeline/operator.h"

namespace tessera::pipeline {

struct Endpoint {
  std::string node;
  std::string port;
};

struct NodeDoc {
  std::string id;
  std::string op;
  Json params = Json::object();
  Json ui;  // layout hints, kept verbatim, never part of a cache key
};

struct EdgeDoc {
  Endpoint from;
  Endpoint to;
};

/// A pipeline document (DESIGN.md §4, schemas/pipeline.schema.json).
struct PipelineDoc {
  std::string name;
  std::string description;
  std::vector<NodeDoc> nodes;
  std::vector<EdgeDoc> edges;
  /// Directory of the file it was loaded from: relative paths in params resolve against it.
  std::string base_dir;

  const NodeDoc* FindNode(std::string_view id) const;
  NodeDoc* FindNode(std::string_view id);
  /// The document as JSON, in the same shape it was read (keys sorted, so it is canonical).
  Json ToJson() const;
};

/// The text of schemas/pipeline.schema.json, built into the library.
std::string_view PipelineSchemaText();

/// Parse a document. A JSON syntax error or a structural error (the document schema) throws
/// kInvalidArgument naming `source` and, for syntax errors, the byte offset; all structural
/// errors are listed in one message.
PipelineDoc ParsePipeline(std::string_view text, const std::string& source);
/// Read and parse a file; kNotFound / kIo name the path. base_dir is the file's directory.
PipelineDoc LoadPipeline(const std::string& path);

/// A parameter written {"sweep": [...]} or {"sweep": {"start", "stop", "step"}}.
struct Sweep {
  std::string node;
  std::string param;
  std::vector<Json> values;
  /// True when the values are numbers evenly spaced (a start/step calibration exists).
  bool uniform = false;
};
/// Return whether `value` is a sweep object.
bool IsSweep(const Json& value);
/// Expand one sweep object into its values; throws kInvalidArgument naming `field` when
/// malformed (empty, step 0 or of the wrong sign, more than 100000 values).
std::vector<Json> ExpandSweep(const Json& value, const std::string& field);
/// Every sweep of the document, in node order then parameter name order.
std::vector<Sweep> FindSweeps(const PipelineDoc& doc);

/// Check everything that can be checked without running: unknown operators, params against
/// each operator's schema (every sweep value), dangling node ids, unknown ports, port type
/// mismatches, two edges into one input, missing required inputs, cycles, duplicate ids.
/// Returns every problem found, each naming its node (and port or field); empty if valid.
std::vector<ErrorInfo> Validate(const PipelineDoc& doc, const PipelineRegistry& registry);
/// Validate and throw one kInvalidArgument listing every problem (one per line).
void CheckValid(const PipelineDoc& doc, const PipelineRegistry& registry, const std::string& source);

/// Set `node.param` (a JSON pointer below the param is allowed: `node.param/0`) to `value`.
/// Throws kInvalidArgument for an unknown node.
void SetParam(PipelineDoc& doc, std::string_view node_dot_param, Json value);
/// Parse the value of `--set node.param=value`: JSON if it parses, else the text as a string.
Json ParseParamValue(std::string_view text);

/// Return node indices in an order where every node comes after its inputs (ties in document
/// order). Throws kInvalidArgument if there is a cycle.
std::vector<size_t> TopologicalOrder(const PipelineDoc& doc);

}  // namespace tessera::pipeline
