// SPDX-License-Identifier: MIT
// RAW-mode (R64) Merlin frames: a reference encoder written from the byte-level description of
// the format (LiberTEM's encode_r1/r6/r12 and the Merlin manual: 64-bit words, pixel order
// reversed within each word; quad chips 4,3,2,1 per raw row, chips 3 and 4 rotated by 180
// degrees), independent of the word-at-a-time decoder, round-tripped over random frames.
#include "tessera/formats/mib/mib_raw.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/formats/mib/mib_format.h"
#include "tessera/formats/test_util_internal.h"

namespace tessera::formats {
namespace {

using testing::ExpectError;
using testing::TempDir;
using testing::WriteBytes;
using testing::ReadAll;

using Image = std::vector<std::vector<uint32_t>>;  // [row][column]

/// Encode one row of pixels the way the chip reads it out, byte by byte.
std::string EncodeRow(const std::vector<uint32_t>& row, int depth) {
  std::string out;
  const size_t n = row.size();
  if (depth == 1) {
    out.assign(n / 8, '\0');
    for (size_t stripe = 0; stripe < n / 64; ++stripe) {
      for (size_t byte = 0; byte < 8; ++byte) {
        unsigned value = 0;
        for (size_t bit = 0; bit < 8; ++bit) value |= (row[64 * stripe + 8 * byte + bit] & 1u) << bit;
        // The byte holding pixels 8*byte.. sits at the far end of its 8-byte word.
        out[(stripe + 1) * 8 - (byte + 1)] = static_cast<char>(value);
      }
    }
  } else if (depth == 6) {
    out.assign(n, '\0');
    for (size_t i = 0; i < n; ++i) {
      out[i] = static_cast<char>(row[(i / 8 + 1) * 8 - i % 8 - 1]);
    }
  } else {  // 12: big-endian 16-bit values, groups of 4 reversed
    out.assign(2 * n, '\0');
    for (size_t i = 0; i < n; ++i) {
      const uint32_t value = row[(i / 4 + 1) * 4 - i % 4 - 1];
      out[2 * i] = static_cast<char>((value >> 8) & 0xff);
      out[2 * i + 1] = static_cast<char>(value & 0xff);
    }
  }
  return out;
}

std::string EncodeSingle(const Image& image, int depth) {
  if (depth == 24) {
    Image high = image, low = image;
    for (auto& row : high) for (auto& v : row) v >>= 12;
    for (auto& row : low) for (auto& v : row) v &= 0xfff;
    return EncodeSingle(high, 12) + EncodeSingle(low, 12);
  }
  std::string out;
  for (const auto& row : image) out += EncodeRow(row, depth);
  return out;
}

/// The quadrant of `image` at (top, left), `chip` pixels square, rotated by 180 degrees if asked.
Image Quadrant(const Image& image, size_t top, size_t left, size_t chip, bool rotate) {
  Image q(chip, std::vector<uint32_t>(chip));
  for (size_t r = 0; r < chip; ++r) {
    for (size_t c = 0; c < chip; ++c) {
      q[r][c] = rotate ? image[top + chip - 1 - r][left + chip - 1 - c] : image[top + r][left + c];
    }
  }
  return q;
}

/// Chips 1 (top left), 2 (top right), 3 (bottom left), 4 (bottom right); 3 and 4 are mounted
/// rotated, so their readout rows are the rotated quadrant's rows. Raw row r = chips 4, 3, 2, 1.
std::string EncodeQuad(const Image& image, int depth) {
  const size_t chip = image.size() / 2;
  const Image c1 = Quadrant(image, 0, 0, chip, false);
  const Image c2 = Quadrant(image, 0, chip, chip, false);
  const Image c3 = Quadrant(image, chip, 0, chip, true);
  const Image c4 = Quadrant(image, chip, chip, chip, true);
  std::string out;
  for (size_t r = 0; r < chip; ++r) {
    out += EncodeRow(c4[r], depth) + EncodeRow(c3[r], depth) + EncodeRow(c2[r], depth) +
           EncodeRow(c1[r], depth);
  }
  return out;
}

Image RandomImage(std::mt19937_64& rng, size_t height, size_t width, int depth) {
  const uint64_t max = depth == 6 ? 255 : (uint64_t{1} << depth) - 1;  // 6-bit slots are bytes
  std::uniform_int_distribution<uint64_t> dist(0, max);
  Image image(height, std::vector<uint32_t>(width));
  for (auto& row : image) for (auto& v : row) v = static_cast<uint32_t>(dist(rng));
  return image;
}

std::vector<uint32_t> Decode(const mib::RawGeometry& g, const std::string& packed,
                             int64_t row_begin, int64_t row_end) {
  EXPECT_EQ(static_cast<int64_t>(packed.size()), g.packed_bytes);
  std::vector<std::byte> out(static_cast<size_t>((row_end - row_begin) * g.width * SizeOf(g.dtype)));
  mib::DecodeRawRows(g, reinterpret_cast<const std::byte*>(packed.data()), row_begin, row_end,
                     out.data());
  std::vector<uint32_t> values;
  for (size_t i = 0; i < out.size() / static_cast<size_t>(SizeOf(g.dtype)); ++i) {
    switch (g.dtype) {
      case DType::kUint8: values.push_back(std::to_integer<uint32_t>(out[i])); break;
      case DType::kUint16: {
        uint16_t v = 0;
        std::memcpy(&v, out.data() + 2 * i, 2);
        values.push_back(v);
        break;
      }
      default: {
        uint32_t v = 0;
        std::memcpy(&v, out.data() + 4 * i, 4);
        values.push_back(v);
      }
    }
  }
  return values;
}

void ExpectRows(const Image& image, const std::vector<uint32_t>& decoded, int64_t row_begin,
                int64_t row_end) {
  const size_t width = image[0].size();
  ASSERT_EQ(decoded.size(), static_cast<size_t>(row_end - row_begin) * width);
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (size_t c = 0; c < width; ++c) {
      ASSERT_EQ(decoded[static_cast<size_t>(r - row_begin) * width + c],
                image[static_cast<size_t>(r)][c])
          << "row " << r << " column " << c;
    }
  }
}

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out += static_cast<char>(v);
  return out;
}

TEST(MibRaw, HandWorkedWords) {
  // 1 bit: the word 01 00 00 00 00 00 00 80 read big-endian is 0x0100000000000080: bits 7 and
  // 56 are set, so pixels 7 and 56 of the 64 are 1.
  {
    const auto g = mib::MakeRawGeometry(1, false, 64, 1, "x.mib");
    const auto values = Decode(g, Bytes({0x01, 0, 0, 0, 0, 0, 0, 0x80}), 0, 1);
    for (size_t i = 0; i < 64; ++i) EXPECT_EQ(values[i], i == 7 || i == 56 ? 1u : 0u) << i;
  }
  // 6 bit (8-bit slots): bytes 1..8 are pixels 8..1.
  {
    const auto g = mib::MakeRawGeometry(6, false, 8, 1, "x.mib");
    EXPECT_EQ(Decode(g, Bytes({1, 2, 3, 4, 5, 6, 7, 8}), 0, 1),
              (std::vector<uint32_t>{8, 7, 6, 5, 4, 3, 2, 1}));
  }
  // 12 bit (16-bit slots): 0x0001 0x0a02 0x0003 0x0ff4 are pixels 3..0.
  {
    const auto g = mib::MakeRawGeometry(12, false, 4, 1, "x.mib");
    EXPECT_EQ(Decode(g, Bytes({0x00, 0x01, 0x0a, 0x02, 0x00, 0x03, 0x0f, 0xf4}), 0, 1),
              (std::vector<uint32_t>{0xff4, 0x003, 0xa02, 0x001}));
  }
  // 24 bit: high plane then low plane: (0x0ab << 12) + 0x0cd = 0xab0cd in pixel 3.
  {
    const auto g = mib::MakeRawGeometry(24, false, 4, 1, "x.mib");
    EXPECT_EQ(Decode(g, Bytes({0, 0xab, 0, 0, 0, 0, 0, 1, 0, 0xcd, 0, 0, 0, 0, 0, 2}), 0, 1),
              (std::vector<uint32_t>{(1u << 12) + 2, 0, 0, 0xab0cd}));
  }
}

TEST(MibRaw, SingleChipRoundTripsRandomFrames) {
  std::mt19937_64 rng(20240611);
  for (const int depth : {1, 6, 12, 24}) {
    for (const auto& [height, width] : {std::pair<size_t, size_t>{256, 256}, {3, 64}, {5, 128}}) {
      SCOPED_TRACE(fmt::format("depth {} {}x{}", depth, height, width));
      const auto g = mib::MakeRawGeometry(depth, false, static_cast<int64_t>(width),
                                          static_cast<int64_t>(height), "x.mib");
      for (int trial = 0; trial < 4; ++trial) {
        const Image image = RandomImage(rng, height, width, depth);
        const std::string packed = EncodeSingle(image, depth);
        const auto h = static_cast<int64_t>(height);
        ExpectRows(image, Decode(g, packed, 0, h), 0, h);
        ExpectRows(image, Decode(g, packed, h / 2, h), h / 2, h);  // a band of rows
      }
    }
  }
}

TEST(MibRaw, QuadRoundTripsRandomFrames) {
  std::mt19937_64 rng(7);
  for (const int depth : {1, 6, 12}) {
    for (const size_t chip : {size_t{256}, size_t{64}}) {
      SCOPED_TRACE(fmt::format("depth {} chip {}", depth, chip));
      const auto side = static_cast<int64_t>(2 * chip);
      const auto g = mib::MakeRawGeometry(depth, true, side, side, "x.mib");
      EXPECT_EQ(g.chip, static_cast<int64_t>(chip));
      for (int trial = 0; trial < 3; ++trial) {
        const Image image = RandomImage(rng, 2 * chip, 2 * chip, depth);
        const std::string packed = EncodeQuad(image, depth);
        ExpectRows(image, Decode(g, packed, 0, side), 0, side);
        // Bands straddling the chip boundary and within the rotated half.
        ExpectRows(image, Decode(g, packed, side / 2 - 3, side / 2 + 5), side / 2 - 3,
                   side / 2 + 5);
        ExpectRows(image, Decode(g, packed, side - 1, side), side - 1, side);
      }
    }
  }
}

TEST(MibRaw, QuadChipOrientation) {
  // One lit pixel per chip at its readout position (row 0, pixel 0 of the chip's segment):
  // chips 1 and 2 light their top-left pixel, chips 3 and 4 (rotated) the bottom-right one.
  const int64_t chip = 64;
  std::string packed(static_cast<size_t>(4 * chip * chip), '\0');  // depth 6: 1 byte per pixel
  // Segment s of raw row 0 starts at byte s * chip; pixel 0 of a word is its last byte.
  for (int s = 0; s < 4; ++s) packed[static_cast<size_t>(s * chip + 7)] = static_cast<char>(10 + s);
  const auto g = mib::MakeRawGeometry(6, true, 2 * chip, 2 * chip, "x.mib");
  const auto values = Decode(g, packed, 0, 2 * chip);
  const auto at = [&](int64_t r, int64_t c) { return values[static_cast<size_t>(r * 2 * chip + c)]; };
  EXPECT_EQ(at(0, 0), 13u);                        // chip 1: segment 3
  EXPECT_EQ(at(0, chip), 12u);                     // chip 2: segment 2
  EXPECT_EQ(at(2 * chip - 1, chip - 1), 11u);      // chip 3: segment 1, rotated
  EXPECT_EQ(at(2 * chip - 1, 2 * chip - 1), 10u);  // chip 4: segment 0, rotated
  uint64_t lit = 0;
  for (const uint32_t v : values) lit += v != 0;
  EXPECT_EQ(lit, 4u);
}

TEST(MibRaw, RejectsUnsupportedGeometry) {
  ExpectError([] { mib::MakeRawGeometry(3, false, 256, 256, "a.mib"); }, ErrorCode::kUnsupported,
              {"a.mib", "counter depth 3"});
  ExpectError([] { mib::MakeRawGeometry(1, false, 100, 2, "a.mib"); }, ErrorCode::kUnsupported,
              {"a.mib", "64-bit"});
  ExpectError([] { mib::MakeRawGeometry(24, true, 512, 512, "a.mib"); }, ErrorCode::kUnsupported,
              {"a.mib", "24-bit"});
  ExpectError([] { mib::MakeRawGeometry(12, true, 512, 256, "a.mib"); }, ErrorCode::kUnsupported,
              {"a.mib", "square"});
}

// ---- RAW-mode files through OpenMib and the registry ----

constexpr int64_t kHeaderBytes = 384;

std::string RawHeader(int64_t sequence, int64_t chips, int64_t width, int64_t height,
                      const std::string& layout, int depth, bool mq1a = true) {
  std::string text = fmt::format(
      "MQ1,{:06d},{:05d},{:02d},{:04d},{:04d},R64,{:>6},{},2021-04-15 15:01:38.996867,0.001000,"
      "0,0,0,2.000000E+0,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,"
      "0.000000E+0,0.000000E+0,3RX,011,511,000,175,",
      sequence, kHeaderBytes, chips, width, height, layout, chips == 4 ? "0F" : "01");
  if (mq1a) text += fmt::format("MQ1A,2021-04-15T14:01:38.996867651Z,1000000ns,{},", depth);
  text.resize(kHeaderBytes, '\0');
  return text;
}

TEST(MibRaw, OpensSingleAndQuadFilesOfEveryDepth) {
  TempDir dir;
  std::mt19937_64 rng(99);
  struct Case {
    int depth;
    bool quad;
    DType dtype;
  };
  for (const Case c : {Case{1, false, DType::kUint8}, Case{6, false, DType::kUint8},
                       Case{12, false, DType::kUint16}, Case{24, false, DType::kUint32},
                       Case{1, true, DType::kUint8}, Case{6, true, DType::kUint8},
                       Case{12, true, DType::kUint16}}) {
    SCOPED_TRACE(fmt::format("depth {} quad {}", c.depth, c.quad));
    const size_t side = c.quad ? 512 : 256;
    std::vector<Image> frames;
    std::string bytes;
    for (int f = 0; f < 3; ++f) {
      frames.push_back(RandomImage(rng, side, side, c.depth));
      // Quad RAW headers give the readout size: 4 chips of 256 side by side, 256 rows. Depth 24
      // gives the width of both 12-bit planes (LiberTEM).
      bytes += c.quad ? RawHeader(f + 1, 4, 1024, 256, "2x2", c.depth)
                      : RawHeader(f + 1, 1, c.depth == 24 ? 512 : 256, 256, "1x1", c.depth);
      bytes += c.quad ? EncodeQuad(frames.back(), c.depth) : EncodeSingle(frames.back(), c.depth);
    }
    const std::string path = dir.File(fmt::format("raw_{}_{}.mib", c.depth, c.quad));
    WriteBytes(path, bytes);
    const auto ds = testing::Builtins().Open(path, {});
    EXPECT_EQ(ds->meta().format, "mib");
    EXPECT_EQ(ds->meta().shape.dims(),
              (std::vector<int64_t>{3, static_cast<int64_t>(side), static_cast<int64_t>(side)}));
    EXPECT_EQ(ds->meta().dtype, c.dtype);
    EXPECT_EQ(ds->DirectFrames(0, 1), nullptr);
    const std::vector<double> all = ReadAll(*ds);
    for (size_t f = 0; f < 3; ++f) {
      for (size_t r = 0; r < side; ++r) {
        for (size_t col = 0; col < side; ++col) {
          ASSERT_EQ(all[(f * side + r) * side + col], frames[f][r][col])
              << "frame " << f << " row " << r << " column " << col;
        }
      }
    }
    // A signal range that is not whole rows, to another dtype.
    const auto s = static_cast<int64_t>(side);
    std::vector<float> part(static_cast<size_t>(2 * (s + 7)));
    ds->ReadFrames(1, 3, {s * 10 + 3, s * 11 + 10}, part.data(), DType::kFloat32);
    for (size_t f = 0; f < 2; ++f) {
      for (size_t i = 0; i < static_cast<size_t>(s + 7); ++i) {
        const size_t flat = static_cast<size_t>(s * 10 + 3) + i;
        ASSERT_EQ(part[f * static_cast<size_t>(s + 7) + i],
                  static_cast<float>(frames[f + 1][flat / side][flat % side]));
      }
    }
    const auto metadata = nlohmann::json::parse(ds->meta().metadata_json);
    EXPECT_EQ(metadata["raw"]["counter_depth"], c.depth);
    EXPECT_EQ(metadata["raw"]["quad"], c.quad);
  }
}

TEST(MibRaw, CounterDepthFromHdrWithoutMq1a) {
  TempDir dir;
  std::mt19937_64 rng(5);
  const Image image = RandomImage(rng, 256, 256, 12);
  const std::string path = dir.File("old.mib");
  WriteBytes(path, RawHeader(1, 1, 256, 256, "1x1", 12, false) + EncodeSingle(image, 12));
  ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kUnsupported, {path, "counter depth"});
  WriteBytes(dir.File("old.hdr"), "HDR,\t\r\nCounter Depth (number):\t12\r\nEnd\t");
  const auto ds = OpenMib(path, {});
  EXPECT_EQ(ds->meta().dtype, DType::kUint16);
  const auto all = ReadAll(*ds);
  EXPECT_EQ(all[257], image[1][1]);
}

TEST(MibRaw, BadRawFilesNameFileAndField) {
  TempDir dir;
  const std::string path = dir.File("bad.mib");
  // Truncated packed data.
  WriteBytes(path, RawHeader(1, 1, 256, 256, "1x1", 1) + std::string(256 * 256 / 8 - 3, '\0'));
  ErrorInfo info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kCorruptFile,
                               {path, "truncated", "R64"});
  EXPECT_EQ(info.offset, 0);
  // Four chips in a row: no documented assembly.
  WriteBytes(path, RawHeader(1, 4, 1024, 256, "4x1", 1) + std::string(1024 * 256 / 8, '\0'));
  info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kUnsupported, {path, "4x1"});
  EXPECT_EQ(info.field, "sensor_layout");
  // An unknown counter depth.
  WriteBytes(path, RawHeader(1, 1, 256, 256, "1x1", 3) + std::string(256 * 256, '\0'));
  info = ExpectError([&] { OpenMib(path, {}); }, ErrorCode::kUnsupported, {path, "depth 3"});
  EXPECT_EQ(info.field, "counter_depth");
}

}  // namespace
}  // namespace tessera::formats
