// SPDX-License-Identifier: MIT
#pragma once

// 2-D Fourier transforms of images (KissFFT in double precision). Leading axes are a stack:
// every image of the last two axes is transformed on its own. Outputs are float64 arrays of the
// input's shape.

#include "tessera/core/nd_array.h"

namespace tessera::arrayops {

/// Return |FFT2| of the last two axes of `image`; with `shift` the zero frequency moves to
/// (rows / 2, cols / 2), like np.abs(np.fft.fftshift(np.fft.fft2(image), axes=(-2, -1))).
/// NaNs propagate over the whole image (as in NumPy). Throws ("image") for rank < 2.
NdArray FftMagnitude(const NdArray& image, bool shift = true);

/// Return the HRTEM diffractogram (power spectrum) of the last two axes of `image`: subtract the
/// image mean, multiply by the separable Hann window np.outer(np.hanning(rows),
/// np.hanning(cols)) when `hann_window`, take |FFT2|^2, fftshift, then log1p when `log_scale`.
/// NaN pixels are left out of the mean and then count as the mean (0 after the subtraction).
NdArray Diffractogram(const NdArray& image, bool hann_window = true, bool log_scale = true);

}  // namespace tessera::arrayops
