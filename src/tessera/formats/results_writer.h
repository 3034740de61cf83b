// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"

namespace tessera::formats {

/// One result array to write, with its calibration. The formats layer sits below `udf`, so
/// callers translate their results into this light struct.
struct ResultArray {
  std::string name;                  // dataset name under /results; no '/'
  const NdArray* data = nullptr;     // not owned
  std::vector<dataset::Axis> axes;   // one per dimension of `data`, or empty for defaults
  std::string units;                 // units of the values
  std::string description;
};

/// An input file of a result, for reproducibility.
struct ProvenanceInput {
  std::string path;
  int64_t size = 0;
  std::string xxh3_128;  // 32 hex digits
};

/// How a result file was made.
struct Provenance {
  std::string command_line;
  std::string tessera_version;
  std::string git_hash;
  std::string start_time;  // ISO 8601
  std::string end_time;
  std::string host;
  std::string parameters_json;  // the pipeline document or the operator parameters
  std::vector<ProvenanceInput> inputs;
};

/// Write `results` to an HDF5 file at `path`, atomically: one dataset per result at
/// /results/<name> with attributes axis_<i>_name/scale/offset/units, units and description,
/// and a /provenance group (string attributes, plus /provenance/inputs/<i> with path, size and
/// xxh3_128). Throws kInvalidArgument for bad names or axes, kIo naming `path`.
void WriteResultsHdf5(const std::string& path, std::span<const ResultArray> results,
                      const Provenance& provenance);

/// A result file read back: what WriteResultsHdf5 wrote.
struct StoredResults {
  Provenance provenance;
  std::vector<std::string> names;  // /results/<name>, in name order
  std::vector<NdArray> arrays;     // in the stored dtype
};

/// Read a file written by WriteResultsHdf5 (for `tessera cite` and `tessera reproduce`). Throws
/// kNotFound / kIo naming `path`, kCorruptFile if /results or /provenance is missing.
StoredResults ReadResultsHdf5(const std::string& path);

}  // namespace tessera::formats
