// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/render/rgb_image.h"

namespace tessera::render {

/// Return `image` encoded as an 8-bit RGB PNG file in memory (for the web server).
/// Throws kInvalidArgument ("image") for an image without pixels or whose buffer does not hold
/// height * width * 3 bytes, kInternal if libpng fails.
std::vector<uint8_t> EncodePng(const RgbImage& image);

/// Write `image` as an 8-bit RGB PNG to `path` atomically (temp file + rename: readers never see
/// a partial file, and a failure leaves no temp file behind). Throws kInvalidArgument ("image"),
/// kIo naming `path` when the file cannot be written.
void WritePng(const std::string& path, const RgbImage& image);

}  // namespace tessera::render
