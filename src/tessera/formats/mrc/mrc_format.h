// SPDX-License-Identifier: MIT
#pragma once

#include <array>
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

/// The fields of an MRC2014 header (1024 bytes) that Tessera uses, decoded to host byte order.
struct MrcHeader {
  std::array<int32_t, 3> n{};         // nx, ny, nz: columns, rows, sections
  int32_t mode = 2;                   // 0 int8, 1 int16, 2 float32, 4 complex64, 6 uint16, 12 float16
  std::array<int32_t, 3> start{};     // nxstart, nystart, nzstart
  std::array<int32_t, 3> m{};         // mx, my, mz: sampling along the cell edges
  std::array<float, 3> cella{};       // cell dimensions in Angstrom
  std::array<float, 3> cellb{};       // cell angles in degrees
  std::array<int32_t, 3> map_crs{};   // mapc, mapr, maps: which axis is column, row, section
  std::array<float, 3> dmin_max_mean{};
  int32_t ispg = 0;                   // 0: image stack, 1..230: volume, 401..630: volume stack
  int32_t nsymbt = 0;                 // bytes of extended header after the 1024-byte header
  std::string exttyp;                 // extended header type ("FEI1", "FEI2", "CCP4", ...)
  int32_t nversion = 0;               // 20140 for MRC2014
  std::array<float, 3> origin{};      // in Angstrom
  bool has_map_stamp = false;         // "MAP " at byte 208
  std::array<uint8_t, 4> machst{};    // byte order stamp as stored
  bool big_endian = false;            // from machst, or guessed from the header when unset
  float rms = 0;
  std::vector<std::string> labels;   // the first nlabl 80-character labels, right-trimmed
  DType dtype = DType::kFloat32;      // element type served (float16 files are served as float32)
  bool float16 = false;               // elements are IEEE half floats, widened on read
  int64_t data_offset = 1024;         // 1024 + nsymbt
};

/// Parse the header at the start of `bytes` (at least the first 1024 bytes of the file). Throws
/// kCorruptFile naming `path`, the byte offset and the field for malformed headers (short
/// header, negative sizes or extended header), kUnsupported for modes Tessera does not read.
MrcHeader ParseMrcHeader(std::span<const std::byte> bytes, const std::string& path);

/// Return whether `head` (the first bytes of a file) plausibly starts with an MRC header even
/// without the "MAP " stamp (old or CCP4-less writers): sizes, mode and byte order are sane.
bool LooksLikeMrcHeader(std::span<const std::byte> head);

/// Open an MRC/MRCS file (or a gzip-compressed one: .mrc.gz, .map.gz, decompressed in memory)
/// as a dataset: nz frames of (ny, nx), zero copy from a memory map when the file is in native
/// byte order. A single image in an image stack (ispg 0, nz 1) has no navigation axes.
std::unique_ptr<dataset::Dataset> OpenMrc(const std::string& path);

/// Return the registry entry of the MRC format.
FormatEntry MrcFormatEntry();

}  // namespace tessera::formats
