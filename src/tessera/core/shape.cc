// SPDX-License-Identifier: MIT
#include "tessera/core/shape.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <limits>

#include "tessera/core/error.h"

namespace tessera {

int64_t Product(std::span<const int64_t> dims) {
  int64_t product = 1;
  for (int64_t d : dims) product *= d;
  return product;
}

Shape::Shape(std::vector<int64_t> nav, std::vector<int64_t> sig)
    : dims_(std::move(nav)), sig_dims_(static_cast<int>(sig.size())) {
  dims_.insert(dims_.end(), sig.begin(), sig.end());
  for (int64_t d : dims_) {
    if (d < 0) throw Error::InvalidArgument(fmt::format("negative dimension {}", d), "shape");
  }
}

std::string Shape::ToString() const {
  return fmt::format("({} | {})", fmt::join(nav(), ", "), fmt::join(sig(), ", "));
}

std::string FormatDims(std::span<const int64_t> dims) { return fmt::format("{}", fmt::join(dims, "x")); }

std::vector<int64_t> ParseDims(const std::string& text, const std::string& field) {
  std::vector<int64_t> dims;
  const char* p = text.data();
  const char* end = p + text.size();
  if (p == end) throw Error::InvalidArgument("empty shape", field);
  while (p < end) {
    int64_t value = 0;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || value <= 0) {
      throw Error::InvalidArgument(
          fmt::format("expected positive integers separated by 'x' or ',', got '{}'", text), field);
    }
    dims.push_back(value);
    p = next;
    if (p < end) {
      if (*p != 'x' && *p != ',' && *p != 'X') {
        throw Error::InvalidArgument(
            fmt::format("expected positive integers separated by 'x' or ',', got '{}'", text),
            field);
      }
      ++p;
      if (p == end) throw Error::InvalidArgument(fmt::format("trailing separator in '{}'", text), field);
    }
  }
  // Guard against products that overflow int64.
  int64_t product = 1;
  for (int64_t d : dims) {
    if (product > std::numeric_limits<int64_t>::max() / d) {
      throw Error::InvalidArgument(fmt::format("shape '{}' is too large", text), field);
    }
    product *= d;
  }
  return dims;
}

}  // namespace tessera
