// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// How a headerless binary file is laid out: a dense C-order array at `offset`.
struct RawLayout {
  std::vector<int64_t> nav_shape;
  std::vector<int64_t> sig_shape;
  DType dtype = DType::kFloat32;
  int64_t offset = 0;           // bytes before the first frame
  bool big_endian = false;      // byte order of the elements in the file
  bool allow_trailing = false;  // accept bytes after the last frame
};

/// Parse OpenParams (nav_shape, sig_shape, dtype, offset, endian, allow_trailing) into a layout;
/// errors are kInvalidArgument naming the field and `path`.
RawLayout ParseRawParams(const std::string& path, const OpenParams& params);

/// Map `path` and serve it as a dataset with `layout`. Throws kNotFound for a missing file and
/// kCorruptFile (file, offset) when its size does not match the layout.
std::unique_ptr<dataset::Dataset> OpenRaw(const std::string& path, const RawLayout& layout);

/// Return the registry entry of the raw format.
FormatEntry RawFormatEntry();

}  // namespace tessera::formats
