// SPDX-License-Identifier: MIT
#pragma once

#include <memory>
#include <string>

#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats {

/// Open a dataset of an HDF5 file. `path` is "file.h5" or "file.h5:/group/dataset"; without a
/// dataset path the largest dataset with at least 3 dimensions is used. The last `sig_dims` axes
/// (default min(2, rank)) are the signal. Contiguous, unfiltered datasets are served zero copy
/// from a memory map; others are read through HDF5 (which converts dtypes) under a global lock.
/// NeXus tomography scans (an NXtomo entry, or an NXdata whose frames have an image_key as DLS
/// writes them) are found without a dataset path; `images` ("projections", "flats", "darks",
/// "all"; "" = all) selects frames by image key, and the rotation angles of the selected frames
/// calibrate the navigation axis (full lists in the metadata under "nxtomo"). A dataset whose
/// filter plugin is missing throws kUnsupported naming the file, dataset and filter id.
std::unique_ptr<dataset::Dataset> OpenHdf5(const std::string& path, int sig_dims = -1,
                                           const std::string& images = "");

/// Return the registry entry of the HDF5 format.
FormatEntry Hdf5FormatEntry();

}  // namespace tessera::formats
