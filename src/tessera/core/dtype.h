// SPDX-License-Identifier: MIT
#pragma once

#include <complex>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

/// Element types of datasets and result buffers.
enum class DType : uint8_t {
  kBool,
  kInt8,
  kUint8,
  kInt16,
  kUint16,
  kInt32,
  kUint32,
  kInt64,
  kUint64,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
};

/// Return the size of one element in bytes.
int64_t SizeOf(DType dtype);
/// Return the NumPy name ("float32", "uint16", ...).
std::string_view Name(DType dtype);
/// Parse a NumPy name or a short alias ("f4", "u2", "float", "double").
std::optional<DType> ParseDType(std::string_view text);
/// Return the NumPy array-interface type string for little-endian data ("<f4", "|u1").
std::string NumpyTypestr(DType dtype);
/// Parse a NumPy type string ("<f4", ">u2", "|b1"); sets *big_endian when the data is big-endian.
std::optional<DType> ParseNumpyTypestr(std::string_view typestr, bool* big_endian);
bool IsFloating(DType dtype);
bool IsComplex(DType dtype);
bool IsInteger(DType dtype);

template <class T>
constexpr DType DTypeOf();
template <> constexpr DType DTypeOf<bool>() { return DType::kBool; }
template <> constexpr DType DTypeOf<int8_t>() { return DType::kInt8; }
template <> constexpr DType DTypeOf<uint8_t>() { return DType::kUint8; }
template <> constexpr DType DTypeOf<int16_t>() { return DType::kInt16; }
template <> constexpr DType DTypeOf<uint16_t>() { return DType::kUint16; }
template <> constexpr DType DTypeOf<int32_t>() { return DType::kInt32; }
template <> constexpr DType DTypeOf<uint32_t>() { return DType::kUint32; }
template <> constexpr DType DTypeOf<int64_t>() { return DType::kInt64; }
template <> constexpr DType DTypeOf<uint64_t>() { return DType::kUint64; }
template <> constexpr DType DTypeOf<float>() { return DType::kFloat32; }
template <> constexpr DType DTypeOf<double>() { return DType::kFloat64; }
template <> constexpr DType DTypeOf<std::complex<float>>() { return DType::kComplex64; }
template <> constexpr DType DTypeOf<std::complex<double>>() { return DType::kComplex128; }

}  // namespace tessera
