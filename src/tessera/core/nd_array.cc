// SPDX-License-Identifier: MIT
#include "tessera/core/nd_array.h"

#include <fmt/format.h>

#include <cstdlib>
#include <new>

#include "tessera/core/shape.h"

namespace tessera {
namespace {

template <class T>
void FillTyped(void* data, int64_t n, double value) {
  T* p = static_cast<T*>(data);
  const T v = static_cast<T>(value);
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

template <class T>
double GetTyped(const void* data, int64_t i) {
  if constexpr (std::is_same_v<T, std::complex<float>> || std::is_same_v<T, std::complex<double>>) {
    return static_cast<double>(static_cast<const T*>(data)[i].real());
  } else {
    return static_cast<double>(static_cast<const T*>(data)[i]);
  }
}

}  // namespace

void NdArray::Free::operator()(void* p) const noexcept { std::free(p); }

NdArray::NdArray(DType dtype, std::vector<int64_t> shape)
    : dtype_(dtype), shape_(std::move(shape)), size_(Product(shape_)) {
  if (static_cast<int>(shape_.size()) > kMaxRank) {
    throw Error::Unsupported(fmt::format("arrays of rank {} (max {})", shape_.size(), kMaxRank));
  }
  const int64_t bytes = std::max<int64_t>(size_ * SizeOf(dtype_), 1);
  const int64_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, static_cast<size_t>(rounded));
  if (p == nullptr) {
    throw Error(ErrorCode::kOutOfMemory, fmt::format("cannot allocate {} bytes", rounded));
  }
  std::memset(p, 0, static_cast<size_t>(rounded));
  data_.reset(p);
}

NdArray NdArray::Clone() const {
  NdArray out(dtype_, shape_);
  if (size_ > 0) std::memcpy(out.raw(), raw(), static_cast<size_t>(nbytes()));
  return out;
}

void NdArray::Reshape(std::vector<int64_t> shape) {
  if (Product(shape) != size_) {
    throw Error::Internal(fmt::format("cannot reshape {} elements to {}", size_, FormatDims(shape)));
  }
  shape_ = std::move(shape);
}

void NdArray::CheckType(DType requested) const {
  if (requested != dtype_) {
    throw Error::Internal(
        fmt::format("array of dtype {} viewed as {}", Name(dtype_), Name(requested)));
  }
}

#define TESSERA_FOR_EACH_REAL(X) \
  X(kBool, bool)                 \
  X(kInt8, int8_t)               \
  X(kUint8, uint8_t)             \
  X(kInt16, int16_t)             \
  X(kUint16, uint16_t)           \
  X(kInt32, int32_t)             \
  X(kUint32, uint32_t)           \
  X(kInt64, int64_t)             \
  X(kUint64, uint64_t)           \
  X(kFloat32, float)             \
  X(kFloat64, double)

void NdArray::Fill(double value) {
  switch (dtype_) {
#define X(e, T) \
  case DType::e: FillTyped<T>(raw(), size_, value); return;
    TESSERA_FOR_EACH_REAL(X)
#undef X
    case DType::kComplex64: FillTyped<std::complex<float>>(raw(), size_, value); return;
    case DType::kComplex128: FillTyped<std::complex<double>>(raw(), size_, value); return;
  }
}

double NdArray::GetAsDouble(int64_t i) const {
  switch (dtype_) {
#define X(e, T) \
  case DType::e: return GetTyped<T>(raw(), i);
    TESSERA_FOR_EACH_REAL(X)
#undef X
    case DType::kComplex64: return GetTyped<std::complex<float>>(raw(), i);
    case DType::kComplex128: return GetTyped<std::complex<double>>(raw(), i);
  }
  return 0.0;
}

}  // namespace tessera
