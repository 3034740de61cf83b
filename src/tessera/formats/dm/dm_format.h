// SPDX-License-Identifier: MIT
#pragma once

#include <complex>
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

/// Unpack one DM "packed complex" FFT frame (DataType 27 complex64, 28 complex128): `packed`
/// holds ny rows of nx/2 + 1 complex values, the rows in centred order (the zero-frequency row
/// at ny/2) and the columns the non-negative frequencies kx = 0 .. nx/2. `out` receives the full
/// ny x nx frame in centred order (zero frequency at row ny/2, column nx/2, as DigitalMicrograph
/// displays it); the negative frequencies come from Hermitian symmetry,
/// X(ky, kx) = conj(X(-ky, -kx)).
template <class T>
void UnpackDmPackedComplex(const T* packed, int64_t ny, int64_t nx, T* out) {
  const int64_t width = nx / 2 + 1, cy = ny / 2, cx = nx / 2;
  for (int64_t r = 0; r < ny; ++r) {
    const int64_t mirror = ((2 * cy - r) % ny + ny) % ny;
    for (int64_t j = 0; j < nx; ++j) {
      const int64_t kx = j - cx;
      out[r * nx + j] = kx >= 0 ? packed[r * width + kx] : std::conj(packed[mirror * width - kx]);
    }
  }
}

/// Open image `image` of a DM3/DM4 file (-1: the largest that is not a thumbnail) as a dataset,
/// zero copy where the data is contiguous. Packed complex FFTs (DataType 27/28) are unpacked to
/// full complex frames (see UnpackDmPackedComplex). Throws kUnsupported naming the DataType for
/// data this reader does not decode (old packed complex DataType 5, RGB).
std::unique_ptr<dataset::Dataset> OpenDm(const std::string& path, int image = -1);

/// Return the registry entry of the DM3/DM4 format.
FormatEntry DmFormatEntry();

}  // namespace tessera::formats
