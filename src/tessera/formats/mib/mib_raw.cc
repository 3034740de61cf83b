// SPDX-License-Identifier: MIT
#include "tessera/formats/mib/mib_raw.h"

#include <array>
#include <bit>
#include <cstring>

#include <fmt/format.h>

#include "tessera/core/error.h"

namespace tessera::formats::mib {
namespace {

inline uint64_t LoadBigEndian64(const std::byte* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

inline void StoreLittleEndian64(void* p, uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof(v));
}

/// For every byte value, its 8 bits as 8 bytes of 0/1: `forward` bit j at byte j, `reversed` bit
/// j at byte 7 - j.
struct BitTable {
  alignas(64) std::array<std::array<uint8_t, 8>, 256> forward{};
  alignas(64) std::array<std::array<uint8_t, 8>, 256> reversed{};
};

constexpr BitTable MakeBitTable() {
  BitTable table;
  for (int value = 0; value < 256; ++value) {
    for (int bit = 0; bit < 8; ++bit) {
      const auto set = static_cast<uint8_t>((value >> bit) & 1);
      table.forward[static_cast<size_t>(value)][static_cast<size_t>(bit)] = set;
      table.reversed[static_cast<size_t>(value)][static_cast<size_t>(7 - bit)] = set;
    }
  }
  return table;
}

constexpr BitTable kBits = MakeBitTable();

/// `pixels` 1-bit pixels (a multiple of 64) from `in` into `out`, or into `out` mirrored
/// (pixel p at out[pixels - 1 - p]) when kReverse.
template <bool kReverse>
void DecodeBits(const std::byte* in, int64_t pixels, uint8_t* out) {
  const int64_t words = pixels / 64;
  for (int64_t i = 0; i < words; ++i) {
    const uint64_t w = LoadBigEndian64(in + 8 * i);
    for (int b = 0; b < 8; ++b) {
      const auto byte = static_cast<uint8_t>(w >> (8 * b));
      if constexpr (kReverse) {
        std::memcpy(out + pixels - 64 * i - 8 * b - 8, kBits.reversed[byte].data(), 8);
      } else {
        std::memcpy(out + 64 * i + 8 * b, kBits.forward[byte].data(), 8);
      }
    }
  }
}

/// 8-bit slots: slot k of each word is pixel k, i.e. the word's bytes in reverse order.
template <bool kReverse>
void DecodeBytes(const std::byte* in, int64_t pixels, uint8_t* out) {
  const int64_t words = pixels / 8;
  for (int64_t i = 0; i < words; ++i) {
    if constexpr (kReverse) {
      // Mirroring reverses the word's 8 pixels once more: the bytes keep their file order.
      std::memcpy(out + pixels - 8 * i - 8, in + 8 * i, 8);
    } else {
      StoreLittleEndian64(out + 8 * i, LoadBigEndian64(in + 8 * i));
    }
  }
}

/// 16-bit slots: slot k of each word is pixel k. Each word becomes one 64-bit store of its four
/// pixels: the word itself (as little-endian 16-bit lanes) forward; mirrored, the four
/// big-endian 16-bit values in file order.
template <bool kReverse>
void DecodeShorts(const std::byte* in, int64_t pixels, uint16_t* out) {
  const int64_t words = pixels / 4;
  for (int64_t i = 0; i < words; ++i) {
    if constexpr (kReverse) {
      uint64_t x = 0;
      std::memcpy(&x, in + 8 * i, sizeof(x));
      if constexpr (std::endian::native == std::endian::little) {
        x = ((x & 0x00ff00ff00ff00ffULL) << 8) | ((x >> 8) & 0x00ff00ff00ff00ffULL);
      }
      std::memcpy(out + pixels - 4 * i - 4, &x, sizeof(x));
    } else {
      const uint64_t w = LoadBigEndian64(in + 8 * i);
      if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(out + 4 * i, &w, sizeof(w));
      } else {
        for (int k = 0; k < 4; ++k) out[4 * i + k] = static_cast<uint16_t>(w >> (16 * k));
      }
    }
  }
}

/// Depth 24: the high and low 12-bit planes, 16-bit slots each, combined.
void DecodeTwoPlanes(const std::byte* high, const std::byte* low, int64_t pixels,
                     uint32_t* out) {
  const int64_t words = pixels / 4;
  for (int64_t i = 0; i < words; ++i) {
    const uint64_t wh = LoadBigEndian64(high + 8 * i);
    const uint64_t wl = LoadBigEndian64(low + 8 * i);
    for (int k = 0; k < 4; ++k) {
      out[4 * i + k] = (static_cast<uint32_t>(static_cast<uint16_t>(wh >> (16 * k))) << 12) +
                       static_cast<uint16_t>(wl >> (16 * k));
    }
  }
}

template <bool kReverse>
void DecodeSegment(int slot_bits, const std::byte* in, int64_t pixels, std::byte* out) {
  switch (slot_bits) {
    case 1: DecodeBits<kReverse>(in, pixels, reinterpret_cast<uint8_t*>(out)); break;
    case 8: DecodeBytes<kReverse>(in, pixels, reinterpret_cast<uint8_t*>(out)); break;
    default: DecodeShorts<kReverse>(in, pixels, reinterpret_cast<uint16_t*>(out)); break;
  }
}

[[noreturn]] void Unsupported(const std::string& path, const std::string& field,
                              const std::string& message) {
  throw Error(ErrorInfo{
      .code = ErrorCode::kUnsupported, .message = message, .file = path, .field = field});
}

}  // namespace

RawGeometry MakeRawGeometry(int counter_depth, bool quad, int64_t width, int64_t height,
                            const std::string& path) {
  RawGeometry g;
  g.counter_depth = counter_depth;
  g.quad = quad;
  g.width = width;
  g.height = height;
  switch (counter_depth) {
    case 1: g.slot_bits = 1; g.dtype = DType::kUint8; break;
    case 6: g.slot_bits = 8; g.dtype = DType::kUint8; break;
    case 12: g.slot_bits = 16; g.dtype = DType::kUint16; break;
    case 24: g.slot_bits = 16; g.dtype = DType::kUint32; break;
    default:
      Unsupported(path, "counter_depth",
                  fmt::format("RAW-mode counter depth {} is not supported (1, 6, 12, 24)",
                              counter_depth));
  }
  if (width <= 0 || height <= 0) {
    Unsupported(path, "width", fmt::format("RAW frame of {}x{} pixels", width, height));
  }
  if (quad) {
    if (counter_depth == 24) {
      Unsupported(path, "counter_depth",
                  "RAW-mode 24-bit frames of a 2x2 (quad) detector are not supported: their "
                  "chip order is not documented; save them in a non-raw format");
    }
    if (width != height || width % 2 != 0) {
      Unsupported(path, "width",
                  fmt::format("a 2x2 RAW frame must assemble to a square of 2x2 chips, not "
                              "{}x{}", width, height));
    }
    g.chip = width / 2;
    if ((g.chip * g.slot_bits) % 64 != 0) {
      Unsupported(path, "width",
                  fmt::format("RAW chip rows of {} pixels at {} bits are not whole 64-bit words",
                              g.chip, g.slot_bits));
    }
    g.packed_bytes = 4 * g.chip * g.chip * g.slot_bits / 8;
  } else {
    if ((width * g.slot_bits) % 64 != 0) {
      Unsupported(path, "width",
                  fmt::format("RAW rows of {} pixels at {} bits are not whole 64-bit words",
                              width, g.slot_bits));
    }
    g.packed_bytes = width * height * g.slot_bits / 8 * (counter_depth == 24 ? 2 : 1);
  }
  return g;
}

void DecodeRawRows(const RawGeometry& g, const std::byte* packed, int64_t row_begin,
                   int64_t row_end, void* out) {
  auto* dst = static_cast<std::byte*>(out);
  const int64_t item = SizeOf(g.dtype);
  const int64_t out_row_bytes = g.width * item;
  if (!g.quad) {
    const int64_t row_bytes = g.width * g.slot_bits / 8;
    for (int64_t y = row_begin; y < row_end; ++y, dst += out_row_bytes) {
      const std::byte* row = packed + y * row_bytes;
      if (g.counter_depth == 24) {
        DecodeTwoPlanes(row, row + g.height * row_bytes, g.width, reinterpret_cast<uint32_t*>(dst));
      } else {
        DecodeSegment<false>(g.slot_bits, row, g.width, dst);
      }
    }
    return;
  }
  const int64_t segment = g.chip * g.slot_bits / 8;
  const int64_t chip_row_bytes = g.chip * item;
  for (int64_t y = row_begin; y < row_end; ++y, dst += out_row_bytes) {
    if (y < g.chip) {
      // Top half: chips 1 (left) and 2 (right), the last two segments of raw row y.
      const std::byte* row = packed + y * 4 * segment;
      DecodeSegment<false>(g.slot_bits, row + 3 * segment, g.chip, dst);
      DecodeSegment<false>(g.slot_bits, row + 2 * segment, g.chip, dst + chip_row_bytes);
    } else {
      // Bottom half, rotated by 180 degrees: chips 3 (left) and 4 (right).
      const std::byte* row = packed + (2 * g.chip - 1 - y) * 4 * segment;
      DecodeSegment<true>(g.slot_bits, row + segment, g.chip, dst);
      DecodeSegment<true>(g.slot_bits, row, g.chip, dst + chip_row_bytes);
    }
  }
}

}  // namespace tessera::formats::mib
