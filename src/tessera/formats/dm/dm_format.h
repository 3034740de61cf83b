// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// One image of a DM file's ImageList, as found in its tag tree.
struct DmImageInfo {
  int index = 0;                 // position in ImageList
  int data_type = 0;             // DM DataType code (1 int16, 2 float32, ... 23 RGBA)
  std::vector<int64_t> dm_dims;  // Dimensions as stored, fastest first
  int64_t data_offset = 0;       // file offset of the first byte of Data
  int64_t data_bytes = 0;        // length of Data in bytes
  std::string signal_type;       // ImageTags/Meta Data/Signal ("EELS", "X-ray", ...), or ""
  std::string name;              // the image's Name tag
  bool thumbnail = false;        // listed under Thumbnails (the small RGBA preview)
  // Calibrations/Dimension, one per entry of dm_dims: coordinate = (index - origin) * scale.
  std::vector<double> scales;
  std::vector<double> origins;
  std::vector<std::string> units;
};

/// The parsed structure of a DM3/DM4 file.
struct DmFile {
  int version = 0;             // 3 or 4
  bool little_endian = true;   // byte order of tag data (tag headers are always big-endian)
  std::vector<DmImageInfo> images;
  std::string tags_json;       // the tag tree as a JSON object, long arrays summarised
};

/// Parse the tag tree of a DM3/DM4 file held in `bytes`. Throws kCorruptFile naming `path`
/// and the offset for malformed input, kUnsupported for a version other than 3 or 4.
DmFile ParseDm(std::span<const std::byte> bytes, const std::string& path);

/// Open image `image` of a DM3/DM4 file (-1: the largest that is not a thumbnail) as a dataset,
/// zero copy where the data is contiguous. Throws kUnsupported naming the DataType for data
/// this reader does not decode (packed complex FFT, RGB).
std::unique_ptr<dataset::Dataset> OpenDm(const std::string& path, int image = -1);

/// Return the registry entry of the DM3/DM4 format.
FormatEntry DmFormatEntry();

}  // namespace tessera::formats
