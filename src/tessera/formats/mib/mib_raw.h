// SPDX-License-Identifier: MIT
// Decoding of Merlin RAW-mode ("R64") frames: Medipix3 counters as read out of the chips, packed
// in 64-bit big-endian words, with quad (2x2) detectors' chips side by side in readout order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tessera/core/dtype.h"

namespace tessera::formats::mib {

/// The geometry of one RAW-mode frame.
///
/// Pixels lie in slots of 1 bit (counter depth 1), 8 bits (depth 6) or 16 bits (depth 12) inside
/// 64-bit words stored big-endian; slot k of a word (k = 0 the least significant) is pixel k of
/// the 64 / slot_bits pixels the word carries. Depth 24 is two depth-12 planes one after the
/// other, the first holding the 12 most significant bits.
///
/// A quad (2x2) frame is read out as `chip` rows of 4 * chip pixels: the row segments of chips
/// 4, 3, 2, 1 in that order. Chips 1 and 2 are the top half of the assembled frame (left, right);
/// chips 3 and 4 the bottom half (left, right), rotated by 180 degrees: raw row r lands on
/// assembled row 2 * chip - 1 - r, mirrored along x.
struct RawGeometry {
  int counter_depth = 0;  // 1, 6, 12 or 24
  bool quad = false;      // 2x2 chips assembled into a (2 chip) x (2 chip) frame
  int64_t chip = 0;       // quad: pixels per chip side
  int64_t width = 0;      // assembled frame
  int64_t height = 0;
  int slot_bits = 0;          // 1, 8, 16 (16 for both planes of depth 24)
  int64_t packed_bytes = 0;   // packed bytes per frame
  DType dtype = DType::kUint8;  // uint8 (1, 6), uint16 (12), uint32 (24)
};

/// Return the geometry of a RAW frame of `counter_depth` whose assembled size is width x height,
/// or throw kUnsupported (naming `path` and field "counter_depth" / "width") for depths other
/// than 1, 6, 12, 24, rows that are not whole 64-bit words, or quad frames of depth 24 or with
/// chips that are not square.
RawGeometry MakeRawGeometry(int counter_depth, bool quad, int64_t width, int64_t height,
                            const std::string& path);

/// Decode assembled rows [row_begin, row_end) of one frame whose packed bytes start at `packed`
/// into `out`, a dense (row_end - row_begin) x width array of `geometry.dtype`. Branch-free per
/// 64-bit word; reads only the words those rows need.
void DecodeRawRows(const RawGeometry& geometry, const std::byte* packed, int64_t row_begin,
                   int64_t row_end, void* out);

}  // namespace tessera::formats::mib
