// SPDX-License-Identifier: MIT
#include "tessera/formats/blo/blo_format.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr std::string_view kMagic = "IMGBLO";
constexpr int64_t kFixedHeaderBytes = 240;  // fields up to the distortion terms; the note follows
constexpr int64_t kFrameHeaderBytes = 6;    // uint16 0x55AA, uint32 frame index

/// Read little-endian fields whatever the host.
uint64_t ReadLe(std::span<const std::byte> bytes, int64_t offset, int size) {
  uint64_t value = 0;
  for (int i = size - 1; i >= 0; --i) {
    value = (value << 8) | std::to_integer<uint64_t>(bytes[static_cast<size_t>(offset + i)]);
  }
  return value;
}

double ReadF64(std::span<const std::byte> bytes, int64_t offset) {
  return std::bit_cast<double>(ReadLe(bytes, offset, 8));
}

/// Return "YYYY-MM-DD" and "hh:mm:ss.ffffff" for a spreadsheet serial date, or empty strings
/// when it is not a plausible date.
std::pair<std::string, std::string> SerialDate(double serial) {
  if (!std::isfinite(serial) || serial <= 0 || serial > 2958465) return {"", ""};
  const auto days = static_cast<int64_t>(std::floor(serial));
  auto micros = static_cast<int64_t>(std::llround((serial - static_cast<double>(days)) * 86400e6));
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm); serial day 25569 is 1970-01-01.
  int64_t z = days - 25569 + 719468;
  if (micros >= int64_t{86400} * 1000000) {
    micros -= int64_t{86400} * 1000000;
    ++z;
  }
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const int64_t seconds = micros / 1000000;
  return {fmt::format("{:04}-{:02}-{:02}", year, month, day),
          fmt::format("{:02}:{:02}:{:02}.{:06}", seconds / 3600, seconds / 60 % 60, seconds % 60,
                      micros % 1000000)};
}

/// Frames of a blockfile: dp x dp uint8 each, behind a 6-byte frame header, so frames are not
/// contiguous and are copied row band by row band.
class BloDataset final : public dataset::Dataset {
 public:
  BloDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
             int64_t frames_offset)
      : meta_(std::move(meta)), file_(std::move(file)), frames_offset_(frames_offset) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t /*frame_begin*/, int64_t /*frame_end*/) const override {
    return nullptr;
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckReadRange(meta_, frame_begin, frame_end, sig);
    if (!CanConvert(DType::kUint8, dst_dtype)) {
      throw Error::Unsupported(fmt::format("cannot convert uint8 to {}", Name(dst_dtype)),
                               meta_.path);
    }
    const int64_t stride = kFrameHeaderBytes + meta_.shape.sig_size();
    const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
    auto* out = static_cast<std::byte*>(dst);
    const std::byte* base = file_->bytes().data() + frames_offset_ + kFrameHeaderBytes;
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      internal::ConvertFromFile(base + frame * stride + sig.begin, DType::kUint8, false,
                                out + (frame - frame_begin) * out_frame_bytes, dst_dtype,
                                sig.size());
    }
  }

  void WillNeed(int64_t /*frame_begin*/, int64_t /*frame_end*/) const override {}

 private:
  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
  int64_t frames_offset_ = 0;
};

}  // namespace

BloHeader ParseBloHeader(std::span<const std::byte> bytes, const std::string& path) {
  const auto size = static_cast<int64_t>(bytes.size());
  if (size < kFixedHeaderBytes) {
    throw Error::CorruptFile(
        path, size, "header",
        fmt::format("file of {} bytes ends inside the {}-byte blockfile header", size,
                    kFixedHeaderBytes));
  }
  if (std::string_view(reinterpret_cast<const char*>(bytes.data()), kMagic.size()) != kMagic) {
    throw Error::CorruptFile(path, 0, "ID", "no \"IMGBLO\" magic: not a blockfile");
  }
  BloHeader header;
  header.magic = static_cast<uint16_t>(ReadLe(bytes, 6, 2));
  header.vbf_offset = static_cast<int64_t>(ReadLe(bytes, 8, 4));
  header.frames_offset = static_cast<int64_t>(ReadLe(bytes, 12, 4));
  header.unknown1 = static_cast<uint32_t>(ReadLe(bytes, 16, 4));
  header.dp_size = static_cast<int64_t>(ReadLe(bytes, 20, 2));
  header.dp_rotation = static_cast<uint16_t>(ReadLe(bytes, 22, 2));
  header.nx = static_cast<int64_t>(ReadLe(bytes, 24, 2));
  header.ny = static_cast<int64_t>(ReadLe(bytes, 26, 2));
  header.scan_rotation = static_cast<uint16_t>(ReadLe(bytes, 28, 2));
  header.sx = ReadF64(bytes, 30);
  header.sy = ReadF64(bytes, 38);
  header.beam_energy = static_cast<uint32_t>(ReadLe(bytes, 46, 4));
  header.sdp = static_cast<uint16_t>(ReadLe(bytes, 50, 2));
  header.camera_length = static_cast<uint32_t>(ReadLe(bytes, 52, 4));
  header.acquisition_time = ReadF64(bytes, 56);

  if (header.dp_size == 0) {
    throw Error::CorruptFile(path, 20, "DP_SZ", "diffraction pattern size DP_SZ is 0");
  }
  if (header.nx == 0) throw Error::CorruptFile(path, 24, "NX", "scan width NX is 0");
  if (header.ny == 0) throw Error::CorruptFile(path, 26, "NY", "scan height NY is 0");
  if (header.vbf_offset < kFixedHeaderBytes) {
    throw Error::CorruptFile(path, 8, "Data_offset_1",
                             fmt::format("virtual bright-field offset {} lies inside the "
                                         "{}-byte header",
                                         header.vbf_offset, kFixedHeaderBytes));
  }
  if (header.frames_offset < header.vbf_offset + header.nx * header.ny) {
    throw Error::CorruptFile(
        path, 12, "Data_offset_2",
        fmt::format("frame offset {} overlaps the {} x {} virtual bright-field image at {}",
                    header.frames_offset, header.ny, header.nx, header.vbf_offset));
  }
  const int64_t note_end = std::min(header.vbf_offset, size);
  std::string note(reinterpret_cast<const char*>(bytes.data()) + kFixedHeaderBytes,
                   static_cast<size_t>(note_end - kFixedHeaderBytes));
  const auto nul = note.find('\0');
  if (nul != std::string::npos) note.resize(nul);
  header.note = std::move(note);
  return header;
}

std::unique_ptr<dataset::Dataset> OpenBlo(const std::string& path) {
  auto file = io::MappedFile::Open(path);
  const std::span<const std::byte> bytes = file->bytes();
  const BloHeader header = ParseBloHeader(bytes, path);
  const int64_t frames = header.nx * header.ny;  // each < 2^16: no overflow
  const int64_t frame_bytes = header.dp_size * header.dp_size;
  const int64_t stride = kFrameHeaderBytes + frame_bytes;
  // frames * stride reaches 2^64 for absurd headers: compare by division, never multiply first.
  const int64_t available = std::max<int64_t>(0, file->size() - header.frames_offset);
  if (available / stride < frames) {
    const int64_t complete = available / stride;
    throw Error::CorruptFile(
        path, header.frames_offset + complete * stride, "frames",
        fmt::format("data is truncated: {} x {} frames of {} bytes (+{}-byte frame headers) "
                    "need {} bytes from offset {}, the file has {} (frame {} is incomplete)",
                    header.ny, header.nx, frame_bytes, kFrameHeaderBytes,
                    static_cast<uint64_t>(frames) * static_cast<uint64_t>(stride),
                    header.frames_offset, file->size(), complete));
  }
  for (int64_t frame = 0; frame < frames; ++frame) {
    const int64_t at = header.frames_offset + frame * stride;
    if (std::to_integer<uint8_t>(bytes[static_cast<size_t>(at)]) != 0xAA ||
        std::to_integer<uint8_t>(bytes[static_cast<size_t>(at + 1)]) != 0x55) {
      throw Error::CorruptFile(path, at, "frame header",
                               fmt::format("frame {} does not start with the 0x55AA marker",
                                           frame));
    }
  }

  dataset::DatasetMeta meta;
  meta.format = "blo";
  meta.path = path;
  meta.dtype = DType::kUint8;
  meta.shape = Shape({header.ny, header.nx}, {header.dp_size, header.dp_size});
  const bool calibrated_scan = header.sx > 0 && header.sy > 0 && std::isfinite(header.sx) &&
                               std::isfinite(header.sy);
  const std::string scan_units = calibrated_scan ? "nm" : "px";
  const std::string dp_units = header.sdp > 0 ? "cm" : "px";
  const double dp_scale = header.sdp > 0 ? 100.0 / header.sdp : 1.0;
  meta.axes = {
      dataset::Axis{.name = "y", .size = header.ny, .scale = calibrated_scan ? header.sy : 1.0,
                    .units = scan_units},
      dataset::Axis{.name = "x", .size = header.nx, .scale = calibrated_scan ? header.sx : 1.0,
                    .units = scan_units},
      dataset::Axis{.name = "dy", .size = header.dp_size, .scale = dp_scale, .units = dp_units},
      dataset::Axis{.name = "dx", .size = header.dp_size, .scale = dp_scale, .units = dp_units}};

  nlohmann::json j;
  j["magic"] = header.magic;
  j["data_offset_1"] = header.vbf_offset;
  j["data_offset_2"] = header.frames_offset;
  j["unknown1"] = header.unknown1;
  j["dp_size"] = header.dp_size;
  j["dp_rotation"] = header.dp_rotation;
  j["nx"] = header.nx;
  j["ny"] = header.ny;
  j["scan_rotation_deg"] = header.scan_rotation / 100.0;
  j["sx_nm"] = header.sx;
  j["sy_nm"] = header.sy;
  j["beam_energy_kv"] = header.beam_energy / 1000.0;
  j["sdp"] = header.sdp;
  j["camera_length_m"] = header.camera_length / 10000.0;
  j["acquisition_time_serial"] = header.acquisition_time;
  const auto [date_text, time_text] = SerialDate(header.acquisition_time);
  j["date"] = date_text;
  j["time"] = time_text;
  j["note"] = header.note;
  meta.metadata_json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  meta.files = {dataset::InputFile{.path = path, .size = file->size()}};
  return std::make_unique<BloDataset>(std::move(meta), std::move(file), header.frames_offset);
}

FormatEntry BloFormatEntry() {
  FormatEntry entry;
  entry.name = "blo";
  entry.extensions = {".blo"};
  entry.summary =
      "NanoMegas/ASTAR blockfile (.blo): 4D-STEM scan of ny x nx uint8 diffraction patterns";
  entry.sniff = [](std::span<const std::byte> head, const std::string& /*path*/) {
    return head.size() >= kMagic.size() &&
           std::string_view(reinterpret_cast<const char*>(head.data()), kMagic.size()) == kMagic;
  };
  entry.open = [](const std::string& path, const OpenParams& /*params*/) { return OpenBlo(path); };
  return entry;
}

}  // namespace tessera::formats
