// SPDX-License-Identifier: MIT
#pragma once

// Spectrum fits for EELS (and any 1-D spectrum on a linear energy axis): the power-law
// background before an ionisation edge, and Gaussian or Lorentzian peaks on a constant
// background. Both use Ceres' Levenberg-Marquardt on the channels of an energy window.

#include <cstdint>
#include <span>
#include <vector>

#include "tessera/arrayops/table.h"
#include "tessera/core/nd_array.h"

namespace tessera::arrayops {

/// A linear energy axis: E(i) = offset + i * scale, in eV (scale > 0).
struct EnergyAxis {
  double offset = 0;
  double scale = 1;
};

/// The result of FitPowerLawBackground.
struct PowerLawFit {
  double amplitude = 0;  ///< A in A * E^-r
  double exponent = 0;   ///< r in A * E^-r
  NdArray background;    ///< A * E^-r on every channel with E > 0, NaN where E <= 0
  NdArray subtracted;    ///< spectrum - background (the spectrum itself where E <= 0)
  double r_squared = 0;  ///< 1 - SS_res / SS_tot over the window's channels
  bool converged = false;
};

/// Fit the power law A * E^-r (Egerton, EELS in the Electron Microscope, 3rd ed., §4.4.2) to
/// the channels with window_start_ev <= E <= window_end_ev: the start point is a straight-line
/// fit of log(I) against log(E) over the positive counts, then Ceres minimises the squared
/// residuals in linear space (parameters log A and r). The background is evaluated over the
/// whole axis and subtracted everywhere, before the window too, like HyperSpy's
/// Signal1D.remove_background(zero_fill=False) (whose PowerLaw is 0 at E <= 0, hence the
/// spectrum is kept there). NaN channels are left out of the fit.
/// Throws ("spectrum") unless rank 1, ("axis") for a non-finite offset or scale <= 0, and
/// ("window") for a window outside the axis, reaching E <= 0, or with fewer than 3 finite
/// channels.
PowerLawFit FitPowerLawBackground(const NdArray& spectrum, EnergyAxis axis, double window_start_ev,
                                  double window_end_ev);

enum class PeakShape {
  kGaussian,    ///< A exp(-4 ln2 (E - c)^2 / w^2)
  kLorentzian,  ///< A / (1 + 4 (E - c)^2 / w^2)
};

/// One fitted peak; `amplitude` is the height, `area` the integral, w the FWHM (eV).
struct SpectrumPeak {
  double centre, fwhm, amplitude, area;
  double centre_error, fwhm_error, amplitude_error, area_error;
};

/// The result of FitSpectrumPeaks.
struct PeakFitResult {
  std::vector<SpectrumPeak> peaks;  ///< in the order of the initial centres
  double background = 0;            ///< the fitted constant
  NdArray fitted;                   ///< the model (peaks + background) on every channel
  Table table;  ///< centre, fwhm, amplitude, area and their *_error columns, one row per peak
  bool converged = false;
};

/// Fit a sum of peaks of `shape`, one per initial centre, plus a constant background to the
/// channels with window_start_ev <= E <= window_end_ev, with Ceres' Levenberg-Marquardt and an
/// analytic Jacobian. Start point: background = window minimum, each height = the channel at its
/// centre above it, each FWHM = the width at half height (stopping half way to a neighbouring
/// centre). Errors are 1-sigma: ceres::Covariance of the parameters scaled by the residual
/// variance SS_res / (n - p); the area error includes the height-width covariance. NaN
/// channels are left out; an error that cannot be computed (singular fit) is NaN.
/// Throws ("spectrum") unless rank 1, ("axis"), ("window") for a window outside the axis or
/// with fewer than 3 * peaks + 2 finite channels, ("initial_centres_ev") when empty,
/// non-finite, or outside the window.
PeakFitResult FitSpectrumPeaks(const NdArray& spectrum, EnergyAxis axis, PeakShape shape,
                               std::span<const double> initial_centres_ev, double window_start_ev,
                               double window_end_ev);

}  // namespace tessera::arrayops
