// SPDX-License-Identifier: MIT
#pragma once

#include <cctype>
#include <string_view>

namespace tessera {

/// Strip leading and trailing white space (text headers, parameter values).
inline std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace tessera
