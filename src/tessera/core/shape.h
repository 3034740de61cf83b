// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

namespace tessera {

/// Return the product of `dims` (1 for an empty list).
int64_t Product(std::span<const int64_t> dims);

/// An N-D shape split into navigation axes (first) and signal axes (last), NumPy C order.
class Shape {
 public:
  Shape() = default;
  Shape(std::vector<int64_t> nav, std::vector<int64_t> sig);

  std::span<const int64_t> nav() const { return {dims_.data(), static_cast<size_t>(nav_dims())}; }
  std::span<const int64_t> sig() const {
    return {dims_.data() + nav_dims(), static_cast<size_t>(sig_dims_)};
  }
  const std::vector<int64_t>& dims() const { return dims_; }
  int rank() const { return static_cast<int>(dims_.size()); }
  int nav_dims() const { return rank() - sig_dims_; }
  int sig_dims() const { return sig_dims_; }
  int64_t nav_size() const { return Product(nav()); }
  int64_t sig_size() const { return Product(sig()); }
  int64_t size() const { return Product(dims_); }

  /// Format as "(128, 128 | 256, 256)".
  std::string ToString() const;
  bool operator==(const Shape&) const = default;

 private:
  std::vector<int64_t> dims_;
  int sig_dims_ = 0;
};

/// Format dims as "128x128".
std::string FormatDims(std::span<const int64_t> dims);
/// Parse "128x128" or "128,128"; throws kInvalidArgument naming `field` on bad text.
std::vector<int64_t> ParseDims(const std::string& text, const std::string& field);

}  // namespace tessera
