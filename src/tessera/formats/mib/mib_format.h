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

/// The parsed ASCII header of one Merlin MIB frame ("MQ1,<seq>,<header bytes>,...").
struct MibFrameHeader {
  int64_t sequence = 0;
  int64_t header_bytes = 0;
  int64_t n_chips = 0;
  int64_t width = 0;
  int64_t height = 0;
  std::string pixel_type;     // "U08", "U16", "U32", "R64", ...
  std::string sensor_layout;  // "1x1", "2x2", "Nx1" (spaces stripped)
  std::string chip_select;    // hex bit mask of the active chips ("0F")
  std::string timestamp;
  double shutter_time_s = 0.0;
  std::string counter;
  std::string colour_mode;
  std::string gain_mode;
  std::vector<double> thresholds;  // keV, usually 8
  // The DAC fields of each chip (after its chip type, e.g. "3RX"), as written.
  std::vector<std::string> chip_types;
  std::vector<std::vector<std::string>> dacs;
  // From the "MQ1A" extension, when present (Merlin software 0.7x and later).
  std::string extended_timestamp;
  std::string shutter_time_ns;
  int64_t counter_depth = 0;  // 0 when the header does not say
  std::vector<std::string> fields;  // every comma-separated field, NUL padding removed
};

/// Parse the frame header at the start of `bytes`, which starts at byte `offset` of `path`.
/// Throws kCorruptFile naming `path`, the byte offset and the field for a bad magic, a header
/// running past `bytes`, too few fields, or non-numeric numeric fields.
MibFrameHeader ParseMibFrameHeader(std::span<const std::byte> bytes, int64_t offset,
                                   const std::string& path);

/// Return the element type of a MIB pixel type ("U08" -> uint8, "U16" -> uint16, "U32" ->
/// uint32, all big-endian in the file); throws kUnsupported (file, offset, field "pixel_type")
/// for RAW mode ("R64", decoded by OpenMib through mib_raw.h) and unknown types.
DType MibPixelDType(const MibFrameHeader& header, int64_t offset, const std::string& path);

/// Open a MIB acquisition as a dataset of (nav..., height, width) frames: a .mib file, or the
/// .mib next to a given .hdr, or, for a .hdr without its own .mib (or with `glob=true`), every
/// "<name>*.mib" of a multi-file acquisition, ordered by first sequence number, then naturally
/// by name. RAW-mode (R64) frames are decoded to uint8 (depth 1, 6), uint16 (12) or uint32 (24)
/// and quad frames assembled to 512x512. Parameters: `nav_shape` ("HxW") overrides the
/// navigation shape taken from the .hdr; `sync_offset` N makes dataset frame i acquisition
/// frame i + N (LiberTEM), frames outside the acquisition reading as zeros.
std::unique_ptr<dataset::Dataset> OpenMib(const std::string& path, const OpenParams& params);

/// Return the registry entry of the Merlin MIB format.
FormatEntry MibFormatEntry();

}  // namespace tessera::formats
