// SPDX-License-Identifier: MIT
#include "tessera/arrayops/array_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tessera/arrayops/testing_internal.h"

namespace tessera::arrayops {
namespace {

using testing::ExpectInvalidArgument;
using testing::MakeArray;
using testing::Values;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Return a (2, 3, 4) int16 array holding 0..23.
NdArray Iota234() {
  std::vector<double> values(24);
  for (int i = 0; i < 24; ++i) values[i] = i;
  return MakeArray({2, 3, 4}, values, DType::kInt16);
}

TEST(CropTest, CopiesTheBoxAndKeepsTheDtype) {
  const NdArray a = Iota234();
  const std::vector<int64_t> begin{1, 1, 1};
  const std::vector<int64_t> end{2, 3, 3};
  const NdArray out = Crop(a, begin, end);
  EXPECT_EQ(out.dtype(), DType::kInt16);
  EXPECT_EQ(out.shape(), (std::vector<int64_t>{1, 2, 2}));
  const auto v = out.flat<int16_t>();
  EXPECT_EQ(std::vector<int16_t>(v.begin(), v.end()), (std::vector<int16_t>{17, 18, 21, 22}));
}

TEST(CropTest, FullAndEmptyBoxes) {
  const NdArray a = Iota234();
  const std::vector<int64_t> zero{0, 0, 0};
  const std::vector<int64_t> full{2, 3, 4};
  const NdArray same = Crop(a, zero, full);
  EXPECT_EQ(same.shape(), a.shape());
  EXPECT_EQ(same.flat<int16_t>()[23], 23);
  const std::vector<int64_t> begin{1, 2, 4};
  const NdArray empty = Crop(a, begin, full);
  EXPECT_EQ(empty.shape(), (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(empty.size(), 0);
}

TEST(CropTest, RejectsBoundsOutsideTheArray) {
  const NdArray a = Iota234();
  const std::vector<int64_t> ok_begin{0, 0, 0};
  const std::vector<int64_t> ok_end{2, 3, 4};
  const std::vector<int64_t> short_list{0, 0};
  const std::vector<int64_t> negative{0, -1, 0};
  const std::vector<int64_t> too_far{2, 3, 5};
  const std::vector<int64_t> before_begin{1, 1, 1};
  const std::vector<int64_t> late_begin{2, 2, 2};
  ExpectInvalidArgument([&] { Crop(a, short_list, ok_end); }, "begin", "rank 3");
  ExpectInvalidArgument([&] { Crop(a, ok_begin, short_list); }, "end");
  ExpectInvalidArgument([&] { Crop(a, negative, ok_end); }, "begin", "axis 1");
  ExpectInvalidArgument([&] { Crop(a, ok_begin, too_far); }, "end", "axis 2");
  ExpectInvalidArgument([&] { Crop(a, late_begin, before_begin); }, "end");
  ExpectInvalidArgument([&] { Crop(NdArray(), {}, {}); }, "a");
}

TEST(ArithmeticTest, BroadcastsAColumnAgainstARow) {
  const NdArray column = MakeArray({3, 1}, {1, 2, 3});
  const NdArray row = MakeArray({4}, {10, 20, 30, 40}, DType::kUint8);
  const NdArray sum = Arithmetic(column, row, BinaryOp::kAdd);
  EXPECT_EQ(sum.dtype(), DType::kFloat64);
  EXPECT_EQ(sum.shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Values(sum), (std::vector<double>{11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43}));
  const NdArray difference = Arithmetic(row, column, BinaryOp::kSubtract);
  EXPECT_EQ(difference.shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Values(difference)[4], 10 - 2);  // (1, 0): row[0] - column[1]
}

TEST(ArithmeticTest, BroadcastsMiddleAndLeadingAxes) {
  // (2, 1, 3) * (4, 1) -> (2, 4, 3), checked element by element.
  std::vector<double> a_values(6), b_values(4);
  for (int i = 0; i < 6; ++i) a_values[i] = i + 1;
  for (int i = 0; i < 4; ++i) b_values[i] = 10 * (i + 1);
  const NdArray a = MakeArray({2, 1, 3}, a_values, DType::kInt32);
  const NdArray b = MakeArray({4, 1}, b_values, DType::kFloat32);
  const NdArray out = Arithmetic(a, b, BinaryOp::kMultiply);
  ASSERT_EQ(out.shape(), (std::vector<int64_t>{2, 4, 3}));
  const auto v = Values(out);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) {
      for (int k = 0; k < 3; ++k) {
        EXPECT_EQ(v[(i * 4 + j) * 3 + k], a_values[i * 3 + k] * b_values[j]);
      }
    }
  }
}

TEST(ArithmeticTest, ScalarsZeroSizesAndRankZero) {
  const NdArray a = MakeArray({2, 2}, {1, -2, 3, 0});
  EXPECT_EQ(Values(Arithmetic(a, 2.0, BinaryOp::kMultiply)), (std::vector<double>{2, -4, 6, 0}));
  EXPECT_EQ(Values(Arithmetic(a, 0.5, BinaryOp::kMaximum)), (std::vector<double>{1, 0.5, 3, 0.5}));
  const NdArray scalar = MakeArray({}, {5});
  EXPECT_EQ(Values(Arithmetic(a, scalar, BinaryOp::kSubtract)),
            (std::vector<double>{-4, -7, -2, -5}));
  const NdArray empty(DType::kFloat64, {0, 3});
  const NdArray out = Arithmetic(empty, MakeArray({3}, {1, 2, 3}), BinaryOp::kAdd);
  EXPECT_EQ(out.shape(), (std::vector<int64_t>{0, 3}));
}

TEST(ArithmeticTest, DivisionAndNaNFollowNumPy) {
  const NdArray a = MakeArray({4}, {1, -1, 0, kNaN});
  const NdArray zero = MakeArray({1}, {0});
  const auto q = Values(Arithmetic(a, zero, BinaryOp::kDivide));
  EXPECT_EQ(q[0], kInf);
  EXPECT_EQ(q[1], -kInf);
  EXPECT_TRUE(std::isnan(q[2]));
  EXPECT_TRUE(std::isnan(q[3]));
  const NdArray b = MakeArray({4}, {kNaN, 2, -3, 4});
  const auto lo = Values(Arithmetic(a, b, BinaryOp::kMinimum));
  EXPECT_TRUE(std::isnan(lo[0]));
  EXPECT_EQ(lo[1], -1);
  EXPECT_EQ(lo[2], -3);
  EXPECT_TRUE(std::isnan(lo[3]));
  const auto hi = Values(Arithmetic(a, b, BinaryOp::kMaximum));
  EXPECT_EQ(hi[1], 2);
  EXPECT_EQ(hi[2], 0);
}

TEST(ArithmeticTest, RejectsIncompatibleShapesNamingBoth) {
  const NdArray a(DType::kFloat64, {3, 2});
  const NdArray b(DType::kFloat64, {4});
  ExpectInvalidArgument([&] { Arithmetic(a, b, BinaryOp::kAdd); }, "b", "(3x2) and (4)");
  const NdArray c(DType::kFloat64, {0});
  ExpectInvalidArgument([&] { Arithmetic(c, b, BinaryOp::kAdd); }, "b");
  const NdArray complex(DType::kComplex64, {4});
  ExpectInvalidArgument([&] { Arithmetic(complex, b, BinaryOp::kAdd); }, "a", "complex");
  ExpectInvalidArgument([&] { Arithmetic(b, complex, BinaryOp::kAdd); }, "b", "complex");
}

TEST(NormaliseTest, ModesIgnoreNaNs) {
  const NdArray a = MakeArray({5}, {2, kNaN, 4, 6, 8}, DType::kFloat32);
  testing::ExpectAllNear(Values(Normalise(a, NormaliseMode::kMinMax)),
                         {0, kNaN, 1.0 / 3, 2.0 / 3, 1}, 1e-15);
  const double mean = 5, sd = std::sqrt(5.0);  // population std of 2, 4, 6, 8
  testing::ExpectAllNear(Values(Normalise(a, NormaliseMode::kZScore)),
                         {(2 - mean) / sd, kNaN, (4 - mean) / sd, (6 - mean) / sd, (8 - mean) / sd},
                         1e-15);
  testing::ExpectAllNear(Values(Normalise(a, NormaliseMode::kSum)), {0.1, kNaN, 0.2, 0.3, 0.4},
                         1e-15);
  testing::ExpectAllNear(Values(Normalise(a, NormaliseMode::kMax)), {0.25, kNaN, 0.5, 0.75, 1},
                         1e-15);
  const NdArray negative = MakeArray({2}, {-4, 2});
  EXPECT_EQ(Values(Normalise(negative, NormaliseMode::kMax)), (std::vector<double>{-1, 0.5}));
}

TEST(NormaliseTest, NeverDividesByZero) {
  const NdArray constant = MakeArray({3}, {0.1, 0.1, kNaN});
  for (const auto mode : {NormaliseMode::kMinMax, NormaliseMode::kZScore}) {
    testing::ExpectAllNear(Values(Normalise(constant, mode)), {0, 0, kNaN}, 0);
  }
  const NdArray zero_sum = MakeArray({2}, {-1, 1});
  EXPECT_EQ(Values(Normalise(zero_sum, NormaliseMode::kSum)), (std::vector<double>{-1, 1}));
  const NdArray zeros = MakeArray({2}, {0, 0});
  EXPECT_EQ(Values(Normalise(zeros, NormaliseMode::kMax)), (std::vector<double>{0, 0}));
  const NdArray all_nan = MakeArray({2}, {kNaN, kNaN});
  for (const auto mode :
       {NormaliseMode::kMinMax, NormaliseMode::kZScore, NormaliseMode::kSum, NormaliseMode::kMax}) {
    testing::ExpectAllNear(Values(Normalise(all_nan, mode)), {kNaN, kNaN}, 0);
    EXPECT_EQ(Normalise(NdArray(DType::kUint16, {0, 4}), mode).size(), 0);
  }
}

TEST(ThresholdTest, Modes) {
  const NdArray a = MakeArray({5}, {1, 5, 3, kNaN, 7});
  testing::ExpectAllNear(Values(Threshold(a, 3, ThresholdMode::kBinary)), {0, 1, 0, 0, 1}, 0);
  testing::ExpectAllNear(Values(Threshold(a, 3, ThresholdMode::kToZero)), {0, 5, 0, kNaN, 7}, 0);
  testing::ExpectAllNear(Values(Threshold(a, 3, ThresholdMode::kClip)), {1, 3, 3, kNaN, 3}, 0);
  const NdArray u8 = MakeArray({2, 2}, {0, 200, 100, 255}, DType::kUint8);
  EXPECT_EQ(Values(Threshold(u8, 150, ThresholdMode::kBinary)), (std::vector<double>{0, 1, 0, 1}));
  ExpectInvalidArgument([&] { Threshold(a, kNaN, ThresholdMode::kBinary); }, "value");
  ExpectInvalidArgument([&] { Threshold(NdArray(), 1, ThresholdMode::kBinary); }, "a");
}

}  // namespace
}  // namespace tessera::arrayops
