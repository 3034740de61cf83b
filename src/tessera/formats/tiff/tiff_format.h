// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// Return whether `head` starts with a classic TIFF ("II*\0", "MM\0*") or BigTIFF header.
bool LooksLikeTiff(std::span<const std::byte> head);

/// Return whether `path` names a stack of TIFF files rather than one file: a directory holding
/// at least one *.tif / *.tiff file, or a glob pattern (`*`, `?`, `[...]` in the last path
/// component) that matches at least one regular file.
bool IsTiffStackPath(const std::string& path);

/// Return the files of a TIFF stack path (see IsTiffStackPath) in natural order: runs of digits
/// compare by value, so "raw_2.tif" comes before "raw_10.tif". Throws kNotFound when nothing
/// matches.
std::vector<std::string> ListTiffStack(const std::string& path);

/// Open a TIFF file (classic or BigTIFF, any byte order) or a stack of TIFF files as a dataset:
/// pages (and files) are the navigation axis, (height, width) the signal, with a trailing
/// channel axis for more than one sample per pixel. Calibrations and metadata come from ImageJ,
/// DigitalMicrograph, FEI/Thermo, Zeiss SEM and TVIPS tags. Uncompressed pages are served zero
/// copy from the mapped file(s); compressed pages (LZW, Deflate, PackBits, ...) are decoded by
/// libtiff frame by frame. Parameters: "use_resolution" (bool).
std::unique_ptr<dataset::Dataset> OpenTiff(const std::string& path, const OpenParams& params);

/// Return the registry entry of the TIFF format.
FormatEntry TiffFormatEntry();

}  // namespace tessera::formats
