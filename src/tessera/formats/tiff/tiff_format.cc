// SPDX-License-Identifier: MIT
#include "tessera/formats/tiff/tiff_format.h"

#include <fnmatch.h>
#include <tiffio.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/strings.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/formats/frame_table_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A decoded page larger than this is refused (a lying header must not allocate absurd sizes).
constexpr int64_t kMaxPageBytes = int64_t{16} << 30;
constexpr int64_t kMaxDimension = (int64_t{1} << 31) - 1;
constexpr int64_t kMaxPages = int64_t{1} << 24;
constexpr size_t kMaxTextInMetadata = 8192;

// TIFF tags used here.
enum Tag : uint16_t {
  kNewSubfileType = 254,
  kImageWidth = 256,
  kImageLength = 257,
  kBitsPerSample = 258,
  kCompression = 259,
  kPhotometric = 262,
  kFillOrder = 266,
  kImageDescription = 270,
  kMake = 271,
  kModel = 272,
  kStripOffsets = 273,
  kSamplesPerPixel = 277,
  kRowsPerStrip = 278,
  kStripByteCounts = 279,
  kXResolution = 282,
  kYResolution = 283,
  kPlanarConfig = 284,
  kResolutionUnit = 296,
  kSoftware = 305,
  kDateTime = 306,
  kArtist = 315,
  kPredictor = 317,
  kTileWidth = 322,
  kTileLength = 323,
  kTileOffsets = 324,
  kTileByteCounts = 325,
  kSampleFormat = 339,
  kCzSem = 34118,
  kFeiSfeg = 34680,
  kFeiHelios = 34682,
  kTvips = 37706,
};

std::string TagName(uint16_t tag) {
  switch (tag) {
    case kNewSubfileType: return "NewSubfileType";
    case kImageWidth: return "ImageWidth";
    case kImageLength: return "ImageLength";
    case kBitsPerSample: return "BitsPerSample";
    case kCompression: return "Compression";
    case kPhotometric: return "PhotometricInterpretation";
    case kFillOrder: return "FillOrder";
    case kImageDescription: return "ImageDescription";
    case kStripOffsets: return "StripOffsets";
    case kSamplesPerPixel: return "SamplesPerPixel";
    case kRowsPerStrip: return "RowsPerStrip";
    case kStripByteCounts: return "StripByteCounts";
    case kXResolution: return "XResolution";
    case kYResolution: return "YResolution";
    case kPlanarConfig: return "PlanarConfiguration";
    case kResolutionUnit: return "ResolutionUnit";
    case kPredictor: return "Predictor";
    case kTileWidth: return "TileWidth";
    case kTileLength: return "TileLength";
    case kTileOffsets: return "TileOffsets";
    case kTileByteCounts: return "TileByteCounts";
    case kSampleFormat: return "SampleFormat";
    case kCzSem: return "CZ_SEM";
    case kFeiSfeg: return "FEI_SFEG";
    case kFeiHelios: return "FEI_HELIOS";
    case kTvips: return "TVIPS";
    default: return fmt::format("tag {}", tag);
  }
}

/// Bytes per value of a TIFF field type; 0 for types this reader does not know (skipped).
int TypeSize(uint16_t type) {
  switch (type) {
    case 1: case 2: case 6: case 7: return 1;
    case 3: case 8: return 2;
    case 4: case 9: case 11: case 13: return 4;
    case 5: case 10: case 12: case 16: case 17: case 18: return 8;
    default: return 0;
  }
}

struct Entry {
  uint16_t tag = 0;
  uint16_t type = 0;
  uint64_t count = 0;
  int64_t value_offset = 0;  // absolute offset of the value bytes
  int64_t entry_offset = 0;  // offset of the 12- (20-) byte entry itself
};

struct Ifd {
  int64_t offset = 0;
  std::map<uint16_t, Entry> entries;
  // Entries whose value lies outside the file: an error only if the tag is needed.
  std::map<uint16_t, std::pair<int64_t, std::string>> broken;
};

/// A TIFF file's bytes with the header decoded: bounds-checked reads in the file's byte order.
class TiffBytes {
 public:
  TiffBytes(std::span<const std::byte> bytes, std::string path)
      : bytes_(bytes), path_(std::move(path)) {
    const auto size = static_cast<int64_t>(bytes_.size());
    if (size < 8) {
      throw Error::CorruptFile(path_, size, "header",
                               fmt::format("file of {} bytes is too short for a TIFF header", size));
    }
    const auto b0 = std::to_integer<uint8_t>(bytes_[0]);
    const auto b1 = std::to_integer<uint8_t>(bytes_[1]);
    if (b0 == 'I' && b1 == 'I') {
      big_endian_ = false;
    } else if (b0 == 'M' && b1 == 'M') {
      big_endian_ = true;
    } else {
      throw Error::CorruptFile(
          path_, 0, "byte order",
          fmt::format("not a TIFF file: starts with 0x{:02x} 0x{:02x}, not 'II' or 'MM'", b0, b1));
    }
    const uint64_t version = U(2, 2, "version");
    if (version == 42) {
      first_ifd_ = static_cast<int64_t>(U(4, 4, "first IFD offset"));
    } else if (version == 43) {
      bigtiff_ = true;
      if (size < 16) {
        throw Error::CorruptFile(path_, size, "header",
                                 "file ends inside the 16-byte BigTIFF header");
      }
      if (U(4, 2, "offset size") != 8) {
        throw Error::CorruptFile(path_, 4, "offset size",
                                 fmt::format("BigTIFF offset size is {}, not 8",
                                             U(4, 2, "offset size")));
      }
      const uint64_t first = U(8, 8, "first IFD offset");
      first_ifd_ = first > static_cast<uint64_t>(size) ? size : static_cast<int64_t>(first);
    } else {
      throw Error::CorruptFile(
          path_, 2, "version",
          fmt::format("TIFF version {} is neither 42 (TIFF) nor 43 (BigTIFF)", version));
    }
  }

  /// Read an unsigned integer of `width` bytes at `offset`; past the end is kCorruptFile.
  uint64_t U(int64_t offset, int width, const std::string& field) const {
    if (offset < 0 || offset + width > static_cast<int64_t>(bytes_.size())) {
      throw Error::CorruptFile(path_, offset, field,
                               fmt::format("{} bytes at offset {} lie past the end of the file "
                                           "({} bytes)",
                                           width, offset, bytes_.size()));
    }
    uint64_t value = 0;
    for (int i = 0; i < width; ++i) {
      const int index = big_endian_ ? i : width - 1 - i;
      value = (value << 8) | std::to_integer<uint64_t>(bytes_[static_cast<size_t>(offset + index)]);
    }
    return value;
  }

  Ifd ReadIfd(int64_t offset, int64_t page) const {
    const int64_t size = this->size();
    const int count_bytes = bigtiff_ ? 8 : 2;
    const int entry_bytes = bigtiff_ ? 20 : 12;
    const int offset_bytes = bigtiff_ ? 8 : 4;
    if (offset < 8 || offset + count_bytes > size) {
      throw Error::CorruptFile(path_, offset, "IFD",
                               fmt::format("IFD of page {} at offset {} lies outside the file ({} "
                                           "bytes)",
                                           page, offset, size));
    }
    const uint64_t n = U(offset, count_bytes, "IFD entry count");
    if (n > static_cast<uint64_t>((size - offset) / entry_bytes)) {
      throw Error::CorruptFile(path_, offset, "IFD",
                               fmt::format("IFD of page {} claims {} entries, more than the rest "
                                           "of the file holds (truncated file?)",
                                           page, n));
    }
    Ifd ifd;
    ifd.offset = offset;
    for (uint64_t i = 0; i < n; ++i) {
      Entry e;
      e.entry_offset = offset + count_bytes + static_cast<int64_t>(i) * entry_bytes;
      e.tag = static_cast<uint16_t>(U(e.entry_offset, 2, "tag"));
      e.type = static_cast<uint16_t>(U(e.entry_offset + 2, 2, "type"));
      e.count = U(e.entry_offset + 4, bigtiff_ ? 8 : 4, "count");
      const int type_size = TypeSize(e.type);
      if (type_size == 0) continue;  // unknown field type: ignored, as the spec asks
      const int64_t value_field = e.entry_offset + (bigtiff_ ? 12 : 8);
      if (e.count > static_cast<uint64_t>(size)) {
        ifd.broken[e.tag] = {e.entry_offset,
                             fmt::format("{} claims {} values, more than the file holds",
                                         TagName(e.tag), e.count)};
        continue;
      }
      const auto bytes = static_cast<int64_t>(e.count) * type_size;
      if (bytes <= offset_bytes) {
        e.value_offset = value_field;
      } else {
        const uint64_t at = U(value_field, offset_bytes, "value offset");
        if (at > static_cast<uint64_t>(size) || static_cast<int64_t>(at) + bytes > size) {
          ifd.broken[e.tag] = {e.entry_offset,
                               fmt::format("the {} values of {} at offset {} run past the end of "
                                           "the file ({} bytes)",
                                           e.count, TagName(e.tag), at, size)};
          continue;
        }
        e.value_offset = static_cast<int64_t>(at);
      }
      ifd.entries[e.tag] = e;
    }
    next_field_ = offset + count_bytes + static_cast<int64_t>(n) * entry_bytes;
    return ifd;
  }

  int64_t next_field() const { return next_field_; }

  /// Value `i` of an integer field.
  uint64_t UintAt(const Entry& e, uint64_t i) const {
    const int size = TypeSize(e.type);
    const int64_t at = e.value_offset + static_cast<int64_t>(i) * size;
    const uint64_t raw = U(at, size, TagName(e.tag));
    switch (e.type) {
      case 6: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(raw)));
      case 8: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(raw)));
      case 9: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(raw)));
      default: return raw;
    }
  }

  /// Value `i` of a numeric field as a double (rationals divided out).
  double NumberAt(const Entry& e, uint64_t i) const {
    const int64_t at = e.value_offset + static_cast<int64_t>(i) * TypeSize(e.type);
    switch (e.type) {
      case 5: {
        const auto num = static_cast<double>(U(at, 4, TagName(e.tag)));
        const auto den = static_cast<double>(U(at + 4, 4, TagName(e.tag)));
        return den == 0 ? std::numeric_limits<double>::quiet_NaN() : num / den;
      }
      case 10: {
        const auto num = static_cast<double>(static_cast<int32_t>(U(at, 4, TagName(e.tag))));
        const auto den = static_cast<double>(static_cast<int32_t>(U(at + 4, 4, TagName(e.tag))));
        return den == 0 ? std::numeric_limits<double>::quiet_NaN() : num / den;
      }
      case 11: return std::bit_cast<float>(static_cast<uint32_t>(U(at, 4, TagName(e.tag))));
      case 12: return std::bit_cast<double>(U(at, 8, TagName(e.tag)));
      case 6: case 8: case 9: case 17:
        return static_cast<double>(static_cast<int64_t>(UintAt(e, i)));
      default: return static_cast<double>(UintAt(e, i));
    }
  }

  std::vector<uint64_t> Uints(const Entry& e) const {
    std::vector<uint64_t> values(static_cast<size_t>(e.count));
    for (uint64_t i = 0; i < e.count; ++i) values[static_cast<size_t>(i)] = UintAt(e, i);
    return values;
  }

  /// The raw bytes of a field, up to the first NUL.
  std::string Text(const Entry& e) const {
    const auto n = static_cast<size_t>(e.count * static_cast<uint64_t>(TypeSize(e.type)));
    std::string text(reinterpret_cast<const char*>(bytes_.data()) + e.value_offset, n);
    const auto nul = text.find('\0');
    if (nul != std::string::npos) text.resize(nul);
    return text;
  }

  std::span<const std::byte> bytes() const { return bytes_; }
  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }
  const std::string& path() const { return path_; }
  bool big_endian() const { return big_endian_; }
  bool bigtiff() const { return bigtiff_; }
  int64_t first_ifd() const { return first_ifd_; }

 private:
  std::span<const std::byte> bytes_;
  std::string path_;
  bool big_endian_ = false;
  bool bigtiff_ = false;
  int64_t first_ifd_ = 0;
  mutable int64_t next_field_ = 0;
};

/// One image (IFD) of a TIFF file, as far as reading its pixels goes.
struct Page {
  int64_t index = 0;
  int64_t ifd_offset = 0;
  int64_t width = 0;
  int64_t height = 0;
  int bits = 1;
  int64_t spp = 1;
  int sample_format = 1;
  uint64_t compression = 1;
  uint64_t photometric = 1;
  int planar = 1;
  uint64_t predictor = 1;
  uint64_t fill_order = 1;
  uint64_t subfile = 0;
  bool tiled = false;
  int64_t rows_per_strip = 0;
  int64_t tile_width = 0;
  int64_t tile_length = 0;
  std::vector<uint64_t> offsets;
  std::vector<uint64_t> counts;
  DType dtype = DType::kUint8;
  bool contiguous = false;   // uncompressed, one run of bytes in image order
  int64_t data_offset = 0;   // start of that run

  int64_t frame_bytes() const { return width * height * spp * SizeOf(dtype); }
  bool SameLayout(const Page& other) const {
    return width == other.width && height == other.height && spp == other.spp &&
           dtype == other.dtype && planar == other.planar;
  }
};

const Entry* Find(const Ifd& ifd, uint16_t tag) {
  const auto it = ifd.entries.find(tag);
  return it == ifd.entries.end() ? nullptr : &it->second;
}

/// The entry for `tag`, or a kCorruptFile error naming the page when it is absent or broken.
const Entry& Require(const TiffBytes& t, const Ifd& ifd, uint16_t tag, int64_t page) {
  if (const auto it = ifd.broken.find(tag); it != ifd.broken.end()) {
    throw Error::CorruptFile(t.path(), it->second.first, TagName(tag),
                             fmt::format("page {}: {}", page, it->second.second));
  }
  const Entry* e = Find(ifd, tag);
  if (e == nullptr || e->count == 0) {
    throw Error::CorruptFile(t.path(), ifd.offset, TagName(tag),
                             fmt::format("page {} has no {} tag", page, TagName(tag)));
  }
  return *e;
}

uint64_t UintOr(const TiffBytes& t, const Ifd& ifd, uint16_t tag, uint64_t fallback) {
  const Entry* e = Find(ifd, tag);
  return e == nullptr || e->count == 0 ? fallback : t.UintAt(*e, 0);
}

std::string CompressionName(uint64_t compression) {
  switch (compression) {
    case 1: return "none";
    case 2: return "CCITT RLE";
    case 3: return "CCITT fax 3";
    case 4: return "CCITT fax 4";
    case 5: return "LZW";
    case 6: return "old JPEG";
    case 7: return "JPEG";
    case 8: return "Deflate";
    case 32773: return "PackBits";
    case 32946: return "Deflate (old)";
    case 34887: return "LERC";
    case 34925: return "LZMA";
    case 50000: return "ZSTD";
    case 50001: return "WebP";
    default: return "unknown";
  }
}

DType PageDType(const TiffBytes& t, const Ifd& ifd, int64_t page, int bits, int sample_format) {
  const Entry* bits_entry = Find(ifd, kBitsPerSample);
  const int64_t at = bits_entry != nullptr ? bits_entry->entry_offset : ifd.offset;
  auto unsupported = [&](const std::string& what) {
    return Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                           .message = fmt::format("page {}: {} is not supported", page, what),
                           .file = t.path(),
                           .offset = at,
                           .field = "BitsPerSample"});
  };
  switch (sample_format) {
    case 1:
    case 4:  // "void": undefined data, read as unsigned integers like tifffile
      switch (bits) {
        case 8: return DType::kUint8;
        case 16: return DType::kUint16;
        case 32: return DType::kUint32;
        case 64: return DType::kUint64;
        default: break;
      }
      break;
    case 2:
      switch (bits) {
        case 8: return DType::kInt8;
        case 16: return DType::kInt16;
        case 32: return DType::kInt32;
        case 64: return DType::kInt64;
        default: break;
      }
      break;
    case 3:
      if (bits == 32) return DType::kFloat32;
      if (bits == 64) return DType::kFloat64;
      break;
    case 6:
      if (bits == 64) return DType::kComplex64;
      if (bits == 128) return DType::kComplex128;
      break;
    default:
      throw Error::CorruptFile(t.path(), at, "SampleFormat",
                               fmt::format("page {}: unknown SampleFormat {}", page,
                                           sample_format));
  }
  static const char* const kKinds[] = {"", "unsigned integer", "signed integer", "float",
                                       "void", "complex integer", "complex float"};
  throw unsupported(fmt::format("{}-bit {} samples", bits, kKinds[sample_format]));
}

/// Decode the layout of one IFD and check that its pixel data lies inside the file.
Page ParsePage(const TiffBytes& t, const Ifd& ifd, int64_t index) {
  Page p;
  p.index = index;
  p.ifd_offset = ifd.offset;
  const std::string& path = t.path();
  p.subfile = UintOr(t, ifd, kNewSubfileType, 0);
  const Entry& width = Require(t, ifd, kImageWidth, index);
  const Entry& length = Require(t, ifd, kImageLength, index);
  const uint64_t w = t.UintAt(width, 0), h = t.UintAt(length, 0);
  if (w == 0 || w > static_cast<uint64_t>(kMaxDimension)) {
    throw Error::CorruptFile(path, width.entry_offset, "ImageWidth",
                             fmt::format("page {}: image width {} is out of range", index, w));
  }
  if (h == 0 || h > static_cast<uint64_t>(kMaxDimension)) {
    throw Error::CorruptFile(path, length.entry_offset, "ImageLength",
                             fmt::format("page {}: image length {} is out of range", index, h));
  }
  p.width = static_cast<int64_t>(w);
  p.height = static_cast<int64_t>(h);
  const uint64_t spp = UintOr(t, ifd, kSamplesPerPixel, 1);
  if (spp == 0 || spp > 256) {
    throw Error::CorruptFile(path, Require(t, ifd, kSamplesPerPixel, index).entry_offset,
                             "SamplesPerPixel",
                             fmt::format("page {}: {} samples per pixel", index, spp));
  }
  p.spp = static_cast<int64_t>(spp);
  // BitsPerSample and SampleFormat carry one value per sample; Tessera needs them equal.
  if (ifd.broken.count(kBitsPerSample) != 0) Require(t, ifd, kBitsPerSample, index);
  if (const Entry* bits = Find(ifd, kBitsPerSample); bits != nullptr && bits->count > 0) {
    const auto values = t.Uints(*bits);
    if (std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end()) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kUnsupported,
          .message = fmt::format("page {}: samples of different bit depths are not supported",
                                 index),
          .file = path,
          .offset = bits->entry_offset,
          .field = "BitsPerSample"});
    }
    p.bits = static_cast<int>(std::min<uint64_t>(values[0], 1024));
  }
  p.sample_format = static_cast<int>(std::min<uint64_t>(UintOr(t, ifd, kSampleFormat, 1), 1024));
  p.dtype = PageDType(t, ifd, index, p.bits, p.sample_format);
  p.compression = UintOr(t, ifd, kCompression, 1);
  p.photometric = UintOr(t, ifd, kPhotometric, p.spp >= 3 ? 2 : 1);
  p.planar = static_cast<int>(UintOr(t, ifd, kPlanarConfig, 1));
  if (p.planar != 1 && p.planar != 2) {
    throw Error::CorruptFile(path, Require(t, ifd, kPlanarConfig, index).entry_offset,
                             "PlanarConfiguration",
                             fmt::format("page {}: PlanarConfiguration {} is neither 1 nor 2",
                                         index, p.planar));
  }
  if (p.spp == 1) p.planar = 1;
  p.predictor = UintOr(t, ifd, kPredictor, 1);
  p.fill_order = UintOr(t, ifd, kFillOrder, 1);
  if (p.photometric == 6 && p.spp > 1) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("page {}: YCbCr images are not supported",
                                                 index),
                          .file = path,
                          .offset = Require(t, ifd, kPhotometric, index).entry_offset,
                          .field = "PhotometricInterpretation"});
  }
  // Absurd sizes: refuse before anything is allocated.
  const auto item = SizeOf(p.dtype);
  if (p.width > kMaxPageBytes / p.height / p.spp / item) {
    throw Error::CorruptFile(
        path, width.entry_offset, "ImageWidth",
        fmt::format("page {}: {} x {} x {} samples of {} bits exceed the {} GiB page limit",
                    index, p.height, p.width, p.spp, p.bits, kMaxPageBytes >> 30));
  }
  if (p.compression != 1 && TIFFIsCODECConfigured(static_cast<uint16_t>(p.compression)) == 0) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kUnsupported,
        .message = fmt::format("page {}: compression {} ({}) is not supported", index,
                               p.compression, CompressionName(p.compression)),
        .file = path,
        .offset = Require(t, ifd, kCompression, index).entry_offset,
        .field = "Compression"});
  }

  // Segments: strips or tiles, per plane when PlanarConfiguration is 2.
  const int64_t planes = p.planar == 2 ? p.spp : 1;
  const int64_t pixel_bytes = (p.planar == 2 ? 1 : p.spp) * item;
  uint16_t offsets_tag = kStripOffsets, counts_tag = kStripByteCounts;
  int64_t expected = 0;
  p.tiled = Find(ifd, kTileWidth) != nullptr || Find(ifd, kTileOffsets) != nullptr;
  if (p.tiled) {
    offsets_tag = kTileOffsets;
    counts_tag = kTileByteCounts;
    const Entry& tw = Require(t, ifd, kTileWidth, index);
    const Entry& tl = Require(t, ifd, kTileLength, index);
    p.tile_width = static_cast<int64_t>(std::min<uint64_t>(t.UintAt(tw, 0), kMaxDimension));
    p.tile_length = static_cast<int64_t>(std::min<uint64_t>(t.UintAt(tl, 0), kMaxDimension));
    if (p.tile_width == 0 || p.tile_length == 0 ||
        p.tile_width > kMaxPageBytes / p.tile_length / pixel_bytes) {
      throw Error::CorruptFile(path, tw.entry_offset, "TileWidth",
                               fmt::format("page {}: tile size {} x {} is out of range", index,
                                           p.tile_length, p.tile_width));
    }
    expected = planes * ((p.width + p.tile_width - 1) / p.tile_width) *
               ((p.height + p.tile_length - 1) / p.tile_length);
  } else {
    p.rows_per_strip =
        static_cast<int64_t>(std::min<uint64_t>(UintOr(t, ifd, kRowsPerStrip, h), h));
    if (p.rows_per_strip == 0) {
      throw Error::CorruptFile(path, Require(t, ifd, kRowsPerStrip, index).entry_offset,
                               "RowsPerStrip", fmt::format("page {}: RowsPerStrip is 0", index));
    }
    expected = planes * ((p.height + p.rows_per_strip - 1) / p.rows_per_strip);
  }
  const Entry& offsets = Require(t, ifd, offsets_tag, index);
  if (offsets.count != static_cast<uint64_t>(expected)) {
    throw Error::CorruptFile(path, offsets.entry_offset, TagName(offsets_tag),
                             fmt::format("page {}: {} {} for {} {}", index, offsets.count,
                                         TagName(offsets_tag), expected,
                                         p.tiled ? "tiles" : "strips"));
  }
  p.offsets = t.Uints(offsets);
  if (ifd.broken.count(counts_tag) != 0) Require(t, ifd, counts_tag, index);
  if (const Entry* counts = Find(ifd, counts_tag); counts != nullptr) {
    if (counts->count != offsets.count) {
      throw Error::CorruptFile(path, counts->entry_offset, TagName(counts_tag),
                               fmt::format("page {}: {} byte counts for {} offsets", index,
                                           counts->count, offsets.count));
    }
    p.counts = t.Uints(*counts);
  } else if (p.compression != 1) {
    Require(t, ifd, counts_tag, index);  // compressed segments need their sizes
  }

  // The decoded size of segment `s`.
  auto segment_bytes = [&](int64_t s) -> int64_t {
    if (p.tiled) return p.tile_width * p.tile_length * pixel_bytes;
    const int64_t per_plane = expected / planes;
    const int64_t row0 = (s % per_plane) * p.rows_per_strip;
    return std::min(p.rows_per_strip, p.height - row0) * p.width * pixel_bytes;
  };
  const int64_t size = t.size();
  for (int64_t s = 0; s < expected; ++s) {
    const uint64_t at = p.offsets[static_cast<size_t>(s)];
    const uint64_t stored = p.compression == 1 ? static_cast<uint64_t>(segment_bytes(s))
                            : p.counts[static_cast<size_t>(s)];
    if (at > static_cast<uint64_t>(size) || stored > static_cast<uint64_t>(size) - at) {
      throw Error::CorruptFile(
          path, offsets.entry_offset, TagName(offsets_tag),
          fmt::format("page {}: {} {} at offset {} with {} bytes runs past the end of the file "
                      "({} bytes; truncated file?)",
                      index, p.tiled ? "tile" : "strip", s, at, stored, size));
    }
  }
  // A compressed segment cannot expand without bound: no TIFF codec exceeds 1:32768 (zstd RLE
  // blocks; Deflate 1:1032, LZW about 1:2730), so a page whose strips claim more is lying, and is
  // refused before a buffer of that size is allocated to decode it.
  constexpr int64_t kMaxExpansion = int64_t{1} << 16;
  if (p.compression != 1) {
    for (int64_t s = 0; s < expected; ++s) {
      const auto stored = static_cast<int64_t>(std::min<uint64_t>(p.counts[static_cast<size_t>(s)],
                                                                  uint64_t{1} << 40));
      if (segment_bytes(s) > (stored + 1) * kMaxExpansion) {
        throw Error::CorruptFile(
            path, Find(ifd, counts_tag)->entry_offset, TagName(counts_tag),
            fmt::format("page {}: {} {} of {} compressed bytes would decode to {} bytes, more than "
                        "{} ({}) can expand",
                        index, p.tiled ? "tile" : "strip", s, stored, segment_bytes(s),
                        CompressionName(p.compression), p.compression));
      }
    }
  }
  // Uncompressed pages stored as one run in image order are served straight from the mapping.
  if (p.compression == 1 && !p.tiled && p.predictor == 1 && (p.fill_order == 1 || p.bits > 8)) {
    p.contiguous = true;
    p.data_offset = static_cast<int64_t>(p.offsets[0]);
    int64_t next = p.data_offset;
    for (int64_t s = 0; s < expected && p.contiguous; ++s) {
      if (p.offsets[static_cast<size_t>(s)] != static_cast<uint64_t>(next)) p.contiguous = false;
      if (!p.counts.empty() &&
          p.counts[static_cast<size_t>(s)] < static_cast<uint64_t>(segment_bytes(s))) {
        p.contiguous = false;
      }
      next += segment_bytes(s);
    }
  }
  return p;
}

// ---- text helpers ----

/// Text as valid UTF-8: kept when it already is, else read as Latin-1 (DigitalMicrograph writes
/// "µm" as the single byte 0xB5).
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                         : (c & 0xF8) == 0xF0                 ? 3
                                                              : 99;
    if (extra == 99 || i + extra >= text.size() + (extra == 0 ? 1 : 0)) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string ToUtf8(std::string_view text) {
  const bool valid = IsValidUtf8(text);
  if (valid) return std::string(text);
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += ch;
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

std::string Clip(std::string text) {
  if (text.size() > kMaxTextInMetadata) {
    text.resize(kMaxTextInMetadata);
    text += "...";
  }
  return ToUtf8(text);
}

std::optional<double> ToNumber(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    if (end + 1 < text.size() && text[end] == '\r' && text[end + 1] == '\n') ++end;
    start = end + 1;
  }
  return lines;
}

/// "micron", "um", "\u00B5m" -> "µm"; "angstrom" -> "Å"; "pixel" or empty -> "" (uncalibrated).
std::string NormalizeUnit(std::string unit) {
  unit = std::string(Trim(unit));
  std::string lower;
  for (const char c : unit) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "micron" || lower == "microns" || lower == "um" || lower == "\\u00b5m" ||
      lower == "\\u03bcm" || unit == "μm") {
    return "µm";
  }
  if (lower == "angstrom" || lower == "a" || lower == "\\u00c5") return "Å";
  if (lower == "pixel" || lower == "pixels" || lower == "px") return "";
  return ToUtf8(unit);
}

struct Calibration {
  double scale = 1.0;
  double offset = 0.0;
  std::string units;
  bool set = false;
};

struct Calibrations {
  Calibration x, y, z, t, c;
};

// ---- vendor metadata ----

std::map<std::string, std::string> ParseImageJ(std::string_view description) {
  std::map<std::string, std::string> values;
  for (const auto line : Lines(description)) {
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    values[std::string(Trim(line.substr(0, eq)))] = std::string(Trim(line.substr(eq + 1)));
  }
  return values;
}

int64_t ImageJCount(const std::map<std::string, std::string>& ij, const std::string& key) {
  const auto it = ij.find(key);
  if (it == ij.end()) return 1;
  const auto value = ToNumber(it->second);
  if (!value || *value < 1 || *value > static_cast<double>(kMaxPages)) return 1;
  return static_cast<int64_t>(*value);
}

/// FEI/Thermo ini text: [Section] then key=value lines.
json ParseIni(std::string_view text) {
  json result = json::object();
  std::string section;
  for (auto line : Lines(text)) {
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[' && line.back() == ']') {
      section = ToUtf8(line.substr(1, line.size() - 2));
      result[section] = json::object();
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || section.empty()) continue;
    result[section][ToUtf8(Trim(line.substr(0, eq)))] = ToUtf8(Trim(line.substr(eq + 1)));
  }
  return result;
}

std::optional<std::string> IniValue(const json& ini, const char* section, const char* key) {
  if (!ini.contains(section) || !ini[section].contains(key)) return std::nullopt;
  const auto value = ini[section][key].get<std::string>();
  if (value.empty()) return std::nullopt;
  return value;
}

/// Integers in `text`, in order ("06/13/2016" -> 6, 13, 2016).
std::vector<int> Integers(std::string_view text) {
  std::vector<int> values;
  int value = -1;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      value = (value < 0 ? 0 : value) * 10 + (c - '0');
      if (value > 100000) value = 100000;
    } else if (value >= 0) {
      values.push_back(value);
      value = -1;
    }
  }
  if (value >= 0) values.push_back(value);
  return values;
}

/// "MM/DD/YYYY", "DD.MM.YYYY" or "YYYY-MM-DD" -> ISO date.
std::optional<std::string> IsoDate(std::string_view text) {
  const auto v = Integers(text);
  if (v.size() != 3) return std::nullopt;
  int year = 0, month = 0, day = 0;
  if (text.find('/') != std::string_view::npos) {
    month = v[0], day = v[1], year = v[2];
  } else if (text.find('.') != std::string_view::npos) {
    day = v[0], month = v[1], year = v[2];
  } else {
    year = v[0], month = v[1], day = v[2];
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || year < 1000) return std::nullopt;
  return fmt::format("{:04}-{:02}-{:02}", year, month, day);
}

/// "05:06:40 PM" -> "17:06:40".
std::optional<std::string> IsoTime(std::string_view text) {
  const auto v = Integers(text);
  if (v.size() < 2) return std::nullopt;
  int hour = v[0];
  const int minute = v[1], second = v.size() > 2 ? v[2] : 0;
  std::string upper;
  for (const char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.find("PM") != std::string::npos && hour < 12) hour += 12;
  if (upper.find("AM") != std::string::npos && hour == 12) hour = 0;
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  return fmt::format("{:02}:{:02}:{:02}", hour, minute, second);
}

/// Zeiss SEM CZ_SEM text: upper-case keys ("AP_PIXEL_SIZE") each followed by a
/// "Name = value unit" line; leading unnamed lines are numbers (index 3: pixel size in m for a
/// 1024-pixel-wide display).
struct CzSem {
  json named = json::object();
  std::vector<std::string> unnamed;
};

CzSem ParseCzSem(std::string_view text) {
  CzSem result;
  std::string key;
  for (const auto raw : Lines(text)) {
    const std::string line = ToUtf8(raw);
    bool upper = false, lower = false;
    for (const char c : line) {
      if (std::isupper(static_cast<unsigned char>(c)) != 0) upper = true;
      if (std::islower(static_cast<unsigned char>(c)) != 0) lower = true;
    }
    if (upper && !lower) {
      key = line;
      for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      continue;
    }
    if (!key.empty()) {
      auto sep = line.find('=');
      if (sep == std::string::npos) sep = line.find(':');
      if (sep != std::string::npos) {
        const std::string value(Trim(std::string_view(line).substr(sep + 1)));
        json entry = {{"name", std::string(Trim(std::string_view(line).substr(0, sep)))},
                      {"value", value}};
        // "5.00 kV" -> number 5 and unit "kV".
        const auto space = value.find(' ');
        if (space != std::string::npos) {
          if (const auto number = ToNumber(std::string_view(value).substr(0, space))) {
            entry["number"] = *number;
            entry["unit"] = std::string(Trim(std::string_view(value).substr(space + 1)));
          }
        } else if (const auto number = ToNumber(value)) {
          entry["number"] = *number;
        }
        result.named[key] = entry;
      }
      key.clear();
    } else if (!Trim(line).empty()) {
      result.unnamed.push_back(line);
    }
  }
  return result;
}

double UnitToMetres(std::string_view unit) {
  if (unit == "m") return 1;
  if (unit == "mm") return 1e-3;
  if (unit == "µm" || unit == "um") return 1e-6;
  if (unit == "nm") return 1e-9;
  if (unit == "pm") return 1e-12;
  return std::numeric_limits<double>::quiet_NaN();
}

std::string Utf16Le(std::span<const std::byte> bytes) {
  std::string out;
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
    const uint32_t c = std::to_integer<uint32_t>(bytes[i]) |
                       (std::to_integer<uint32_t>(bytes[i + 1]) << 8);
    if (c == 0) break;
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c >= 0xD800 && c < 0xE000) {
      out += '?';
    } else {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

/// Read the TVIPS EM-MENU header (tag 37706: offset of a 244-byte V1 record, followed by the
/// 6068-byte V2 record ending in magic 0xAAAAAAAA when Version is 2) into `tvips`.
json ReadTvipsTag(const TiffBytes& t, const Entry& e) {
  json tvips = json::object();
  const int64_t at = static_cast<int64_t>(std::min<uint64_t>(t.UintAt(e, 0), INT64_MAX / 2));
  constexpr int64_t kV1 = 244, kV2 = 6068;
  if (at + kV1 > t.size()) {
    throw Error::CorruptFile(t.path(), e.entry_offset, "TVIPS",
                             fmt::format("TVIPS header at offset {} runs past the end of the file "
                                         "({} bytes)",
                                         at, t.size()));
  }
  auto i32 = [&](int64_t off) { return static_cast<int32_t>(t.U(off, 4, "TVIPS")); };
  auto f32 = [&](int64_t off) {
    return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(t.U(off, 4, "TVIPS"))));
  };
  const int32_t version = i32(at);
  tvips["Version"] = version;
  if (version == 1) {
    // EM-MENU 3 TemData: integers only.
    tvips["HighTension"] = i32(at + 84);
    tvips["Magnification"] = i32(at + 96);
    tvips["PhysicalPixelSize"] = i32(at + 84 + 4 * 23);
    tvips["ExposureTimeV1"] = i32(at + 84 + 4 * 28);
    return tvips;
  }
  if (version != 2) return tvips;
  const int64_t v2 = at + kV1;
  if (v2 + kV2 > t.size()) {
    throw Error::CorruptFile(t.path(), v2, "TVIPS",
                             "TVIPS version 2 header runs past the end of the file");
  }
  if (static_cast<uint32_t>(i32(v2 + 6064)) != 0xAAAAAAAAu) {
    throw Error::CorruptFile(t.path(), v2 + 6064, "TVIPS",
                             "TVIPS version 2 header has a bad magic number (not 0xAAAAAAAA)");
  }
  auto text = [&](int64_t off, int64_t n) {
    return Utf16Le(t.bytes().subspan(static_cast<size_t>(v2 + off), static_cast<size_t>(n)));
  };
  tvips["ImageName"] = text(0, 160);
  tvips["ImageFolder"] = text(160, 160);
  tvips["ImageSizeX"] = i32(v2 + 320);
  tvips["ImageSizeY"] = i32(v2 + 324);
  tvips["Date"] = i32(v2 + 340);
  tvips["Time"] = i32(v2 + 344);
  tvips["Comment"] = text(348, 1024);
  tvips["PixelSizeX"] = f32(v2 + 2724);
  tvips["PixelSizeY"] = f32(v2 + 2728);
  tvips["TemType"] = text(2868, 160);
  tvips["TemHighTension"] = f32(v2 + 3028);
  tvips["TemMode"] = i32(v2 + 3288);
  tvips["TemMagnification"] = f32(v2 + 3292);
  json stage = json::array();
  for (int i = 0; i < 5; ++i) stage.push_back(f32(v2 + 3308 + 4 * i));
  tvips["TemStagePosition"] = stage;
  tvips["CameraType"] = text(3524, 160);
  tvips["PhysicalPixelSizeX"] = f32(v2 + 3684);
  tvips["PhysicalPixelSizeY"] = f32(v2 + 3688);
  tvips["OffsetX"] = i32(v2 + 3692);
  tvips["OffsetY"] = i32(v2 + 3696);
  tvips["BinningX"] = i32(v2 + 3700);
  tvips["BinningY"] = i32(v2 + 3704);
  tvips["ExposureTime"] = f32(v2 + 3708);
  tvips["Gain"] = f32(v2 + 3712);
  tvips["Dose"] = f32(v2 + 3884);
  return tvips;
}

// ---- a parsed file ----

struct ParsedTiff {
  std::shared_ptr<const io::MappedFile> file;
  std::unique_ptr<TiffBytes> bytes;
  Ifd first_ifd;            // IFD of the first page of the series, for metadata
  std::vector<Page> pages;  // the series: every full-resolution page shaped like the first
  int64_t other_pages = 0;  // thumbnails, reduced resolution or differently shaped pages
};

ParsedTiff ParseTiffFile(const std::string& path) {
  ParsedTiff parsed;
  parsed.file = io::MappedFile::Open(path);
  parsed.bytes = std::make_unique<TiffBytes>(parsed.file->bytes(), path);
  const TiffBytes& t = *parsed.bytes;
  std::set<int64_t> seen;
  int64_t offset = t.first_ifd();
  std::vector<Page> all;
  std::optional<Ifd> first_full;
  Ifd first_any;
  for (int64_t index = 0; offset != 0; ++index) {
    if (!seen.insert(offset).second) {
      throw Error::CorruptFile(path, offset, "IFD",
                               fmt::format("IFD chain loops back to offset {} at page {}", offset,
                                           index));
    }
    if (index >= kMaxPages) {
      throw Error::Unsupported(fmt::format("more than {} pages", kMaxPages), path);
    }
    Ifd ifd = t.ReadIfd(offset, index);
    const int64_t next_field = t.next_field();
    Page page = ParsePage(t, ifd, index);
    if (index == 0) first_any = ifd;
    if ((page.subfile & 1) == 0 && !first_full) first_full = ifd;
    all.push_back(std::move(page));
    const uint64_t next = t.U(next_field, t.bigtiff() ? 8 : 4, "next IFD offset");
    if (next != 0 && (next >= static_cast<uint64_t>(t.size()) || next < 8)) {
      throw Error::CorruptFile(path, next_field, "next IFD offset",
                               fmt::format("page {} links to the next IFD at offset {}, outside "
                                           "the file ({} bytes; truncated file?)",
                                           index, next, t.size()));
    }
    offset = static_cast<int64_t>(next);
  }
  if (all.empty()) {
    throw Error::CorruptFile(path, 4, "first IFD offset", "the file has no image (IFD offset 0)");
  }
  // The series: full-resolution pages shaped like the first one (tifffile's first series).
  const Page* reference = nullptr;
  for (const Page& p : all) {
    if ((p.subfile & 1) == 0) {
      reference = &p;
      break;
    }
  }
  if (reference == nullptr) reference = &all.front();
  parsed.first_ifd = first_full ? *first_full : first_any;
  const Page ref = *reference;
  for (Page& p : all) {
    if (((p.subfile & 1) == 0 || &p == reference) && p.SameLayout(ref)) {
      parsed.pages.push_back(std::move(p));
    } else {
      ++parsed.other_pages;
    }
  }
  return parsed;
}

// ---- libtiff for compressed or scattered pages ----

struct MemStream {
  const std::byte* data = nullptr;
  int64_t size = 0;
  int64_t pos = 0;
};

tmsize_t MemRead(thandle_t handle, void* buffer, tmsize_t n) {
  auto* s = static_cast<MemStream*>(handle);
  const int64_t left = std::max<int64_t>(0, s->size - s->pos);
  const int64_t count = std::min<int64_t>(n, left);
  if (count > 0) std::memcpy(buffer, s->data + s->pos, static_cast<size_t>(count));
  s->pos += count;
  return static_cast<tmsize_t>(count);
}
tmsize_t MemWrite(thandle_t /*handle*/, void* /*buffer*/, tmsize_t /*n*/) { return 0; }
toff_t MemSeek(thandle_t handle, toff_t offset, int whence) {
  auto* s = static_cast<MemStream*>(handle);
  const auto off = static_cast<int64_t>(offset);
  int64_t pos = whence == SEEK_SET ? off : whence == SEEK_CUR ? s->pos + off : s->size + off;
  if (pos < 0) return static_cast<toff_t>(-1);
  s->pos = pos;
  return static_cast<toff_t>(pos);
}
int MemClose(thandle_t /*handle*/) { return 0; }
toff_t MemSize(thandle_t handle) { return static_cast<toff_t>(static_cast<MemStream*>(handle)->size); }
int MemMap(thandle_t handle, void** base, toff_t* size) {
  auto* s = static_cast<MemStream*>(handle);
  *base = const_cast<std::byte*>(s->data);
  *size = static_cast<toff_t>(s->size);
  return 1;
}
void MemUnmap(thandle_t /*handle*/, void* /*base*/, toff_t /*size*/) {}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
int CollectMessage(TIFF* /*tif*/, void* user_data, const char* module, const char* format,
                   va_list args) {
  auto* messages = static_cast<std::string*>(user_data);
  char buffer[512];
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  if (messages->size() < 4096) {
    if (!messages->empty()) *messages += "; ";
    if (module != nullptr && *module != '\0') *messages += std::string(module) + ": ";
    *messages += buffer;
  }
  return 1;  // handled: libtiff prints nothing
}
#pragma GCC diagnostic pop

int IgnoreMessage(TIFF* /*tif*/, void* /*user_data*/, const char* /*module*/,
                  const char* /*format*/, va_list /*args*/) {
  return 1;
}

/// A libtiff handle reading a mapped file from memory; libtiff's errors are collected (never
/// printed) and thrown as kCorruptFile naming the file.
class LibTiff {
 public:
  explicit LibTiff(const io::MappedFile& file) : path_(file.path()) {
    stream_.data = file.bytes().data();
    stream_.size = file.size();
    TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(options, CollectMessage, &errors_);
    TIFFOpenOptionsSetWarningHandlerExtR(options, IgnoreMessage, nullptr);
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, tmsize_t{1} << 32);
    // "c": no strip chopping, so libtiff's strips are the file's strips (Page's geometry).
    tif_ = TIFFClientOpenExt(path_.c_str(), "rc", &stream_, MemRead, MemWrite, MemSeek, MemClose,
                             MemSize, MemMap, MemUnmap, options);
    TIFFOpenOptionsFree(options);
    if (tif_ == nullptr) {
      throw Error::CorruptFile(path_, 0, "TIFF", fmt::format("libtiff cannot open the file: {}",
                                                             Errors()));
    }
  }
  ~LibTiff() {
    if (tif_ != nullptr) TIFFClose(tif_);
  }
  LibTiff(const LibTiff&) = delete;
  LibTiff& operator=(const LibTiff&) = delete;

  TIFF* get() const { return tif_; }
  std::string Errors() {
    std::string message = errors_.empty() ? "unknown libtiff error" : errors_;
    errors_.clear();
    return message;
  }

 private:
  std::string path_;
  MemStream stream_;
  std::string errors_;
  TIFF* tif_ = nullptr;
};

/// Decode one page with libtiff into `out` (frame_bytes, native byte order, image order).
void DecodePage(LibTiff& lib, const Page& page, const std::string& path, std::byte* out) {
  TIFF* tif = lib.get();
  if (TIFFSetSubDirectory(tif, static_cast<uint64_t>(page.ifd_offset)) == 0) {
    throw Error::CorruptFile(path, page.ifd_offset, "IFD",
                             fmt::format("libtiff cannot read page {}: {}", page.index,
                                         lib.Errors()));
  }
  uint32_t width = 0, length = 0;
  uint16_t spp = 1, planar = 1;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &length);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  if (width != page.width || length != page.height || spp != page.spp ||
      (page.spp > 1 && planar != page.planar)) {
    throw Error::CorruptFile(path, page.ifd_offset, "IFD",
                             fmt::format("libtiff reads page {} as {} x {} x {}, not {} x {} x {}",
                                         page.index, length, width, spp, page.height, page.width,
                                         page.spp));
  }
  const int64_t item = SizeOf(page.dtype);
  const int64_t planes = page.planar == 2 ? page.spp : 1;
  const int64_t pixel_bytes = (page.planar == 2 ? 1 : page.spp) * item;
  const int64_t row_bytes = page.width * pixel_bytes;
  const int64_t plane_bytes = row_bytes * page.height;
  if (!page.tiled) {
    const int64_t per_plane = (page.height + page.rows_per_strip - 1) / page.rows_per_strip;
    for (int64_t s = 0; s < per_plane * planes; ++s) {
      const int64_t row0 = (s % per_plane) * page.rows_per_strip;
      const int64_t rows = std::min(page.rows_per_strip, page.height - row0);
      std::byte* dst = out + (s / per_plane) * plane_bytes + row0 * row_bytes;
      const tmsize_t want = rows * row_bytes;
      const tmsize_t got = TIFFReadEncodedStrip(tif, static_cast<uint32_t>(s), dst, want);
      if (got != want) {
        throw Error::CorruptFile(
            path, static_cast<int64_t>(page.offsets[static_cast<size_t>(s)]), "StripOffsets",
            fmt::format("page {}: strip {} ({}) decodes to {} bytes, not {}: {}", page.index, s,
                        CompressionName(page.compression), got, want,
                        got < 0 ? lib.Errors() : "short strip"));
      }
    }
    return;
  }
  const int64_t tile_row_bytes = page.tile_width * pixel_bytes;
  const int64_t tile_bytes = tile_row_bytes * page.tile_length;
  std::vector<std::byte> tile(static_cast<size_t>(tile_bytes));
  const int64_t across = (page.width + page.tile_width - 1) / page.tile_width;
  const int64_t down = (page.height + page.tile_length - 1) / page.tile_length;
  for (int64_t k = 0; k < across * down * planes; ++k) {
    const tmsize_t got =
        TIFFReadEncodedTile(tif, static_cast<uint32_t>(k), tile.data(), tile_bytes);
    if (got < 0) {
      throw Error::CorruptFile(path, static_cast<int64_t>(page.offsets[static_cast<size_t>(k)]),
                               "TileOffsets",
                               fmt::format("page {}: tile {} ({}) cannot be decoded: {}",
                                           page.index, k, CompressionName(page.compression),
                                           lib.Errors()));
    }
    const int64_t plane = k / (across * down);
    const int64_t ty = (k % (across * down)) / across, tx = k % across;
    const int64_t y0 = ty * page.tile_length, x0 = tx * page.tile_width;
    const int64_t rows = std::min(page.tile_length, page.height - y0);
    const int64_t copy = std::min(page.tile_width, page.width - x0) * pixel_bytes;
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(out + plane * plane_bytes + (y0 + r) * row_bytes + x0 * pixel_bytes,
                  tile.data() + r * tile_row_bytes, static_cast<size_t>(copy));
    }
  }
}

/// Pages that need decoding (compressed, tiled, scattered strips): libtiff per frame.
class DecodedTiffDataset final : public dataset::Dataset {
 public:
  struct Frame {
    int32_t file = 0;
    Page page;
  };
  DecodedTiffDataset(dataset::DatasetMeta meta,
                     std::vector<std::shared_ptr<const io::MappedFile>> files,
                     std::vector<Frame> frames)
      : meta_(std::move(meta)), files_(std::move(files)), frames_(std::move(frames)) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    if (!internal::BeginRead(meta_, frame_begin, frame_end, sig, dst_dtype)) return;
    const int64_t item = SizeOf(meta_.dtype);
    const int64_t frame_bytes = meta_.shape.sig_size() * item;
    // uint64 storage keeps the page buffer aligned for every dtype.
    std::vector<uint64_t> page_buffer(static_cast<size_t>((frame_bytes + 7) / 8));
    auto* page_bytes = reinterpret_cast<std::byte*>(page_buffer.data());
    auto* out = static_cast<std::byte*>(dst);
    const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
    std::unique_ptr<LibTiff> lib;
    int32_t lib_file = -1;
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      const Frame& f = frames_[static_cast<size_t>(frame)];
      const auto& file = *files_[static_cast<size_t>(f.file)];
      if (f.file != lib_file) {
        lib.reset();
        lib = std::make_unique<LibTiff>(file);
        lib_file = f.file;
      }
      DecodePage(*lib, f.page, file.path(), page_bytes);
      ConvertElements(page_bytes + sig.begin * item, meta_.dtype, false,
                      out + (frame - frame_begin) * out_frame_bytes, dst_dtype, sig.size());
    }
  }

 private:
  dataset::DatasetMeta meta_;
  std::vector<std::shared_ptr<const io::MappedFile>> files_;
  std::vector<Frame> frames_;
};

// ---- calibrations and metadata from the first page ----

void AddDateTime(json& meta, const std::optional<std::string>& date,
                 const std::optional<std::string>& time) {
  if (date) meta["date"] = *date;
  if (time) meta["time"] = *time;
}

/// Fill `cal` and `meta` from the first IFD's tags; returns the flavours found.
std::vector<std::string> ReadVendorMetadata(const TiffBytes& t, const Ifd& ifd, const Page& page,
                                            bool use_resolution, Calibrations& cal, json& meta,
                                            std::map<std::string, std::string>& imagej) {
  std::vector<std::string> flavours;
  const auto text = [&](uint16_t tag) -> std::optional<std::string> {
    const Entry* e = Find(ifd, tag);
    if (e == nullptr) return std::nullopt;
    return t.Text(*e);
  };
  const auto number = [&](uint16_t tag) -> std::optional<double> {
    const Entry* e = Find(ifd, tag);
    if (e == nullptr || e->count == 0) return std::nullopt;
    const double value = t.NumberAt(*e, 0);
    if (!std::isfinite(value)) return std::nullopt;
    return value;
  };
  const std::optional<std::string> description = text(kImageDescription);
  if (description && !description->empty()) meta["description"] = Clip(*description);
  if (auto v = text(kSoftware)) meta["software"] = Clip(*v);
  if (auto v = text(kMake)) meta["make"] = Clip(*v);
  if (auto v = text(kModel)) meta["model"] = Clip(*v);
  if (auto v = text(kArtist)) meta["artist"] = Clip(*v);
  if (auto v = text(kDateTime)) {
    meta["datetime"] = Clip(*v);
    // "YYYY:MM:DD HH:MM:SS"
    const auto ints = Integers(*v);
    if (ints.size() == 6 && ints[0] >= 1000 && ints[1] >= 1 && ints[1] <= 12 && ints[2] >= 1 &&
        ints[2] <= 31 && ints[3] < 24 && ints[4] < 60 && ints[5] <= 60) {
      meta["date"] = fmt::format("{:04}-{:02}-{:02}", ints[0], ints[1], ints[2]);
      meta["time"] = fmt::format("{:02}:{:02}:{:02}", ints[3], ints[4], ints[5]);
    }
  }
  // Resolution tags: pixels per ResolutionUnit.
  const auto xres = number(kXResolution), yres = number(kYResolution);
  const uint64_t res_unit = UintOr(t, ifd, kResolutionUnit, 2);
  if (xres) meta["x_resolution"] = *xres;
  if (yres) meta["y_resolution"] = *yres;
  meta["resolution_unit"] = res_unit == 1 ? "none" : res_unit == 3 ? "centimeter" : "inch";

  if (const Entry* e = Find(ifd, kFeiHelios) != nullptr ? Find(ifd, kFeiHelios)
                                                        : Find(ifd, kFeiSfeg)) {
    flavours.push_back("fei");
    const json ini = ParseIni(t.Text(*e));
    meta["fei"] = ini;
    std::optional<double> sx, sy;
    if (auto v = IniValue(ini, "Scan", "PixelWidth")) sx = ToNumber(*v);
    if (auto v = IniValue(ini, "Scan", "PixelHeight")) sy = ToNumber(*v);
    if (!sx || !sy) {
      const auto hfw = IniValue(ini, "IRBeam", "HFW"), vfw = IniValue(ini, "IRBeam", "VFW");
      const auto rx = IniValue(ini, "Image", "ResolutionX");
      const auto ry = IniValue(ini, "Image", "ResolutionY");
      if (hfw && vfw && rx && ry && ToNumber(*hfw) && ToNumber(*vfw) && ToNumber(*rx) &&
          ToNumber(*ry) && *ToNumber(*rx) > 0 && *ToNumber(*ry) > 0) {
        sx = *ToNumber(*hfw) / *ToNumber(*rx);
        sy = *ToNumber(*vfw) / *ToNumber(*ry);
      }
    }
    if (sx && sy) {
      cal.x = {*sx, 0, "m", true};
      cal.y = {*sy, 0, "m", true};
    }
    if (auto v = IniValue(ini, "Beam", "HV"); v && ToNumber(*v)) {
      meta["beam_energy_kv"] = *ToNumber(*v) * 1e-3;
    }
    if (auto v = IniValue(ini, "EBeam", "BeamCurrent"); v && ToNumber(*v)) {
      meta["beam_current_na"] = *ToNumber(*v) * 1e9;
    }
    if (auto v = IniValue(ini, "Stage", "WorkingDistance"); v && ToNumber(*v)) {
      meta["working_distance_mm"] = *ToNumber(*v) * 1e3;
    }
    if (auto v = IniValue(ini, "Scan", "Dwelltime"); v && ToNumber(*v)) {
      meta["dwell_time_s"] = *ToNumber(*v);
    }
    if (auto v = IniValue(ini, "System", "SystemType")) meta["microscope"] = *v;
    if (auto v = IniValue(ini, "User", "User")) meta["authors"] = *v;
    std::optional<std::string> date, time;
    if (auto v = IniValue(ini, "User", "Date")) date = IsoDate(*v);
    if (auto v = IniValue(ini, "User", "Time")) time = IsoTime(*v);
    AddDateTime(meta, date, time);
  } else if (const Entry* cz = Find(ifd, kCzSem)) {
    flavours.push_back("zeiss_sem");
    const CzSem sem = ParseCzSem(t.Text(*cz));
    json summary = sem.named;
    summary[""] = sem.unnamed;
    meta["cz_sem"] = summary;
    std::optional<double> scale;
    if (sem.unnamed.size() > 3) {
      if (const auto v = ToNumber(sem.unnamed[3]); v && *v > 0) scale = *v * 1024.0 / page.width;
    }
    if (!scale && sem.named.contains("ap_pixel_size") &&
        sem.named["ap_pixel_size"].contains("number")) {
      const double metres =
          UnitToMetres(sem.named["ap_pixel_size"].value("unit", std::string("m")));
      if (std::isfinite(metres)) {
        scale = sem.named["ap_pixel_size"]["number"].get<double>() * metres;
      }
    }
    if (scale) {
      cal.x = {*scale, 0, "m", true};
      cal.y = {*scale, 0, "m", true};
    }
    auto numeric = [&](const char* key) -> std::optional<double> {
      if (!sem.named.contains(key) || !sem.named[key].contains("number")) return std::nullopt;
      return sem.named[key]["number"].get<double>();
    };
    if (auto v = numeric("ap_actualkv")) meta["beam_energy_kv"] = *v;
    if (auto v = numeric("ap_mag")) meta["magnification"] = *v;
    if (sem.named.contains("sv_serial_number")) {
      meta["microscope"] = sem.named["sv_serial_number"]["value"];
    }
    std::optional<std::string> date, time;
    if (sem.named.contains("ap_date")) {
      date = IsoDate(sem.named["ap_date"]["value"].get<std::string>());
    }
    if (sem.named.contains("ap_time")) {
      time = IsoTime(sem.named["ap_time"]["value"].get<std::string>());
    }
    AddDateTime(meta, date, time);
  } else if (const Entry* tv = Find(ifd, kTvips)) {
    flavours.push_back("tvips");
    const json tvips = ReadTvipsTag(t, *tv);
    meta["tvips"] = tvips;
    if (tvips.contains("PixelSizeX") && tvips["PixelSizeX"].get<double>() > 0 &&
        tvips["PixelSizeY"].get<double>() > 0) {
      // EM-MENU stores the pixel size in nm.
      cal.x = {tvips["PixelSizeX"].get<double>(), 0, "nm", true};
      cal.y = {tvips["PixelSizeY"].get<double>(), 0, "nm", true};
    } else if (xres && yres && *xres > 0 && *yres > 0) {
      cal.x = {1.0 / *xres * 1e-2, 0, "m", true};
      cal.y = {1.0 / *yres * 1e-2, 0, "m", true};
    }
    if (tvips.contains("TemHighTension")) {
      meta["beam_energy_kv"] = tvips["TemHighTension"].get<double>() * 1e-3;
    }
    if (tvips.contains("TemMagnification")) {
      meta[tvips.value("TemMode", 0) == 3 ? "camera_length" : "magnification"] =
          tvips["TemMagnification"];
    }
    if (tvips.contains("ExposureTime")) {
      meta["exposure_s"] = tvips["ExposureTime"].get<double>() * 1e-3;
    }
    if (tvips.contains("CameraType")) meta["camera"] = tvips["CameraType"];
    if (tvips.contains("TemStagePosition")) {
      const auto& s = tvips["TemStagePosition"];
      meta["stage"] = {{"x_mm", s[0].get<double>() * 1e3},
                       {"y_mm", s[1].get<double>() * 1e3},
                       {"z_mm", s[2].get<double>() * 1e3},
                       {"tilt_alpha", s[3]},
                       {"tilt_beta", s[4]}};
      meta["tilt_alpha"] = s[3];
    }
    std::optional<std::string> date, time;
    if (tvips.contains("Time")) {
      const int seconds = tvips["Time"].get<int>();
      if (seconds >= 0 && seconds < 86400) {
        time = fmt::format("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
      }
    }
    if (tvips.contains("Date")) {
      // EM-MENU packs the date as (year << 16) | (month << 8) | day.
      const auto packed = static_cast<uint32_t>(tvips["Date"].get<int>());
      const uint32_t year = packed >> 16, month = (packed >> 8) & 0xff, day = packed & 0xff;
      if (year >= 1900 && year < 3000 && month >= 1 && month <= 12 && day >= 1 && day <= 31) {
        date = fmt::format("{:04}-{:02}-{:02}", year, month, day);
      }
    }
    AddDateTime(meta, date, time);
  } else {
    // DigitalMicrograph private tags: units, origins and scales of x (65003/65006/65009),
    // y (65004/65007/65010) and z (65005/65008/65011); 65022/65024/65025 intensity.
    bool dm = false;
    for (uint16_t tag = 65003; tag <= 65025; ++tag) dm = dm || Find(ifd, tag) != nullptr;
    if (dm) {
      flavours.push_back("digital_micrograph");
      json dmj = json::object();
      Calibration* axes[3] = {&cal.x, &cal.y, &cal.z};
      static const char* const kNames[3] = {"x", "y", "z"};
      for (int i = 0; i < 3; ++i) {
        const auto units = text(static_cast<uint16_t>(65003 + i));
        const auto origin = number(static_cast<uint16_t>(65006 + i));
        const auto scale = number(static_cast<uint16_t>(65009 + i));
        if (!units && !origin && !scale) continue;
        Calibration& c = *axes[i];
        c.set = true;
        if (units) c.units = ToUtf8(*units);
        if (origin) c.offset = *origin;
        if (scale) c.scale = *scale;
        dmj[kNames[i]] = {{"units", c.units}, {"origin", c.offset}, {"scale", c.scale}};
      }
      if (auto v = text(65022)) dmj["intensity_units"] = ToUtf8(*v);
      if (auto v = number(65024)) dmj["intensity_offset"] = *v;
      if (auto v = number(65025)) dmj["intensity_scale"] = *v;
      meta["digital_micrograph"] = dmj;
    }
    if (description && description->rfind("ImageJ=", 0) == 0) {
      flavours.push_back("imagej");
      imagej = ParseImageJ(*description);
      json ij = json::object();
      for (const auto& [key, value] : imagej) ij[ToUtf8(key)] = ToUtf8(value);
      meta["imagej"] = ij;
      const auto unit = imagej.find("unit");
      if (unit != imagej.end() && xres && yres && *xres > 0 && *yres > 0) {
        const std::string units = NormalizeUnit(unit->second);
        const auto yunit = imagej.find("yunit");
        cal.x = {1.0 / *xres, 0, units, true};
        cal.y = {1.0 / *yres, 0, yunit != imagej.end() ? NormalizeUnit(yunit->second) : units,
                 true};
        // The voxel depth is in the same unit unless zunit says otherwise.
        const auto zunit = imagej.find("zunit");
        cal.z.units = zunit != imagej.end() ? NormalizeUnit(zunit->second) : units;
      }
      if (const auto it = imagej.find("spacing"); it != imagej.end()) {
        if (const auto v = ToNumber(it->second)) {
          cal.z.scale = *v;
          cal.z.set = true;
        }
      }
      if (const auto it = imagej.find("finterval"); it != imagej.end()) {
        if (const auto v = ToNumber(it->second)) {
          const auto tunit = imagej.find("tunit");
          cal.t = {*v, 0, tunit != imagej.end() ? NormalizeUnit(tunit->second) : "s", true};
        }
      }
    } else if (!dm && use_resolution && xres && yres && *xres > 0 && *yres > 0 &&
               res_unit != 1) {
      // Resolution tags: pixels per inch or per centimetre, as µm per pixel.
      const double per_unit = res_unit == 3 ? 1e4 : 25400.0;
      cal.x = {per_unit / *xres, 0, "µm", true};
      cal.y = {per_unit / *yres, 0, "µm", true};
    }
  }
  if (flavours.empty() && description && description->size() > 1 && description->front() == '{') {
    flavours.push_back("shaped");
  }
  return flavours;
}

bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    const bool db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (da && db) {
      size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie])) != 0) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je])) != 0) ++je;
      // Compare by value: strip leading zeros, then by length, then digit by digit.
      size_t is = i, js = j;
      while (is + 1 < ie && a[is] == '0') ++is;
      while (js + 1 < je && b[js] == '0') ++js;
      if (ie - is != je - js) return ie - is < je - js;
      const int cmp = a.compare(is, ie - is, b, js, je - js);
      if (cmp != 0) return cmp < 0;
      if (ie - i != je - j) return ie - i > je - j;  // more leading zeros first
      i = ie;
      j = je;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

bool HasGlob(const std::string& name) {
  return name.find_first_of("*?[") != std::string::npos;
}

bool IsTiffName(const std::string& name) {
  const std::string ext = internal::LowerExtension(name);
  return ext == ".tif" || ext == ".tiff";
}

}  // namespace

bool LooksLikeTiff(std::span<const std::byte> head) {
  if (head.size() < 4) return false;
  const auto b = [&](size_t i) { return std::to_integer<uint8_t>(head[i]); };
  if (b(0) == 'I' && b(1) == 'I') return (b(2) == 42 || b(2) == 43) && b(3) == 0;
  if (b(0) == 'M' && b(1) == 'M') return b(2) == 0 && (b(3) == 42 || b(3) == 43);
  return false;
}

bool IsTiffStackPath(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.is_regular_file(ec) && IsTiffName(entry.path().filename().string())) return true;
    }
    return false;
  }
  if (fs::exists(path, ec)) return false;
  const fs::path p(path);
  if (!HasGlob(p.filename().string())) return false;
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) return false;
  const std::string pattern = p.filename().string();
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) &&
        ::fnmatch(pattern.c_str(), entry.path().filename().c_str(), FNM_PERIOD) == 0) {
      return true;
    }
  }
  return false;
}

std::vector<std::string> ListTiffStack(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> names;
  fs::path dir;
  if (fs::is_directory(path, ec)) {
    dir = path;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file(ec) && IsTiffName(name) && name.front() != '.') {
        names.push_back(name);
      }
    }
  } else {
    const fs::path p(path);
    dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    const std::string pattern = p.filename().string();
    if (fs::is_directory(dir, ec)) {
      for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file(ec) &&
            ::fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) == 0) {
          names.push_back(name);
        }
      }
    }
  }
  if (names.empty()) {
    throw Error::NotFound(fs::is_directory(path, ec) ? "no *.tif or *.tiff files in the directory"
                                                     : "no file matches the pattern",
                          path);
  }
  std::sort(names.begin(), names.end(), NaturalLess);
  std::vector<std::string> files;
  files.reserve(names.size());
  for (const auto& name : names) files.push_back((dir / name).string());
  return files;
}

std::unique_ptr<dataset::Dataset> OpenTiff(const std::string& path, const OpenParams& params) {
  const bool use_resolution =
      internal::FindParam(params, "use_resolution")
          ? internal::ParseBoolParam(*internal::FindParam(params, "use_resolution"),
                                     "use_resolution")
          : false;
  std::error_code ec;
  const bool stack = IsTiffStackPath(path) || fs::is_directory(path, ec);
  const std::vector<std::string> paths = stack ? ListTiffStack(path)
                                               : std::vector<std::string>{path};
  std::vector<ParsedTiff> parsed;
  parsed.reserve(paths.size());
  for (const auto& file : paths) {
    parsed.push_back(ParseTiffFile(file));
    const Page& first = parsed.front().pages.front();
    const Page& page = parsed.back().pages.front();
    if (!page.SameLayout(first)) {
      throw Error::CorruptFile(
          file, page.ifd_offset, "ImageWidth",
          fmt::format("stack member has {} x {} x {} {} pages; the first file ({}) has {} x {} x "
                      "{} {}",
                      page.height, page.width, page.spp, Name(page.dtype), paths.front(),
                      first.height, first.width, first.spp, Name(first.dtype)));
    }
  }
  const ParsedTiff& head = parsed.front();
  const Page& page0 = head.pages.front();

  json meta_json = json::object();
  Calibrations cal;
  std::map<std::string, std::string> imagej;
  const std::vector<std::string> flavours = ReadVendorMetadata(
      *head.bytes, head.first_ifd, page0, use_resolution, cal, meta_json, imagej);

  // Frames: every page of every file, in order.
  struct FrameRef {
    int32_t file;
    const Page* page;
    int64_t offset;  // for contiguous pages: where the frame's bytes start
  };
  std::vector<FrameRef> frames;
  for (size_t f = 0; f < parsed.size(); ++f) {
    for (const Page& p : parsed[f].pages) {
      frames.push_back({static_cast<int32_t>(f), &p, p.data_offset});
    }
  }
  // ImageJ writes stacks over 4 GiB as one IFD followed by all images back to back.
  const int64_t ij_images = ImageJCount(imagej, "images");
  if (!stack && !imagej.empty() && ij_images > static_cast<int64_t>(head.pages.size()) &&
      page0.contiguous) {
    const int64_t need = page0.data_offset + ij_images * page0.frame_bytes();
    if (need > head.file->size()) {
      throw Error::CorruptFile(
          path, page0.data_offset, "images",
          fmt::format("ImageJ says {} images of {} bytes from offset {}; the file has only {} "
                      "bytes (truncated file?)",
                      ij_images, page0.frame_bytes(), page0.data_offset, head.file->size()));
    }
    frames.clear();
    for (int64_t i = 0; i < ij_images; ++i) {
      frames.push_back({0, &page0, page0.data_offset + i * page0.frame_bytes()});
    }
  }
  const auto n_frames = static_cast<int64_t>(frames.size());

  // Shape: navigation from ImageJ hyperstack sizes, a tifffile shape, or one axis of pages.
  std::vector<int64_t> sig_dims;
  std::vector<dataset::Axis> sig_axes;
  const dataset::Axis height{.name = "height", .size = page0.height,
                             .scale = cal.y.set ? cal.y.scale : 1.0,
                             .offset = cal.y.set ? cal.y.offset : 0.0,
                             .units = cal.y.set ? cal.y.units : "px"};
  const dataset::Axis width{.name = "width", .size = page0.width,
                            .scale = cal.x.set ? cal.x.scale : 1.0,
                            .offset = cal.x.set ? cal.x.offset : 0.0,
                            .units = cal.x.set ? cal.x.units : "px"};
  if (page0.spp > 1 && page0.planar == 2) {
    sig_axes = {dataset::Axis{.name = "sample", .size = page0.spp, .units = ""}, height, width};
  } else if (page0.spp > 1) {
    sig_axes = {height, width, dataset::Axis{.name = "channel", .size = page0.spp, .units = ""}};
  } else {
    sig_axes = {height, width};
  }
  for (const auto& a : sig_axes) sig_dims.push_back(a.size);

  std::vector<dataset::Axis> nav_axes;
  if (!imagej.empty() && !stack) {
    const int64_t t = ImageJCount(imagej, "frames"), z = ImageJCount(imagej, "slices");
    const int64_t c = page0.spp > 1 ? 1 : ImageJCount(imagej, "channels");
    if (t * z * c == n_frames && n_frames > 1) {
      if (t > 1) {
        nav_axes.push_back({.name = "time", .size = t, .scale = cal.t.set ? cal.t.scale : 1.0,
                            .units = cal.t.set ? cal.t.units : "px"});
      }
      if (z > 1) {
        nav_axes.push_back({.name = "depth", .size = z, .scale = cal.z.set ? cal.z.scale : 1.0,
                            .units = cal.z.set ? cal.z.units : "px"});
      }
      if (c > 1) nav_axes.push_back({.name = "channel", .size = c, .units = ""});
    }
  }
  if (nav_axes.empty() && !stack && n_frames > 1 && flavours.size() == 1 &&
      flavours[0] == "shaped") {
    // tifffile writes {"shape": [...]} for shaped series: leading dimensions over the pages.
    const json shaped = json::parse(meta_json.value("description", std::string()), nullptr, false);
    if (shaped.is_object() && shaped.contains("shape") && shaped["shape"].is_array()) {
      std::vector<int64_t> dims;
      for (const auto& d : shaped["shape"]) {
        if (d.is_number_integer() && d.get<int64_t>() > 0) dims.push_back(d.get<int64_t>());
      }
      if (dims.size() == shaped["shape"].size() && dims.size() > sig_dims.size() &&
          std::equal(sig_dims.begin(), sig_dims.end(), dims.end() - static_cast<long>(sig_dims.size()))) {
        int64_t product = 1;
        for (size_t i = 0; i + sig_dims.size() < dims.size(); ++i) product *= dims[i];
        if (product == n_frames) {
          for (size_t i = 0; i + sig_dims.size() < dims.size(); ++i) {
            nav_axes.push_back({.name = fmt::format("nav{}", i), .size = dims[i], .units = "px"});
          }
        }
      }
    }
  }
  if (nav_axes.empty() && n_frames > 1) {
    nav_axes.push_back({.name = "frame", .size = n_frames,
                        .scale = cal.z.set ? cal.z.scale : 1.0,
                        .offset = cal.z.set ? cal.z.offset : 0.0,
                        .units = cal.z.set ? cal.z.units : "px"});
  }
  std::vector<int64_t> nav_dims;
  for (const auto& a : nav_axes) nav_dims.push_back(a.size);

  dataset::DatasetMeta meta;
  meta.format = "tiff";
  meta.path = path;
  meta.shape = Shape(nav_dims, sig_dims);
  meta.dtype = page0.dtype;
  meta.axes = nav_axes;
  meta.axes.insert(meta.axes.end(), sig_axes.begin(), sig_axes.end());
  for (const auto& p : parsed) {
    meta.files.push_back(dataset::InputFile{.path = p.file->path(), .size = p.file->size()});
  }

  bool all_contiguous = true;
  for (const auto& f : frames) all_contiguous = all_contiguous && f.page->contiguous;
  meta_json["flavours"] = flavours;
  meta_json["pages"] = n_frames;
  meta_json["byte_order"] = head.bytes->big_endian() ? "big" : "little";
  meta_json["bigtiff"] = head.bytes->bigtiff();
  meta_json["compression"] = page0.compression;
  meta_json["compression_name"] = CompressionName(page0.compression);
  meta_json["photometric"] = page0.photometric;
  meta_json["planar_configuration"] = page0.planar;
  meta_json["bits_per_sample"] = page0.bits;
  meta_json["sample_format"] = page0.sample_format;
  meta_json["samples_per_pixel"] = page0.spp;
  meta_json["tiled"] = page0.tiled;
  meta_json["zero_copy"] = all_contiguous;
  if (head.other_pages > 0) meta_json["other_pages_ignored"] = head.other_pages;
  if (stack) {
    meta_json["stack_files"] = static_cast<int64_t>(paths.size());
    meta_json["first_file"] = ToUtf8(fs::path(paths.front()).filename().string());
    meta_json["last_file"] = ToUtf8(fs::path(paths.back()).filename().string());
  }
  meta.metadata_json = meta_json.dump(-1, ' ', false, json::error_handler_t::replace);

  std::vector<std::shared_ptr<const io::MappedFile>> files;
  files.reserve(parsed.size());
  for (const auto& p : parsed) files.push_back(p.file);
  const bool byteswap = head.bytes->big_endian() == internal::kHostLittleEndian;
  bool same_order = true;
  for (const auto& p : parsed) same_order = same_order && p.bytes->big_endian() == head.bytes->big_endian();

  if (all_contiguous && same_order) {
    // One file, frames evenly spaced one frame apart: a plain mapped array.
    bool dense = files.size() == 1;
    for (int64_t i = 1; i < n_frames && dense; ++i) {
      dense = frames[static_cast<size_t>(i)].offset ==
              frames[0].offset + i * page0.frame_bytes();
    }
    if (dense) {
      const int64_t offset = frames[0].offset;
      return std::make_unique<internal::MappedArrayDataset>(std::move(meta), files[0], offset,
                                                            byteswap);
    }
    std::vector<internal::FrameSource> sources;
    sources.reserve(frames.size());
    for (const auto& f : frames) sources.push_back({f.file, f.offset});
    return std::make_unique<internal::FrameTableDataset>(std::move(meta), std::move(files),
                                                         std::move(sources), byteswap);
  }
  std::vector<DecodedTiffDataset::Frame> decoded;
  decoded.reserve(frames.size());
  for (const auto& f : frames) decoded.push_back({f.file, *f.page});
  return std::make_unique<DecodedTiffDataset>(std::move(meta), std::move(files),
                                              std::move(decoded));
}

FormatEntry TiffFormatEntry() {
  FormatEntry entry;
  entry.name = "tiff";
  entry.extensions = {".tif", ".tiff"};
  entry.summary =
      "TIFF / BigTIFF images and multi-page stacks (.tif, .tiff; a directory or glob of TIFFs "
      "is one stack): ImageJ, DigitalMicrograph, FEI/Thermo, Zeiss and TVIPS calibrations";
  entry.params = {ParamDoc{.name = "use_resolution",
                           .type = "bool",
                           .help = "calibrate plain TIFFs from XResolution/YResolution and "
                                   "ResolutionUnit (as µm per pixel)",
                           .default_value = "false"}};
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    (void)path;
    return LooksLikeTiff(head);
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    return OpenTiff(path, params);
  };
  return entry;
}

}  // namespace tessera::formats
