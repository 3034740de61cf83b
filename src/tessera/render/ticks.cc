// SPDX-License-Identifier: MIT
#include "tessera/render/ticks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tessera/core/error.h"

namespace tessera::render {
namespace {

// Tolerance, in steps, for a tick that lands on a range end only up to rounding.
constexpr double kEdgeSlack = 1e-9;

// 10^exponent; exact up to 10^22, where the loop multiplies exactly representable integers.
double Pow10(int exponent) {
  if (std::abs(exponent) > 22) return std::pow(10.0, exponent);
  double power = 1.0;
  for (int i = 0; i < std::abs(exponent); ++i) power *= 10.0;
  return power;
}

// multiple * 10^exponent rounded once, so that 3 * 10^-1 is the double nearest 0.3.
double Scaled(double multiple, int exponent) {
  return exponent >= 0 ? multiple * Pow10(exponent) : multiple / Pow10(-exponent);
}

void CheckRange(double low, double high, int64_t max_ticks) {
  if (!std::isfinite(low)) throw Error::InvalidArgument("axis start is not finite", "low");
  if (!std::isfinite(high) || high < low) {
    throw Error::InvalidArgument(fmt::format("axis end {} is not finite or below {}", high, low),
                                 "high");
  }
  if (max_ticks < 2 || max_ticks > 1000) {
    throw Error::InvalidArgument(fmt::format("{} ticks are outside [2, 1000]", max_ticks),
                                 "max_ticks");
  }
}

int FloorLog10(double magnitude) { return static_cast<int>(std::floor(std::log10(magnitude))); }

// Return the fewest decimals (at most 12) that write multiples of `step` without rounding.
int DecimalsFor(double step) {
  for (int decimals = 0; decimals < 12; ++decimals) {
    const double scaled = step * Pow10(decimals);
    if (std::abs(scaled - std::round(scaled)) <= 1e-6 * std::max(1.0, scaled)) return decimals;
  }
  return 12;
}

}  // namespace

std::vector<double> NiceTicks(double low, double high, int64_t max_ticks) {
  CheckRange(low, high, max_ticks);
  if (low == high) return {low};
  // Divide before subtracting: high - low may overflow for ranges near the largest doubles.
  const double raw =
      high / static_cast<double>(max_ticks - 1) - low / static_cast<double>(max_ticks - 1);
  int exponent = FloorLog10(raw);
  const double fraction = raw / Scaled(1.0, exponent);
  double multiple = fraction <= 1.0 ? 1.0 : fraction <= 2.0 ? 2.0 : fraction <= 5.0 ? 5.0 : 10.0;
  if (multiple == 10.0) {
    multiple = 1.0;
    ++exponent;
  }
  const double step = Scaled(multiple, exponent);
  const double first = std::ceil(low / step - kEdgeSlack);
  const double last = std::floor(high / step + kEdgeSlack);
  // Count with integers: near 2^53, ++k on a double would stop advancing.
  const auto count = static_cast<int64_t>(std::clamp(last - first + 1.0, 0.0, max_ticks + 1.0));
  std::vector<double> ticks;
  for (int64_t i = 0; i < count; ++i) {
    // + 0.0 turns the -0.0 that ceil() gives for small negative quotients into 0.0.
    ticks.push_back(Scaled((first + static_cast<double>(i)) * multiple + 0.0, exponent));
  }
  return ticks;
}

std::vector<double> LogTicks(double low, double high, int64_t max_ticks) {
  CheckRange(low, high, max_ticks);
  if (!(low > 0.0)) {
    throw Error::InvalidArgument(fmt::format("log axis start {} is not positive", low), "low");
  }
  // Below 1e-307 powers of ten are subnormal or zero: no tick there.
  const int first = std::max(static_cast<int>(std::ceil(std::log10(low) - kEdgeSlack)), -307);
  const auto last = static_cast<int>(std::floor(std::log10(high) + kEdgeSlack));
  std::vector<double> ticks;
  if (last > first) {
    const int64_t every = (last - first) / max_ticks + 1;
    for (int64_t e = first; e <= last; e += every)
      ticks.push_back(Scaled(1.0, static_cast<int>(e)));
    return ticks;
  }
  for (int e = first - 1; e <= last; ++e) {
    for (const double multiple : {1.0, 2.0, 5.0}) {
      const double value = Scaled(multiple, e);
      if (value >= low * (1 - kEdgeSlack) && value <= high * (1 + kEdgeSlack))
        ticks.push_back(value);
    }
  }
  if (ticks.size() >= 2 && static_cast<int64_t>(ticks.size()) <= max_ticks) return ticks;
  return NiceTicks(low, high, max_ticks);
}

std::string FormatTick(double value, double step) {
  if (value == 0.0) return "0";
  if (!std::isfinite(value)) return fmt::format("{}", value);
  const double magnitude = std::abs(value);
  if (!(step > 0.0) || !std::isfinite(step)) step = magnitude;
  if (magnitude < step * 1e-9) return "0";  // rounding noise of a tick at zero
  if (magnitude >= 1e5 || magnitude < 1e-3) {
    int exponent = FloorLog10(magnitude);
    const int decimals = DecimalsFor(step / Scaled(1.0, exponent));
    std::string mantissa = fmt::format("{:.{}f}", value / Scaled(1.0, exponent), decimals);
    if (std::abs(std::stod(mantissa)) >= 10.0) {  // 9.96e5 rounded up to the next power
      ++exponent;
      mantissa = fmt::format("{:.{}f}", value / Scaled(1.0, exponent), decimals);
    }
    return fmt::format("{}e{}", mantissa, exponent);
  }
  std::string text = fmt::format("{:.{}f}", value, DecimalsFor(step));
  if (text.find_first_not_of("-0.") == std::string::npos) return "0";  // no "-0.00"
  return text;
}

std::vector<std::string> TickLabels(std::span<const double> ticks, bool log) {
  double step = 0.0;
  for (size_t i = 1; i < ticks.size(); ++i) {
    const double gap = std::abs(ticks[i] - ticks[i - 1]);
    if (gap > 0.0 && (step == 0.0 || gap < step)) step = gap;
  }
  std::vector<std::string> labels;
  labels.reserve(ticks.size());
  for (const double tick : ticks) {
    labels.push_back(FormatTick(tick, log || step == 0.0 ? std::abs(tick) : step));
  }
  return labels;
}

}  // namespace tessera::render
