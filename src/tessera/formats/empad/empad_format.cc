// SPDX-License-Identifier: MIT
#include "tessera/formats/empad/empad_format.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr int64_t kWidth = 128;
constexpr int64_t kHeight = 128;
constexpr int64_t kRawHeight = 130;  // two trailing rows of per-frame metadata
constexpr int64_t kRawFrameBytes = kRawHeight * kWidth * 4;
constexpr size_t kMaxXmlBytes = size_t{16} << 20;

/// A value found in the XML text and where it starts.
struct XmlValue {
  std::string text;
  int64_t offset = 0;
};

/// Return the byte offset of the start tag `<tag>` or `<tag ...>` (not `<tag_more>`).
std::optional<size_t> FindStartTag(std::string_view xml, std::string_view tag) {
  // Appended piecewise: GCC 12 at -O3 warns falsely (-Wrestrict) on "<" + std::string.
  std::string open(1, '<');
  open.append(tag);
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const size_t after = pos + open.size();
    if (after < xml.size()) {
      const char c = xml[after];
      if (c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r') return pos;
    }
    pos = after;
  }
  return std::nullopt;
}

/// Return the text of the first element `<tag>text</tag>`, trimmed.
std::optional<XmlValue> ElementText(std::string_view xml, std::string_view tag) {
  const auto start = FindStartTag(xml, tag);
  if (!start) return std::nullopt;
  const size_t gt = xml.find('>', *start);
  if (gt == std::string_view::npos || xml[gt - 1] == '/') return std::nullopt;
  std::string close = "</";
  close.append(tag);
  close += '>';
  const size_t end = xml.find(close, gt);
  if (end == std::string_view::npos) return std::nullopt;
  size_t begin = gt + 1;
  size_t stop = end;
  while (begin < stop && std::isspace(static_cast<unsigned char>(xml[begin]))) ++begin;
  while (stop > begin && std::isspace(static_cast<unsigned char>(xml[stop - 1]))) --stop;
  return XmlValue{std::string(xml.substr(begin, stop - begin)), static_cast<int64_t>(begin)};
}

/// Return the value of attribute `name` of the first `<tag ...>` element.
std::optional<XmlValue> Attribute(std::string_view xml, std::string_view tag,
                                  std::string_view name) {
  const auto start = FindStartTag(xml, tag);
  if (!start) return std::nullopt;
  const size_t gt = xml.find('>', *start);
  if (gt == std::string_view::npos) return std::nullopt;
  const std::string_view element = xml.substr(*start, gt - *start);
  size_t pos = 0;
  while ((pos = element.find(name, pos)) != std::string_view::npos) {
    const bool word_start = pos > 0 && std::isspace(static_cast<unsigned char>(element[pos - 1]));
    size_t eq = pos + name.size();
    while (eq < element.size() && element[eq] == ' ') ++eq;
    if (word_start && eq < element.size() && element[eq] == '=') {
      size_t quote = eq + 1;
      while (quote < element.size() && element[quote] == ' ') ++quote;
      if (quote < element.size() && (element[quote] == '"' || element[quote] == '\'')) {
        const size_t close = element.find(element[quote], quote + 1);
        if (close != std::string_view::npos) {
          return XmlValue{std::string(element.substr(quote + 1, close - quote - 1)),
                          static_cast<int64_t>(*start + quote + 1)};
        }
      }
    }
    pos += name.size();
  }
  return std::nullopt;
}

int64_t PositiveInt(const XmlValue& value, const std::string& tag, const std::string& path) {
  int64_t number = 0;
  const char* end = value.text.data() + value.text.size();
  const auto [ptr, ec] = std::from_chars(value.text.data(), end, number);
  if (ec != std::errc() || ptr != end || number <= 0 || number > (int64_t{1} << 31)) {
    throw Error::CorruptFile(path, value.offset, tag,
                             fmt::format("<{}> is '{}', not a positive integer", tag, value.text));
  }
  return number;
}

double OptionalDouble(std::string_view xml, std::string_view tag) {
  const auto value = ElementText(xml, tag);
  if (!value) return 0;
  // strtod, not from_chars: clang 14's libc++ has no from_chars for double.
  char* end = nullptr;
  const double number = std::strtod(value->text.c_str(), &end);
  if (end == value->text.c_str() || !std::isfinite(number)) return 0;
  return number;
}

/// Split "[4.56e-06, 4.56e-06]" into numbers; empty on malformed text.
std::vector<double> NumberList(const std::string& text) {
  std::vector<double> numbers;
  std::string body = text;
  for (char& c : body) {
    if (c == '[' || c == ']' || c == ',') c = ' ';
  }
  const char* cursor = body.c_str();
  while (true) {
    char* end = nullptr;
    const double number = std::strtod(cursor, &end);
    if (end == cursor) break;
    numbers.push_back(number);
    cursor = end;
  }
  return numbers;
}

/// Express a length in metres in the unit that makes it 1..1000 (what HyperSpy calls compact).
std::pair<double, std::string> CompactLength(double metres) {
  static const struct {
    double factor;
    const char* units;
  } kUnits[] = {{1, "m"}, {1e-3, "mm"}, {1e-6, "µm"}, {1e-9, "nm"}, {1e-12, "pm"}};
  for (const auto& unit : kUnits) {
    if (std::abs(metres) >= unit.factor) return {unit.factor, unit.units};
  }
  return {1e-12, "pm"};
}

/// EMPAD frames: 128 x 128 float32 signal rows followed by 2 metadata rows in each raw frame.
class EmpadDataset final : public dataset::Dataset {
 public:
  EmpadDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file)
      : meta_(std::move(meta)), file_(std::move(file)) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckReadRange(meta_, frame_begin, frame_end, sig);
    if (!CanConvert(DType::kFloat32, dst_dtype)) {
      throw Error::Unsupported(fmt::format("cannot convert float32 to {}", Name(dst_dtype)),
                               meta_.path);
    }
    // The signal rows lead each raw frame, so a range of signal pixels is one contiguous run.
    const std::byte* base = file_->bytes().data();
    auto* out = static_cast<std::byte*>(dst);
    const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      ConvertElements(base + frame * kRawFrameBytes + sig.begin * 4, DType::kFloat32,
                      !internal::kHostLittleEndian,
                      out + (frame - frame_begin) * out_frame_bytes, dst_dtype, sig.size());
    }
  }

  void WillNeed(int64_t frame_begin, int64_t frame_end) const override {
    if (frame_begin < 0 || frame_end <= frame_begin) return;
    file_->Prefetch(frame_begin * kRawFrameBytes, (frame_end - frame_begin) * kRawFrameBytes);
  }

 private:
  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
};

std::string ReadText(const std::string& path) {
  const int64_t size = io::FileSize(path);
  if (size > static_cast<int64_t>(kMaxXmlBytes)) {
    throw Error::CorruptFile(path, 0, "",
                             fmt::format("{} bytes is too large for an EMPAD .xml", size));
  }
  std::string text(static_cast<size_t>(size), '\0');
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error::Io("cannot open for reading", path);
  const size_t n = std::fread(text.data(), 1, text.size(), f);
  std::fclose(f);
  text.resize(n);
  return text;
}

/// Whether `text` (the start of a file) is an XML document whose root element is <root ...>.
bool StartsWithRootElement(std::string_view text) {
  size_t pos = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // UTF-8 byte order mark
  while (true) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (text.substr(pos, 2) == "<?" || text.substr(pos, 4) == "<!--") {
      const bool comment = text[pos + 1] == '!';
      const size_t end = text.find(comment ? "-->" : "?>", pos);
      if (end == std::string_view::npos) return false;
      pos = end + (comment ? 3 : 2);
      continue;
    }
    break;
  }
  return text.substr(pos, 5) == "<root" && pos + 5 < text.size() &&
         (text[pos + 5] == '>' || text[pos + 5] == ' ');
}

}  // namespace

EmpadXml ParseEmpadXml(const std::string& text, const std::string& path) {
  const std::string_view xml = text;
  if (!StartsWithRootElement(xml)) {
    throw Error::CorruptFile(path, 0, "root", "not an EMPAD .xml: the root element is not <root>");
  }
  EmpadXml info;
  const auto raw_file = Attribute(xml, "raw_file", "filename");
  if (!raw_file || raw_file->text.empty()) {
    throw Error::CorruptFile(path, std::nullopt, "raw_file",
                             "no <raw_file filename=\"...\"/> naming the .raw data file");
  }
  info.raw_file = raw_file->text;
  const auto series = ElementText(xml, "series_count");
  const auto pix_x = ElementText(xml, "pix_x");
  const auto pix_y = ElementText(xml, "pix_y");
  if (series) {
    info.nav_shape = {PositiveInt(*series, "series_count", path)};
  } else if (pix_x && pix_y) {
    info.nav_shape = {PositiveInt(*pix_y, "pix_y", path), PositiveInt(*pix_x, "pix_x", path)};
  } else {
    const auto res_x = ElementText(xml, "scan_resolution_x");
    const auto res_y = ElementText(xml, "scan_resolution_y");
    if (!res_x || !res_y) {
      throw Error::CorruptFile(path, std::nullopt, "pix_x",
                               "no scan size: neither <pix_x>/<pix_y>, <series_count> nor "
                               "<scan_resolution_x>/<scan_resolution_y>");
    }
    info.nav_shape = {PositiveInt(*res_y, "scan_resolution_y", path),
                      PositiveInt(*res_x, "scan_resolution_x", path)};
  }
  if (const auto fov = ElementText(xml, "optics.get_full_scan_field_of_view")) {
    const std::vector<double> numbers = NumberList(fov->text);
    if (numbers.size() == 2 && std::isfinite(numbers[0]) && std::isfinite(numbers[1])) {
      info.field_of_view_x_m = numbers[0];
      info.field_of_view_y_m = numbers[1];
    }
  }
  info.pixel_size = OptionalDouble(xml, "calibrated_pixelsize");
  info.voltage = OptionalDouble(xml, "source.get_voltage");
  info.camera_length = OptionalDouble(xml, "optics.get_cameralength");
  info.exposure_time = OptionalDouble(xml, "exposure_time");
  if (const auto stamp = Attribute(xml, "timestamp", "isoformat")) info.timestamp = stamp->text;
  if (const auto version = ElementText(xml, "software_version")) {
    info.software_version = version->text;
  }
  return info;
}

std::unique_ptr<dataset::Dataset> OpenEmpad(const std::string& path, const OpenParams& params) {
  const bool by_xml = internal::LowerExtension(path) == ".xml";
  std::optional<EmpadXml> xml;
  std::string raw_path = path;
  if (by_xml) {
    xml = ParseEmpadXml(ReadText(path), path);
    raw_path = (std::filesystem::path(path).parent_path() / xml->raw_file).string();
    if (!std::filesystem::exists(raw_path)) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kNotFound,
          .message = fmt::format("the data file {} named by <raw_file> does not exist", raw_path),
          .file = path,
          .field = "raw_file"});
    }
  }
  auto file = io::MappedFile::Open(raw_path);
  std::vector<int64_t> nav_shape;
  if (const auto text = internal::FindParam(params, "nav_shape")) {
    try {
      nav_shape = ParseDims(*text, "nav_shape");
    } catch (const Error& e) {
      throw Error(ErrorInfo{.code = e.code(),
                            .message = e.info().message,
                            .file = path,
                            .field = "nav_shape"});
    }
    for (const int64_t dim : nav_shape) {
      if (dim <= 0 || dim > (int64_t{1} << 31)) {
        throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                              .message = fmt::format("{} must be positive", FormatDims(nav_shape)),
                              .file = path,
                              .field = "nav_shape"});
      }
    }
    if (nav_shape.empty() || nav_shape.size() > 4) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = "nav_shape needs 1 to 4 dimensions",
                            .file = path,
                            .field = "nav_shape"});
    }
  } else if (xml) {
    nav_shape = xml->nav_shape;
  } else {
    // A bare .raw: whole frames only; a square scan when the count is a square.
    if (file->size() % kRawFrameBytes != 0 || file->size() == 0) {
      throw Error::CorruptFile(
          raw_path, file->size() - file->size() % kRawFrameBytes, "nav_shape",
          fmt::format("file of {} bytes is not a whole number of EMPAD frames ({} bytes: 130 x "
                      "128 float32); give nav_shape or open the .xml",
                      file->size(), kRawFrameBytes));
    }
    const int64_t frames = file->size() / kRawFrameBytes;
    auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(frames))));
    nav_shape = side * side == frames ? std::vector<int64_t>{side, side}
                                      : std::vector<int64_t>{frames};
  }
  const int64_t frames = Product(nav_shape);
  const int64_t needed = frames * kRawFrameBytes;
  if (file->size() != needed) {
    const bool short_file = file->size() < needed;
    throw Error::CorruptFile(
        raw_path, short_file ? file->size() : needed, xml ? "pix_x" : "nav_shape",
        fmt::format("file is {} bytes, {} frames of 130 x 128 float32 (scan {}{}) need {} bytes{}",
                    file->size(), frames, FormatDims(nav_shape),
                    by_xml ? fmt::format(" from {}", path) : "", needed,
                    short_file ? " (truncated)" : ": bytes left over"));
  }

  dataset::DatasetMeta meta;
  meta.format = "empad";
  meta.path = path;
  meta.shape = Shape(nav_shape, {kHeight, kWidth});
  meta.dtype = DType::kFloat32;
  meta.axes = dataset::DefaultAxes(meta.shape);
  nlohmann::json j;
  j["raw_file"] = raw_path;
  j["raw_frame_shape"] = {kRawHeight, kWidth};
  if (xml) {
    if (nav_shape.size() == 2) {
      meta.axes[0].name = "scan_y";
      meta.axes[1].name = "scan_x";
      const double fov[] = {xml->field_of_view_y_m, xml->field_of_view_x_m};
      for (size_t i = 0; i < 2; ++i) {
        if (fov[i] == 0) continue;
        const auto [factor, units] = CompactLength(fov[i]);
        meta.axes[i].scale = fov[i] / factor / static_cast<double>(nav_shape[i]);
        meta.axes[i].units = units;
      }
    } else if (nav_shape.size() == 1) {
      meta.axes[0].name = "series";
    }
    const size_t sig0 = nav_shape.size();
    meta.axes[sig0].name = "height";
    meta.axes[sig0 + 1].name = "width";
    if (xml->pixel_size > 0) {
      // As HyperSpy reads it: calibrated_pixelsize x 1e9 in 1/nm, centred on the frame.
      for (size_t i = sig0; i < sig0 + 2; ++i) {
        meta.axes[i].scale = xml->pixel_size * 1e9;
        meta.axes[i].offset = -64 * meta.axes[i].scale;
        meta.axes[i].units = "1/nm";
      }
    }
    j["xml"] = path;
    j["pix_shape"] = xml->nav_shape;
    j["timestamp"] = xml->timestamp;
    j["software_version"] = xml->software_version;
    j["beam_energy_eV"] = xml->voltage;
    j["camera_length_m"] = xml->camera_length;
    j["exposure_time"] = xml->exposure_time;
    j["calibrated_pixelsize"] = xml->pixel_size;
    j["full_scan_field_of_view_m"] = {xml->field_of_view_x_m, xml->field_of_view_y_m};
  }
  meta.metadata_json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  meta.files.push_back(dataset::InputFile{.path = raw_path, .size = file->size()});
  if (by_xml) meta.files.push_back(dataset::InputFile{.path = path, .size = io::FileSize(path)});
  return std::make_unique<EmpadDataset>(std::move(meta), std::move(file));
}

FormatEntry EmpadFormatEntry() {
  FormatEntry entry;
  entry.name = "empad";
  entry.extensions = {".xml"};
  entry.summary =
      "EMPAD 4D-STEM: acquisition .xml + .raw of 128 x 130 float32 frames (signal 128 x 128)";
  entry.params = {
      {.name = "nav_shape", .type = "dims",
       .help = "scan shape, e.g. 256x256; from the .xml by default, inferred for a bare .raw"},
  };
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    if (internal::LowerExtension(path) != ".xml") return false;
    const std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
    if (!StartsWithRootElement(text)) return false;
    // <root> alone is too common: the acquisition must name its raw data.
    try {
      const std::string whole = ReadText(path);
      return FindStartTag(whole, "raw_file").has_value();
    } catch (const Error&) {
      return false;
    }
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    return OpenEmpad(path, params);
  };
  return entry;
}

}  // namespace tessera::formats
