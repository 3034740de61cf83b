// SPDX-License-Identifier: MIT
#pragma once

// Energy-window helpers shared by eels.cc and spectrum_peaks.cc (not part of the API).

#include <cstdint>
#include <vector>

#include "tessera/arrayops/eels.h"

namespace tessera::arrayops::internal {

/// The finite channels of a spectrum inside an energy window.
struct WindowData {
  std::vector<double> energy;     // eV
  std::vector<double> intensity;  // counts
};

/// Return E(i).
inline double Energy(const EnergyAxis& axis, int64_t channel) {
  return axis.offset + static_cast<double>(channel) * axis.scale;
}

/// Check `spectrum` (rank 1) and `axis`; throws ("spectrum") or ("axis").
void CheckSpectrum(const NdArray& spectrum, const EnergyAxis& axis);

/// Return the finite channels of `spectrum` (float64) with start <= E <= end. Throws ("window")
/// unless start < end lies within the axis (half a channel of slack at both ends) and at least
/// `min_channels` finite channels fall inside.
WindowData SelectWindow(const NdArray& spectrum, const EnergyAxis& axis, double start, double end,
                        int64_t min_channels);

}  // namespace tessera::arrayops::internal
