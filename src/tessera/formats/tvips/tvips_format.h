// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// The TVIPS recorder main header (first bytes of part _000), little-endian u32 fields.
struct TvipsHeader {
  uint32_t size = 0;            // bytes of the main header: records start here in part 000
  uint32_t version = 0;         // 1 (12-byte frame headers) or 2 (frameheaderbytes)
  uint32_t dimx = 0;            // frame width
  uint32_t dimy = 0;            // frame height
  uint32_t bitsperpixel = 0;    // 8, 16 or 32: unsigned pixels
  uint32_t offsetx = 0;
  uint32_t offsety = 0;
  uint32_t binx = 0;
  uint32_t biny = 0;
  uint32_t pixelsize = 0;       // nm (images) or 1/nm (diffraction)
  uint32_t ht = 0;              // high tension, kV
  uint32_t magtotal = 0;        // magnification or camera length
  uint32_t frameheaderbytes = 0;
  int64_t frame_header_bytes = 0;  // per-frame header size in use (12 for version 1)
};

/// Parse the main header at the start of `bytes`. Throws kCorruptFile naming `path`, the byte
/// offset and the field for short headers, unknown versions, bit depths or absurd sizes.
TvipsHeader ParseTvipsHeader(std::span<const std::byte> bytes, const std::string& path);

/// Return the parts of a split series: `name_000.tvips`, `name_001.tvips`, ... while they exist.
/// A path without the `_NNN` suffix is a series of one; a later part (`_001`) is an error that
/// names the first part.
std::vector<std::string> TvipsSeriesParts(const std::string& path);

/// Open a TVIPS recorder series (.tvips, one or more parts) as one dataset: frames of
/// (dimy, dimx) unsigned pixels, served zero copy per frame from the mapped parts. The
/// navigation is a time series, or `scan_shape` ("HxW", frames from `scan_start_frame`).
std::unique_ptr<dataset::Dataset> OpenTvips(const std::string& path, const OpenParams& params);

/// Return the registry entry of the TVIPS format.
FormatEntry TvipsFormatEntry();

}  // namespace tessera::formats
