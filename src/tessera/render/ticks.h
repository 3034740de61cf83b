// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tessera::render {

/// Return tick values inside [low, high] that are "nice": multiples of a step of 1, 2 or 5 times
/// a power of ten, the smallest such step that gives at most `max_ticks` ticks. A zero-width
/// range gives the one value. Values are exact decimals where doubles allow (0.6, not
/// 0.6000000000000001). Throws kInvalidArgument ("low", "high", "max_ticks").
std::vector<double> NiceTicks(double low, double high, int64_t max_ticks = 8);

/// Return ticks for a logarithmic axis over [low, high], 0 < low <= high: the powers of ten
/// inside (every k-th one when there are more than `max_ticks`); when fewer than two powers fall
/// inside, 1, 2 and 5 times powers of ten; failing that, NiceTicks. Throws kInvalidArgument.
std::vector<double> LogTicks(double low, double high, int64_t max_ticks = 8);

/// Return the label of a tick value with as many decimals as `step` (the distance to its
/// neighbours) needs: "0.25", "285", "-1.5"; magnitudes from 1e5 up or below 1e-3 in short
/// exponent form ("1e-4", "2.5e6"). Zero is always "0".
std::string FormatTick(double value, double step);

/// Return the labels of linear (`log` false) or logarithmic ticks, as FormatTick with the step
/// between linear ticks, or each log tick's own magnitude.
std::vector<std::string> TickLabels(std::span<const double> ticks, bool log);

}  // namespace tessera::render
