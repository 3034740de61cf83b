// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/dataset/dataset.h"

namespace tessera::formats {

/// User options for opening a file, by parameter name ("nav_shape" -> "128x128"). Ordered, so
/// listings and error messages are stable.
using OpenParams = std::map<std::string, std::string>;

/// Documentation and schema of one open parameter.
struct ParamDoc {
  std::string name;           // snake_case, as in OpenParams ("nav_shape")
  std::string type;           // "dims", "dtype", "int", "bool", "string"
  std::string help;           // one line
  std::string default_value;  // empty when required or when there is no default
  bool required = false;
};

/// One file format: how to recognise it, what it accepts and how to open it.
struct FormatEntry {
  std::string name;                     // registry name ("raw", "npy", "hdf5")
  std::vector<std::string> extensions;  // lower-case, with the dot (".npy")
  /// Return whether `head` (up to the first 512 bytes of the file) looks like this format.
  /// Empty for formats that cannot be recognised by content (raw).
  std::function<bool(std::span<const std::byte> head, const std::string& path)> sniff;
  std::vector<ParamDoc> params;
  std::string summary;  // one line for `tessera info --formats`, docs and the UI
  std::function<std::unique_ptr<dataset::Dataset>(const std::string& path, const OpenParams&)>
      open;
};

/// The formats Tessera can read, filled by explicit registration calls.
class FormatRegistry {
 public:
  /// Add `entry`; throws kInvalidArgument on a duplicate or empty name, a missing summary,
  /// `open`, or parameter help, or a duplicate parameter name.
  void Add(FormatEntry entry);
  /// Return the entry named `name`, or nullptr.
  const FormatEntry* Find(const std::string& name) const;
  /// Return every entry in registration order.
  std::vector<const FormatEntry*> entries() const;

  /// Return the format that Open() would use for `path` and `params` (`format` forces one).
  /// Throws kNotFound if the file does not exist, kInvalidArgument for an unknown `format`,
  /// kUnsupported if no format fits.
  const FormatEntry& Detect(const std::string& path, const OpenParams& params,
                            const std::string& format = "") const;

  /// Open `path` (HDF5 paths may carry ":/group/dataset") as a dataset. Picks the format by
  /// `format` if given, else by sniffing the first 512 bytes, else raw when raw parameters are
  /// given, else by extension. Parameters the format does not know are a kInvalidArgument error.
  std::unique_ptr<dataset::Dataset> Open(const std::string& path, const OpenParams& params,
                                         const std::string& format = "") const;

 private:
  std::vector<std::unique_ptr<FormatEntry>> entries_;
};

/// Register every built-in reader (raw last: it is chosen by parameters, never by content).
void RegisterBuiltinFormats(FormatRegistry& registry);
/// A registry with every built-in reader, made once (thread-safe) and shared by the CLI, the
/// pipeline operators and the Python module.
const FormatRegistry& BuiltinFormats();

/// Split "file.h5:/group/dset" into {"file.h5", "/group/dset"}; a path without ":/" (or one that
/// names an existing file as a whole) gives {path, ""}.
std::pair<std::string, std::string> SplitDatasetPath(const std::string& path);

}  // namespace tessera::formats
