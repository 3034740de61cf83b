// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// Options of the Velox reader (the registry parameters).
struct VeloxOptions {
  int signal = -1;          // index in the file's signal list; -1: the largest
  bool sum_frames = true;   // EDS spectrum images: sum the frames of the stream
  int64_t rebin_energy = 1; // EDS spectrum images: channels summed per output channel
};

/// One decoded Velox spectrum stream: events (channel indices) and 65535 pixel markers.
struct VeloxStreamIndex {
  int64_t markers = 0;          // 65535 values in the stream
  int64_t slots = 0;            // pixel slots the stream reaches (markers + 1, or 0 if empty)
  std::vector<int64_t> starts;  // stream position where each reached slot starts, + sentinel
};

/// Index a Velox spectrum stream: record where each pixel slot (frame * ny * nx + pixel) starts
/// and check every event against `channels`. Throws kCorruptFile naming `file`, `object` and the
/// element index of the first value that is neither 65535 nor below `channels`.
VeloxStreamIndex IndexVeloxStream(std::span<const uint16_t> stream, int64_t channels,
                                  const std::string& file, const std::string& object);

/// Return a physical length `value` in `units` ("m", "1/m", "s") converted to a compact SI
/// prefix the way HyperSpy/pint's to_compact does for value * factor (so that the range
/// value * factor lies in [1, 1000) of the new unit): returns {scale to multiply by, new units}.
std::pair<double, std::string> VeloxCompactUnits(double value, const std::string& units,
                                                 double factor);

/// Open a Thermo Fisher Velox EMD file (HDF5 with /Version {"format": "Velox"} and /Data).
/// Images are served as nav (frames) x sig (ny, nx) (nav () for one frame), single spectra as
/// sig (channels,), EELS spectrum images as nav (ny, nx) x sig (channels,), and EDS spectrum
/// streams decoded into nav (ny, nx) (or (frames, ny, nx)) x sig (channels,).
std::unique_ptr<dataset::Dataset> OpenVelox(const std::string& path,
                                            const VeloxOptions& options = {});

/// Return whether `path` is an HDF5 file written by Velox (never throws).
bool IsVeloxFile(const std::string& path);

/// Return the registry entry of the Velox format.
FormatEntry VeloxFormatEntry();

}  // namespace tessera::formats
