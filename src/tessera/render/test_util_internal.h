// SPDX-License-Identifier: MIT
// Helpers shared by the render tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/render/rgb_image.h"

namespace tessera::render::testing {

/// Run `fn` and expect kInvalidArgument naming `field`.
template <class Fn>
void ExpectInvalid(Fn&& fn, const std::string& field) {
  try {
    std::forward<Fn>(fn)();
    ADD_FAILURE() << "expected kInvalidArgument for '" << field << "'";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    EXPECT_EQ(error.info().field, field) << error.what();
  }
}

/// Return a float64 array of `shape` holding `values` (row-major).
inline NdArray MakeArray(std::vector<int64_t> shape, const std::vector<double>& values) {
  NdArray array(DType::kFloat64, std::move(shape));
  auto flat = array.flat<double>();
  for (size_t i = 0; i < values.size(); ++i) flat[i] = values[i];
  return array;
}

/// Return CIE L* (0..100) of an sRGB colour.
inline double Lightness(Rgb colour) {
  auto linear = [](uint8_t c) {
    const double v = c / 255.0;
    return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
  };
  const double y =
      0.2126 * linear(colour.r) + 0.7152 * linear(colour.g) + 0.0722 * linear(colour.b);
  const double f = y > 216.0 / 24389.0 ? std::cbrt(y) : (24389.0 / 27.0 * y + 16.0) / 116.0;
  return 116.0 * f - 16.0;
}

/// Return the number of pixels that differ from `background`.
inline int64_t CountNot(const RgbImage& image, Rgb background) {
  int64_t count = 0;
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) count += image.Get(y, x) != background;
  }
  return count;
}

/// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tessera-render-XXXXXX");
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace tessera::render::testing

namespace tessera::render {
/// Print colours in gtest messages as (r, g, b).
inline void PrintTo(const Rgb& c, std::ostream* os) {
  *os << "(" << int{c.r} << ", " << int{c.g} << ", " << int{c.b} << ")";
}
}  // namespace tessera::render
