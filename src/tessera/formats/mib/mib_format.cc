// SPDX-License-Identifier: MIT
#include "tessera/formats/mib/mib_format.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/strings.h"
#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/core/shape.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr std::string_view kMagic = "MQ1,";
// Fields 0..13 (id .. gain mode) are present in every MIB header version.
constexpr size_t kMinFields = 14;
constexpr size_t kFirstThreshold = 14;
constexpr size_t kThresholdCount = 8;
constexpr size_t kFirstDac = kFirstThreshold + kThresholdCount;
// Fields 2..6 (header bytes .. pixel type) fix the frame layout; every frame must repeat them.
constexpr size_t kFirstLayoutField = 2;
constexpr size_t kEndLayoutField = 7;
constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxChips = 64;

const char* const kFieldNames[kMinFields] = {
    "id",         "sequence",       "header_bytes", "n_chips", "width",       "height",
    "pixel_type", "sensor_layout",  "chip_select",  "timestamp", "shutter_time_s", "counter",
    "colour_mode", "gain_mode"};

std::string FieldName(size_t index) {
  if (index < kMinFields) return kFieldNames[index];
  if (index < kFirstDac) return fmt::format("thresholds[{}]", index - kFirstThreshold);
  return fmt::format("field {}", index);
}

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// The comma-separated fields of a header and where each starts, relative to the frame start.
struct Fields {
  std::vector<std::string_view> text;
  std::vector<int64_t> offsets;
};

Fields SplitFields(std::string_view header) {
  Fields fields;
  size_t start = 0;
  while (true) {
    const size_t comma = header.find(',', start);
    const size_t end = comma == std::string_view::npos ? header.size() : comma;
    fields.text.push_back(header.substr(start, end - start));
    fields.offsets.push_back(static_cast<int64_t>(start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return fields;
}

class FieldParser {
 public:
  FieldParser(const Fields& fields, int64_t frame_offset, const std::string& path)
      : fields_(fields), frame_offset_(frame_offset), path_(path) {}

  [[noreturn]] void Fail(size_t index, const std::string& message) const {
    throw Error::CorruptFile(path_, frame_offset_ + fields_.offsets[index], FieldName(index),
                             message);
  }

  int64_t Int(size_t index, int64_t min_value, int64_t max_value) const {
    const std::string_view text = Trim(fields_.text[index]);
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!IsDigits(text) || ec != std::errc() || ptr != text.data() + text.size()) {
      Fail(index, fmt::format("'{}' is not a non-negative integer", text));
    }
    if (value < min_value || value > max_value) {
      Fail(index, fmt::format("{} outside [{}, {}]", value, min_value, max_value));
    }
    return value;
  }

  double Double(size_t index) const {
    const std::string_view text = Trim(fields_.text[index]);
    double value = 0.0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
      Fail(index, fmt::format("'{}' is not a number", text));
    }
    return value;
  }

  std::string Text(size_t index) const { return std::string(Trim(fields_.text[index])); }

 private:
  const Fields& fields_;
  int64_t frame_offset_;
  const std::string& path_;
};

/// Frames at a fixed stride, each a header followed by big-endian pixels.
class MibDataset final : public dataset::Dataset {
 public:
  MibDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
             int64_t header_bytes, int64_t stride)
      : meta_(std::move(meta)),
        file_(std::move(file)),
        header_bytes_(header_bytes),
        stride_(stride),
        byteswap_(SizeOf(meta_.dtype) > 1 && internal::kHostLittleEndian) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    // Headers separate the frames, so only a single frame is contiguous.
    if (byteswap_ || frame_begin < 0 || frame_end != frame_begin + 1 ||
        frame_end > meta_.shape.nav_size()) {
      return nullptr;
    }
    const std::byte* ptr = file_->bytes().data() + frame_begin * stride_ + header_bytes_;
    if (reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(SizeOf(meta_.dtype)) != 0) {
      return nullptr;
    }
    return ptr;
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckReadRange(meta_, frame_begin, frame_end, sig);
    if (!CanConvert(meta_.dtype, dst_dtype)) {
      throw Error::Unsupported(
          fmt::format("cannot convert {} to {}", Name(meta_.dtype), Name(dst_dtype)), meta_.path);
    }
    const int64_t item = SizeOf(meta_.dtype);
    const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
    const std::byte* base = file_->bytes().data() + header_bytes_ + sig.begin * item;
    auto* out = static_cast<std::byte*>(dst);
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      internal::ConvertFromFile(base + frame * stride_, meta_.dtype, byteswap_,
                       out + (frame - frame_begin) * out_frame_bytes, dst_dtype, sig.size());
    }
  }

  void WillNeed(int64_t frame_begin, int64_t frame_end) const override {
    if (frame_begin < 0 || frame_end <= frame_begin) return;
    file_->Prefetch(frame_begin * stride_, (frame_end - frame_begin) * stride_);
  }

 private:
  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
  int64_t header_bytes_ = 0;
  int64_t stride_ = 0;
  bool byteswap_ = false;
};

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string WithExtension(const std::string& path, const std::string& ext) {
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path + ext;
  return path.substr(0, dot) + ext;
}

/// The "key: value" lines of a Merlin .hdr file, in file order.
std::vector<std::pair<std::string, std::string>> ReadHdr(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::Io("cannot open for reading", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  std::replace(text.begin(), text.end(), '\0', ' ');
  std::vector<std::pair<std::string, std::string>> entries;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line = Trim(std::string_view(text).substr(start, end - start));
    start = end + 1;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // "HDR,", "End"
    entries.emplace_back(std::string(Trim(line.substr(0, colon))),
                         std::string(Trim(line.substr(colon + 1))));
  }
  return entries;
}

std::optional<int64_t> HdrInt(const std::vector<std::pair<std::string, std::string>>& hdr,
                              std::string_view key) {
  for (const auto& entry : hdr) {
    if (entry.first != key) continue;
    const std::string_view text = Trim(entry.second);
    int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!IsDigits(text) || ec != std::errc() || ptr != text.data() + text.size()) {
      return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

nlohmann::json HeaderJson(const MibFrameHeader& header) {
  nlohmann::json out = {
      {"id", "MQ1"},
      {"sequence", header.sequence},
      {"header_bytes", header.header_bytes},
      {"n_chips", header.n_chips},
      {"width", header.width},
      {"height", header.height},
      {"pixel_type", header.pixel_type},
      {"sensor_layout", header.sensor_layout},
      {"chip_select", header.chip_select},
      {"timestamp", header.timestamp},
      {"shutter_time_s", header.shutter_time_s},
      {"counter", header.counter},
      {"colour_mode", header.colour_mode},
      {"gain_mode", header.gain_mode},
      {"thresholds", header.thresholds},
  };
  if (!header.chip_types.empty()) {
    out["chip_types"] = header.chip_types;
    out["dacs"] = header.dacs;
  }
  if (!header.extended_timestamp.empty()) out["extended_timestamp"] = header.extended_timestamp;
  if (!header.shutter_time_ns.empty()) out["shutter_time_ns"] = header.shutter_time_ns;
  if (header.counter_depth > 0) out["counter_depth"] = header.counter_depth;
  return out;
}

}  // namespace

MibFrameHeader ParseMibFrameHeader(std::span<const std::byte> bytes, int64_t offset,
                                   const std::string& path) {
  const std::string_view all(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (all.substr(0, kMagic.size()) != kMagic) {
    throw Error::CorruptFile(path, offset, "magic",
                             "not a Merlin MIB frame header (expected 'MQ1,')");
  }
  // Field 2 gives the header length; it lies in the first few dozen bytes.
  const Fields prefix = SplitFields(all.substr(0, std::min<size_t>(all.size(), 64)));
  if (prefix.text.size() < 4) {
    throw Error::CorruptFile(path, offset, "header_bytes",
                             "frame header ends before its header_bytes field");
  }
  const int64_t header_bytes =
      FieldParser(prefix, offset, path).Int(2, 32, std::numeric_limits<int32_t>::max());
  if (header_bytes > static_cast<int64_t>(all.size())) {
    throw Error::CorruptFile(
        path, offset + prefix.offsets[2], "header_bytes",
        fmt::format("header of {} bytes runs past the end of the file ({} bytes left)",
                    header_bytes, all.size()));
  }
  std::string_view text = all.substr(0, static_cast<size_t>(header_bytes));
  // The header is padded with NULs (older software: spaces) up to header_bytes.
  text = text.substr(0, text.find('\0'));
  Fields fields = SplitFields(text);
  if (!fields.text.empty() && Trim(fields.text.back()).empty()) {
    fields.text.pop_back();
    fields.offsets.pop_back();
  }
  if (fields.text.size() < kMinFields) {
    throw Error::CorruptFile(
        path, offset + static_cast<int64_t>(text.size()), "header",
        fmt::format("frame header has {} fields, expected at least {}", fields.text.size(),
                    kMinFields));
  }
  const FieldParser parse(fields, offset, path);
  MibFrameHeader header;
  header.sequence = parse.Int(1, 0, std::numeric_limits<int64_t>::max());
  header.header_bytes = header_bytes;
  header.n_chips = parse.Int(3, 1, kMaxChips);
  header.width = parse.Int(4, 1, kMaxDim);
  header.height = parse.Int(5, 1, kMaxDim);
  header.pixel_type = parse.Text(6);
  header.sensor_layout = parse.Text(7);
  header.chip_select = parse.Text(8);
  header.timestamp = parse.Text(9);
  header.shutter_time_s = parse.Double(10);
  header.counter = parse.Text(11);
  header.colour_mode = parse.Text(12);
  header.gain_mode = parse.Text(13);
  const size_t n_fields = fields.text.size();
  const auto mq1a = static_cast<size_t>(
      std::find(fields.text.begin(), fields.text.end(), std::string_view("MQ1A")) -
      fields.text.begin());
  const size_t end_thresholds = std::min({mq1a, n_fields, kFirstDac});
  for (size_t i = kFirstThreshold; i < end_thresholds; ++i) {
    header.thresholds.push_back(parse.Double(i));
  }
  // Per chip: its type ("3RX") then its DAC values.
  for (size_t i = kFirstDac; i < std::min(mq1a, n_fields); ++i) {
    const std::string value = parse.Text(i);
    if (IsDigits(value) && !header.dacs.empty()) {
      header.dacs.back().push_back(value);
    } else {
      header.chip_types.push_back(value);
      header.dacs.emplace_back();
    }
  }
  if (mq1a + 3 < n_fields) {
    header.extended_timestamp = parse.Text(mq1a + 1);
    header.shutter_time_ns = parse.Text(mq1a + 2);
    header.counter_depth = parse.Int(mq1a + 3, 1, 64);
  }
  for (size_t i = 0; i < n_fields; ++i) header.fields.emplace_back(fields.text[i]);
  return header;
}

DType MibPixelDType(const MibFrameHeader& header, int64_t offset, const std::string& path) {
  if (header.pixel_type == "U08") return DType::kUint8;
  if (header.pixel_type == "U16") return DType::kUint16;
  if (header.pixel_type == "U32") return DType::kUint32;
  const std::string why =
      header.pixel_type == "R64"
          ? fmt::format("RAW-mode frames (pixel type R64, counter depth {}) are not supported "
                        "yet; save the acquisition in a non-raw file format",
                        header.counter_depth)
          : fmt::format("pixel type '{}' is not supported (U08, U16, U32)", header.pixel_type);
  throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                        .message = why,
                        .file = path,
                        .offset = offset,
                        .field = "pixel_type"});
}

std::unique_ptr<dataset::Dataset> OpenMib(const std::string& path, const OpenParams& params) {
  const bool given_hdr = internal::LowerExtension(path) == ".hdr";
  const std::string mib_path = given_hdr ? WithExtension(path, ".mib") : path;
  auto file = io::MappedFile::Open(mib_path);
  const std::span<const std::byte> bytes = file->bytes();
  const MibFrameHeader first = ParseMibFrameHeader(bytes, 0, mib_path);
  const Fields first_fields =
      SplitFields(std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                   static_cast<size_t>(first.header_bytes)));
  const DType dtype = MibPixelDType(first, first_fields.offsets[6], mib_path);

  const int64_t frame_bytes = first.width * first.height * SizeOf(dtype);
  const int64_t stride = first.header_bytes + frame_bytes;
  const int64_t frames = file->size() / stride;
  const int64_t left_over = file->size() % stride;
  if (left_over != 0) {
    throw Error::CorruptFile(
        mib_path, frames * stride, "",
        fmt::format("frame {} is truncated: {} of {} bytes ({}-byte header + {}x{} {}); the file "
                    "is {} bytes",
                    frames, left_over, stride, first.header_bytes, first.height, first.width,
                    first.pixel_type, file->size()));
  }

  // Every frame must repeat the layout fields of the first; compare their bytes, and parse a
  // differing header only to name what differs.
  const auto layout_begin = static_cast<size_t>(first_fields.offsets[kFirstLayoutField]);
  const auto layout_end = static_cast<size_t>(first_fields.offsets[kEndLayoutField]);
  for (int64_t frame = 1; frame < frames; ++frame) {
    const std::byte* head = bytes.data() + frame * stride;
    if (std::memcmp(head, kMagic.data(), kMagic.size()) == 0 &&
        std::memcmp(head + layout_begin, bytes.data() + layout_begin, layout_end - layout_begin) ==
            0) {
      continue;
    }
    const auto frame_bytes_left = static_cast<size_t>(file->size() - frame * stride);
    const MibFrameHeader other =
        ParseMibFrameHeader(bytes.subspan(static_cast<size_t>(frame * stride), frame_bytes_left),
                            frame * stride, mib_path);
    const Fields other_fields =
        SplitFields(std::string_view(reinterpret_cast<const char*>(head),
                                     static_cast<size_t>(other.header_bytes)));
    const std::string values_first[] = {std::to_string(first.header_bytes),
                                        std::to_string(first.n_chips), std::to_string(first.width),
                                        std::to_string(first.height), first.pixel_type};
    const std::string values_other[] = {std::to_string(other.header_bytes),
                                        std::to_string(other.n_chips), std::to_string(other.width),
                                        std::to_string(other.height), other.pixel_type};
    for (size_t i = 0; i < kEndLayoutField - kFirstLayoutField; ++i) {
      if (values_first[i] != values_other[i]) {
        const size_t index = kFirstLayoutField + i;
        throw Error::CorruptFile(
            mib_path, frame * stride + other_fields.offsets[index], FieldName(index),
            fmt::format("frame {} has {} {}, frame 0 has {}: frames must share one layout",
                        frame, FieldName(index), values_other[i], values_first[i]));
      }
    }
    // Same values written differently ("0256" vs "256"): harmless.
  }
  const MibFrameHeader last =
      frames > 1 ? ParseMibFrameHeader(bytes.subspan(static_cast<size_t>((frames - 1) * stride)),
                                       (frames - 1) * stride, mib_path)
                 : first;

  const std::string hdr_path = given_hdr ? path : WithExtension(mib_path, ".hdr");
  std::vector<std::pair<std::string, std::string>> hdr;
  const bool have_hdr = FileExists(hdr_path);
  if (have_hdr) hdr = ReadHdr(hdr_path);

  std::vector<int64_t> nav_shape = {frames};
  std::string nav_source = "frames";
  if (auto text = internal::FindParam(params, "nav_shape")) {
    nav_shape = ParseDims(*text, "nav_shape");
    int64_t positions = 1;
    for (const int64_t dim : nav_shape) positions *= dim;
    if (nav_shape.empty() || positions != frames ||
        std::any_of(nav_shape.begin(), nav_shape.end(), [](int64_t d) { return d <= 0; })) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kInvalidArgument,
          .message = fmt::format("nav_shape {} has {} positions, the file has {} frames",
                                 FormatDims(nav_shape), positions, frames),
          .file = mib_path,
          .field = "nav_shape"});
    }
    if (static_cast<int>(nav_shape.size()) + 2 > kMaxRank) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("rank above {}", kMaxRank),
                            .file = mib_path,
                            .field = "nav_shape"});
    }
    nav_source = "nav_shape";
  } else if (have_hdr) {
    const auto scan_x = HdrInt(hdr, "ScanX");
    const auto scan_y = HdrInt(hdr, "ScanY");
    const auto acquired = HdrInt(hdr, "Frames in Acquisition (Number)");
    const auto per_trigger = HdrInt(hdr, "Frames per Trigger (Number)");
    if (scan_x && scan_y && *scan_x > 0 && *scan_y > 0 && *scan_x * *scan_y == frames) {
      nav_shape = {*scan_y, *scan_x};
      nav_source = "hdr ScanY, ScanX";
    } else if (acquired && per_trigger && *acquired == frames && *per_trigger > 1 &&
               *per_trigger < frames && frames % *per_trigger == 0) {
      // One trigger per scan line (LiberTEM's reading of the .hdr).
      nav_shape = {frames / *per_trigger, *per_trigger};
      nav_source = "hdr frames per trigger";
    }
  }

  nlohmann::json metadata;
  metadata["frame_header"] = HeaderJson(first);
  metadata["frames"] = frames;
  metadata["frame_stride_bytes"] = stride;
  metadata["sequence_first"] = first.sequence;
  metadata["sequence_last"] = last.sequence;
  metadata["timestamp_last"] = last.timestamp;
  metadata["nav_shape_from"] = nav_source;
  if (have_hdr) {
    nlohmann::json hdr_json = nlohmann::json::object();
    for (const auto& entry : hdr) hdr_json[entry.first] = entry.second;
    metadata["hdr_file"] = hdr_path;
    metadata["hdr"] = std::move(hdr_json);
  }

  dataset::DatasetMeta meta;
  meta.format = "mib";
  meta.path = path;
  meta.shape = Shape(nav_shape, {first.height, first.width});
  meta.dtype = dtype;
  meta.axes = dataset::DefaultAxes(meta.shape);
  meta.metadata_json = metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  meta.files = {dataset::InputFile{.path = mib_path, .size = file->size()}};
  if (have_hdr) {
    struct stat st {};
    ::stat(hdr_path.c_str(), &st);
    meta.files.push_back(dataset::InputFile{.path = hdr_path, .size = st.st_size});
  }
  return std::make_unique<MibDataset>(std::move(meta), std::move(file), first.header_bytes,
                                      stride);
}

FormatEntry MibFormatEntry() {
  FormatEntry entry;
  entry.name = "mib";
  entry.extensions = {".mib"};
  entry.summary =
      "Quantum Detectors Merlin .mib (+ .hdr): per-frame ASCII headers, big-endian U08/U16/U32";
  entry.params = {
      {.name = "nav_shape", .type = "dims",
       .help = "navigation shape, e.g. 128x128 (default: from the .hdr, else one axis of frames)"},
  };
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    const std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
    if (text.substr(0, kMagic.size()) == kMagic) return true;
    // A Merlin .hdr names the acquisition; it opens the .mib beside it.
    return text.substr(0, 4) == "HDR," && internal::LowerExtension(path) == ".hdr";
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    return OpenMib(path, params);
  };
  return entry;
}

}  // namespace tessera::formats
