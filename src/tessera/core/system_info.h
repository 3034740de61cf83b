// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace tessera {

/// The current UTC time as ISO 8601, "2026-11-21T18:03:12Z" (for provenance).
std::string NowIso8601();
/// This machine's host name, or "unknown".
std::string HostName();

}  // namespace tessera
