// SPDX-License-Identifier: MIT
#pragma once

// Peak finding and sub-pixel refinement on 2-D images (diffraction spots, atom columns).

#include <cstdint>
#include <limits>

#include "tessera/arrayops/table.h"
#include "tessera/core/nd_array.h"

namespace tessera::arrayops {

/// Options of FindPeaks, named after skimage.feature.peak_local_max's arguments.
struct PeakOptions {
  /// Peaks are maxima of a (2 * min_distance + 1)^2 neighbourhood and, for min_distance > 1,
  /// at least min_distance apart (Chebyshev distance); 0 keeps every pixel above the threshold.
  int64_t min_distance = 1;
  /// Minimum intensity; -inf means the image minimum (skimage's threshold_abs=None).
  double threshold_abs = -std::numeric_limits<double>::infinity();
  /// Minimum intensity relative to the image maximum; 0 means unused (threshold_rel=None).
  double threshold_rel = 0;
  /// At most this many peaks, the brightest first; 0 keeps all.
  int64_t max_peaks = 0;
  /// Width of the border where no peak is reported; -1 means min_distance (like skimage's
  /// exclude_border=True).
  int64_t exclude_border = -1;
};

/// Return the local maxima of a 2-D `image` with the semantics of
/// skimage.feature.peak_local_max (scikit-image 0.26): a maximum filter of size
/// 2 * min_distance + 1 with mode 'nearest'; a pixel is a candidate when it equals the filtered
/// value and exceeds max(threshold_abs or the image minimum, threshold_rel * image maximum);
/// an image where every pixel equals its filtered value has no peaks; candidates within
/// exclude_border of an edge are dropped; the rest are sorted by intensity, brightest first,
/// ties in raster order; for min_distance > 1 a candidate closer than min_distance to an
/// accepted brighter one is dropped (so a plateau yields peaks min_distance apart).
/// NaN pixels are never peaks and do not count in the filter or the statistics (skimage would
/// find no peaks at all). Columns "y", "x" (px) and "intensity".
Table FindPeaks(const NdArray& image, const PeakOptions& options = {});

/// Return the peaks of `peaks` (columns "y", "x", rounded to pixels) refined by a least-squares
/// fit of A exp(-((x - x0)^2 / (2 sx^2) + (y - y0)^2 / (2 sy^2))) + c on the
/// (2 * half_window + 1)^2 window around each (clipped at the image edge, NaN pixels left out),
/// with Ceres' Levenberg-Marquardt and an analytic Jacobian. Columns "y", "x" (px, sub-pixel),
/// "amplitude", "sigma_y", "sigma_x" (px), "background", "converged" (1/0). A fit that does not
/// converge, ends with A <= 0, a sigma outside [0.1, 2 * half_window + 1] or a centre outside
/// its window keeps the integer position, with NaN fit values and converged = 0.
/// Throws ("half_window") for half_window < 1 and ("peaks") for missing columns or positions
/// outside the image.
Table RefinePeaksGaussian(const NdArray& image, const Table& peaks, int64_t half_window);

}  // namespace tessera::arrayops
