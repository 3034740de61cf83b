// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/dataset_writer.h"
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

/// How a dataset is laid out in an MRC2014 file written by WriteMrc().
struct MrcWriteLayout {
  int32_t mode = 2;
  DType file_dtype = DType::kFloat32;  // element type on disk (uint8 -> uint16, bool -> int8)
  std::array<int32_t, 3> n{};          // nx = last axis, ny = the one before, nz = the rest
  std::array<int32_t, 3> m{};          // mx = nx, my = ny, mz = 1 (image stack) or volume depth
  std::array<double, 3> cella{};       // Angstrom; 0 where the axis has no length unit
  std::array<double, 3> origin{};      // Angstrom (axis offsets)
  int32_t ispg = 0;                    // 0 image stack, 1 volume, 401 stack of volumes
};

/// Header statistics (of magnitudes for complex data; non-finite values skipped).
struct MrcWriteStats {
  double min = 0, max = 0, mean = 0, rms = 0;
};

/// Choose mode, sizes, space group and cell for writing `meta` as MRC. Throws kUnsupported
/// naming `path` and the field for dtypes MRC cannot hold (int32, uint32, 64-bit, float64,
/// complex128: no silent narrowing) and for sizes beyond int32.
MrcWriteLayout PlanMrcWrite(const dataset::DatasetMeta& meta, const std::string& path);

/// Return the 1024-byte little-endian MRC2014 header (nversion 20140, exttyp "MRCO", no
/// extended header, "MAP " and machine stamp 0x44 0x44) with one label.
std::string MakeMrcHeader(const MrcWriteLayout& layout, const MrcWriteStats& stats,
                          const std::string& label);

/// Write every frame of `source` to `path` as MRC2014 (see PlanMrcWrite for the layout), with
/// dmin/dmax/dmean/rms computed from the data. Atomic: temp file, renamed when complete;
/// `cancel` stops between blocks with kCancelled and leaves nothing behind.
void WriteMrc(const dataset::Dataset& source, const std::string& path,
              const WriteProgress& progress = {}, const std::atomic<bool>* cancel = nullptr);

/// Return the registry entry of the MRC format.
FormatEntry MrcFormatEntry();

}  // namespace tessera::formats
