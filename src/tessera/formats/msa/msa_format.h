// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// One "#KEYWORD -units: value" line of an EMSA/MSA header, in file order.
struct MsaKeyword {
  std::string name;   // upper case, without the leading '#' and the units ("BEAMKV")
  std::string units;  // after the '-' of the keyword field ("kV"), empty when absent
  std::string value;  // trimmed
};

/// A parsed EMSA/MAS spectrum: header keywords and the Y values.
struct MsaSpectrum {
  std::vector<MsaKeyword> keywords;
  std::vector<double> values;
};

/// Parse the text of an EMSA/MSA file. Throws kCorruptFile naming `path`, the byte offset and
/// the keyword for missing #FORMAT/#NPOINTS/#SPECTRUM, numbers that do not parse, and data with
/// fewer values than #NPOINTS declares.
MsaSpectrum ParseMsa(std::string_view text, const std::string& path);

/// Open an EMSA/MSA spectrum (read into memory): sig (n,), float64, no navigation axes.
std::unique_ptr<dataset::Dataset> OpenMsa(const std::string& path);

/// Return the registry entry of the EMSA/MSA format.
FormatEntry MsaFormatEntry();

}  // namespace tessera::formats
