// SPDX-License-Identifier: MIT
#include "tessera/formats/dm/dm_format.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr int kMaxDepth = 64;
// Arrays longer than this are summarised in the metadata, not listed.
constexpr int64_t kMaxListedArray = 64;
// uint16 arrays up to this length are shown as text (DM stores most strings that way).
constexpr int64_t kMaxTextArray = 4096;
// An info array never needs more entries than this (a struct of that many fields is absurd).
constexpr uint64_t kMaxInfoEntries = 1 << 16;

enum DmTagType : int {
  kTagShort = 2,
  kTagLong = 3,
  kTagUShort = 4,
  kTagULong = 5,
  kTagFloat = 6,
  kTagDouble = 7,
  kTagBool = 8,
  kTagChar = 9,
  kTagOctet = 10,
  kTagInt64 = 11,
  kTagUInt64 = 12,
  kTagStruct = 15,
  kTagString = 18,
  kTagArray = 20,
};

int64_t SimpleSize(uint64_t type) {
  switch (type) {
    case kTagShort: case kTagUShort: return 2;
    case kTagLong: case kTagULong: case kTagFloat: return 4;
    case kTagDouble: case kTagInt64: case kTagUInt64: return 8;
    case kTagBool: case kTagChar: case kTagOctet: return 1;
    default: return 0;
  }
}

const char* SimpleName(uint64_t type) {
  switch (type) {
    case kTagShort: return "int16";
    case kTagUShort: return "uint16";
    case kTagLong: return "int32";
    case kTagULong: return "uint32";
    case kTagFloat: return "float32";
    case kTagDouble: return "float64";
    case kTagInt64: return "int64";
    case kTagUInt64: return "uint64";
    case kTagBool: return "bool";
    case kTagChar: return "int8";
    case kTagOctet: return "uint8";
    case kTagStruct: return "struct";
    default: return "unknown";
  }
}

/// One node of the tag tree. Children are indices into the parser's node table, so the tree
/// needs no container of an incomplete type.
struct TagNode {
  enum class Kind { kGroup, kNumber, kString, kArray };
  Kind kind = Kind::kGroup;
  std::string label;
  std::vector<int> children;    // groups, structs and listed arrays of structs
  double number = 0;            // kNumber
  bool integral = false;        // kNumber holding an integer type
  std::string text;             // kString, and uint16 arrays shown as text
  bool has_text = false;
  std::vector<double> values;   // short arrays of simple types
  uint64_t elem_type = 0;       // kArray
  int64_t count = 0;            // kArray
  int64_t offset = 0;           // kArray: file offset of the first element
  int64_t bytes = 0;            // kArray: bytes of data
};

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Decode UTF-16 code units to UTF-8; unpaired surrogates become U+FFFD, trailing NULs go.
std::string Utf16ToUtf8(const std::vector<uint16_t>& units) {
  std::string out;
  for (size_t i = 0; i < units.size(); ++i) {
    uint32_t cp = units[i];
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < units.size() && units[i + 1] >= 0xDC00 &&
        units[i + 1] < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (units[i + 1] - 0xDC00);
      ++i;
    } else if (cp >= 0xD800 && cp < 0xE000) {
      cp = 0xFFFD;
    }
    AppendUtf8(out, cp);
  }
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

/// Reads the tag tree. Every read is bounded by the file size, so hostile counts fail with
/// kCorruptFile instead of allocating or looping.
class TagParser {
 public:
  TagParser(std::span<const std::byte> bytes, const std::string& path)
      : bytes_(bytes), size_(static_cast<int64_t>(bytes.size())), path_(path) {}

  DmFile Parse() {
    DmFile file;
    if (size_ < 4) Fail(0, "version", "file too short for a DM header");
    version_ = static_cast<int>(ReadBig(4, "version"));
    if (version_ != 3 && version_ != 4) {
      throw Error(ErrorInfo{
          .code = ErrorCode::kUnsupported,
          .message = fmt::format("DM version {} is not supported (3 or 4)", version_),
          .file = path_,
          .offset = 0,
          .field = "version"});
    }
    count_width_ = version_ == 3 ? 4 : 8;
    ReadBig(count_width_, "root_length");
    const int64_t order_offset = pos_;
    const uint64_t order = ReadBig(4, "byte_order");
    if (order > 1) Fail(order_offset, "byte_order", fmt::format("byte order flag {}", order));
    little_endian_ = order == 1;
    const int root = ParseGroup("", 0);
    file.version = version_;
    file.little_endian = little_endian_;
    CollectImages(root, file);
    file.tags_json = ToJson(root).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return file;
  }

 private:
  [[noreturn]] void Fail(int64_t offset, const std::string& field,
                         const std::string& message) const {
    throw Error::CorruptFile(path_, offset, field, message);
  }

  void Need(int64_t n, const std::string& field) const {
    if (n < 0 || n > size_ - pos_) {
      Fail(pos_, field,
           fmt::format("needs {} bytes at offset {}, the file ends at {}", n, pos_, size_));
    }
  }

  uint64_t ReadBig(int width, const std::string& field) {
    Need(width, field);
    uint64_t value = 0;
    for (int i = 0; i < width; ++i) {
      value = (value << 8) | std::to_integer<uint64_t>(bytes_[static_cast<size_t>(pos_ + i)]);
    }
    pos_ += width;
    return value;
  }

  /// Read an unsigned value of `width` bytes in the data byte order.
  uint64_t ReadData(int64_t width, const std::string& field) {
    Need(width, field);
    uint64_t value = 0;
    for (int64_t i = 0; i < width; ++i) {
      const int64_t at = little_endian_ ? pos_ + width - 1 - i : pos_ + i;
      value = (value << 8) | std::to_integer<uint64_t>(bytes_[static_cast<size_t>(at)]);
    }
    pos_ += width;
    return value;
  }

  /// Read one simple value as a double (sets *integral for integer types).
  double ReadSimple(uint64_t type, const std::string& field, bool* integral) {
    const int64_t size = SimpleSize(type);
    const uint64_t raw = ReadData(size, field);
    *integral = true;
    switch (type) {
      case kTagShort: return static_cast<int16_t>(raw);
      case kTagUShort: return static_cast<uint16_t>(raw);
      case kTagLong: return static_cast<int32_t>(raw);
      case kTagULong: return static_cast<uint32_t>(raw);
      case kTagInt64: return static_cast<double>(static_cast<int64_t>(raw));
      case kTagUInt64: return static_cast<double>(raw);
      case kTagChar: return static_cast<int8_t>(raw);
      case kTagOctet: case kTagBool: return static_cast<uint8_t>(raw);
      case kTagFloat: {
        *integral = false;
        float value;
        const auto bits = static_cast<uint32_t>(raw);
        std::memcpy(&value, &bits, sizeof value);
        return value;
      }
      case kTagDouble: {
        *integral = false;
        double value;
        std::memcpy(&value, &raw, sizeof value);
        return value;
      }
      default: return 0;
    }
  }

  int NewNode(TagNode::Kind kind, std::string label) {
    TagNode node;
    node.kind = kind;
    node.label = std::move(label);
    nodes_.push_back(std::move(node));
    return static_cast<int>(nodes_.size() - 1);
  }

  int ParseGroup(std::string label, int depth) {
    if (depth > kMaxDepth) Fail(pos_, label, "tag groups nested too deeply");
    const int group = NewNode(TagNode::Kind::kGroup, std::move(label));
    ReadBig(1, "sorted");
    ReadBig(1, "open");
    const int64_t count_offset = pos_;
    const uint64_t tags = ReadBig(count_width_, "tag_count");
    for (uint64_t i = 0; i < tags; ++i) {
      // A tag needs its type, label length (and DM4 size); type 0 is the end-of-file padding.
      const int64_t min_tag = version_ == 4 ? 11 : 3;
      if (size_ - pos_ < min_tag) {
        Fail(count_offset, "tag_count",
             fmt::format("group '{}' declares {} tags; the file ends after {}",
                         nodes_[static_cast<size_t>(group)].label, tags, i));
      }
      const auto next = std::to_integer<int>(bytes_[static_cast<size_t>(pos_)]);
      if (next != 20 && next != 21) {
        Fail(count_offset, "tag_count",
             fmt::format("group '{}' declares {} tags; tag {} at offset {} has type {}",
                         nodes_[static_cast<size_t>(group)].label, tags, i, pos_, next));
      }
      const int child = ParseTag(depth + 1);
      nodes_[static_cast<size_t>(group)].children.push_back(child);
    }
    return group;
  }

  int ParseTag(int depth) {
    const int64_t tag_offset = pos_;
    const uint64_t type = ReadBig(1, "tag_type");
    const auto label_length = static_cast<int64_t>(ReadBig(2, "label_length"));
    Need(label_length, "label");
    std::string label(reinterpret_cast<const char*>(bytes_.data()) + pos_,
                      static_cast<size_t>(label_length));
    pos_ += label_length;
    if (version_ == 4) ReadBig(8, "tag_size");
    if (type == 20) return ParseGroup(std::move(label), depth);
    if (type == 21) return ParseData(std::move(label));
    Fail(tag_offset, "tag_type", fmt::format("unknown tag type {} (expected 20 or 21)", type));
  }

  int ParseData(std::string label) {
    const int64_t delimiter_offset = pos_;
    Need(4, label);
    if (std::memcmp(bytes_.data() + pos_, "%%%%", 4) != 0) {
      Fail(delimiter_offset, label, "missing '%%%%' before the tag's info array");
    }
    pos_ += 4;
    const int64_t info_offset = pos_;
    const uint64_t entries = ReadBig(count_width_, label);
    if (entries == 0 || entries > kMaxInfoEntries ||
        entries > static_cast<uint64_t>((size_ - pos_) / count_width_)) {
      Fail(info_offset, label, fmt::format("absurd info array length {}", entries));
    }
    std::vector<uint64_t> info(entries);
    for (auto& value : info) value = ReadBig(count_width_, label);
    const auto bad_info = [&]() {
      Fail(info_offset, label, fmt::format("unexpected info array [{}]", fmt::join(info, ", ")));
    };
    const uint64_t type = info[0];
    if (SimpleSize(type) > 0) {
      if (entries != 1) bad_info();
      const int node = NewNode(TagNode::Kind::kNumber, std::move(label));
      bool integral = false;
      const double value = ReadSimple(type, nodes_[static_cast<size_t>(node)].label, &integral);
      nodes_[static_cast<size_t>(node)].number = value;
      nodes_[static_cast<size_t>(node)].integral = integral;
      return node;
    }
    if (type == kTagString) {
      if (entries != 2) bad_info();
      const uint64_t chars = info[1];
      if (chars > static_cast<uint64_t>((size_ - pos_) / 2)) {
        Fail(info_offset, label, fmt::format("string of {} characters runs past the end", chars));
      }
      std::vector<uint16_t> units(chars);
      for (auto& unit : units) unit = static_cast<uint16_t>(ReadData(2, label));
      const int node = NewNode(TagNode::Kind::kString, std::move(label));
      nodes_[static_cast<size_t>(node)].text = Utf16ToUtf8(units);
      nodes_[static_cast<size_t>(node)].has_text = true;
      return node;
    }
    if (type == kTagStruct) {
      if (entries < 3) bad_info();
      const uint64_t fields = info[2];
      // Compare without multiplying a file value: 3 + 2 * fields wraps for fields >= 2^63.
      if (fields > (entries - 3) / 2 || entries != 3 + 2 * fields) bad_info();
      std::vector<uint64_t> field_types;
      for (uint64_t f = 0; f < fields; ++f) field_types.push_back(info[4 + 2 * f]);
      return ParseStruct(std::move(label), field_types, info_offset);
    }
    if (type == kTagArray) {
      if (entries < 3) bad_info();
      const uint64_t elem = info[1];
      if (elem == kTagStruct) {
        if (entries < 5) bad_info();
        const uint64_t fields = info[3];
        if (fields > (entries - 5) / 2 || entries != 5 + 2 * fields) bad_info();
        std::vector<uint64_t> field_types;
        int64_t struct_size = 0;
        for (uint64_t f = 0; f < fields; ++f) {
          field_types.push_back(info[5 + 2 * f]);
          const int64_t size = SimpleSize(field_types.back());
          if (size == 0) {
            throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                                  .message = fmt::format("tag '{}': struct field of type {}",
                                                         label, field_types.back()),
                                  .file = path_,
                                  .offset = info_offset,
                                  .field = label});
          }
          struct_size += size;
        }
        const uint64_t count = info[entries - 1];
        CheckArrayFits(count, struct_size, info_offset, label);
        const int node = NewNode(TagNode::Kind::kArray, std::move(label));
        auto fill = [&](TagNode& n) {
          n.elem_type = kTagStruct;
          n.count = static_cast<int64_t>(count);
          n.offset = pos_;
          n.bytes = static_cast<int64_t>(count) * struct_size;
        };
        fill(nodes_[static_cast<size_t>(node)]);
        if (static_cast<int64_t>(count) <= kMaxListedArray) {
          for (uint64_t i = 0; i < count; ++i) {
            const int child = ParseStruct("", field_types, info_offset);
            nodes_[static_cast<size_t>(node)].children.push_back(child);
          }
        } else {
          pos_ += static_cast<int64_t>(count) * struct_size;
        }
        return node;
      }
      const int64_t size = SimpleSize(elem);
      if (size == 0 || entries != 3) {
        throw Error(ErrorInfo{
            .code = ErrorCode::kUnsupported,
            .message = fmt::format("tag '{}': array info [{}] is not supported", label,
                                   fmt::join(info, ", ")),
            .file = path_,
            .offset = info_offset,
            .field = label});
      }
      const uint64_t count = info[2];
      CheckArrayFits(count, size, info_offset, label);
      const int node = NewNode(TagNode::Kind::kArray, std::move(label));
      TagNode& array = nodes_[static_cast<size_t>(node)];
      array.elem_type = elem;
      array.count = static_cast<int64_t>(count);
      array.offset = pos_;
      array.bytes = static_cast<int64_t>(count) * size;
      if (elem == kTagUShort && array.count <= kMaxTextArray && array.label != "Data") {
        std::vector<uint16_t> units(count);
        for (auto& unit : units) unit = static_cast<uint16_t>(ReadData(2, array.label));
        array.text = Utf16ToUtf8(units);
        array.has_text = true;
      } else if (array.count <= kMaxListedArray) {
        bool integral = false;
        for (uint64_t i = 0; i < count; ++i) {
          array.values.push_back(ReadSimple(elem, array.label, &integral));
        }
        array.integral = integral;
      } else {
        pos_ += array.bytes;
      }
      return node;
    }
    bad_info();
    return -1;
  }

  void CheckArrayFits(uint64_t count, int64_t item, int64_t info_offset, const std::string& label) {
    if (item <= 0 || count > static_cast<uint64_t>((size_ - pos_) / item)) {
      Fail(info_offset, label,
           fmt::format("array of {} elements of {} bytes at offset {} runs past the end of the "
                       "file ({} bytes)",
                       count, item, pos_, size_));
    }
  }

  int ParseStruct(std::string label, const std::vector<uint64_t>& field_types,
                  int64_t info_offset) {
    const int node = NewNode(TagNode::Kind::kGroup, std::move(label));
    for (const uint64_t type : field_types) {
      if (SimpleSize(type) == 0) {
        Fail(info_offset, nodes_[static_cast<size_t>(node)].label,
             fmt::format("struct field of unknown type {}", type));
      }
      bool integral = false;
      const double value = ReadSimple(type, nodes_[static_cast<size_t>(node)].label, &integral);
      const int child = NewNode(TagNode::Kind::kNumber, "");
      nodes_[static_cast<size_t>(child)].number = value;
      nodes_[static_cast<size_t>(child)].integral = integral;
      nodes_[static_cast<size_t>(node)].children.push_back(child);
    }
    return node;
  }

  const TagNode& At(int index) const { return nodes_[static_cast<size_t>(index)]; }

  int Child(int node, std::string_view label) const {
    if (node < 0 || At(node).kind != TagNode::Kind::kGroup) return -1;
    for (const int child : At(node).children) {
      if (At(child).label == label) return child;
    }
    return -1;
  }

  int Path(int node, std::initializer_list<std::string_view> labels) const {
    for (const auto label : labels) node = Child(node, label);
    return node;
  }

  std::optional<double> Number(int node) const {
    if (node < 0 || At(node).kind != TagNode::Kind::kNumber) return std::nullopt;
    return At(node).number;
  }

  std::string Text(int node) const {
    if (node < 0 || !At(node).has_text) return "";
    return At(node).text;
  }

  void CollectImages(int root, DmFile& file) const {
    const int list = Child(root, "ImageList");
    if (list < 0) return;
    int index = 0;
    for (const int image : At(list).children) {
      const int data_group = Child(image, "ImageData");
      const int data = Child(data_group, "Data");
      if (data >= 0 && At(data).kind == TagNode::Kind::kArray) {
        DmImageInfo info;
        info.index = index;
        info.data_type = static_cast<int>(Number(Child(data_group, "DataType")).value_or(0));
        info.data_offset = At(data).offset;
        info.data_bytes = At(data).bytes;
        const int dims = Child(data_group, "Dimensions");
        if (dims >= 0) {
          for (const int dim : At(dims).children) {
            info.dm_dims.push_back(static_cast<int64_t>(Number(dim).value_or(-1)));
          }
        }
        const int calibrations = Path(data_group, {"Calibrations", "Dimension"});
        if (calibrations >= 0) {
          for (const int dim : At(calibrations).children) {
            info.scales.push_back(Number(Child(dim, "Scale")).value_or(1.0));
            info.origins.push_back(Number(Child(dim, "Origin")).value_or(0.0));
            info.units.push_back(Text(Child(dim, "Units")));
          }
        }
        info.signal_type = Text(Path(image, {"ImageTags", "Meta Data", "Signal"}));
        info.name = Text(Child(image, "Name"));
        file.images.push_back(std::move(info));
      }
      ++index;
    }
    // The preview image is listed under Thumbnails; files without that list put it first.
    const int thumbnails = Child(root, "Thumbnails");
    if (thumbnails >= 0) {
      for (const int thumb : At(thumbnails).children) {
        const auto listed = Number(Child(thumb, "ImageIndex"));
        for (auto& each : file.images) {
          if (listed && each.index == static_cast<int>(*listed)) each.thumbnail = true;
        }
      }
    } else if (file.images.size() > 1 && file.images[0].data_type == 23) {
      file.images[0].thumbnail = true;
    }
  }

  nlohmann::json ToJson(int index) const {
    const TagNode& node = At(index);
    switch (node.kind) {
      case TagNode::Kind::kNumber:
        if (node.integral) return static_cast<int64_t>(node.number);
        return node.number;
      case TagNode::Kind::kString:
        return node.text;
      case TagNode::Kind::kArray: {
        if (node.has_text) return node.text;
        if (node.elem_type == kTagStruct && !node.children.empty()) break;
        if (node.count > kMaxListedArray || node.elem_type == kTagStruct) {
          return fmt::format("<array of {} {}>", node.count, SimpleName(node.elem_type));
        }
        nlohmann::json list = nlohmann::json::array();
        for (const double value : node.values) {
          if (node.integral) {
            list.push_back(static_cast<int64_t>(value));
          } else {
            list.push_back(value);
          }
        }
        return list;
      }
      case TagNode::Kind::kGroup:
        break;
    }
    const bool unnamed = std::all_of(node.children.begin(), node.children.end(),
                                     [&](int child) { return At(child).label.empty(); });
    if (unnamed && (!node.children.empty() || node.kind == TagNode::Kind::kArray)) {
      nlohmann::json list = nlohmann::json::array();
      for (const int child : node.children) list.push_back(ToJson(child));
      return list;
    }
    nlohmann::json object = nlohmann::json::object();
    int position = 0;
    for (const int child : node.children) {
      const std::string& label = At(child).label;
      object[label.empty() ? fmt::format("[{}]", position) : label] = ToJson(child);
      ++position;
    }
    return object;
  }

  std::span<const std::byte> bytes_;
  int64_t size_ = 0;
  const std::string& path_;
  int64_t pos_ = 0;
  int version_ = 0;
  int count_width_ = 4;
  bool little_endian_ = true;
  std::vector<TagNode> nodes_;
};

/// Return the dtype of DM DataType `code`, or nullopt for codes this reader does not decode.
std::optional<DType> DTypeOfDm(int code) {
  switch (code) {
    case 1: return DType::kInt16;
    case 2: return DType::kFloat32;
    case 3: return DType::kComplex64;
    case 6: return DType::kUint8;
    case 7: return DType::kInt32;
    case 9: return DType::kInt8;
    case 10: return DType::kUint16;
    case 11: return DType::kUint32;
    case 12: return DType::kFloat64;
    case 13: return DType::kComplex128;
    case 14: return DType::kBool;
    default: return std::nullopt;
  }
}

bool IsSpectral(const std::string& signal_type) {
  return signal_type == "EELS" || signal_type == "X-ray" || signal_type == "EDS" ||
         signal_type == "CL";
}

/// A spectrum image stored energy-slowest ([x, y, E] fastest first): each frame (one spectrum)
/// gathers elements `spatial` apart.
class DmSpectrumImageDataset final : public dataset::Dataset {
 public:
  DmSpectrumImageDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
                         int64_t data_offset, bool byteswap)
      : meta_(std::move(meta)),
        file_(std::move(file)),
        data_offset_(data_offset),
        byteswap_(byteswap && SizeOf(meta_.dtype) > 1) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    if (!internal::BeginRead(meta_, frame_begin, frame_end, sig, dst_dtype)) return;
    const int64_t count = (frame_end - frame_begin) * sig.size();
    const int64_t item = SizeOf(meta_.dtype);
    const int64_t spatial = meta_.shape.nav_size();
    std::vector<uint64_t> gathered(static_cast<size_t>((count * item + 7) / 8));
    auto* out = reinterpret_cast<std::byte*>(gathered.data());
    const std::byte* base = file_->bytes().data() + data_offset_;
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      for (int64_t e = sig.begin; e < sig.end; ++e) {
        std::memcpy(out, base + (e * spatial + frame) * item, static_cast<size_t>(item));
        out += item;
      }
    }
    ConvertElements(gathered.data(), meta_.dtype, byteswap_, dst, dst_dtype, count);
  }

 private:
  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
  int64_t data_offset_ = 0;
  bool byteswap_ = false;
};

/// A DM "packed complex" FFT (DataType 27/28): each frame of ny rows x (nx/2 + 1) stored complex
/// values is unpacked to ny x nx on read.
class DmPackedComplexDataset final : public dataset::Dataset {
 public:
  DmPackedComplexDataset(dataset::DatasetMeta meta, std::shared_ptr<const io::MappedFile> file,
                         int64_t data_offset, int64_t ny, int64_t nx, bool byteswap)
      : meta_(std::move(meta)),
        file_(std::move(file)),
        data_offset_(data_offset),
        ny_(ny),
        nx_(nx),
        byteswap_(byteswap) {}

  const dataset::DatasetMeta& meta() const override { return meta_; }

  void ReadFrames(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
                  DType dst_dtype) const override {
    internal::CheckRead(meta_, frame_begin, frame_end, sig, dst_dtype);
    if (meta_.dtype == DType::kComplex64) {
      Read<std::complex<float>>(frame_begin, frame_end, sig, dst, dst_dtype);
    } else {
      Read<std::complex<double>>(frame_begin, frame_end, sig, dst, dst_dtype);
    }
  }

 private:
  template <class T>
  void Read(int64_t frame_begin, int64_t frame_end, dataset::SigRange sig, void* dst,
            DType dst_dtype) const {
    const int64_t packed_count = ny_ * (nx_ / 2 + 1);
    std::vector<T> packed(static_cast<size_t>(packed_count));
    std::vector<T> full(static_cast<size_t>(ny_ * nx_));
    auto* out = static_cast<std::byte*>(dst);
    const int64_t out_frame_bytes = sig.size() * SizeOf(dst_dtype);
    for (int64_t frame = frame_begin; frame < frame_end; ++frame) {
      // The mapped bytes may be unaligned and byte-swapped: decode them into `packed` first.
      internal::ConvertFromFile(
          file_->bytes().data() + data_offset_ + frame * packed_count * SizeOf(meta_.dtype),
          meta_.dtype, byteswap_, reinterpret_cast<std::byte*>(packed.data()), meta_.dtype,
          packed_count);
      UnpackDmPackedComplex(packed.data(), ny_, nx_, full.data());
      ConvertElements(full.data() + sig.begin, meta_.dtype, false,
                      out + (frame - frame_begin) * out_frame_bytes, dst_dtype, sig.size());
    }
  }

  dataset::DatasetMeta meta_;
  std::shared_ptr<const io::MappedFile> file_;
  int64_t data_offset_ = 0;
  int64_t ny_ = 1;
  int64_t nx_ = 1;
  bool byteswap_ = false;
};

[[noreturn]] void ThrowUnsupportedType(const std::string& path, const DmImageInfo& image,
                                       const std::string& why) {
  throw Error(ErrorInfo{
      .code = ErrorCode::kUnsupported,
      .message = fmt::format("image {} has DM DataType {} ({}), not supported yet", image.index,
                             image.data_type, why),
      .file = path,
      .offset = image.data_offset,
      .field = "DataType"});
}

std::string AxisName(int dm_dim, bool spectral_axis, const std::string& signal_type) {
  if (spectral_axis) return signal_type == "EELS" ? "Energy loss" : "Energy";
  static const char* const kNames[] = {"x", "y", "z"};
  return dm_dim < 3 ? kNames[dm_dim] : fmt::format("dim{}", dm_dim);
}

}  // namespace

DmFile ParseDm(std::span<const std::byte> bytes, const std::string& path) {
  return TagParser(bytes, path).Parse();
}

std::unique_ptr<dataset::Dataset> OpenDm(const std::string& path, int image) {
  auto file = io::MappedFile::Open(path);
  const DmFile dm = ParseDm(file->bytes(), path);
  if (dm.images.empty()) {
    throw Error::CorruptFile(path, 0, "ImageList", "no image with a Data array in ImageList");
  }
  size_t chosen = 0;
  if (image < 0) {
    int64_t best = -1;
    const bool all_thumbnails =
        std::all_of(dm.images.begin(), dm.images.end(),
                    [](const DmImageInfo& each) { return each.thumbnail; });
    for (size_t i = 0; i < dm.images.size(); ++i) {
      if (dm.images[i].thumbnail && !all_thumbnails) continue;
      int64_t elements = 1;
      for (const int64_t dim : dm.images[i].dm_dims) elements *= std::max<int64_t>(dim, 0);
      if (dm.images[i].dm_dims.empty()) elements = 0;
      if (elements >= best) {
        best = elements;
        chosen = i;
      }
    }
  } else {
    const auto it = std::find_if(dm.images.begin(), dm.images.end(),
                                 [&](const DmImageInfo& info) { return info.index == image; });
    if (it == dm.images.end()) {
      throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                            .message = fmt::format("no image {} in the file ({} images)", image,
                                                   dm.images.size()),
                            .file = path,
                            .field = "image"});
    }
    chosen = static_cast<size_t>(it - dm.images.begin());
  }
  DmImageInfo info = dm.images[chosen];
  // Axes of size 1 carry nothing (a spectrum is stored as [channels, 1]): drop them, except in
  // packed complex FFTs, whose first two dimensions define the packing.
  const bool keep_unit_axes = info.data_type == 27 || info.data_type == 28;
  for (size_t d = info.dm_dims.size(); d-- > 0 && info.dm_dims.size() > 1 && !keep_unit_axes;) {
    if (info.dm_dims[d] != 1) continue;
    info.dm_dims.erase(info.dm_dims.begin() + static_cast<std::ptrdiff_t>(d));
    if (d < info.scales.size()) {
      info.scales.erase(info.scales.begin() + static_cast<std::ptrdiff_t>(d));
      info.origins.erase(info.origins.begin() + static_cast<std::ptrdiff_t>(d));
      info.units.erase(info.units.begin() + static_cast<std::ptrdiff_t>(d));
    }
  }
  const int rank = static_cast<int>(info.dm_dims.size());
  if (rank < 1 || rank > kMaxRank - 1) {
    throw Error::CorruptFile(path, info.data_offset, "Dimensions",
                             fmt::format("image {} has {} dimensions", info.index, rank));
  }
  const bool rgba = info.data_type == 23;
  // Packed complex FFTs: Dimensions give the full (unpacked) size; Data holds about half of it.
  const bool packed = info.data_type == 27 || info.data_type == 28;
  const std::optional<DType> dtype =
      rgba     ? std::optional<DType>(DType::kUint8)
      : packed ? std::optional<DType>(info.data_type == 27 ? DType::kComplex64
                                                           : DType::kComplex128)
               : DTypeOfDm(info.data_type);
  if (!dtype) {
    const int code = info.data_type;
    ThrowUnsupportedType(path, info,
                         code == 5 ? "old-style packed complex FFT"
                         : code == 8 || code == 24         ? "RGB"
                                                           : "unknown code");
  }
  const int64_t item = rgba ? 4 : SizeOf(*dtype);
  int64_t elements = 1;
  for (const int64_t dim : info.dm_dims) {
    if (dim <= 0 || elements > std::numeric_limits<int64_t>::max() / 16 / dim) {
      throw Error::CorruptFile(
          path, info.data_offset, "Dimensions",
          fmt::format("image {} has {} dimensions [{}]", info.index, dim <= 0 ? "empty" : "absurd",
                      fmt::join(info.dm_dims, ", ")));
    }
    elements *= dim;
  }
  // Stored elements: a packed complex frame keeps nx/2 + 1 of each row's nx values.
  const int64_t packed_nx = info.dm_dims[0];
  const int64_t stored = packed && packed_nx > 0 ? elements / packed_nx * (packed_nx / 2 + 1)
                                                 : elements;
  if (stored * item > info.data_bytes) {
    if (packed) {
      throw Error::CorruptFile(
          path, info.data_offset, "Data",
          fmt::format("image {}: packed complex FFT of dimensions [{}] needs {} values of {} "
                      "bytes ({} per row of {}), Data holds {} bytes",
                      info.index, fmt::join(info.dm_dims, ", "), stored, item,
                      packed_nx / 2 + 1, packed_nx, info.data_bytes));
    }
    if (IsComplex(*dtype)) ThrowUnsupportedType(path, info, "packed complex FFT layout");
    throw Error::CorruptFile(
        path, info.data_offset, "Data",
        fmt::format("image {}: dimensions [{}] of DataType {} need {} bytes, Data holds {}",
                    info.index, fmt::join(info.dm_dims, ", "), info.data_type, elements * item,
                    info.data_bytes));
  }

  // NumPy order is DM order reversed; a spectrum image moves its energy axis (DM's slowest) last.
  std::vector<int> order;  // DM dim index of each dataset axis
  for (int d = rank - 1; d >= 0; --d) order.push_back(d);
  const bool spectral = IsSpectral(info.signal_type);
  const bool move_energy = spectral && rank >= 2;
  if (move_energy) std::rotate(order.begin(), order.begin() + 1, order.end());
  int sig_dims = spectral ? 1 : std::min(2, rank);
  std::vector<int64_t> dims;
  for (const int d : order) dims.push_back(info.dm_dims[static_cast<size_t>(d)]);

  dataset::DatasetMeta meta;
  meta.format = "dm";
  meta.path = path;
  meta.dtype = *dtype;
  for (const int d : order) {
    const auto du = static_cast<size_t>(d);
    dataset::Axis axis;
    axis.name = AxisName(d, spectral && d == (move_energy ? rank - 1 : 0), info.signal_type);
    axis.size = info.dm_dims[du];
    if (du < info.scales.size()) {
      axis.scale = info.scales[du];
      axis.offset = -info.origins[du] * info.scales[du];
      axis.units = info.units[du];
    }
    meta.axes.push_back(axis);
  }
  if (rgba) {
    dims.push_back(4);
    ++sig_dims;
    meta.axes.push_back(dataset::Axis{.name = "channel", .size = 4});
  }
  const auto split = dims.end() - sig_dims;
  meta.shape = Shape({dims.begin(), split}, {split, dims.end()});
  meta.files = {dataset::InputFile{.path = path, .size = file->size()}};
  nlohmann::json images = nlohmann::json::array();
  for (const auto& each : dm.images) {
    images.push_back({{"index", each.index},
                      {"name", each.name},
                      {"data_type", each.data_type},
                      {"dimensions", each.dm_dims},
                      {"signal_type", each.signal_type},
                      {"thumbnail", each.thumbnail},
                      {"data_offset", each.data_offset}});
  }
  nlohmann::json metadata = {{"dm_version", dm.version},
                             {"image", info.index},
                             {"images", images},
                             {"tags", nlohmann::json::parse(dm.tags_json)}};
  meta.metadata_json = metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

  const bool byteswap = dm.little_endian != internal::kHostLittleEndian;
  if (packed) {
    const int64_t ny = rank >= 2 ? info.dm_dims[1] : 1;
    if (spectral || packed_nx <= 0 || ny <= 0) {
      throw Error::CorruptFile(path, info.data_offset, "Dimensions",
                               fmt::format("image {}: a packed complex FFT must be an image "
                                           "(or a stack of images), got dimensions [{}]",
                                           info.index, fmt::join(info.dm_dims, ", ")));
    }
    return std::make_unique<DmPackedComplexDataset>(std::move(meta), std::move(file),
                                                    info.data_offset, ny, packed_nx, byteswap);
  }
  const int64_t spatial = meta.shape.nav_size();
  if (move_energy && spatial > 1) {
    return std::make_unique<DmSpectrumImageDataset>(std::move(meta), std::move(file),
                                                    info.data_offset, byteswap);
  }
  return std::make_unique<internal::MappedArrayDataset>(std::move(meta), std::move(file),
                                                        info.data_offset, byteswap);
}

FormatEntry DmFormatEntry() {
  FormatEntry entry;
  entry.name = "dm";
  entry.extensions = {".dm3", ".dm4"};
  entry.summary =
      "Gatan DigitalMicrograph DM3/DM4 image, stack or spectrum image (largest image by "
      "default), zero copy where contiguous";
  entry.params = {
      {.name = "image", .type = "int",
       .help = "index in the file's ImageList of the image to open (-1: the largest)",
       .default_value = "-1"},
  };
  entry.sniff = [](std::span<const std::byte> head, const std::string& /*path*/) {
    const auto at = [&](size_t i) { return std::to_integer<unsigned>(head[i]); };
    if (head.size() < 24 || at(0) != 0 || at(1) != 0 || at(2) != 0) return false;
    const unsigned version = at(3);
    if (version != 3 && version != 4) return false;
    const size_t order = version == 3 ? 8 : 12;  // byte-order flag, big-endian 0 or 1
    if (at(order) != 0 || at(order + 1) != 0 || at(order + 2) != 0 || at(order + 3) > 1) {
      return false;
    }
    return at(order + 4) <= 1 && at(order + 5) <= 1;  // root group: sorted, open
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    int image = -1;
    if (auto text = internal::FindParam(params, "image")) {
      const int64_t value = internal::ParseIntParam(*text, "image");
      if (value < -1 || value > std::numeric_limits<int>::max()) {
        throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                              .message = fmt::format("image {} is out of range", value),
                              .file = path,
                              .field = "image"});
      }
      image = static_cast<int>(value);
    }
    return OpenDm(path, image);
  };
  return entry;
}

}  // namespace tessera::formats
