// SPDX-License-Identifier: MIT
#include "tessera/core/convert.h"

#include <complex>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tessera {
namespace {

template <class T>
struct IsComplexT : std::false_type {};
template <class T>
struct IsComplexT<std::complex<T>> : std::true_type {};

template <class T>
T ByteSwap(T value) noexcept {
  // Whole words through the bswap builtins: the loops below then vectorise (pshufb).
  if constexpr (!IsComplexT<T>::value && (sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8)) {
    using Word = std::conditional_t<sizeof(T) == 2, uint16_t,
                                    std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;
    Word word;
    std::memcpy(&word, &value, sizeof(T));
    if constexpr (sizeof(T) == 2) word = __builtin_bswap16(word);
    if constexpr (sizeof(T) == 4) word = __builtin_bswap32(word);
    if constexpr (sizeof(T) == 8) word = __builtin_bswap64(word);
    std::memcpy(&value, &word, sizeof(T));
    return value;
  }
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  if constexpr (IsComplexT<T>::value) {
    constexpr size_t half = sizeof(T) / 2;
    for (size_t i = 0; i < half / 2; ++i) {
      std::swap(bytes[i], bytes[half - 1 - i]);
      std::swap(bytes[half + i], bytes[sizeof(T) - 1 - i]);
    }
  } else {
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(bytes[i], bytes[sizeof(T) - 1 - i]);
  }
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

template <class Dst, class Src>
Dst ConvertOne(Src value) noexcept {
  if constexpr (IsComplexT<Dst>::value) {
    if constexpr (IsComplexT<Src>::value) {
      return Dst(static_cast<typename Dst::value_type>(value.real()),
                 static_cast<typename Dst::value_type>(value.imag()));
    } else {
      return Dst(static_cast<typename Dst::value_type>(value), 0);
    }
  } else if constexpr (IsComplexT<Src>::value) {
    return static_cast<Dst>(value.real());
  } else {
    return static_cast<Dst>(value);
  }
}

template <class Src, class Dst>
void ConvertKernel(const void* src, bool byteswap, void* dst, int64_t count) noexcept {
  const Src* in = static_cast<const Src*>(src);
  Dst* out = static_cast<Dst*>(dst);
  if (byteswap && sizeof(Src) > 1) {
#pragma omp simd
    for (int64_t i = 0; i < count; ++i) out[i] = ConvertOne<Dst>(ByteSwap(in[i]));
  } else if constexpr (std::is_same_v<Src, Dst>) {
    std::memcpy(out, in, static_cast<size_t>(count) * sizeof(Src));
  } else {
#pragma omp simd
    for (int64_t i = 0; i < count; ++i) out[i] = ConvertOne<Dst>(in[i]);
  }
}

template <class Src>
void DispatchDst(const void* src, bool byteswap, void* dst, DType dst_dtype, int64_t count) noexcept {
  switch (dst_dtype) {
    case DType::kFloat32: return ConvertKernel<Src, float>(src, byteswap, dst, count);
    case DType::kFloat64: return ConvertKernel<Src, double>(src, byteswap, dst, count);
    case DType::kComplex64: return ConvertKernel<Src, std::complex<float>>(src, byteswap, dst, count);
    case DType::kComplex128:
      return ConvertKernel<Src, std::complex<double>>(src, byteswap, dst, count);
    case DType::kBool: return ConvertKernel<Src, bool>(src, byteswap, dst, count);
    case DType::kInt8: return ConvertKernel<Src, int8_t>(src, byteswap, dst, count);
    case DType::kUint8: return ConvertKernel<Src, uint8_t>(src, byteswap, dst, count);
    case DType::kInt16: return ConvertKernel<Src, int16_t>(src, byteswap, dst, count);
    case DType::kUint16: return ConvertKernel<Src, uint16_t>(src, byteswap, dst, count);
    case DType::kInt32: return ConvertKernel<Src, int32_t>(src, byteswap, dst, count);
    case DType::kUint32: return ConvertKernel<Src, uint32_t>(src, byteswap, dst, count);
    case DType::kInt64: return ConvertKernel<Src, int64_t>(src, byteswap, dst, count);
    case DType::kUint64: return ConvertKernel<Src, uint64_t>(src, byteswap, dst, count);
  }
}

}  // namespace

bool CanConvert(DType src_dtype, DType dst_dtype) {
  // Complex to real would silently drop the imaginary part unless asked for explicitly.
  return !(IsComplex(src_dtype) && !IsComplex(dst_dtype)) || src_dtype == dst_dtype;
}

void ConvertElements(const void* src, DType src_dtype, bool byteswap, void* dst, DType dst_dtype,
                     int64_t count) noexcept {
  // Nothing to do, and memcpy must not see the null pointers an empty range may carry.
  if (count <= 0) return;
  switch (src_dtype) {
    case DType::kBool: return DispatchDst<bool>(src, byteswap, dst, dst_dtype, count);
    case DType::kInt8: return DispatchDst<int8_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kUint8: return DispatchDst<uint8_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kInt16: return DispatchDst<int16_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kUint16: return DispatchDst<uint16_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kInt32: return DispatchDst<int32_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kUint32: return DispatchDst<uint32_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kInt64: return DispatchDst<int64_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kUint64: return DispatchDst<uint64_t>(src, byteswap, dst, dst_dtype, count);
    case DType::kFloat32: return DispatchDst<float>(src, byteswap, dst, dst_dtype, count);
    case DType::kFloat64: return DispatchDst<double>(src, byteswap, dst, dst_dtype, count);
    case DType::kComplex64:
      return DispatchDst<std::complex<float>>(src, byteswap, dst, dst_dtype, count);
    case DType::kComplex128:
      return DispatchDst<std::complex<double>>(src, byteswap, dst, dst_dtype, count);
  }
}

}  // namespace tessera
