// SPDX-License-Identifier: MIT
#include "tessera/formats/ripple/ripple_format.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/strings.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

// A .rpl header is a few dozen lines.
constexpr int64_t kMaxRplBytes = int64_t{1} << 20;
constexpr int64_t kMaxDim = int64_t{1} << 31;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const std::string* FindKey(const RippleHeader& header, const std::string& key) {
  const auto it = header.keys.find(key);
  return it == header.keys.end() ? nullptr : &it->second;
}

int64_t RequireInt(const RippleHeader& header, const std::string& key, const std::string& path,
                   int64_t min_value) {
  const std::string* text = FindKey(header, key);
  if (text == nullptr) {
    throw Error::CorruptFile(path, std::nullopt, key,
                             fmt::format("missing the required key '{}'", key));
  }
  int64_t value = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec != std::errc() || ptr != end || text->empty()) {
    throw Error::CorruptFile(path, std::nullopt, key,
                             fmt::format("'{}' is not an integer", *text));
  }
  if (value < min_value || value >= kMaxDim) {
    throw Error::CorruptFile(path, std::nullopt, key,
                             fmt::format("{} is out of range [{}, {})", value, min_value, kMaxDim));
  }
  return value;
}

std::optional<double> OptionalDouble(const RippleHeader& header, const std::string& key,
                                     const std::string& path) {
  const std::string* text = FindKey(header, key);
  if (text == nullptr || text->empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text->c_str(), &end);
  if (end != text->c_str() + text->size() || errno == ERANGE) {
    throw Error::CorruptFile(path, std::nullopt, key, fmt::format("'{}' is not a number", *text));
  }
  return value;
}

dataset::Axis MakeAxis(const RippleHeader& header, const std::string& dim, int64_t size,
                       const std::string& path) {
  dataset::Axis axis{.name = dim, .size = size, .units = "px"};
  if (const auto* name = FindKey(header, dim + "-name"); name != nullptr && !name->empty()) {
    axis.name = *name;
  }
  auto scale = OptionalDouble(header, dim + "-scale", path);
  bool ev_per_chan = false;
  if (!scale && dim == "depth") {
    // The calibration of the original Lispix Ripple format.
    scale = OptionalDouble(header, "ev-per-chan", path);
    ev_per_chan = scale.has_value();
  }
  const auto origin = OptionalDouble(header, dim + "-origin", path);
  if (scale) axis.scale = *scale;
  if (origin) axis.offset = *origin;
  if (const auto* units = FindKey(header, dim + "-units"); units != nullptr) {
    axis.units = *units;
  } else if (ev_per_chan) {
    axis.units = "eV";
  } else if (scale || origin) {
    axis.units = "";
  }
  return axis;
}

std::string ReadSmallFile(const std::string& path) {
  const int64_t size = io::FileSize(path);
  if (size > kMaxRplBytes) {
    throw Error::CorruptFile(path, std::nullopt, "header",
                             fmt::format("{} bytes is too large for a Ripple header", size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error::Io("cannot open for reading", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Return the .raw file next to `rpl_path` (same stem; .raw or .RAW).
std::string RawPathFor(const std::string& rpl_path) {
  const std::filesystem::path rpl(rpl_path);
  for (const char* ext : {".raw", ".RAW", ".Raw"}) {
    std::filesystem::path candidate = rpl;
    candidate.replace_extension(ext);
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  std::filesystem::path candidate = rpl;
  candidate.replace_extension(".raw");
  return candidate.string();
}

}  // namespace

RippleHeader ParseRippleHeader(std::string_view text, const std::string& path) {
  RippleHeader header;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = Trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty() || line.front() == ';') continue;
    size_t split = line.find('\t');
    if (split == std::string_view::npos) split = line.find_first_of(" \r");
    const std::string key = Lower(Trim(line.substr(0, split)));
    const std::string value =
        split == std::string_view::npos ? std::string() : std::string(Trim(line.substr(split + 1)));
    if (key == "key") continue;  // the "key<TAB>value" title line
    header.keys[key] = value;
  }
  header.width = RequireInt(header, "width", path, 1);
  header.height = RequireInt(header, "height", path, 1);
  header.depth = RequireInt(header, "depth", path, 1);
  header.data_length = RequireInt(header, "data-length", path, 1);
  header.offset = FindKey(header, "offset") == nullptr ? 0 : RequireInt(header, "offset", path, 0);

  const std::string* data_type = FindKey(header, "data-type");
  if (data_type == nullptr) {
    throw Error::CorruptFile(path, std::nullopt, "data-type",
                             "missing the required key 'data-type'");
  }
  const std::string type = Lower(*data_type);
  std::optional<DType> dtype;
  switch (header.data_length) {
    case 1: dtype = type == "signed" ? DType::kInt8 : DType::kUint8; break;
    case 2: dtype = type == "signed" ? DType::kInt16 : DType::kUint16; break;
    case 4:
      dtype = type == "float" ? DType::kFloat32 : type == "signed" ? DType::kInt32 : DType::kUint32;
      break;
    case 8:
      dtype = type == "float" ? DType::kFloat64 : type == "signed" ? DType::kInt64 : DType::kUint64;
      break;
    default: break;
  }
  if (type != "signed" && type != "unsigned" && type != "float") {
    throw Error::CorruptFile(path, std::nullopt, "data-type",
                             fmt::format("data-type '{}' is not signed, unsigned or float",
                                         *data_type));
  }
  if (!dtype || (type == "float" && header.data_length < 4)) {
    throw Error::CorruptFile(path, std::nullopt, "data-length",
                             fmt::format("data-length {} does not fit data-type {}",
                                         header.data_length, type));
  }
  header.dtype = *dtype;

  const std::string* order = FindKey(header, "byte-order");
  const std::string byte_order = order == nullptr ? "dont-care" : Lower(*order);
  if (byte_order != "little-endian" && byte_order != "big-endian" && byte_order != "dont-care") {
    throw Error::CorruptFile(
        path, std::nullopt, "byte-order",
        fmt::format("byte-order '{}' is not little-endian, big-endian or dont-care", *order));
  }
  header.big_endian = byte_order == "big-endian";

  const std::string* record_by = FindKey(header, "record-by");
  header.record_by = record_by == nullptr ? "dont-care" : Lower(*record_by);
  if (header.record_by != "vector" && header.record_by != "image" &&
      header.record_by != "dont-care") {
    throw Error::CorruptFile(
        path, std::nullopt, "record-by",
        fmt::format("record-by '{}' is not vector, image or dont-care", *record_by));
  }
  if (header.record_by == "dont-care") {
    // The storage order only does not matter when one side of the cube is trivial.
    if (header.depth == 1) {
      header.record_by = "image";
    } else if (header.width == 1 && header.height == 1) {
      header.record_by = "vector";
    } else {
      throw Error::CorruptFile(
          path, std::nullopt, "record-by",
          fmt::format("record-by dont-care is ambiguous for {} x {} x {} data", header.width,
                      header.height, header.depth));
    }
  }
  return header;
}

std::unique_ptr<dataset::Dataset> OpenRipple(const std::string& path) {
  const std::string text = ReadSmallFile(path);
  const RippleHeader header = ParseRippleHeader(text, path);
  const dataset::Axis width = MakeAxis(header, "width", header.width, path);
  const dataset::Axis height = MakeAxis(header, "height", header.height, path);
  const dataset::Axis depth = MakeAxis(header, "depth", header.depth, path);
  const std::string raw_path = RawPathFor(path);
  if (!std::filesystem::exists(raw_path)) {
    throw Error::NotFound(fmt::format("the data file {} of {} does not exist", raw_path, path),
                          raw_path);
  }
  auto file = io::MappedFile::Open(raw_path);

  int64_t elements = 0;
  int64_t needed = 0;
  if (__builtin_mul_overflow(header.width, header.height, &elements) ||
      __builtin_mul_overflow(elements, header.depth, &elements) ||
      __builtin_mul_overflow(elements, header.data_length, &needed)) {
    throw Error::CorruptFile(path, std::nullopt, "width",
                             "width x height x depth x data-length overflows");
  }
  if (file->size() < header.offset || file->size() - header.offset < needed) {
    throw Error::CorruptFile(
        raw_path, header.offset, "data-length",
        fmt::format("data is truncated: {} x {} x {} elements of {} bytes need {} bytes from "
                    "offset {}, the file has {} (header {})",
                    header.width, header.height, header.depth, header.data_length, needed,
                    header.offset, file->size(), path));
  }

  dataset::DatasetMeta meta;
  meta.format = "ripple";
  meta.path = path;
  meta.dtype = header.dtype;
  if (header.record_by == "vector") {
    meta.shape = Shape({header.height, header.width}, {header.depth});
    meta.axes = {height, width, depth};
  } else if (header.depth == 1) {
    meta.shape = Shape({}, {header.height, header.width});
    meta.axes = {height, width};
  } else {
    meta.shape = Shape({header.depth}, {header.height, header.width});
    meta.axes = {depth, height, width};
  }
  nlohmann::json j;
  j["keys"] = header.keys;
  j["raw_file"] = raw_path;
  j["record_by"] = header.record_by;
  j["byte_order"] = header.big_endian ? "big" : "little";
  meta.metadata_json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  meta.files = {dataset::InputFile{.path = path, .size = static_cast<int64_t>(text.size())},
                dataset::InputFile{.path = raw_path, .size = file->size()}};
  const bool byteswap = header.data_length > 1 && header.big_endian == internal::kHostLittleEndian;
  return std::make_unique<internal::MappedArrayDataset>(std::move(meta), std::move(file),
                                                        header.offset, byteswap);
}

FormatEntry RippleFormatEntry() {
  FormatEntry entry;
  entry.name = "ripple";
  entry.extensions = {".rpl"};
  entry.summary =
      "Ripple (.rpl header + .raw data, Lispix/HyperSpy): spectrum images (record-by vector) "
      "or image stacks (record-by image)";
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    if (internal::LowerExtension(path) != ".rpl") return false;
    const std::string text =
        Lower(std::string_view(reinterpret_cast<const char*>(head.data()), head.size()));
    return text.find("width") != std::string::npos || text.find("record-by") != std::string::npos;
  };
  entry.open = [](const std::string& path, const OpenParams& /*params*/) {
    return OpenRipple(path);
  };
  return entry;
}

}  // namespace tessera::formats
