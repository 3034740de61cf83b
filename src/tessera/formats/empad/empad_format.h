// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// What Tessera takes from an EMPAD acquisition .xml.
struct EmpadXml {
  std::string raw_file;              // as written in <raw_file filename="..."/>
  std::vector<int64_t> nav_shape;    // (pix_y, pix_x), or (series_count,) for image series
  double field_of_view_x_m = 0;      // full scan field of view in metres, 0 when absent
  double field_of_view_y_m = 0;
  double pixel_size = 0;             // <calibrated_pixelsize>, 0 when absent
  std::string timestamp;             // isoformat attribute of <timestamp>
  std::string software_version;
  double voltage = 0;                // <source.get_voltage> in volts, 0 when absent
  double camera_length = 0;          // <optics.get_cameralength> in metres, 0 when absent
  double exposure_time = 0;          // <exposure_time> as written (ms), 0 when absent
};

/// Parse the few tags Tessera needs from the text of an EMPAD .xml. Throws kCorruptFile
/// naming `path`, the byte offset and the tag for missing or malformed values.
EmpadXml ParseEmpadXml(const std::string& text, const std::string& path);

/// Open an EMPAD acquisition by its .xml (the .raw named there, next to it) or by its .raw
/// (then `nav_shape` gives the scan; without it a square scan is inferred from the file size).
/// Raw frames are 130 rows x 128 float32 little-endian; the signal is the first 128 rows.
std::unique_ptr<dataset::Dataset> OpenEmpad(const std::string& path, const OpenParams& params);

/// Return the registry entry of the EMPAD format.
FormatEntry EmpadFormatEntry();

}  // namespace tessera::formats
