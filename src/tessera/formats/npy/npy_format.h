// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// The parsed header of an NPY file.
struct NpyHeader {
  int version_major = 1;
  DType dtype = DType::kFloat32;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;  // bytes from the start of the file to the first element
};

/// Parse the header at the start of `bytes` (the file's first bytes, or all of it). Throws
/// kCorruptFile naming `path`, the offset and the field for malformed input, kUnsupported for
/// valid NPY this reader does not handle (structured dtypes, float16, version > 3). Does not
/// reject fortran_order; OpenNpy does.
NpyHeader ParseNpyHeader(std::span<const std::byte> bytes, const std::string& path);

/// Open an NPY file as a dataset, zero copy from a memory map. The last `sig_dims` axes are the
/// signal (default min(2, rank)).
std::unique_ptr<dataset::Dataset> OpenNpy(const std::string& path, int sig_dims = -1);

/// Return the complete NPY header (magic .. newline) for a C-order array, padded so that the
/// data starts on a 64-byte boundary (version 1.0, or 2.0 for very long headers).
std::string MakeNpyHeader(DType dtype, std::span<const int64_t> shape);

/// Write `array` to `path` as NPY, atomically (temp file + rename).
void WriteNpy(const std::string& path, const NdArray& array);

/// Return the registry entry of the NPY format.
FormatEntry NpyFormatEntry();

}  // namespace tessera::formats
