// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tessera/core/dtype.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// A Ripple (.rpl) header: the layout of the .raw file next to it.
struct RippleHeader {
  int64_t width = 0;
  int64_t height = 0;
  int64_t depth = 0;
  int64_t offset = 0;       // bytes before the data in the .raw file
  int64_t data_length = 0;  // bytes per element
  DType dtype = DType::kUint8;
  bool big_endian = false;
  std::string record_by;                     // "vector", "image" or "dont-care"
  std::map<std::string, std::string> keys;   // every key (lower case) and its value
};

/// Parse the text of a .rpl file. Throws kCorruptFile naming `path` and the key for missing
/// required keys (width, height, depth, data-length, data-type), numbers that do not parse and
/// unknown data types, byte orders or record-by values.
RippleHeader ParseRippleHeader(std::string_view text, const std::string& path);

/// Open a Ripple .rpl header and its .raw data: record-by vector gives nav (height, width) and
/// sig (depth,); image gives nav (depth,) and sig (height, width) (no nav when depth is 1).
/// Zero copy from a memory map when the data is in native byte order.
std::unique_ptr<dataset::Dataset> OpenRipple(const std::string& path);

/// Return the registry entry of the Ripple format.
FormatEntry RippleFormatEntry();

}  // namespace tessera::formats
