// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "tessera/dataset/dataset.h"

namespace tessera::formats {

/// Called after each block of frames: (frames written so far, total frames).
using WriteProgress = std::function<void(int64_t frames_done, int64_t total)>;

/// Write every frame of `source` to `path` in its stored dtype, choosing the format by extension:
/// .raw/.bin (headerless little-endian C order), .npy, or .h5/.hdf5 (dataset /data chunked by
/// whole frames, with axis_<i>_* attributes, sig_dims and the source's metadata_json as
/// attribute "metadata"). Frames stream through a ~16 MiB buffer, so memory stays small for any
/// size. Atomic: the file appears complete or not at all; `cancel` set to true stops the write
/// between blocks with kCancelled and leaves nothing behind.
void WriteDataset(const dataset::Dataset& source, const std::string& path,
                  const WriteProgress& progress = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace tessera::formats
