// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/core/strings.h"

namespace tessera::ops::internal {

using ::tessera::Trim;
/// Split at every `separator`, trimming each part (an empty text gives one empty part).
std::vector<std::string_view> Split(std::string_view text, char separator);
/// Parse a whole (trimmed) text as a number, or nullopt.
std::optional<double> ParseDouble(std::string_view text);
std::optional<int64_t> ParseInt(std::string_view text);
std::optional<bool> ParseBool(std::string_view text);
/// Parse "1,2.5,3"; throws kInvalidArgument naming `field`.
std::vector<double> ParseDoubleList(std::string_view text, const std::string& field);
std::vector<int64_t> ParseIntList(std::string_view text, const std::string& field);

}  // namespace tessera::ops::internal
