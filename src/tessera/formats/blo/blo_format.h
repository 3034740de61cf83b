// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// The fields of a NanoMegas/ASTAR blockfile header (little-endian, 240 bytes + note).
struct BloHeader {
  uint16_t magic = 0;            // 0x0102 after "IMGBLO"
  int64_t vbf_offset = 0;        // Data_offset_1: the virtual bright-field image (NY x NX uint8)
  int64_t frames_offset = 0;     // Data_offset_2: the first frame header
  uint32_t unknown1 = 0;
  int64_t dp_size = 0;           // DP_SZ: frames are dp_size x dp_size uint8
  uint16_t dp_rotation = 0;
  int64_t nx = 0;                // scan columns
  int64_t ny = 0;                // scan rows
  uint16_t scan_rotation = 0;    // 100 x degrees
  double sx = 0;                 // scan step [nm]
  double sy = 0;
  uint32_t beam_energy = 0;      // [V]
  uint16_t sdp = 0;              // diffraction pixel size [100 x pixels per cm]
  uint32_t camera_length = 0;    // [10 x mm]
  double acquisition_time = 0;   // serial date (days since 1899-12-30)
  std::string note;              // bytes 240 .. vbf_offset, up to the first NUL
};

/// Parse a blockfile header at the start of `bytes`. Throws kCorruptFile naming `path`, the
/// offset and the field for a short file, a wrong magic, zero sizes or offsets out of order.
BloHeader ParseBloHeader(std::span<const std::byte> bytes, const std::string& path);

/// Open a blockfile: nav (ny, nx), sig (dp, dp) uint8; the 6-byte frame headers (0x55AA and the
/// frame index) are skipped when reading.
std::unique_ptr<dataset::Dataset> OpenBlo(const std::string& path);

/// Return the registry entry of the blockfile format.
FormatEntry BloFormatEntry();

}  // namespace tessera::formats
