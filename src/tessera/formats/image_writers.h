// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/core/nd_array.h"

namespace tessera::formats {

/// How WritePng maps values to grey levels.
struct PngOptions {
  double low_percentile = 0.1;    // maps to 0
  double high_percentile = 99.9;  // maps to 255
};

/// Return the 8-bit grey levels of a 2-D real image, autoscaled linearly between two
/// percentiles of its finite values; NaN and -inf become 0, +inf 255, a flat image 0.
std::vector<uint8_t> AutoscaleToGrey(const NdArray& image, const PngOptions& options = {});

/// Write a 2-D real image as an 8-bit greyscale PNG, autoscaled (see AutoscaleToGrey),
/// atomically. Throws kInvalidArgument for other ranks or complex data, kIo naming `path`.
void WritePng(const std::string& path, const NdArray& image, const PngOptions& options = {});

/// Write a real 2-D image, or a 3-D stack as pages, as float32 TIFF (BigTIFF above 2 GiB),
/// atomically. Throws kInvalidArgument for other ranks or complex data, kIo naming `path`.
void WriteTiff(const std::string& path, const NdArray& image);

}  // namespace tessera::formats
