// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include "tessera/core/checksum.h"
#include "tessera/core/convert.h"
#include "tessera/core/dtype.h"
#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/core/shape.h"

namespace tessera {
namespace {

TEST(DType, NamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(DType::kComplex128); ++i) {
    const auto dtype = static_cast<DType>(i);
    EXPECT_EQ(ParseDType(Name(dtype)), dtype);
    bool big = true;
    EXPECT_EQ(ParseNumpyTypestr(NumpyTypestr(dtype), &big), dtype);
    EXPECT_FALSE(big);
  }
  EXPECT_EQ(ParseDType("f4"), DType::kFloat32);
  EXPECT_FALSE(ParseDType("float16").has_value());
  bool big = false;
  EXPECT_EQ(ParseNumpyTypestr(">u2", &big), DType::kUint16);
  EXPECT_TRUE(big);
  EXPECT_FALSE(ParseNumpyTypestr("<f3", &big).has_value());
  EXPECT_FALSE(ParseNumpyTypestr("xx", &big).has_value());
}

TEST(Shape, SplitsNavAndSig) {
  const Shape shape({4, 5}, {6, 7});
  EXPECT_EQ(shape.nav_size(), 20);
  EXPECT_EQ(shape.sig_size(), 42);
  EXPECT_EQ(shape.size(), 840);
  EXPECT_EQ(shape.ToString(), "(4, 5 | 6, 7)");
  EXPECT_EQ(ParseDims("128x64", "scan"), (std::vector<int64_t>{128, 64}));
  EXPECT_EQ(ParseDims("3,4,5", "scan"), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_THROW(ParseDims("12x", "scan"), Error);
  EXPECT_THROW(ParseDims("0x4", "scan"), Error);
  EXPECT_THROW(ParseDims("99999999999x99999999999", "scan"), Error);
  try {
    ParseDims("a", "scan");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.info().field, "scan");
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
}

TEST(NdArray, ViewsSlicesAndTypeChecks) {
  NdArray array(DType::kFloat32, {3, 4});
  auto view = array.view<float>();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) view(i, j) = static_cast<float>(i * 10 + j);
  EXPECT_EQ(view.Slice0(1, 3)(0, 2), 12.0f);
  EXPECT_EQ(view.At0(2)(3), 23.0f);
  EXPECT_TRUE(view.is_contiguous());
  EXPECT_THROW(array.view<double>(), Error);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(array.raw()) % 64, 0u);
  NdArray copy = array.Clone();
  EXPECT_EQ(copy.GetAsDouble(5), 11.0);
  array.Fill(2.5);
  EXPECT_EQ(array.GetAsDouble(0), 2.5);
  EXPECT_EQ(copy.GetAsDouble(0), 0.0);
  EXPECT_THROW(array.Reshape({5}), Error);
}

TEST(Convert, IntegersFloatsAndByteSwap) {
  const uint16_t src[3] = {1, 0x0102, 65535};
  float dst[3];
  ConvertElements(src, DType::kUint16, false, dst, DType::kFloat32, 3);
  EXPECT_EQ(dst[1], 258.0f);
  EXPECT_EQ(dst[2], 65535.0f);
  ConvertElements(src, DType::kUint16, true, dst, DType::kFloat32, 3);
  EXPECT_EQ(dst[0], 256.0f);
  EXPECT_EQ(dst[1], 513.0f);
  EXPECT_FALSE(CanConvert(DType::kComplex64, DType::kFloat32));
  EXPECT_TRUE(CanConvert(DType::kUint8, DType::kComplex64));
  // An empty range is a no-op, also with the null pointers of an empty buffer (UBSan checks
  // that memcpy never sees them).
  ConvertElements(nullptr, DType::kFloat32, false, nullptr, DType::kFloat32, 0);
  ConvertElements(nullptr, DType::kUint16, true, nullptr, DType::kFloat64, 0);
}

TEST(Checksum, KnownDigestAndMissingFile) {
  Xxh3Hasher hasher;
  const std::string text = "tessera";
  hasher.Update(std::as_bytes(std::span(text.data(), text.size())));
  Xxh3Hasher empty;
  EXPECT_NE(hasher.Finish(), empty.Finish());
  // XXH3-128 of the empty input, as published by xxHash.
  EXPECT_EQ(empty.Finish().ToHex(), "99aa06d3014798d86001c324468d497f");
  EXPECT_THROW(ChecksumFile("/nonexistent/file"), Error);
}

TEST(Error, FormatsContext) {
  const auto e = Error::CorruptFile("a.npy", 10, "shape", "bad header");
  EXPECT_STREQ(e.what(), "a.npy: offset 10: 'shape': bad header");
  EXPECT_EQ(e.code(), ErrorCode::kCorruptFile);
  try {
    throw e;
  } catch (...) {
    EXPECT_EQ(CurrentErrorInfo().offset, 10);
  }
}

}  // namespace
}  // namespace tessera
