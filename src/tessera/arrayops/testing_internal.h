// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the arrayops tests (not part of the library).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"

namespace tessera::arrayops::testing {

/// Return an array of `dtype` and `shape` holding `values` (converted from float64).
inline NdArray MakeArray(std::vector<int64_t> shape, const std::vector<double>& values,
                         DType dtype = DType::kFloat64) {
  NdArray out(dtype, std::move(shape));
  EXPECT_EQ(static_cast<int64_t>(values.size()), out.size());
  ConvertElements(values.data(), DType::kFloat64, false, out.raw(), dtype, out.size());
  return out;
}

/// Return every element of a float64 array.
inline std::vector<double> Values(const NdArray& a) {
  const auto flat = a.flat<double>();
  return {flat.begin(), flat.end()};
}

/// Expect `fn()` to throw kInvalidArgument naming `field`, with `text` in its message.
template <class F>
void ExpectInvalidArgument(F&& fn, const std::string& field, const std::string& text = "") {
  try {
    fn();
    ADD_FAILURE() << "expected kInvalidArgument naming '" << field << "'";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    EXPECT_EQ(error.info().field, field) << error.what();
    EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
  }
}

/// Expect two float64 arrays of equal shape to agree within `tolerance` (absolute, or relative
/// to the larger magnitude when that exceeds 1); NaNs must sit in the same places.
inline void ExpectAllNear(const std::vector<double>& actual, const std::vector<double>& expected,
                          double tolerance) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "at " << i;
      continue;
    }
    const double scale = std::max({1.0, std::abs(actual[i]), std::abs(expected[i])});
    EXPECT_NEAR(actual[i], expected[i], tolerance * scale) << "at " << i;
  }
}

}  // namespace tessera::arrayops::testing
