// SPDX-License-Identifier: MIT
#include "tessera/formats/tvips/tvips_format.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/formats/frame_table_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMainFields = 13 * 4;  // the u32 fields before the 204-byte filler
constexpr int64_t kFrameHeaderV2 = 60;   // num .. objective
constexpr int64_t kFrameHeaderV1 = 12;   // num, timestamp, ms
constexpr uint32_t kMaxDim = 1u << 20;
constexpr uint32_t kMaxHeaderBytes = 1u << 24;

uint32_t Le32(std::span<const std::byte> bytes, int64_t offset) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) {
    value = (value << 8) | std::to_integer<uint32_t>(bytes[static_cast<size_t>(offset + i)]);
  }
  return value;
}

/// The fields of one frame header (those present: version 1 has only the first three).
struct FrameHeader {
  uint32_t num = 0;
  uint32_t timestamp = 0;  // seconds since 1970, UTC
  uint32_t ms = 0;
  bool full = false;
  float fcurrent = 0;
  uint32_t mag = 0;
  uint32_t mode = 0;  // 1 image, 2 diffraction
  float stage[5] = {};  // x, y, z, alpha, beta
  uint32_t rotidx = 0;
  float objective = 0;
};

FrameHeader ReadFrameHeader(std::span<const std::byte> bytes, int64_t at, int64_t header_bytes) {
  FrameHeader h;
  h.num = Le32(bytes, at);
  h.timestamp = Le32(bytes, at + 4);
  h.ms = Le32(bytes, at + 8);
  if (header_bytes >= kFrameHeaderV2) {
    h.full = true;
    h.fcurrent = std::bit_cast<float>(Le32(bytes, at + 16));
    h.mag = Le32(bytes, at + 20);
    h.mode = Le32(bytes, at + 24);
    for (int i = 0; i < 5; ++i) h.stage[i] = std::bit_cast<float>(Le32(bytes, at + 28 + 4 * i));
    h.rotidx = Le32(bytes, at + 48);
    h.objective = std::bit_cast<float>(Le32(bytes, at + 56));
  }
  return h;
}

double Finite(float value) { return std::isfinite(value) ? static_cast<double>(value) : 0.0; }

}  // namespace

TvipsHeader ParseTvipsHeader(std::span<const std::byte> bytes, const std::string& path) {
  const auto size = static_cast<int64_t>(bytes.size());
  if (size < kMainFields) {
    throw Error::CorruptFile(path, size, "header",
                             fmt::format("file of {} bytes ends inside the TVIPS main header ({} "
                                         "bytes of fields)",
                                         size, kMainFields));
  }
  TvipsHeader h;
  h.size = Le32(bytes, 0);
  h.version = Le32(bytes, 4);
  h.dimx = Le32(bytes, 8);
  h.dimy = Le32(bytes, 12);
  h.bitsperpixel = Le32(bytes, 16);
  h.offsetx = Le32(bytes, 20);
  h.offsety = Le32(bytes, 24);
  h.binx = Le32(bytes, 28);
  h.biny = Le32(bytes, 32);
  h.pixelsize = Le32(bytes, 36);
  h.ht = Le32(bytes, 40);
  h.magtotal = Le32(bytes, 44);
  h.frameheaderbytes = Le32(bytes, 48);
  if (h.version != 1 && h.version != 2) {
    throw Error::CorruptFile(path, 4, "version",
                             fmt::format("TVIPS header version {} is neither 1 nor 2 (is this a "
                                         "TVIPS recorder file?)",
                                         h.version));
  }
  if (h.size < kMainFields || h.size > kMaxHeaderBytes) {
    throw Error::CorruptFile(path, 0, "size",
                             fmt::format("main header size {} is out of range ({}..{})", h.size,
                                         kMainFields, kMaxHeaderBytes));
  }
  if (h.size > size) {
    throw Error::CorruptFile(path, 0, "size",
                             fmt::format("main header of {} bytes runs past the end of the file "
                                         "({} bytes)",
                                         h.size, size));
  }
  if (h.dimx == 0 || h.dimx > kMaxDim) {
    throw Error::CorruptFile(path, 8, "dimx", fmt::format("frame width {} is out of range (1..{})",
                                                         h.dimx, kMaxDim));
  }
  if (h.dimy == 0 || h.dimy > kMaxDim) {
    throw Error::CorruptFile(path, 12, "dimy",
                             fmt::format("frame height {} is out of range (1..{})", h.dimy,
                                         kMaxDim));
  }
  if (h.bitsperpixel != 8 && h.bitsperpixel != 16 && h.bitsperpixel != 32) {
    throw Error::CorruptFile(path, 16, "bitsperpixel",
                             fmt::format("{} bits per pixel (expected 8, 16 or 32)",
                                         h.bitsperpixel));
  }
  if (h.version == 1) {
    h.frame_header_bytes = kFrameHeaderV1;
  } else {
    if (h.frameheaderbytes < kFrameHeaderV2 || h.frameheaderbytes > kMaxHeaderBytes) {
      throw Error::CorruptFile(path, 48, "frameheaderbytes",
                               fmt::format("frame header size {} is out of range ({}..{})",
                                           h.frameheaderbytes, kFrameHeaderV2, kMaxHeaderBytes));
    }
    h.frame_header_bytes = h.frameheaderbytes;
  }
  return h;
}

std::vector<std::string> TvipsSeriesParts(const std::string& path) {
  const fs::path p(path);
  const std::string stem = p.stem().string();
  const std::string ext = p.extension().string();
  const bool numbered = stem.size() > 4 && stem[stem.size() - 4] == '_' &&
                        std::all_of(stem.end() - 3, stem.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
  if (!numbered) return {path};
  const std::string base = stem.substr(0, stem.size() - 3);
  const std::string number = stem.substr(stem.size() - 3);
  auto part = [&](int index) {
    return (p.parent_path() / fmt::format("{}{:03}{}", base, index, ext)).string();
  };
  if (number != "000") {
    throw Error::InvalidArgument(
        fmt::format("{} is part {} of a TVIPS series; open the first part {}", path, number,
                    part(0)),
        "path");
  }
  std::vector<std::string> parts = {path};
  std::error_code ec;
  for (int index = 1; index < 1000 && fs::is_regular_file(part(index), ec); ++index) {
    parts.push_back(part(index));
  }
  return parts;
}

std::unique_ptr<dataset::Dataset> OpenTvips(const std::string& path, const OpenParams& params) {
  const std::vector<std::string> parts = TvipsSeriesParts(path);
  std::vector<std::shared_ptr<const io::MappedFile>> files;
  for (const auto& part : parts) files.push_back(io::MappedFile::Open(part));
  const TvipsHeader h = ParseTvipsHeader(files[0]->bytes(), path);
  const DType dtype = h.bitsperpixel == 8    ? DType::kUint8
                      : h.bitsperpixel == 16 ? DType::kUint16
                                             : DType::kUint32;
  const int64_t frame_bytes = int64_t{h.dimx} * h.dimy * SizeOf(dtype);
  const int64_t record = h.frame_header_bytes + frame_bytes;

  // Records: part 000 after the main header, later parts from their first byte.
  std::vector<internal::FrameSource> all;
  for (size_t f = 0; f < files.size(); ++f) {
    const int64_t start = f == 0 ? int64_t{h.size} : 0;
    const int64_t size = files[f]->size();
    const int64_t count = (size - start) / record;
    if ((size - start) % record != 0) {
      throw Error::CorruptFile(
          parts[f], start + count * record, "frame",
          fmt::format("the file ends inside frame record {} of this part ({} of {} bytes present; "
                      "records are a {}-byte header + {} x {} pixels of {} bits): truncated file?",
                      count, (size - start) % record, record, h.frame_header_bytes, h.dimy,
                      h.dimx, h.bitsperpixel));
    }
    for (int64_t i = 0; i < count; ++i) {
      all.push_back({static_cast<int32_t>(f), start + i * record + h.frame_header_bytes});
    }
  }
  if (all.empty()) {
    throw Error::CorruptFile(path, h.size, "frame", "the series holds no frames");
  }
  auto header_of = [&](size_t frame) {
    const auto& source = all[frame];
    return ReadFrameHeader(files[static_cast<size_t>(source.file)]->bytes(),
                           source.offset - h.frame_header_bytes, h.frame_header_bytes);
  };
  const FrameHeader first = header_of(0);
  const std::string sig_units = first.mode == 2 ? "1/nm" : first.mode == 1 ? "nm" : "px";

  // Navigation: a time series, or a scan grid when asked for.
  dataset::DatasetMeta meta;
  meta.format = "tvips";
  meta.path = path;
  meta.dtype = dtype;
  std::vector<internal::FrameSource> sources;
  std::vector<int64_t> nav;
  if (const auto scan = internal::FindParam(params, "scan_shape")) {
    nav = ParseDims(*scan, "scan_shape");
    int64_t start = 0;
    if (const auto text = internal::FindParam(params, "scan_start_frame")) {
      start = internal::ParseIntParam(*text, "scan_start_frame");
    }
    int64_t count = 1;
    for (const int64_t d : nav) {
      if (d <= 0 || count > static_cast<int64_t>(all.size()) / d + 1) {
        throw Error::InvalidArgument(fmt::format("scan_shape {} does not fit {} frames", *scan,
                                                 all.size()),
                                     "scan_shape");
      }
      count *= d;
    }
    if (start < 0 || start + count > static_cast<int64_t>(all.size())) {
      throw Error::InvalidArgument(
          fmt::format("scan_shape {} from frame {} needs frames up to {}, the series has {}",
                      *scan, start, start + count - 1, all.size()),
          start < 0 ? "scan_start_frame" : "scan_shape");
    }
    sources.assign(all.begin() + start, all.begin() + start + count);
    static const char* const kScanNames[] = {"y", "x"};
    for (size_t i = 0; i < nav.size(); ++i) {
      const size_t from_end = nav.size() - 1 - i;
      meta.axes.push_back({.name = from_end < 2 ? kScanNames[1 - from_end]
                                                : fmt::format("nav{}", i),
                           .size = nav[i],
                           .units = "px"});
    }
  } else {
    if (internal::FindParam(params, "scan_start_frame")) {
      throw Error::InvalidArgument("scan_start_frame needs scan_shape", "scan_start_frame");
    }
    sources = all;
    nav = {static_cast<int64_t>(all.size())};
    const double t0 = first.timestamp + first.ms / 1000.0;
    double step = 1.0;
    if (all.size() > 1) {
      const FrameHeader second = header_of(1);
      step = (second.timestamp + second.ms / 1000.0) - t0;
    }
    meta.axes.push_back({.name = "time", .size = nav[0], .scale = step, .offset = t0,
                         .units = "s"});
  }
  meta.shape = Shape(nav, {int64_t{h.dimy}, int64_t{h.dimx}});
  meta.axes.push_back({.name = "dy", .size = h.dimy, .scale = static_cast<double>(h.pixelsize),
                       .offset = static_cast<double>(h.offsety), .units = sig_units});
  meta.axes.push_back({.name = "dx", .size = h.dimx, .scale = static_cast<double>(h.pixelsize),
                       .offset = static_cast<double>(h.offsetx), .units = sig_units});
  for (size_t f = 0; f < files.size(); ++f) {
    meta.files.push_back({.path = parts[f], .size = files[f]->size()});
  }

  nlohmann::json j;
  j["size"] = h.size;
  j["version"] = h.version;
  j["dimx"] = h.dimx;
  j["dimy"] = h.dimy;
  j["bitsperpixel"] = h.bitsperpixel;
  j["offsetx"] = h.offsetx;
  j["offsety"] = h.offsety;
  j["binx"] = h.binx;
  j["biny"] = h.biny;
  j["pixelsize"] = h.pixelsize;
  j["ht"] = h.ht;
  j["magtotal"] = h.magtotal;
  j["frameheaderbytes"] = h.frame_header_bytes;
  j["parts"] = parts.size();
  j["frames_in_series"] = all.size();
  j["beam_energy_kv"] = h.ht;
  j["magnification"] = h.magtotal;
  const auto seconds = static_cast<std::time_t>(first.timestamp);
  std::tm utc{};
  if (gmtime_r(&seconds, &utc) != nullptr) {
    j["date"] = fmt::format("{:04}-{:02}-{:02}", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday);
    j["time"] = fmt::format("{:02}:{:02}:{:02}", utc.tm_hour, utc.tm_min, utc.tm_sec);
    j["time_zone"] = "UTC";
  }
  if (first.full) {
    j["mode"] = first.mode;
    if (first.mode == 2) j["signal_type"] = "diffraction";
    j["beam_current"] = Finite(first.fcurrent);
    j["defocus"] = Finite(first.objective);
    j["stage"] = {{"x", Finite(first.stage[0])},     {"y", Finite(first.stage[1])},
                  {"z", Finite(first.stage[2])},     {"tilt_alpha", Finite(first.stage[3])},
                  {"tilt_beta", Finite(first.stage[4])}};
    j["tilt_alpha"] = Finite(first.stage[3]);
    j["first_rotidx"] = first.rotidx;
  }
  meta.metadata_json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  const bool byteswap = !internal::kHostLittleEndian;
  return std::make_unique<internal::FrameTableDataset>(std::move(meta), std::move(files),
                                                       std::move(sources), byteswap);
}

FormatEntry TvipsFormatEntry() {
  FormatEntry entry;
  entry.name = "tvips";
  entry.extensions = {".tvips"};
  entry.summary =
      "TVIPS recorder streams (.tvips; name_000.tvips, name_001.tvips, ... open as one series): "
      "a time series or a scan of (dimy, dimx) frames";
  entry.params = {
      ParamDoc{.name = "scan_shape",
               .type = "dims",
               .help = "navigation shape of a scan, e.g. 64x64 (default: a 1D time series)"},
      ParamDoc{.name = "scan_start_frame",
               .type = "int",
               .help = "index of the first frame of the scan (with scan_shape)",
               .default_value = "0"}};
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    if (internal::LowerExtension(path) != ".tvips" || head.size() < kMainFields) return false;
    const uint32_t version = Le32(head, 4), bits = Le32(head, 16);
    return (version == 1 || version == 2) && (bits == 8 || bits == 16 || bits == 32);
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    return OpenTvips(path, params);
  };
  return entry;
}

}  // namespace tessera::formats
