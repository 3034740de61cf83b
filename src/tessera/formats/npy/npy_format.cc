// SPDX-License-Identifier: MIT
#include "tessera/formats/npy/npy_format.h"

#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tessera/core/error.h"
#include "tessera/formats/mapped_array_internal.h"
#include "tessera/formats/output_file_internal.h"
#include "tessera/formats/params_internal.h"
#include "tessera/io/atomic_file.h"
#include "tessera/io/mapped_file.h"

namespace tessera::formats {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr int kMaxDepth = 16;

/// A Python literal as NumPy writes it in NPY headers.
struct PyValue {
  enum class Kind { kString, kBool, kNone, kInt, kSequence, kDict };
  Kind kind = Kind::kNone;
  std::string text;
  bool boolean = false;
  int64_t integer = 0;
  std::vector<PyValue> items;
  // A dict as parallel key and value lists (std::pair of an incomplete type is not portable).
  std::vector<std::string> keys;
  std::vector<PyValue> values;
};

/// A small recursive-descent parser for the dict literal of an NPY header. Every error names
/// the byte offset in the file.
class LiteralParser {
 public:
  LiteralParser(std::string_view text, int64_t base_offset, const std::string& path)
      : text_(text), base_offset_(base_offset), path_(path) {}

  PyValue ParseTopLevel() {
    PyValue value = ParseValue(0);
    SkipSpace();
    if (pos_ != text_.size()) Fail("unexpected text after the header dict");
    return value;
  }

 private:
  [[noreturn]] void Fail(const std::string& message) const {
    throw Error::CorruptFile(path_, base_offset_ + static_cast<int64_t>(pos_), "header",
                             message);
  }
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool ConsumeWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  PyValue ParseValue(int depth) {
    if (depth > kMaxDepth) Fail("header nested too deeply");
    SkipSpace();
    if (pos_ >= text_.size()) Fail("header ends early");
    const char c = text_[pos_];
    PyValue value;
    if (c == '\'' || c == '"') {
      value.kind = PyValue::Kind::kString;
      value.text = ParseString();
    } else if (c == '{') {
      value.kind = PyValue::Kind::kDict;
      ParseDict(value, depth);
    } else if (c == '(' || c == '[') {
      value.kind = PyValue::Kind::kSequence;
      ParseSequence(value, c == '(' ? ')' : ']', depth);
    } else if (ConsumeWord("True")) {
      value.kind = PyValue::Kind::kBool;
      value.boolean = true;
    } else if (ConsumeWord("False")) {
      value.kind = PyValue::Kind::kBool;
    } else if (ConsumeWord("None")) {
      value.kind = PyValue::Kind::kNone;
    } else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
      value.kind = PyValue::Kind::kInt;
      value.integer = ParseInt();
    } else {
      Fail(fmt::format("unexpected character '{}' in header", c));
    }
    return value;
  }

  std::string ParseString() {
    const char quote = text_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) Fail("unterminated string in header");
      const char c = text_[pos_++];
      if (c == quote) return out;
      if (c == '\\') {
        if (pos_ >= text_.size()) Fail("unterminated string in header");
        out += text_[pos_++];
      } else {
        out += c;
      }
    }
  }

  int64_t ParseInt() {
    bool negative = false;
    if (text_[pos_] == '-' || text_[pos_] == '+') negative = text_[pos_++] == '-';
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') Fail("bad integer");
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) Fail("integer too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 longs
    return negative ? -value : value;
  }

  void ParseSequence(PyValue& value, char close, int depth) {
    ++pos_;
    while (true) {
      if (Consume(close)) return;
      value.items.push_back(ParseValue(depth + 1));
      if (Consume(',')) continue;
      if (Consume(close)) return;
      Fail(fmt::format("expected ',' or '{}' in header", close));
    }
  }

  void ParseDict(PyValue& value, int depth) {
    ++pos_;
    while (true) {
      if (Consume('}')) return;
      SkipSpace();
      if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
        Fail("expected a quoted key in the header dict");
      }
      std::string key = ParseString();
      if (!Consume(':')) Fail(fmt::format("expected ':' after key '{}'", key));
      value.keys.push_back(std::move(key));
      value.values.push_back(ParseValue(depth + 1));
      if (Consume(',')) continue;
      if (Consume('}')) return;
      Fail("expected ',' or '}' in the header dict");
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int64_t base_offset_ = 0;
  const std::string& path_;
};

uint32_t ReadLittleEndian(std::span<const std::byte> bytes, size_t offset, int width) {
  uint32_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | std::to_integer<uint32_t>(bytes[offset + static_cast<size_t>(i)]);
  }
  return value;
}

const PyValue* FindKey(const PyValue& dict, std::string_view key) {
  for (size_t i = 0; i < dict.keys.size(); ++i) {
    if (dict.keys[i] == key) return &dict.values[i];
  }
  return nullptr;
}

}  // namespace

NpyHeader ParseNpyHeader(std::span<const std::byte> bytes, const std::string& path) {
  const auto as_text = [&](size_t offset, size_t length) {
    return std::string_view(reinterpret_cast<const char*>(bytes.data()) + offset, length);
  };
  if (bytes.size() < kMagic.size() || as_text(0, kMagic.size()) != kMagic) {
    throw Error::CorruptFile(path, 0, "magic", "not an NPY file (bad magic, expected \\x93NUMPY)");
  }
  if (bytes.size() < 10) {
    throw Error::CorruptFile(path, static_cast<int64_t>(bytes.size()), "header_len",
                             "file ends inside the NPY preamble");
  }
  NpyHeader header;
  header.version_major = std::to_integer<int>(bytes[6]);
  const int version_minor = std::to_integer<int>(bytes[7]);
  if (header.version_major < 1 || header.version_major > 3) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("NPY version {}.{} is not supported (1.0 to 3.0)",
                                                 header.version_major, version_minor),
                          .file = path,
                          .offset = 6,
                          .field = "version"});
  }
  const int len_width = header.version_major == 1 ? 2 : 4;
  const size_t prefix = 8 + static_cast<size_t>(len_width);
  if (bytes.size() < prefix) {
    throw Error::CorruptFile(path, static_cast<int64_t>(bytes.size()), "header_len",
                             "file ends inside the NPY preamble");
  }
  const uint32_t header_len = ReadLittleEndian(bytes, 8, len_width);
  if (bytes.size() - prefix < header_len) {
    throw Error::CorruptFile(path, 8, "header_len",
                             fmt::format("header of {} bytes runs past the end of the file ({} "
                                         "bytes)",
                                         header_len, bytes.size()));
  }
  header.data_offset = static_cast<int64_t>(prefix + header_len);
  const std::string_view text = as_text(prefix, header_len);
  // Non-ASCII bytes can only occur inside strings; the parser treats them as plain characters.
  const PyValue dict = LiteralParser(text, static_cast<int64_t>(prefix), path).ParseTopLevel();
  if (dict.kind != PyValue::Kind::kDict) {
    throw Error::CorruptFile(path, static_cast<int64_t>(prefix), "header",
                             "header is not a Python dict");
  }
  const auto require = [&](std::string_view key, PyValue::Kind kind, const char* what) {
    const PyValue* value = FindKey(dict, key);
    if (value == nullptr) {
      throw Error::CorruptFile(path, static_cast<int64_t>(prefix), std::string(key),
                               fmt::format("header has no '{}' key", key));
    }
    if (value->kind != kind) {
      if (key == "descr" && value->kind == PyValue::Kind::kSequence) {
        throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                              .message = "structured (record) dtypes are not supported",
                              .file = path,
                              .offset = static_cast<int64_t>(prefix),
                              .field = "descr"});
      }
      throw Error::CorruptFile(path, static_cast<int64_t>(prefix), std::string(key),
                               fmt::format("'{}' must be {}", key, what));
    }
    return value;
  };
  const PyValue* descr = require("descr", PyValue::Kind::kString, "a string");
  const PyValue* fortran = require("fortran_order", PyValue::Kind::kBool, "True or False");
  const PyValue* shape = require("shape", PyValue::Kind::kSequence, "a tuple of integers");

  const auto dtype = ParseNumpyTypestr(descr->text, &header.big_endian);
  if (!dtype) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("dtype '{}' is not supported", descr->text),
                          .file = path,
                          .offset = static_cast<int64_t>(prefix),
                          .field = "descr"});
  }
  header.dtype = *dtype;
  header.fortran_order = fortran->boolean;
  if (shape->items.size() > static_cast<size_t>(kMaxRank)) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = fmt::format("rank {} is above {}", shape->items.size(),
                                                 kMaxRank),
                          .file = path,
                          .offset = static_cast<int64_t>(prefix),
                          .field = "shape"});
  }
  int64_t elements = 1;
  for (const PyValue& dim : shape->items) {
    if (dim.kind != PyValue::Kind::kInt || dim.integer < 0) {
      throw Error::CorruptFile(path, static_cast<int64_t>(prefix), "shape",
                               "'shape' must be a tuple of non-negative integers");
    }
    if (dim.integer > 0 && elements > std::numeric_limits<int64_t>::max() / 16 / dim.integer) {
      throw Error::CorruptFile(path, static_cast<int64_t>(prefix), "shape", "shape too large");
    }
    elements *= dim.integer;
    header.shape.push_back(dim.integer);
  }
  return header;
}

std::unique_ptr<dataset::Dataset> OpenNpy(const std::string& path, int sig_dims) {
  auto file = io::MappedFile::Open(path);
  const NpyHeader header = ParseNpyHeader(file->bytes(), path);
  int non_trivial_axes = 0;
  for (const int64_t dim : header.shape) non_trivial_axes += dim > 1 ? 1 : 0;
  if (header.fortran_order && non_trivial_axes > 1) {
    throw Error(ErrorInfo{.code = ErrorCode::kUnsupported,
                          .message = "Fortran-order arrays are not supported; save it with "
                                     "numpy.ascontiguousarray first",
                          .file = path,
                          .offset = 0,
                          .field = "fortran_order"});
  }
  const int rank = static_cast<int>(header.shape.size());
  if (sig_dims < 0) sig_dims = std::min(2, rank);
  if (sig_dims > rank) {
    throw Error(ErrorInfo{
        .code = ErrorCode::kInvalidArgument,
        .message = fmt::format("sig_dims {} for an array of rank {}", sig_dims, rank),
        .file = path,
        .field = "sig_dims"});
  }
  dataset::DatasetMeta meta;
  meta.format = "npy";
  meta.path = path;
  const auto split = header.shape.end() - sig_dims;
  meta.shape = Shape({header.shape.begin(), split}, {split, header.shape.end()});
  meta.dtype = header.dtype;
  meta.axes = dataset::DefaultAxes(meta.shape);
  meta.files = {dataset::InputFile{.path = path, .size = file->size()}};
  const int64_t needed = meta.shape.size() * SizeOf(header.dtype);
  if (file->size() - header.data_offset < needed) {
    throw Error::CorruptFile(
        path, header.data_offset, "shape",
        fmt::format("data is truncated: shape ({}) of {} needs {} bytes from offset {}, the "
                    "file has {}",
                    fmt::join(header.shape, ", "), Name(header.dtype), needed, header.data_offset,
                    file->size() - header.data_offset));
  }
  const bool byteswap = header.big_endian == internal::kHostLittleEndian;
  return std::make_unique<internal::MappedArrayDataset>(std::move(meta), std::move(file),
                                                        header.data_offset, byteswap);
}

std::string MakeNpyHeader(DType dtype, std::span<const int64_t> shape) {
  std::string shape_text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    shape_text += fmt::format("{}{}", i == 0 ? "" : ", ", shape[i]);
  }
  shape_text += shape.size() == 1 ? ",)" : ")";
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 NumpyTypestr(dtype), shape_text);
  const bool v2 = dict.size() + 1 + 10 > 65535;
  const size_t prefix = v2 ? 12 : 10;
  const size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  const auto len = static_cast<uint32_t>(dict.size());
  for (size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + dict;
}

void WriteNpy(const std::string& path, const NdArray& array) {
  io::AtomicFile atomic = io::AtomicFile::Create(path);
  internal::OutputFile out(atomic.temp_path(), path);
  out.Write(MakeNpyHeader(array.dtype(), array.shape()));
  out.Write(std::span<const std::byte>(static_cast<const std::byte*>(array.raw()),
                                       static_cast<size_t>(array.nbytes())));
  out.Close();
  atomic.Commit();
}

FormatEntry NpyFormatEntry() {
  FormatEntry entry;
  entry.name = "npy";
  entry.extensions = {".npy"};
  entry.summary = "NumPy .npy array (versions 1.0 to 3.0), read zero copy from a memory map";
  entry.params = {
      {.name = "sig_dims", .type = "int",
       .help = "number of trailing axes that form the signal (frame)", .default_value = "2"},
  };
  entry.sniff = [](std::span<const std::byte> head, const std::string& /*path*/) {
    return head.size() >= kMagic.size() &&
           std::memcmp(head.data(), kMagic.data(), kMagic.size()) == 0;
  };
  entry.open = [](const std::string& path, const OpenParams& params) {
    int sig_dims = -1;
    if (auto text = internal::FindParam(params, "sig_dims")) {
      const int64_t value = internal::ParseIntParam(*text, "sig_dims");
      sig_dims = value < 0 || value > kMaxRank ? -1 : static_cast<int>(value);
      if (sig_dims < 0 || sig_dims > kMaxRank) {
        throw Error(ErrorInfo{.code = ErrorCode::kInvalidArgument,
                              .message = fmt::format("sig_dims {} outside [0, {}]", *text,
                                                     kMaxRank),
                              .file = path,
                              .field = "sig_dims"});
      }
    }
    return OpenNpy(path, sig_dims);
  };
  return entry;
}

}  // namespace tessera::formats
