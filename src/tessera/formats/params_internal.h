// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats::internal {

/// Return the value of `name`, or nullopt when absent.
std::optional<std::string> FindParam(const OpenParams& params, const std::string& name);
/// Return the value of a required parameter; throws kInvalidArgument naming it when absent.
std::string RequireParam(const OpenParams& params, const std::string& name,
                         const std::string& file);
/// Parse an integer parameter; throws kInvalidArgument naming the field.
int64_t ParseIntParam(const std::string& text, const std::string& field);
/// Parse "true/false/1/0/yes/no"; throws kInvalidArgument naming the field.
bool ParseBoolParam(const std::string& text, const std::string& field);
/// Parse a dtype name ("uint16", "f4") or NumPy typestr ("<u2", ">f4").
DType ParseDTypeParam(const std::string& text, const std::string& field, bool* big_endian);
/// Return the signal-axis count: `sig_dims` if given (must be <= rank), else min(2, rank).
int SigDimsParam(const OpenParams& params, int rank, const std::string& file);

/// Return the lower-case extension of `path` with the dot ("" if none).
std::string LowerExtension(const std::string& path);

}  // namespace tessera::formats::internal
