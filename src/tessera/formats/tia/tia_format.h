// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// One series dimension of a SER header.
struct SerDimension {
  int32_t size = 0;
  double calibration_offset = 0;
  double calibration_delta = 1;
  int32_t calibration_element = 0;
  std::string description;
  std::string units;
};

/// The fields of a TIA .ser file that Tessera uses (little-endian on disk).
struct SerHeader {
  int32_t version = 0;            // 0x0210: 4-byte offsets, 0x0220: 8-byte offsets
  int32_t data_type_id = 0;       // 0x4120 1-D spectra, 0x4122 2-D images
  int32_t tag_type_id = 0;        // 0x4152 time, 0x4142 time and position
  int32_t total_elements = 0;
  int32_t valid_elements = 0;
  int64_t offset_array_offset = 0;
  std::vector<SerDimension> dimensions;  // in file order (fastest first)
  std::vector<int64_t> data_offsets;     // the first valid_elements data offsets
  // The first element's header, shared by every element.
  int16_t element_data_type = 0;
  DType dtype = DType::kUint8;
  std::vector<int64_t> element_shape;    // (channels,) or (size_y, size_x)
  int64_t element_header_bytes = 0;      // bytes from a data offset to its first value
  double offset_x = 0, delta_x = 1, offset_y = 0, delta_y = 1;
  int32_t element_x = 0, element_y = 0;
};

/// Parse the header, offset array and element headers of a SER file. Throws kCorruptFile naming
/// `path`, the byte offset and the field for anything malformed or pointing past the end.
SerHeader ParseSerHeader(std::span<const std::byte> bytes, const std::string& path);

/// Open a TIA .ser file, or an .emi file with its `_<ser>.ser` companion (metadata from the
/// .emi's <ObjectInfo>), as a dataset: nav = the series dimensions, sig = (sy, sx) or (channels,).
std::unique_ptr<dataset::Dataset> OpenTia(const std::string& path, int64_t ser_index = 1);

/// Return the registry entry of the TIA format.
FormatEntry TiaFormatEntry();

}  // namespace tessera::formats
