// SPDX-License-Identifier: MIT
#pragma once

#include <string>
#include <vector>

#include "tessera/formats/results_writer.h"
#include "tessera/pipeline/session.h"

namespace tessera::pipeline {

/// Who made a run, for its provenance.
struct RunStamp {
  std::string tessera_version;
  std::string git_hash;
  std::string command_line;
  std::string host;        // empty: this machine's name
  std::string start_time;  // ISO 8601
  std::string end_time;
};

/// Write every array-like, scalar and table output of `result` to `path` (HDF5, atomically):
/// /results/<node>.<port> with axes, and /provenance with the pipeline document, its base
/// directory, operator versions, every input with size and XXH3-128, host and times. Tables
/// become (rows, columns) float64 arrays whose description lists the columns.
void WriteRunResults(const std::string& path, const PipelineDoc& doc, const PipelineRegistry& registry,
                     const RunResult& result, const RunStamp& stamp);

/// Every display figure of `result` as PNG in `dir`: <node>.png, or <node>_i_j.png per sweep
/// combination. Returns the paths written.
std::vector<std::string> WriteFigures(const std::string& dir, const RunResult& result);

/// The pipeline stored in a result file (kUnsupported naming the file when it holds none).
PipelineDoc StoredPipeline(const formats::StoredResults& stored, const std::string& path);

/// A methods paragraph naming every operator with its version and parameters, then the BibTeX
/// of Tessera and of every cited method, for a result written by a pipeline or by `tessera run`.
std::string CiteText(const formats::StoredResults& stored, const PipelineRegistry& registry,
                     const std::string& path);

/// What `tessera reproduce` found.
struct ReproduceReport {
  struct Input {
    std::string path;
    bool found = false;
    bool identical = false;  // size and checksum as recorded
  };
  struct Output {
    std::string name;
    bool identical = false;
    std::string difference;  // "shape 3x4 vs 4x4", "max |a-b| = 1e-7 at 12 elements", ...
  };
  std::vector<Input> inputs;
  std::vector<Output> outputs;
  std::string written;  // the new result file
  bool identical() const;
};

/// Re-run the pipeline stored in `result_path` on the inputs it names (their checksums are
/// checked first; a changed or missing input is reported and nothing runs), write the new
/// result into `output_dir`, and compare every stored array bit for bit.
ReproduceReport Reproduce(const std::string& result_path, const std::string& output_dir,
                          const PipelineRegistry& registry, const RunStamp& stamp);

}  // namespace tessera::pipeline
