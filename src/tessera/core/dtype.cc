// SPDX-License-Identifier: MIT
#include "tessera/core/dtype.h"

#include <array>

namespace tessera {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  char kind;  // NumPy kind character
  int64_t size;
};

constexpr std::array<DTypeInfo, 13> kInfos = {{
    {DType::kBool, "bool", 'b', 1},
    {DType::kInt8, "int8", 'i', 1},
    {DType::kUint8, "uint8", 'u', 1},
    {DType::kInt16, "int16", 'i', 2},
    {DType::kUint16, "uint16", 'u', 2},
    {DType::kInt32, "int32", 'i', 4},
    {DType::kUint32, "uint32", 'u', 4},
    {DType::kInt64, "int64", 'i', 8},
    {DType::kUint64, "uint64", 'u', 8},
    {DType::kFloat32, "float32", 'f', 4},
    {DType::kFloat64, "float64", 'f', 8},
    {DType::kComplex64, "complex64", 'c', 8},
    {DType::kComplex128, "complex128", 'c', 16},
}};

const DTypeInfo& Info(DType dtype) { return kInfos[static_cast<size_t>(dtype)]; }

}  // namespace

int64_t SizeOf(DType dtype) { return Info(dtype).size; }
std::string_view Name(DType dtype) { return Info(dtype).name; }

std::optional<DType> ParseDType(std::string_view text) {
  for (const auto& info : kInfos) {
    if (info.name == text) return info.dtype;
  }
  struct Alias {
    std::string_view alias;
    DType dtype;
  };
  static constexpr Alias kAliases[] = {
      {"f4", DType::kFloat32},  {"float", DType::kFloat32},  {"single", DType::kFloat32},
      {"f8", DType::kFloat64},  {"double", DType::kFloat64}, {"u1", DType::kUint8},
      {"u2", DType::kUint16},   {"u4", DType::kUint32},      {"u8", DType::kUint64},
      {"i1", DType::kInt8},     {"i2", DType::kInt16},       {"i4", DType::kInt32},
      {"i8", DType::kInt64},    {"c8", DType::kComplex64},   {"c16", DType::kComplex128},
      {"b1", DType::kBool},
  };
  for (const auto& alias : kAliases) {
    if (alias.alias == text) return alias.dtype;
  }
  return std::nullopt;
}

std::string NumpyTypestr(DType dtype) {
  const auto& info = Info(dtype);
  std::string out;
  out += info.size == 1 ? '|' : '<';
  out += info.kind;
  out += std::to_string(info.size);
  return out;
}

std::optional<DType> ParseNumpyTypestr(std::string_view typestr, bool* big_endian) {
  if (typestr.size() < 3) return std::nullopt;
  const char order = typestr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') return std::nullopt;
  const char kind = typestr[1];
  int64_t size = 0;
  for (char c : typestr.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    size = size * 10 + (c - '0');
    if (size > 64) return std::nullopt;
  }
  for (const auto& info : kInfos) {
    if (info.kind == kind && info.size == size) {
      if (big_endian != nullptr) *big_endian = order == '>' && size > 1;
      return info.dtype;
    }
  }
  return std::nullopt;
}

bool IsFloating(DType dtype) { return Info(dtype).kind == 'f'; }
bool IsComplex(DType dtype) { return Info(dtype).kind == 'c'; }
bool IsInteger(DType dtype) {
  const char kind = Info(dtype).kind;
  return kind == 'i' || kind == 'u';
}

}  // namespace tessera
