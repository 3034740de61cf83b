// SPDX-License-Identifier: MIT
#include "tessera/formats/tia/tia_format.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tessera/core/strings.h"
#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr int32_t kByteOrder = 0x4949;
constexpr int32_t kSeriesId = 0x0197;
constexpr int32_t kVersionOld = 0x0210;
constexpr int32_t kVersionNew = 0x0220;
constexpr int32_t kSpectra = 0x4120;
constexpr int32_t kImages = 0x4122;
constexpr int32_t kMaxDimensions = 16;
constexpr int64_t kSpectrumHeaderBytes = 8 + 8 + 4 + 2 + 4;
constexpr int64_t kImageHeaderBytes = 8 + 8 + 4 + 8 + 8 + 4 + 2 + 4 + 4;

/// Bounds-checked little-endian reads; every failure names the file, offset and field.
class SerReader {
 public:
  SerReader(std::span<const std::byte> bytes, const std::string& path)
      : bytes_(bytes), path_(path) {}

  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }

  void Need(int64_t offset, int64_t count, const char* field) const {
    if (offset < 0 || count < 0 || offset > size() || count > size() - offset) {
      throw Error::CorruptFile(
          path_, offset, field,
          fmt::format("{} ({} bytes at offset {}) lies past the end of the file ({} bytes)", field,
                      count, offset, size()));
    }
  }
  uint64_t Unsigned(int64_t offset, int bytes, const char* field) const {
    Need(offset, bytes, field);
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i) {
      value = (value << 8) | std::to_integer<uint64_t>(bytes_[static_cast<size_t>(offset + i)]);
    }
    return value;
  }
  int16_t I16(int64_t offset, const char* field) const {
    return static_cast<int16_t>(Unsigned(offset, 2, field));
  }
  int32_t I32(int64_t offset, const char* field) const {
    return static_cast<int32_t>(Unsigned(offset, 4, field));
  }
  int64_t I64(int64_t offset, const char* field) const {
    return static_cast<int64_t>(Unsigned(offset, 8, field));
  }
  double F64(int64_t offset, const char* field) const {
    const uint64_t bits = Unsigned(offset, 8, field);
    double value = 0;
    std::memcpy(&value, &bits, 8);
    return value;
  }
  std::string Text(int64_t offset, int64_t length, const char* field) const {
    Need(offset, length, field);
    std::string text(reinterpret_cast<const char*>(bytes_.data()) + offset,
                     static_cast<size_t>(length));
    for (char& c : text) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    }
    return text;
  }
  [[noreturn]] void Fail(int64_t offset, const char* field, const std::string& message) const {
    throw Error::CorruptFile(path_, offset, field, message);
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& path_;
};

std::optional<DType> SerDType(int16_t code) {
  switch (code) {
    case 1: return DType::kUint8;
    case 2: return DType::kUint16;
    case 3: return DType::kUint32;
    case 4: return DType::kInt8;
    case 5: return DType::kInt16;
    case 6: return DType::kInt32;
    case 7: return DType::kFloat32;
    case 8: return DType::kFloat64;
    case 9: return DType::kComplex64;
    case 10: return DType::kComplex128;
    default: return std::nullopt;
  }
}

/// Frames at arbitrary offsets of a mapped file (each SER element has its own header).
class SerDataset final : public dataset::Dataset {
 public:
  SerDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
             std::vector<int64_t> frame_offsets)
      : meta_(std::move(meta)), file_(std::move(file)), frame_offsets_(std::move(frame_offsets)) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  const std::byte* DirectFrames(int64_t /*frame_begin*/, int64_t /*frame_end*/) const override {
    return nullptr;  // every element carries its own header: frames are never contiguous
  }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckRead(meta_, frame_begin, frame_end, sig, dst_dtype);
    const int64_t item = SizeOf(meta_.dtype);
    const int64_t count = sig.size();
    const int64_t out_frame_bytes = count * SizeOf(dst_dtype);
    auto* out = static_cast<std::byte*>(dst);
    const std::byte* base = file_->bytes().data();
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      const int64_t offset = frame_offsets_[static_cast<size_t>(frame)] + sig.begin * item;
      internal::ConvertFromFile(base + offset, meta_.dtype, !internal::kHostLittleEndian,
                                out + (frame - frame_begin) * out_frame_bytes, dst_dtype, count);
    }
  }

 private:
  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
  std::vector<int64_t> frame_offsets_;  // byte offset of each frame's first value
};

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Return the text between `open` and `close` after `from`, or nullopt.
std::optional<std::string> Between(std::string_view text, std::string_view open,
                                   std::string_view close, size_t from = 0) {
  const size_t begin = text.find(open, from);
  if (begin == std::string_view::npos) return std::nullopt;
  const size_t end = text.find(close, begin + open.size());
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(text.substr(begin + open.size(), end - begin - open.size()));
}

std::optional<double> ToDouble(const std::string& text) {
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == 0) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// Return the key fields of the <ObjectInfo> block of an .emi file, or an empty object when it
/// has none. The block is XML-like text inside a binary file; only simple tags are read.
nlohmann::json EmiMetadata(std::span<const std::byte> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  nlohmann::json emi = nlohmann::json::object();
  const auto info = Between(text, "<ObjectInfo>", "</ObjectInfo>");
  if (!info) return emi;
  std::string ascii = *info;
  for (char& c : ascii) {
    if (static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  if (const auto volts = Between(ascii, "<AcceleratingVoltage>", "</AcceleratingVoltage>")) {
    if (const auto v = ToDouble(*volts)) emi["beam_energy_kv"] = *v / 1000.0;
  }
  for (const char* tag : {"Tilt1", "Tilt2", "Uuid"}) {
    const std::string open = fmt::format("<{}>", tag), close = fmt::format("</{}>", tag);
    if (const auto value = Between(ascii, open, close)) emi[tag] = std::string(Trim(*value));
  }
  // <Data><Label>Magnification</Label><Value>1550000</Value><Unit>x</Unit></Data> ...
  nlohmann::json description = nlohmann::json::object();
  size_t pos = 0;
  while (true) {
    const size_t data = ascii.find("<Data><Label>", pos);
    if (data == std::string::npos) break;
    const size_t end = ascii.find("</Data>", data);
    if (end == std::string::npos) break;
    const std::string_view item(ascii.data() + data, end - data);
    const auto label = Between(item, "<Label>", "</Label>");
    const auto value = Between(item, "<Value>", "</Value>");
    const auto unit = Between(item, "<Unit>", "</Unit>");
    if (label && value) {
      const std::string trimmed(Trim(*value));
      description[*label] = {{"value", trimmed}, {"unit", unit ? std::string(Trim(*unit)) : std::string()}};
      const auto number = ToDouble(trimmed);
      if (*label == "Magnification" && number) emi["magnification"] = *number;
      if (*label == "Camera length" && number) emi["camera_length_m"] = *number;
      if (*label == "Microscope") emi["microscope"] = trimmed;
      if (*label == "Mode") emi["mode"] = trimmed;
      if (*label == "High tension" && number && !emi.contains("beam_energy_kv")) {
        emi["beam_energy_kv"] = *number;
      }
    }
    pos = end;
  }
  if (!description.empty()) emi["experimental_description"] = description;
  return emi;
}

/// Convert a signal calibration: TIA stores real space in meters and reciprocal space in 1/m.
/// The element carries no units, so tell them apart by size: real-space pixels are far below
/// 1 m, reciprocal ones (1/m) far above.
dataset::Axis ImageAxis(const std::string& name, int64_t size, double offset, double delta,
                        int32_t element) {
  const double origin = offset - element * delta;
  if (std::abs(delta) < 1.0) {
    return dataset::Axis{.name = name, .size = size, .scale = delta * 1e9, .offset = origin * 1e9,
                         .units = "nm"};
  }
  return dataset::Axis{.name = name, .size = size, .scale = delta * 1e-9, .offset = origin * 1e-9,
                       .units = "1/nm"};
}

dataset::Axis NavAxis(const std::string& name, const SerDimension& dim) {
  const double origin = dim.calibration_offset - dim.calibration_element * dim.calibration_delta;
  if (dim.units == "meters" || dim.units == "m") {
    return dataset::Axis{.name = name, .size = dim.size, .scale = dim.calibration_delta * 1e9,
                         .offset = origin * 1e9, .units = "nm"};
  }
  return dataset::Axis{.name = name, .size = dim.size, .scale = dim.calibration_delta,
                       .offset = origin, .units = dim.units};
}

std::string HeaderJson(const SerHeader& header, const nlohmann::json& emi) {
  nlohmann::json j;
  j["version"] = fmt::format("0x{:x}", header.version);
  j["data_type_id"] = fmt::format("0x{:x}", header.data_type_id);
  j["tag_type_id"] = fmt::format("0x{:x}", header.tag_type_id);
  j["total_elements"] = header.total_elements;
  j["valid_elements"] = header.valid_elements;
  j["offset_array_offset"] = header.offset_array_offset;
  nlohmann::json dims = nlohmann::json::array();
  for (const auto& dim : header.dimensions) {
    dims.push_back({{"size", dim.size},
                    {"calibration_offset", dim.calibration_offset},
                    {"calibration_delta", dim.calibration_delta},
                    {"calibration_element", dim.calibration_element},
                    {"description", dim.description},
                    {"units", dim.units}});
  }
  j["dimensions"] = dims;
  if (header.data_type_id == kImages) {
    j["first_element_calibration"] = {{"offset_x", header.offset_x}, {"delta_x", header.delta_x},
                                      {"element_x", header.element_x},
                                      {"offset_y", header.offset_y}, {"delta_y", header.delta_y},
                                      {"element_y", header.element_y}};
  } else {
    j["first_element_calibration"] = {
        {"offset", header.offset_x}, {"delta", header.delta_x}, {"element", header.element_x}};
  }
  j["data_type"] = header.element_data_type;
  if (!emi.empty()) j["emi"] = emi;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

SerHeader ParseSerHeader(std::span<const std::byte> bytes, const std::string& path) {
  const SerReader in(bytes, path);
  SerHeader header;
  if (in.I16(0, "ByteOrder") != kByteOrder) {
    in.Fail(0, "ByteOrder", "not a TIA .ser file: ByteOrder is not 0x4949");
  }
  if (in.I16(2, "SeriesID") != kSeriesId) {
    in.Fail(2, "SeriesID", "not a TIA .ser file: SeriesID is not 0x0197");
  }
  header.version = in.I16(4, "SeriesVersion");
  if (header.version != kVersionOld && header.version != kVersionNew) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("SER version 0x{:x} is not supported (known: "
                                                 "0x210, 0x220)",
                                                 header.version),
                          .file = path,
                          .offset = 4,
                          .field = "SeriesVersion"});
  }
  const int offset_bytes = header.version == kVersionNew ? 8 : 4;
  header.data_type_id = in.I32(6, "DataTypeID");
  if (header.data_type_id != kSpectra && header.data_type_id != kImages) {
    in.Fail(6, "DataTypeID",
            fmt::format("DataTypeID 0x{:x} is neither 0x4120 (spectra) nor 0x4122 (images)",
                        header.data_type_id));
  }
  header.tag_type_id = in.I32(10, "TagTypeID");
  header.total_elements = in.I32(14, "TotalNumberElements");
  header.valid_elements = in.I32(18, "ValidNumberElements");
  header.offset_array_offset =
      offset_bytes == 8 ? in.I64(22, "OffsetArrayOffset") : in.I32(22, "OffsetArrayOffset");
  const int64_t ndim_offset = 22 + offset_bytes;
  const int32_t ndim = in.I32(ndim_offset, "NumberDimensions");
  if (header.total_elements < 0 || header.valid_elements < 1 ||
      header.valid_elements > header.total_elements) {
    in.Fail(14, "ValidNumberElements",
            fmt::format("element counts total {} valid {} are invalid (need 1 <= valid <= total)",
                        header.total_elements, header.valid_elements));
  }
  if (ndim < 1 || ndim > kMaxDimensions) {
    in.Fail(ndim_offset, "NumberDimensions",
            fmt::format("NumberDimensions {} is outside 1..{}", ndim, kMaxDimensions));
  }
  int64_t pos = ndim_offset + 4;
  for (int32_t d = 0; d < ndim; ++d) {
    SerDimension dim;
    dim.size = in.I32(pos, "DimensionSize");
    if (dim.size < 1 || dim.size > header.total_elements) {
      in.Fail(pos, "DimensionSize",
              fmt::format("dimension {} has size {} (total elements {})", d, dim.size,
                          header.total_elements));
    }
    dim.calibration_offset = in.F64(pos + 4, "CalibrationOffset");
    dim.calibration_delta = in.F64(pos + 12, "CalibrationDelta");
    dim.calibration_element = in.I32(pos + 20, "CalibrationElement");
    const int32_t description_length = in.I32(pos + 24, "DescriptionLength");
    if (description_length < 0) in.Fail(pos + 24, "DescriptionLength", "negative length");
    dim.description = in.Text(pos + 28, description_length, "Description");
    pos += 28 + description_length;
    const int32_t units_length = in.I32(pos, "UnitsLength");
    if (units_length < 0) in.Fail(pos, "UnitsLength", "negative length");
    dim.units = in.Text(pos + 4, units_length, "Units");
    pos += 4 + units_length;
    header.dimensions.push_back(std::move(dim));
  }

  // Offset arrays: total_elements data offsets, then as many tag offsets.
  const int64_t array = header.offset_array_offset;
  in.Need(array, int64_t{2} * header.total_elements * offset_bytes, "OffsetArray");
  header.data_offsets.reserve(static_cast<size_t>(header.valid_elements));
  for (int32_t e = 0; e < header.valid_elements; ++e) {
    const int64_t at = array + int64_t{e} * offset_bytes;
    const int64_t offset =
        offset_bytes == 8 ? in.I64(at, "DataOffsetArray") : in.I32(at, "DataOffsetArray");
    if (offset < 0 || offset >= in.size()) {
      in.Fail(at, "DataOffsetArray",
              fmt::format("element {} data offset {} lies outside the file ({} bytes)", e, offset,
                          in.size()));
    }
    header.data_offsets.push_back(offset);
  }

  // Every element must have the first one's type and size.
  const bool image = header.data_type_id == kImages;
  header.element_header_bytes = image ? kImageHeaderBytes : kSpectrumHeaderBytes;
  for (int32_t e = 0; e < header.valid_elements; ++e) {
    const int64_t at = header.data_offsets[static_cast<size_t>(e)];
    in.Need(at, header.element_header_bytes, "ElementHeader");
    const int64_t type_at = at + (image ? 40 : 20);
    const int16_t type = in.I16(type_at, "DataType");
    std::vector<int64_t> shape;
    if (image) {
      shape = {in.I32(type_at + 6, "ArraySizeY"), in.I32(type_at + 2, "ArraySizeX")};
    } else {
      shape = {in.I32(type_at + 2, "ArrayLength")};
    }
    if (e == 0) {
      const auto dtype = SerDType(type);
      if (!dtype) {
        in.Fail(type_at, "DataType", fmt::format("unknown element DataType {} (known: 1..10)",
                                                 type));
      }
      for (const int64_t n : shape) {
        if (n < 1) in.Fail(type_at + 2, "ArraySize", fmt::format("element size {} < 1", n));
      }
      header.element_data_type = type;
      header.dtype = *dtype;
      header.element_shape = shape;
      header.offset_x = in.F64(at, "CalibrationOffset");
      header.delta_x = in.F64(at + 8, "CalibrationDelta");
      header.element_x = in.I32(at + 16, "CalibrationElement");
      if (image) {
        header.offset_y = in.F64(at + 20, "CalibrationOffsetY");
        header.delta_y = in.F64(at + 28, "CalibrationDeltaY");
        header.element_y = in.I32(at + 36, "CalibrationElementY");
      }
    } else if (type != header.element_data_type || shape != header.element_shape) {
      in.Fail(type_at, "DataType",
              fmt::format("element {} has DataType {} and {} values per row/length {}; element "
                          "0 has DataType {} and {}",
                          e, type, shape.size(), shape.back(), header.element_data_type,
                          header.element_shape.back()));
    }
    int64_t values = 1;
    for (const int64_t n : shape) values *= n;  // two int32 factors: no overflow
    const int64_t data_at = at + header.element_header_bytes;
    if (values > (in.size() - data_at) / SizeOf(header.dtype)) {
      in.Fail(data_at, "ElementData",
              fmt::format("element {} needs {} values of {} from offset {}, past the end of the "
                          "file ({} bytes)",
                          e, values, Name(header.dtype), data_at, in.size()));
    }
  }
  return header;
}

std::unique_ptr<dataset::Dataset> OpenTia(const std::string& path, int64_t ser_index) {
  std::string ser_path = path;
  nlohmann::json emi = nlohmann::json::object();
  std::vector<dataset::InputFile> files;
  const std::string ext = internal::LowerExtension(path);
  if (ext == ".emi") {
    auto emi_file = io::MappedFile::Open(path);
    emi = EmiMetadata(emi_file->bytes());
    files.push_back(dataset::InputFile{.path = path, .size = emi_file->size()});
    ser_path = fmt::format("{}_{}.ser", path.substr(0, path.size() - 4), ser_index);
    if (!std::filesystem::exists(ser_path)) {
      throw Error::NotFound(fmt::format("{}: the series file {} of this .emi does not exist "
                                        "(param ser={})",
                                        path, ser_path, ser_index),
                            ser_path);
    }
  } else {
    // name_N.ser: take the metadata from name.emi when it lies beside it.
    const size_t underscore = path.rfind('_');
    if (underscore != std::string::npos && EndsWith(internal::LowerExtension(path), ".ser")) {
      const std::string emi_path = fmt::format("{}.emi", path.substr(0, underscore));
      std::error_code ec;
      if (std::filesystem::is_regular_file(emi_path, ec)) {
        auto emi_file = io::MappedFile::Open(emi_path);
        emi = EmiMetadata(emi_file->bytes());
        files.push_back(dataset::InputFile{.path = emi_path, .size = emi_file->size()});
      }
    }
  }
  auto file = io::MappedFile::Open(ser_path);
  const SerHeader header = ParseSerHeader(file->bytes(), ser_path);

  dataset::DatasetMeta meta;
  meta.format = "tia";
  meta.path = path;
  meta.dtype = header.dtype;
  int64_t series_size = 1;
  for (const auto& dim : header.dimensions) series_size *= dim.size;
  std::vector<int64_t> nav;
  std::vector<dataset::Axis> axes;
  if (series_size == header.valid_elements) {
    // NumPy order: the first SER dimension varies fastest.
    const bool positions = header.dimensions.size() <= 2;
    for (size_t i = header.dimensions.size(); i-- > 0;) {
      const auto& dim = header.dimensions[i];
      std::string name;
      if (dim.description == "Position" && positions) {
        name = fmt::format("{}", i == 0 ? 'x' : 'y');
      } else if (dim.description.empty()) {
        name = fmt::format("nav{}", i);
      } else {
        name = dim.description;
      }
      nav.push_back(dim.size);
      axes.push_back(NavAxis(name, dim));
    }
  } else {
    // A series stopped early: only the valid elements, in acquisition order.
    nav.push_back(header.valid_elements);
    axes.push_back(dataset::Axis{.name = "frame", .size = header.valid_elements, .units = ""});
  }
  const auto& sig = header.element_shape;
  if (sig.size() == 2) {
    axes.push_back(ImageAxis("sy", sig[0], header.offset_y, header.delta_y, header.element_y));
    axes.push_back(ImageAxis("sx", sig[1], header.offset_x, header.delta_x, header.element_x));
  } else {
    axes.push_back(dataset::Axis{.name = "energy", .size = sig[0], .scale = header.delta_x,
                                 .offset = header.offset_x - header.element_x * header.delta_x,
                                 .units = "eV"});
  }
  meta.shape = Shape(nav, sig);
  meta.axes = std::move(axes);
  meta.metadata_json = HeaderJson(header, emi);
  files.push_back(dataset::InputFile{.path = ser_path, .size = file->size()});
  meta.files = std::move(files);

  std::vector<int64_t> frame_offsets;
  frame_offsets.reserve(header.data_offsets.size());
  for (const int64_t offset : header.data_offsets) {
    frame_offsets.push_back(offset + header.element_header_bytes);
  }
  return std::make_unique<SerDataset>(std::move(meta), std::move(file), std::move(frame_offsets));
}

FormatEntry TiaFormatEntry() {
  FormatEntry entry;
  entry.name = "tia";
  entry.extensions = {".ser", ".emi"};
  entry.summary =
      "FEI/Thermo TIA series (.ser, or .emi with its _N.ser): images or spectra over the series "
      "dimensions";
  entry.params = {ParamDoc{.name = "ser",
                           .type = "int",
                           .help = "which series file of an .emi to open (name_<ser>.ser)",
                           .default_value = "1"}};
  entry.sniff = [](std::span<const std::byte> head, const std::string& path) {
    if (head.size() >= 4 && std::to_integer<uint8_t>(head[0]) == 0x49 &&
        std::to_integer<uint8_t>(head[1]) == 0x49 && std::to_integer<uint8_t>(head[2]) == 0x97 &&
        std::to_integer<uint8_t>(head[3]) == 0x01) {
      return true;
    }
    return internal::LowerExtension(path) == ".emi";
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    int64_t ser_index = 1;
    if (const auto text = internal::FindParam(params, "ser")) {
      ser_index = internal::ParseIntParam(*text, "ser");
      if (ser_index < 1) {
        throw Error::InvalidArgument(fmt::format("ser must be >= 1, got {}", ser_index), "ser");
      }
    }
    return OpenTia(path, ser_index);
  };
  return entry;
}

}  // namespace tessera::formats
