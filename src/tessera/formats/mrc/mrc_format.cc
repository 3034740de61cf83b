// SPDX-License-Identifier: MIT
#include "tessera/formats/mrc/mrc_format.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr int64_t kHeaderBytes = 1024;
constexpr int64_t kMapStampOffset = 208;
constexpr int64_t kMachstOffset = 212;
// Decompressed .gz maps are held in memory; refuse absurd sizes instead of exhausting it.
constexpr int64_t kMaxGzipBytes = int64_t{16} << 30;

/// Read header words with a fixed byte order, whatever the host.
class HeaderWords {
 public:
  HeaderWords(std::span<const std::byte> bytes, bool big_endian)
      : bytes_(bytes), big_endian_(big_endian) {}
  uint32_t U32(int64_t offset) const {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const int index = big_endian_ ? i : 3 - i;
      value = (value << 8) |
              std::to_integer<uint32_t>(bytes_[static_cast<size_t>(offset + index)]);
    }
    return value;
  }
  int32_t I32(int64_t offset) const { return static_cast<int32_t>(U32(offset)); }
  float F32(int64_t offset) const { return std::bit_cast<float>(U32(offset)); }

 private:
  std::span<const std::byte> bytes_;
  bool big_endian_ = false;
};

bool IsKnownMode(int32_t mode) {
  return mode == 0 || mode == 1 || mode == 2 || mode == 3 || mode == 4 || mode == 6 ||
         mode == 12 || mode == 101;
}

/// Whether the header read in this byte order has a known mode and sane sizes.
bool PlausibleInOrder(std::span<const std::byte> head, bool big_endian) {
  const HeaderWords words(head, big_endian);
  if (!IsKnownMode(words.I32(12))) return false;
  for (int64_t offset : {0, 4, 8}) {
    const int32_t n = words.I32(offset);
    if (n <= 0 || n > (1 << 24)) return false;
  }
  const int32_t nsymbt = words.I32(92);
  return nsymbt >= 0;
}

/// Return the byte order: from machst (0x44 0x44 / 0x44 0x41 little, 0x11 0x11 big), else the
/// order in which the header is plausible (RELION and other writers leave machst zero).
bool DetectBigEndian(std::span<const std::byte> head) {
  const auto first = std::to_integer<uint8_t>(head[kMachstOffset]);
  if (first == 0x44 || first == 0x41) return false;
  if (first == 0x11) return true;
  if (PlausibleInOrder(head, false)) return false;
  return PlausibleInOrder(head, true);
}

/// Widen an IEEE 754 half (binary16) to float, subnormals, infinities and NaN included.
float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  uint32_t bits = 0;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {
      // Subnormal: normalise into a float exponent.
      int shift = 0;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        ++shift;
      }
      mantissa &= 0x3ffu;
      bits = sign | (static_cast<uint32_t>(127 - 15 + 1 - shift) << 23) | (mantissa << 13);
    }
  } else if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

/// Decompress a whole gzip file into memory; errors name the file and the compressed offset.
std::vector<std::byte> Gunzip(std::span<const std::byte> compressed, const std::string& path) {
  z_stream stream{};
  // 16 + MAX_WBITS: expect a gzip wrapper.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    throw Error::Internal("zlib inflateInit2 failed");
  }
  std::vector<std::byte> out;
  out.resize(std::max<size_t>(compressed.size() * 4, 1 << 16));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(compressed.data()));
  size_t produced = 0;
  size_t consumed = 0;
  int status = Z_OK;
  while (true) {
    const size_t in_left = compressed.size() - consumed;
    const size_t out_left = out.size() - produced;
    stream.avail_in = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(std::min<size_t>(out_left, 1u << 30));
    const uInt avail_in_before = stream.avail_in;
    const uInt avail_out_before = stream.avail_out;
    status = inflate(&stream, Z_NO_FLUSH);
    consumed += avail_in_before - stream.avail_in;
    produced += avail_out_before - stream.avail_out;
    if (status == Z_STREAM_END) break;
    if (status != Z_OK && status != Z_BUF_ERROR) {
      const std::string message = stream.msg != nullptr ? stream.msg : "inflate failed";
      inflateEnd(&stream);
      throw Error::CorruptFile(path, static_cast<int64_t>(consumed), "gzip",
                               fmt::format("bad gzip data: {}", message));
    }
    if (produced == out.size()) {
      if (static_cast<int64_t>(out.size()) >= kMaxGzipBytes) {
        inflateEnd(&stream);
        throw Error::Unsupported(
            fmt::format("gzip data decompresses to more than {} bytes", kMaxGzipBytes), path);
      }
      out.resize(out.size() * 2);
    } else if (consumed == compressed.size()) {
      inflateEnd(&stream);
      throw Error::CorruptFile(path, static_cast<int64_t>(consumed), "gzip",
                               "gzip stream ends early (truncated file)");
    }
  }
  inflateEnd(&stream);
  out.resize(produced);
  return out;
}

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool IsGzipPath(const std::string& path) {
  const std::string lower = Lower(path);
  return EndsWith(lower, ".mrc.gz") || EndsWith(lower, ".map.gz") ||
         EndsWith(lower, ".mrcs.gz") || EndsWith(lower, ".ccp4.gz");
}

/// MRC data that MappedArrayDataset cannot serve: float16 (widened on read) and gzip files
/// (decompressed into memory, always aligned and in native byte order).
class DecodedMrcDataset final : public dataset::Dataset {
 public:
  DecodedMrcDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
                    std::vector<uint64_t> owned, const std::byte* data, bool float16,
                    bool byteswap)
      : meta_(std::move(meta)),
        file_(std::move(file)),
        owned_(std::move(owned)),
        data_(data),
        float16_(float16),
        byteswap_(byteswap) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    if (float16_ || byteswap_ || frame_begin < 0 || frame_begin > frame_end ||
        frame_end > meta_.shape.nav_size()) {
      return nullptr;
    }
    return data_ + frame_begin * meta_.shape.sig_size() * SizeOf(meta_.dtype);
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckRead(meta_, frame_begin, frame_end, sig, dst_dtype);
    const int64_t sig_size = meta_.shape.sig_size();
    const int64_t count = sig.size();
    const int64_t out_frame_bytes = count * SizeOf(dst_dtype);
    auto* out = static_cast<std::byte*>(dst);
    if (!float16_) {
      // Owned buffers are aligned and native: convert in place.
      const int64_t item = SizeOf(meta_.dtype);
      for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
        ConvertElements(data_ + (frame * sig_size + sig.begin) * item, meta_.dtype, byteswap_,
                        out + (frame - frame_begin) * out_frame_bytes, dst_dtype, count);
      }
      return;
    }
    std::vector<float> widened(static_cast<size_t>(count));
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      const std::byte* src = data_ + (frame * sig_size + sig.begin) * 2;
      for (int64_t i = 0; i < count; ++i) {
        uint16_t half = 0;
        std::memcpy(&half, src + i * 2, 2);
        if (byteswap_) half = static_cast<uint16_t>((half >> 8) | (half << 8));
        widened[static_cast<size_t>(i)] = HalfToFloat(half);
      }
      ConvertElements(widened.data(), DType::kFloat32, false,
                      out + (frame - frame_begin) * out_frame_bytes, dst_dtype, count);
    }
  }

 private:
  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;  // keeps `data_` alive for mapped files
  std::vector<uint64_t> owned_;                  // keeps `data_` alive for decompressed files
  const std::byte* data_ = nullptr;
  bool float16_ = false;
  bool byteswap_ = false;
};

std::string TrimLabel(std::string_view text) {
  std::string label(text);
  const auto nul = label.find('\0');
  if (nul != std::string::npos) label.resize(nul);
  while (!label.empty() && (label.back() == ' ' || label.back() == '\n')) label.pop_back();
  // Labels are ASCII by the standard; keep JSON valid whatever a writer put there.
  for (char& c : label) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return label;
}

std::string MetadataJson(const MrcHeader& header, std::span<const std::byte> file_bytes) {
  nlohmann::json j;
  j["nx"] = header.n[0];
  j["ny"] = header.n[1];
  j["nz"] = header.n[2];
  j["mode"] = header.mode;
  j["nxstart"] = header.start;
  j["mx"] = header.m[0];
  j["my"] = header.m[1];
  j["mz"] = header.m[2];
  j["cella"] = header.cella;
  j["cellb"] = header.cellb;
  j["mapc_r_s"] = header.map_crs;
  j["dmin"] = header.dmin_max_mean[0];
  j["dmax"] = header.dmin_max_mean[1];
  j["dmean"] = header.dmin_max_mean[2];
  j["ispg"] = header.ispg;
  j["nsymbt"] = header.nsymbt;
  j["exttyp"] = TrimLabel(header.exttyp);
  j["nversion"] = header.nversion;
  j["origin"] = header.origin;
  j["map_stamp"] = header.has_map_stamp;
  j["machst"] = header.machst;
  j["byte_order"] = header.big_endian ? "big" : "little";
  j["rms"] = header.rms;
  j["labels"] = header.labels;
  j["data_offset"] = header.data_offset;
  const std::string ext = TrimLabel(header.exttyp);
  if ((ext == "FEI1" || ext == "FEI2") && header.nsymbt >= 8 &&
      static_cast<int64_t>(file_bytes.size()) >= kHeaderBytes + 8) {
    // Each FEI section starts with its size and version (little-endian by the FEI spec).
    const HeaderWords words(file_bytes, false);
    const int32_t section_bytes = words.I32(kHeaderBytes);
    nlohmann::json fei;
    fei["type"] = ext;
    fei["bytes"] = header.nsymbt;
    fei["metadata_size"] = section_bytes;
    fei["metadata_version"] = words.I32(kHeaderBytes + 4);
    if (section_bytes > 0) fei["sections"] = header.nsymbt / section_bytes;
    j["fei_extended_header"] = fei;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

dataset::Axis CellAxis(const std::string& name, int64_t size, float cell, int32_t samples,
                       float origin) {
  dataset::Axis axis{.name = name, .size = size, .units = "px"};
  if (samples > 0 && cell != 0 && std::isfinite(cell)) {
    axis.scale = static_cast<double>(cell) / samples;
    axis.offset = std::isfinite(origin) ? static_cast<double>(origin) : 0.0;
    axis.units = "Å";
  }
  return axis;
}

}  // namespace

MrcHeader ParseMrcHeader(std::span<const std::byte> bytes, const std::string& path) {
  if (static_cast<int64_t>(bytes.size()) < kHeaderBytes) {
    throw Error::CorruptFile(path, static_cast<int64_t>(bytes.size()), "header",
                             fmt::format("file of {} bytes ends inside the 1024-byte MRC header",
                                         bytes.size()));
  }
  MrcHeader header;
  for (int i = 0; i < 4; ++i) {
    header.machst[static_cast<size_t>(i)] =
        std::to_integer<uint8_t>(bytes[static_cast<size_t>(kMachstOffset + i)]);
  }
  header.big_endian = DetectBigEndian(bytes);
  const HeaderWords words(bytes, header.big_endian);
  static const char* const kSizeNames[] = {"nx", "ny", "nz"};
  for (int i = 0; i < 3; ++i) {
    header.n[static_cast<size_t>(i)] = words.I32(i * 4);
    header.start[static_cast<size_t>(i)] = words.I32(16 + i * 4);
    header.m[static_cast<size_t>(i)] = words.I32(28 + i * 4);
    header.cella[static_cast<size_t>(i)] = words.F32(40 + i * 4);
    header.cellb[static_cast<size_t>(i)] = words.F32(52 + i * 4);
    header.map_crs[static_cast<size_t>(i)] = words.I32(64 + i * 4);
    header.dmin_max_mean[static_cast<size_t>(i)] = words.F32(76 + i * 4);
    header.origin[static_cast<size_t>(i)] = words.F32(196 + i * 4);
  }
  header.mode = words.I32(12);
  header.ispg = words.I32(88);
  header.nsymbt = words.I32(92);
  header.exttyp.assign(reinterpret_cast<const char*>(bytes.data()) + 104, 4);
  header.nversion = words.I32(108);
  header.has_map_stamp =
      std::string_view(reinterpret_cast<const char*>(bytes.data()) + kMapStampOffset, 4) == "MAP ";
  header.rms = words.F32(216);
  const int32_t nlabl = words.I32(220);
  for (int32_t i = 0; i < std::min(nlabl, 10); ++i) {
    header.labels.push_back(
        TrimLabel(std::string_view(reinterpret_cast<const char*>(bytes.data()) + 224 + i * 80, 80)));
  }

  for (int i = 0; i < 3; ++i) {
    const int32_t n = header.n[static_cast<size_t>(i)];
    if (n <= 0) {
      throw Error::CorruptFile(path, i * 4, kSizeNames[i],
                               fmt::format("{} is {}; it must be positive (is this an MRC file? "
                                           "byte order {})",
                                           kSizeNames[i], n,
                                           header.big_endian ? "big" : "little"));
    }
  }
  if (header.nsymbt < 0) {
    throw Error::CorruptFile(path, 92, "nsymbt",
                             fmt::format("extended header size {} is negative", header.nsymbt));
  }
  header.data_offset = kHeaderBytes + header.nsymbt;
  switch (header.mode) {
    case 0: header.dtype = DType::kInt8; break;
    case 1: header.dtype = DType::kInt16; break;
    case 2: header.dtype = DType::kFloat32; break;
    case 4: header.dtype = DType::kComplex64; break;
    case 6: header.dtype = DType::kUint16; break;
    case 12:
      header.dtype = DType::kFloat32;
      header.float16 = true;
      break;
    case 3:
    case 101:
      throw Error(ErrorInfo{
          .code = ErrorCode::kUnsupported,
          .message = fmt::format("MRC mode {} ({}) is not supported", header.mode,
                                 header.mode == 3 ? "complex int16" : "packed 4-bit"),
          .file = path,
          .offset = 12,
          .field = "mode"});
    default:
      throw Error::CorruptFile(
          path, 12, "mode",
          fmt::format("unknown MRC mode {} (known: 0, 1, 2, 3, 4, 6, 12, 101)", header.mode));
  }
  return header;
}

bool LooksLikeMrcHeader(std::span<const std::byte> head) {
  if (static_cast<int64_t>(head.size()) < kMachstOffset + 4) return false;
  return PlausibleInOrder(head, DetectBigEndian(head));
}

std::unique_ptr<dataset::Dataset> OpenMrc(const std::string& path) {
  auto file = io::MappedFile::Open(path);
  std::vector<std::byte> decompressed;
  const bool gzip = file->size() >= 2 && std::to_integer<uint8_t>(file->bytes()[0]) == 0x1f &&
                    std::to_integer<uint8_t>(file->bytes()[1]) == 0x8b;
  if (gzip) decompressed = Gunzip(file->bytes(), path);
  const std::span<const std::byte> bytes =
      gzip ? std::span<const std::byte>(decompressed) : file->bytes();
  const MrcHeader header = ParseMrcHeader(bytes, path);

  const int64_t nx = header.n[0], ny = header.n[1], nz = header.n[2];
  const int64_t item = header.float16 ? 2 : SizeOf(header.dtype);
  const int64_t size = static_cast<int64_t>(bytes.size());
  // Three header words below 2^31 can multiply past 2^63: check before trusting the product.
  int64_t needed = 0;
  if (__builtin_mul_overflow(nx, ny, &needed) || __builtin_mul_overflow(needed, nz, &needed) ||
      __builtin_mul_overflow(needed, item, &needed)) {
    throw Error::CorruptFile(path, 0, "nx",
                             fmt::format("absurd dimensions {} x {} x {} (mode {}): more bytes "
                                         "than any file holds",
                                         nz, ny, nx, header.mode));
  }
  const std::string where = gzip ? " (decompressed)" : "";
  if (size < header.data_offset) {
    throw Error::CorruptFile(
        path, 92, "nsymbt",
        fmt::format("extended header of {} bytes runs past the end of the file{} ({} bytes)",
                    header.nsymbt, where, size));
  }
  if (size - header.data_offset < needed) {
    throw Error::CorruptFile(
        path, header.data_offset, "nz",
        fmt::format("data is truncated: {} x {} x {} elements of mode {} need {} bytes from "
                    "offset {}, the file{} has {}",
                    nz, ny, nx, header.mode, needed, header.data_offset, where,
                    size - header.data_offset));
  }

  dataset::DatasetMeta meta;
  meta.format = "mrc";
  meta.path = path;
  meta.dtype = header.dtype;
  const bool single_image = header.ispg == 0 && nz == 1;
  const bool volume_stack = header.ispg >= 401 && header.ispg <= 630 && header.m[2] > 0 &&
                            nz % header.m[2] == 0 && nz > header.m[2];
  dataset::Axis z_axis;
  if (header.ispg == 0) {
    z_axis = dataset::Axis{.name = "frame", .size = nz, .units = "px"};
  } else {
    z_axis = CellAxis("z", volume_stack ? header.m[2] : nz, header.cella[2], header.m[2],
                      header.origin[2]);
  }
  const dataset::Axis y_axis = CellAxis("y", ny, header.cella[1], header.m[1], header.origin[1]);
  const dataset::Axis x_axis = CellAxis("x", nx, header.cella[0], header.m[0], header.origin[0]);
  if (single_image) {
    meta.shape = Shape({}, {ny, nx});
    meta.axes = {y_axis, x_axis};
  } else if (volume_stack) {
    meta.shape = Shape({nz / header.m[2], header.m[2]}, {ny, nx});
    meta.axes = {dataset::Axis{.name = "volume", .size = nz / header.m[2], .units = "px"},
                 z_axis, y_axis, x_axis};
  } else {
    meta.shape = Shape({nz}, {ny, nx});
    meta.axes = {z_axis, y_axis, x_axis};
  }
  meta.metadata_json = MetadataJson(header, bytes);
  meta.files = {dataset::InputFile{.path = path, .size = file->size()}};
  const bool byteswap = header.big_endian == internal::kHostLittleEndian;

  if (gzip) {
    std::vector<uint64_t> owned(static_cast<size_t>((needed + 7) / 8));
    std::memcpy(owned.data(), bytes.data() + header.data_offset, static_cast<size_t>(needed));
    const auto* data = reinterpret_cast<const std::byte*>(owned.data());
    return std::make_unique<DecodedMrcDataset>(std::move(meta), nullptr, std::move(owned), data,
                                               header.float16, byteswap);
  }
  if (header.float16) {
    const std::byte* data = file->bytes().data() + header.data_offset;
    return std::make_unique<DecodedMrcDataset>(std::move(meta), std::move(file),
                                               std::vector<uint64_t>(), data, true, byteswap);
  }
  return std::make_unique<internal::MappedArrayDataset>(std::move(meta), std::move(file),
                                                        header.data_offset, byteswap);
}

FormatEntry MrcFormatEntry() {
  FormatEntry entry;
  entry.name = "mrc";
  entry.extensions = {".mrc", ".mrcs", ".map", ".st", ".ali", ".rec", ".ccp4"};
  entry.summary =
      "MRC2014 / CCP4 maps and image stacks (.mrc, .mrcs, .map, .st, .ali; also .mrc.gz): nz "
      "frames of ny x nx";
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    if (head.size() >= 2 && std::to_integer<uint8_t>(head[0]) == 0x1f &&
        std::to_integer<uint8_t>(head[1]) == 0x8b) {
      return IsGzipPath(path);
    }
    if (static_cast<int64_t>(head.size()) >= kMapStampOffset + 4 &&
        std::string_view(reinterpret_cast<const char*>(head.data()) + kMapStampOffset, 4) ==
            "MAP ") {
      return true;
    }
    // Writers that leave out the stamp (RELION .mrcs): trust a sane header with our extension.
    const std::string ext = internal::LowerExtension(path);
    const bool mrc_ext = ext == ".mrc" || ext == ".mrcs" || ext == ".map" || ext == ".st" ||
                         ext == ".ali" || ext == ".rec" || ext == ".ccp4";
    return mrc_ext && LooksLikeMrcHeader(head);
  };
  entry.open = [](const std::string& path, const OpenParams& /*params*/) { return OpenMrc(path); };
  return entry;
}

}  // namespace tessera::formats
