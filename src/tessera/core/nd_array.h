// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/core/error.h"

namespace tessera {

inline constexpr int kMaxRank = 8;

/// A strided, non-owning view of an N-D array of T. Strides count elements, not bytes.
template <class T>
class NdView {
 public:
  NdView() = default;
  /// Make a C-contiguous view of `shape` over `data`.
  NdView(T* data, std::span<const int64_t> shape) : data_(data), rank_(static_cast<int>(shape.size())) {
    TESSERA_DCHECK(rank_ <= kMaxRank, "rank too large");
    int64_t stride = 1;
    for (int i = rank_ - 1; i >= 0; --i) {
      shape_[i] = shape[i];
      strides_[i] = stride;
      stride *= shape[i];
    }
  }
  NdView(T* data, std::span<const int64_t> shape, std::span<const int64_t> strides)
      : data_(data), rank_(static_cast<int>(shape.size())) {
    TESSERA_DCHECK(rank_ <= kMaxRank && strides.size() == shape.size(), "bad rank");
    for (int i = 0; i < rank_; ++i) {
      shape_[i] = shape[i];
      strides_[i] = strides[i];
    }
  }
  /// Views of T convert to views of const T.
  operator NdView<const T>() const {  // NOLINT(google-explicit-constructor)
    return NdView<const T>(data_, shape(), strides());
  }

  T* data() const { return data_; }
  int rank() const { return rank_; }
  std::span<const int64_t> shape() const { return {shape_.data(), static_cast<size_t>(rank_)}; }
  std::span<const int64_t> strides() const { return {strides_.data(), static_cast<size_t>(rank_)}; }
  int64_t shape(int axis) const { return shape_[axis]; }
  int64_t stride(int axis) const { return strides_[axis]; }
  int64_t size() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= shape_[i];
    return n;
  }
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int i = rank_ - 1; i >= 0; --i) {
      if (shape_[i] != 1 && strides_[i] != expected) return false;
      expected *= shape_[i];
    }
    return true;
  }
  /// Return a contiguous span over all elements (the view must be contiguous).
  std::span<T> flat() const {
    TESSERA_DCHECK(is_contiguous(), "flat() of a strided view");
    return {data_, static_cast<size_t>(size())};
  }
  T& operator()(int64_t i) const { return data_[i * strides_[0]]; }
  T& operator()(int64_t i, int64_t j) const { return data_[i * strides_[0] + j * strides_[1]]; }
  T& operator()(int64_t i, int64_t j, int64_t k) const {
    return data_[i * strides_[0] + j * strides_[1] + k * strides_[2]];
  }
  /// Return the sub-view [begin, end) along axis 0.
  NdView Slice0(int64_t begin, int64_t end) const {
    NdView out = *this;
    out.data_ = data_ + begin * strides_[0];
    out.shape_[0] = end - begin;
    return out;
  }
  /// Return the view of element `i` along axis 0 (rank drops by one).
  NdView At0(int64_t i) const {
    NdView out;
    out.data_ = data_ + i * strides_[0];
    out.rank_ = rank_ - 1;
    for (int a = 1; a < rank_; ++a) {
      out.shape_[a - 1] = shape_[a];
      out.strides_[a - 1] = strides_[a];
    }
    return out;
  }

 private:
  T* data_ = nullptr;
  int rank_ = 0;
  std::array<int64_t, kMaxRank> shape_{};
  std::array<int64_t, kMaxRank> strides_{};
};

/// An owning, C-contiguous, 64-byte aligned N-D array with a run-time dtype.
class NdArray {
 public:
  NdArray() = default;
  /// Allocate zero-initialised storage.
  NdArray(DType dtype, std::vector<int64_t> shape);

  NdArray(NdArray&&) noexcept = default;
  NdArray& operator=(NdArray&&) noexcept = default;
  NdArray Clone() const;

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t size() const { return size_; }
  int64_t nbytes() const { return size_ * SizeOf(dtype_); }
  void* raw() { return data_.get(); }
  const void* raw() const { return data_.get(); }
  bool empty() const { return data_ == nullptr; }

  /// Return a typed view; throws kInternal if T does not match dtype().
  template <class T>
  NdView<T> view() {
    CheckType(DTypeOf<T>());
    return NdView<T>(static_cast<T*>(raw()), shape_);
  }
  template <class T>
  NdView<const T> view() const {
    CheckType(DTypeOf<T>());
    return NdView<const T>(static_cast<const T*>(raw()), shape_);
  }
  template <class T>
  std::span<T> flat() {
    CheckType(DTypeOf<T>());
    return {static_cast<T*>(raw()), static_cast<size_t>(size_)};
  }
  template <class T>
  std::span<const T> flat() const {
    CheckType(DTypeOf<T>());
    return {static_cast<const T*>(raw()), static_cast<size_t>(size_)};
  }
  /// Reinterpret with a new shape of the same element count.
  void Reshape(std::vector<int64_t> shape);
  /// Fill every element with `value` converted to dtype().
  void Fill(double value);
  /// Return a float64 copy of element i (for reporting and tests).
  double GetAsDouble(int64_t i) const;

 private:
  struct Free {
    void operator()(void* p) const noexcept;
  };
  void CheckType(DType requested) const;

  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
  int64_t size_ = 0;
  std::unique_ptr<void, Free> data_;
};

}  // namespace tessera
