// SPDX-License-Identifier: MIT
#include "tessera/formats/mib/mib_format.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
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
#include "tessera/formats/mib/mib_raw.h"
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

/// One .mib file of an acquisition.
struct Part {
  std::string path;
  std::shared_ptr<const io::MappedFile> file;
  int64_t frames = 0;
  int64_t sequence_first = 0;
  int64_t sequence_last = 0;
};

/// Frames at a fixed stride in one or more files, each a header followed by big-endian pixels
/// (or RAW-mode packed counters). Dataset frame i is acquisition frame i + sync_offset; frames
/// outside the acquisition read as zeros.
class MibDataset final : public dataset::Dataset {
 public:
  MibDataset(dataset::DatasetMeta meta, std::vector<Part> parts, int64_t header_bytes,
             int64_t stride, std::optional<mib::RawGeometry> raw, int64_t sync_offset)
      : meta_(std::move(meta)),
        parts_(std::move(parts)),
        header_bytes_(header_bytes),
        stride_(stride),
        raw_(raw),
        sync_offset_(sync_offset),
        byteswap_(!raw && SizeOf(meta_.dtype) > 1 && internal::kHostLittleEndian) {
    for (const Part& part : parts_) {
      starts_.push_back(total_);
      total_ += part.frames;
    }
  }

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t frame_begin, int64_t frame_end) const override {
    // Headers separate the frames, so only a single frame is contiguous.
    if (raw_ || byteswap_ || frame_begin < 0 || frame_end != frame_begin + 1 ||
        frame_end > meta_.shape.nav_size()) {
      return nullptr;
    }
    const std::byte* ptr = Payload(frame_begin);
    if (ptr == nullptr ||
        reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(SizeOf(meta_.dtype)) != 0) {
      return nullptr;
    }
    return ptr;
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckRead(meta_, frame_begin, frame_end, sig, dst_dtype);
    const int64_t item = SizeOf(meta_.dtype);
    const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
    auto* out = static_cast<std::byte*>(dst);
    for (int64_t frame = frame_begin; frame < frame_end; ++frame, out += out_frame_bytes) {
      const std::byte* payload = Payload(frame);
      if (payload == nullptr) {
        std::memset(out, 0, static_cast<size_t>(out_frame_bytes));
      } else if (raw_) {
        DecodeRaw(payload, sig, out, dst_dtype);
      } else {
        internal::ConvertFromFile(payload + sig.begin * item, meta_.dtype, byteswap_, out,
                                  dst_dtype, sig.size());
      }
    }
  }

  void WillNeed(int64_t frame_begin, int64_t frame_end) const override {
    const int64_t begin = std::max<int64_t>(frame_begin + sync_offset_, 0);
    const int64_t end = std::min(frame_end + sync_offset_, total_);
    for (size_t i = 0; i < parts_.size() && begin < end; ++i) {
      const int64_t lo = std::max(begin, starts_[i]);
      const int64_t hi = std::min(end, starts_[i] + parts_[i].frames);
      if (lo < hi) parts_[i].file->Prefetch((lo - starts_[i]) * stride_, (hi - lo) * stride_);
    }
  }

 private:
  /// The pixels of dataset frame `frame`, or nullptr for a frame outside the acquisition.
  const std::byte* Payload(int64_t frame) const {
    const int64_t index = frame + sync_offset_;
    if (index < 0 || index >= total_) return nullptr;
    const auto part = static_cast<size_t>(
        std::upper_bound(starts_.begin(), starts_.end(), index) - starts_.begin() - 1);
    return parts_[part].file->bytes().data() + (index - starts_[part]) * stride_ + header_bytes_;
  }

  void DecodeRaw(const std::byte* payload, dataset::SigRange sig, std::byte* out,
                 DType dst_dtype) const {
    const int64_t width = raw_->width;
    const int64_t row_begin = sig.begin / width;
    const int64_t row_end = (sig.end + width - 1) / width;
    if (dst_dtype == raw_->dtype && sig.begin == row_begin * width && sig.end == row_end * width) {
      mib::DecodeRawRows(*raw_, payload, row_begin, row_end, out);
      return;
    }
    thread_local std::vector<std::byte> scratch;
    const int64_t item = SizeOf(raw_->dtype);
    scratch.resize(static_cast<size_t>((row_end - row_begin) * width * item));
    mib::DecodeRawRows(*raw_, payload, row_begin, row_end, scratch.data());
    ConvertElements(scratch.data() + (sig.begin - row_begin * width) * item, raw_->dtype, false,
                    out, dst_dtype, sig.size());
  }

  dataset::DatasetMeta meta_;
  std::vector<Part> parts_;
  std::vector<int64_t> starts_;
  int64_t total_ = 0;
  int64_t header_bytes_ = 0;
  int64_t stride_ = 0;
  std::optional<mib::RawGeometry> raw_;
  int64_t sync_offset_ = 0;
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
          ? std::string("RAW-mode frames (pixel type R64) hold packed counters, not one element "
                        "type: open them with OpenMib")
          : fmt::format("pixel type '{}' is not supported (U08, U16, U32, R64)",
                        header.pixel_type);
  throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                        .message = why,
                        .file = path,
                        .offset = offset,
                        .field = "pixel_type"});
}

namespace {

/// Compare names with digit runs as numbers: name_2 before name_10.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const bool da = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    const bool db = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (da && db) {
      size_t ei = i, ej = j;
      while (ei < a.size() && std::isdigit(static_cast<unsigned char>(a[ei])) != 0) ++ei;
      while (ej < b.size() && std::isdigit(static_cast<unsigned char>(b[ej])) != 0) ++ej;
      std::string_view na(a.data() + i, ei - i), nb(b.data() + j, ej - j);
      while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

/// The .mib files in the folder of `prefix` whose names start with its last component
/// (LiberTEM's "<prefix>*.mib"), in natural name order.
std::vector<std::string> GlobParts(const std::string& prefix) {
  const std::filesystem::path base(prefix);
  const std::filesystem::path dir = base.has_parent_path() ? base.parent_path() : ".";
  const std::string start = base.filename().string();
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec) || !name.starts_with(start) ||
        internal::LowerExtension(name) != ".mib") {
      continue;
    }
    names.push_back(name);
  }
  std::sort(names.begin(), names.end(), NaturalLess);
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back((dir / name).string());
  return paths;
}

std::string Stem(const std::string& path) { return WithExtension(path, ""); }

/// The .mib files of an acquisition and its .hdr ("" when none).
struct Sources {
  std::vector<std::string> mibs;
  std::string hdr;
  bool globbed = false;
};

Sources FindSources(const std::string& path, bool glob) {
  Sources sources;
  if (internal::LowerExtension(path) == ".hdr") {
    sources.hdr = path;
    const std::string single = WithExtension(path, ".mib");
    if (!glob && FileExists(single)) {
      sources.mibs = {single};
      return sources;
    }
    sources.mibs = GlobParts(Stem(path));
    sources.globbed = true;
    if (sources.mibs.empty()) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kNotFound,
          .message = fmt::format("no .mib file for this .hdr (looked for {} and {}*.mib)", single,
                                 Stem(path)),
          .file = path,
          .field = "mib"});
    }
    return sources;
  }
  if (!glob) {
    sources.mibs = {path};
    const std::string hdr = WithExtension(path, ".hdr");
    if (FileExists(hdr)) sources.hdr = hdr;
    return sources;
  }
  // LiberTEM: drop the trailing frame-file number and take every "<prefix>*.mib".
  std::string prefix = Stem(path);
  while (!prefix.empty() && std::isdigit(static_cast<unsigned char>(prefix.back())) != 0) {
    prefix.pop_back();
  }
  sources.mibs = GlobParts(prefix);
  sources.globbed = true;
  if (sources.mibs.empty()) sources.mibs = {path};
  std::string trimmed = prefix;
  while (!trimmed.empty() && (trimmed.back() == '_' || trimmed.back() == '-')) trimmed.pop_back();
  for (const std::string& candidate : {Stem(path) + ".hdr", prefix + ".hdr", trimmed + ".hdr"}) {
    if (FileExists(candidate)) {
      sources.hdr = candidate;
      break;
    }
  }
  return sources;
}

/// The frame layout every frame of every file must share: that of the first frame.
struct Layout {
  MibFrameHeader first;
  Fields fields;
  std::string layout_bytes;  // bytes of fields 2..6 of the first header, as written
  int64_t stride = 0;
};

/// Map `path`, check that it holds whole frames of `layout`, and return it as a part.
Part ScanPart(const std::string& path, const Layout& layout, bool is_first) {
  Part part;
  part.path = path;
  part.file = io::MappedFile::Open(path);
  const std::span<const std::byte> bytes = part.file->bytes();
  const int64_t size = part.file->size();
  const int64_t stride = layout.stride;
  const MibFrameHeader& first = layout.first;
  part.frames = size / stride;
  const int64_t left_over = size % stride;
  if (left_over != 0 || part.frames == 0) {
    throw Error::CorruptFile(
        path, part.frames * stride, "",
        fmt::format("frame {} is truncated: {} of {} bytes ({}-byte header + {}x{} {}{}); the "
                    "file is {} bytes",
                    part.frames, left_over, stride, first.header_bytes, first.height, first.width,
                    first.pixel_type,
                    first.pixel_type == "R64" ? fmt::format(" packed") : std::string(), size));
  }
  // Every frame must repeat the layout fields of the first; compare their bytes, and parse a
  // differing header only to name what differs.
  const auto layout_begin = static_cast<size_t>(layout.fields.offsets[kFirstLayoutField]);
  for (int64_t frame = is_first ? 1 : 0; frame < part.frames; ++frame) {
    const std::byte* head = bytes.data() + frame * stride;
    if (std::memcmp(head, kMagic.data(), kMagic.size()) == 0 &&
        std::memcmp(head + layout_begin, layout.layout_bytes.data(),
                    layout.layout_bytes.size()) == 0) {
      continue;
    }
    const auto frame_bytes_left = static_cast<size_t>(size - frame * stride);
    const MibFrameHeader other =
        ParseMibFrameHeader(bytes.subspan(static_cast<size_t>(frame * stride), frame_bytes_left),
                            frame * stride, path);
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
            path, frame * stride + other_fields.offsets[index], FieldName(index),
            fmt::format("frame {} has {} {}, the first frame has {}: frames must share one "
                        "layout",
                        frame, FieldName(index), values_other[i], values_first[i]));
      }
    }
    // Same values written differently ("0256" vs "256"): harmless.
  }
  part.sequence_first = is_first ? first.sequence : ParseMibFrameHeader(bytes, 0, path).sequence;
  part.sequence_last =
      part.frames > 1
          ? ParseMibFrameHeader(bytes.subspan(static_cast<size_t>((part.frames - 1) * stride)),
                                (part.frames - 1) * stride, path)
                .sequence
          : part.sequence_first;
  return part;
}

[[noreturn]] void Unsupported(const std::string& path, int64_t offset, const std::string& field,
                              const std::string& message) {
  throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                        .message = message,
                        .file = path,
                        .offset = offset,
                        .field = field});
}

/// The geometry of RAW-mode frames, from the first frame header (and the .hdr's counter depth
/// when the header has no MQ1A extension). `bytes` is the whole first file.
mib::RawGeometry RawLayout(const MibFrameHeader& first, const Fields& fields,
                           std::span<const std::byte> bytes, const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& hdr) {
  int64_t depth = first.counter_depth;
  if (depth <= 0) depth = HdrInt(hdr, "Counter Depth (number)").value_or(0);
  if (depth <= 0) {
    Unsupported(path, fields.offsets[6], "counter_depth",
                "RAW-mode (R64) frames without a counter depth: the frame header has no MQ1A "
                "extension and there is no .hdr with 'Counter Depth (number)'");
  }
  const std::string layout = first.sensor_layout.substr(0, first.sensor_layout.find('G'));
  const bool quad = layout == "2x2" && first.n_chips == 4;
  if (first.n_chips > 1 && !quad) {
    Unsupported(path, fields.offsets[7], "sensor_layout",
                fmt::format("RAW-mode frames of {} chips in layout '{}' are not supported (1x1, "
                            "or 2x2 with 4 chips)",
                            first.n_chips, first.sensor_layout));
  }
  const int d = static_cast<int>(depth);
  if (quad) {
    // Raw quad frames are written as chip rows of 4 chips (width = 4 x height); accept a header
    // that gives the assembled size as well.
    if (first.width == 4 * first.height) {
      return mib::MakeRawGeometry(d, true, 2 * first.height, 2 * first.height, path);
    }
    return mib::MakeRawGeometry(d, true, first.width, first.height, path);
  }
  if (d == 24 && first.width % 2 == 0) {
    // Two 12-bit planes; Merlin writes the width of both side by side (LiberTEM). Check which
    // reading puts the next frame header (or the end of the file) where it belongs.
    const auto fits = [&](const mib::RawGeometry& g) {
      const int64_t stride = first.header_bytes + g.packed_bytes;
      const auto size = static_cast<int64_t>(bytes.size());
      if (size < stride || size % stride != 0) return false;
      return size == stride ||
             std::memcmp(bytes.data() + stride, kMagic.data(), kMagic.size()) == 0;
    };
    const int64_t half = first.width / 2;
    if ((half * 16) % 64 == 0) {
      const mib::RawGeometry doubled = mib::MakeRawGeometry(24, false, half, first.height, path);
      const mib::RawGeometry plain =
          mib::MakeRawGeometry(24, false, first.width, first.height, path);
      return fits(doubled) || !fits(plain) ? doubled : plain;
    }
  }
  return mib::MakeRawGeometry(d, false, first.width, first.height, path);
}

}  // namespace

std::unique_ptr<dataset::Dataset> OpenMib(const std::string& path, const OpenParams& params) {
  bool glob = false;
  if (auto text = internal::FindParam(params, "glob")) glob = internal::ParseBoolParam(*text, "glob");
  std::optional<int64_t> sync_offset;
  if (auto text = internal::FindParam(params, "sync_offset")) {
    sync_offset = internal::ParseIntParam(*text, "sync_offset");
  }
  const Sources sources = FindSources(path, glob);
  std::vector<std::pair<std::string, std::string>> hdr;
  if (!sources.hdr.empty()) hdr = ReadHdr(sources.hdr);

  // The first frame of the first file fixes the layout.
  const std::string& first_path = sources.mibs.front();
  auto first_file = io::MappedFile::Open(first_path);
  const std::span<const std::byte> first_bytes = first_file->bytes();
  Layout layout;
  layout.first = ParseMibFrameHeader(first_bytes, 0, first_path);
  const MibFrameHeader& first = layout.first;
  layout.fields = SplitFields(std::string_view(reinterpret_cast<const char*>(first_bytes.data()),
                                               static_cast<size_t>(first.header_bytes)));
  layout.layout_bytes = std::string(
      reinterpret_cast<const char*>(first_bytes.data()) + layout.fields.offsets[kFirstLayoutField],
      static_cast<size_t>(layout.fields.offsets[kEndLayoutField] -
                          layout.fields.offsets[kFirstLayoutField]));
  std::optional<mib::RawGeometry> raw;
  DType dtype = DType::kUint8;
  int64_t height = first.height, width = first.width, payload = 0;
  if (first.pixel_type == "R64") {
    raw = RawLayout(first, layout.fields, first_bytes, first_path, hdr);
    dtype = raw->dtype;
    height = raw->height;
    width = raw->width;
    payload = raw->packed_bytes;
  } else {
    dtype = MibPixelDType(first, layout.fields.offsets[6], first_path);
    payload = first.width * first.height * SizeOf(dtype);
  }
  layout.stride = first.header_bytes + payload;
  first_file.reset();

  std::vector<Part> parts;
  for (size_t i = 0; i < sources.mibs.size(); ++i) {
    parts.push_back(ScanPart(sources.mibs[i], layout, i == 0));
  }
  // Frame files continue each other's sequence numbers; files that all restart keep name order.
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) {
    return a.sequence_first < b.sequence_first;
  });
  int64_t frames = 0;
  for (const Part& part : parts) frames += part.frames;

  const std::string& mib_path = parts.front().path;
  std::vector<int64_t> nav_shape = {frames};
  std::string nav_source = "frames";
  const auto check_rank = [&](const std::vector<int64_t>& dims) {
    if (static_cast<int>(dims.size()) + 2 > kMaxRank) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("rank above {}", kMaxRank),
                            .file = mib_path,
                            .field = "nav_shape"});
    }
  };
  if (auto text = internal::FindParam(params, "nav_shape")) {
    nav_shape = ParseDims(*text, "nav_shape");
    int64_t positions = 1;
    for (const int64_t dim : nav_shape) positions *= dim;
    if (nav_shape.empty() || (positions != frames && !sync_offset) ||
        std::any_of(nav_shape.begin(), nav_shape.end(), [](int64_t d) { return d <= 0; })) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kInvalidArgument,
          .message = fmt::format("nav_shape {} has {} positions, the file has {} frames (give "
                                 "sync_offset, 0 or more, to read a partial acquisition)",
                                 FormatDims(nav_shape), positions, frames),
          .file = mib_path,
          .field = "nav_shape"});
    }
    check_rank(nav_shape);
    nav_source = "nav_shape";
  } else if (!hdr.empty()) {
    const auto scan_x = HdrInt(hdr, "ScanX");
    const auto scan_y = HdrInt(hdr, "ScanY");
    const auto acquired = HdrInt(hdr, "Frames in Acquisition (Number)");
    const auto per_trigger = HdrInt(hdr, "Frames per Trigger (Number)");
    if (scan_x && scan_y && *scan_x > 0 && *scan_y > 0 && *scan_x <= kMaxDim &&
        *scan_y <= kMaxDim && (*scan_x * *scan_y == frames || sync_offset)) {
      nav_shape = {*scan_y, *scan_x};
      nav_source = "hdr ScanY, ScanX";
    } else if (acquired && per_trigger && *acquired == frames && *per_trigger > 1 &&
               *per_trigger < frames && frames % *per_trigger == 0) {
      // One trigger per scan line (LiberTEM's reading of the .hdr).
      nav_shape = {frames / *per_trigger, *per_trigger};
      nav_source = "hdr frames per trigger";
    }
  }
  const int64_t positions = Product(nav_shape);
  if (sync_offset && (*sync_offset <= -positions || *sync_offset >= frames)) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("sync_offset {} outside ({}, {}): no frame of the acquisition "
                               "would be read",
                               *sync_offset, -positions, frames),
        .file = mib_path,
        .field = "sync_offset"});
  }

  const Part& last_part = parts.back();
  const MibFrameHeader last = ParseMibFrameHeader(
      last_part.file->bytes().subspan(static_cast<size_t>((last_part.frames - 1) * layout.stride)),
      (last_part.frames - 1) * layout.stride, last_part.path);

  nlohmann::json metadata;
  metadata["frame_header"] = HeaderJson(first);
  metadata["frames"] = frames;
  metadata["frame_stride_bytes"] = layout.stride;
  metadata["sequence_first"] = parts.front().sequence_first;
  metadata["sequence_last"] = last_part.sequence_last;
  metadata["timestamp_last"] = last.timestamp;
  metadata["nav_shape_from"] = nav_source;
  if (sync_offset) metadata["sync_offset"] = *sync_offset;
  if (raw) {
    metadata["raw"] = {{"counter_depth", raw->counter_depth},
                       {"quad", raw->quad},
                       {"packed_bytes_per_frame", raw->packed_bytes}};
  }
  if (sources.globbed || parts.size() > 1) {
    nlohmann::json files = nlohmann::json::array();
    for (const Part& part : parts) {
      files.push_back({{"path", part.path},
                       {"frames", part.frames},
                       {"sequence_first", part.sequence_first},
                       {"sequence_last", part.sequence_last}});
    }
    metadata["mib_files"] = std::move(files);
  }
  if (!sources.hdr.empty()) {
    nlohmann::json hdr_json = nlohmann::json::object();
    for (const auto& entry : hdr) hdr_json[entry.first] = entry.second;
    metadata["hdr_file"] = sources.hdr;
    metadata["hdr"] = std::move(hdr_json);
  }

  dataset::DatasetMeta meta;
  meta.format = "mib";
  meta.path = path;
  meta.shape = Shape(nav_shape, {height, width});
  meta.dtype = dtype;
  meta.axes = dataset::DefaultAxes(meta.shape);
  meta.metadata_json = metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (const Part& part : parts) {
    meta.files.push_back(dataset::InputFile{.path = part.path, .size = part.file->size()});
  }
  if (!sources.hdr.empty()) {
    struct stat st {};
    ::stat(sources.hdr.c_str(), &st);
    meta.files.push_back(dataset::InputFile{.path = sources.hdr, .size = st.st_size});
  }
  return std::make_unique<MibDataset>(std::move(meta), std::move(parts), first.header_bytes,
                                      layout.stride, raw, sync_offset.value_or(0));
}

FormatEntry MibFormatEntry() {
  FormatEntry entry;
  entry.name = "mib";
  entry.extensions = {".mib"};
  entry.summary =
      "Quantum Detectors Merlin .mib (+ .hdr): big-endian U08/U16/U32 or RAW-mode R64 (1/6/12/24 "
      "bit, quad assembly), one or many files";
  entry.params = {
      {.name = "nav_shape", .type = "dims",
       .help = "navigation shape, e.g. 128x128 (default: from the .hdr, else one axis of frames)"},
      {.name = "sync_offset", .type = "int",
       .help = "skip this many leading frames (negative: insert blank frames); frames beyond the "
               "acquisition read as zeros",
       .default_value = "0"},
      {.name = "glob", .type = "bool",
       .help = "read every <name>*.mib of a multi-file acquisition, name without its trailing "
               "number (a .hdr without its own .mib always does)",
       .default_value = "false"},
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
