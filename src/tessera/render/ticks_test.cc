// SPDX-License-Identifier: MIT
#include "tessera/render/ticks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tessera/render/test_util_internal.h"

namespace tessera::render {
namespace {

using testing::ExpectInvalid;
using Values = std::vector<double>;

TEST(NiceTicks, PicksOneTwoFiveSteps) {
  EXPECT_EQ(NiceTicks(0.0, 1.0), (Values{0.0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(NiceTicks(283.5, 310.2), (Values{285, 290, 295, 300, 305, 310}));
  EXPECT_EQ(NiceTicks(-1.0, 1.0, 5), (Values{-1.0, -0.5, 0.0, 0.5, 1.0}));
  EXPECT_EQ(NiceTicks(0.0, 1e-6, 3), (Values{0.0, 5e-7, 1e-6}));
  EXPECT_EQ(NiceTicks(-3e7, 8e7, 4), (Values{0, 5e7}));
  EXPECT_FALSE(std::signbit(NiceTicks(-3e7, 8e7, 4)[0]));  // no "-0"
  EXPECT_EQ(NiceTicks(5.0, 5.0), (Values{5.0}));
}

TEST(NiceTicks, StaysWithinRangeAndCount) {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> exponent(-8.0, 8.0);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  for (int trial = 0; trial < 2000; ++trial) {
    const double scale = std::pow(10.0, exponent(random));
    double low = unit(random) * scale;
    double high = low + std::abs(unit(random)) * scale + scale * 1e-6;
    const int64_t max_ticks = 2 + trial % 9;
    const Values ticks = NiceTicks(low, high, max_ticks);
    ASSERT_LE(static_cast<int64_t>(ticks.size()), max_ticks) << low << " " << high;
    for (const double tick : ticks) {
      EXPECT_GE(tick, low - 1e-9 * scale);
      EXPECT_LE(tick, high + 1e-9 * scale);
    }
    if (ticks.size() < 2) continue;
    // The step is 1, 2 or 5 times a power of ten.
    const double step = ticks[1] - ticks[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
                std::abs(mantissa - 5) < 1e-6)
        << step;
  }
}

TEST(LogTicks, UsesDecadesOrOneTwoFive) {
  EXPECT_EQ(LogTicks(1e-3, 5e4), (Values{1e-3, 1e-2, 1e-1, 1, 10, 100, 1000, 10000}));
  EXPECT_EQ(LogTicks(1e-10, 1e10, 6), (Values{1e-10, 1e-6, 1e-2, 1e2, 1e6, 1e10}));
  EXPECT_EQ(LogTicks(20, 400), (Values{20, 50, 100, 200}));
  EXPECT_EQ(LogTicks(2, 3), NiceTicks(2, 3));
}

TEST(FormatTick, WritesJustTheDigitsTheStepNeeds) {
  EXPECT_EQ(FormatTick(0.6, 0.2), "0.6");
  EXPECT_EQ(FormatTick(1.0, 0.2), "1.0");
  EXPECT_EQ(FormatTick(285, 5), "285");
  EXPECT_EQ(FormatTick(-1.5, 0.5), "-1.5");
  EXPECT_EQ(FormatTick(0.0, 0.1), "0");
  EXPECT_EQ(FormatTick(1e-17, 0.2), "0");  // rounding noise next to zero
  EXPECT_EQ(FormatTick(0.001, 0.001), "0.001");
  EXPECT_EQ(FormatTick(1e-4, 1e-4), "1e-4");
  EXPECT_EQ(FormatTick(10000, 10000), "10000");
  EXPECT_EQ(FormatTick(1e5, 1e5), "1e5");
  EXPECT_EQ(FormatTick(2.5e6, 5e5), "2.5e6");
  EXPECT_EQ(FormatTick(-3e-6, 1e-6), "-3e-6");
  EXPECT_EQ(FormatTick(999999, 1e5), "1e6");
}

TEST(TickLabels, FollowTheStepOrEachMagnitude) {
  const Values linear = NiceTicks(0.0, 1.0);
  EXPECT_EQ(TickLabels(linear, false),
            (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
  const Values log = LogTicks(1e-3, 5e4);
  EXPECT_EQ(TickLabels(log, true),
            (std::vector<std::string>{"0.001", "0.01", "0.1", "1", "10", "100", "1000", "10000"}));
}

TEST(Ticks, RejectBadRanges) {
  ExpectInvalid([] { NiceTicks(std::nan(""), 1.0); }, "low");
  ExpectInvalid([] { NiceTicks(1.0, 0.0); }, "high");
  ExpectInvalid([] { NiceTicks(0.0, INFINITY); }, "high");
  ExpectInvalid([] { NiceTicks(0.0, 1.0, 1); }, "max_ticks");
  ExpectInvalid([] { LogTicks(0.0, 1.0); }, "low");
  ExpectInvalid([] { LogTicks(-1.0, 1.0); }, "low");
}

}  // namespace
}  // namespace tessera::render
