// SPDX-License-Identifier: MIT
#pragma once

#include <string>

#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"
#include "tessera/pipeline/operator.h"

namespace tessera::formats {
class FormatRegistry;
}
namespace tessera::ops {
class OperatorRegistry;
}

namespace tessera::pipeline {

/// read (any registered format), load (a small dataset into an array), write (HDF5 with
/// provenance, NPY, TIFF, PNG). `formats` must outlive `registry`.
void RegisterIoOps(PipelineRegistry& registry, const formats::FormatRegistry& formats);
/// One reduce operator per analysis of `analyses` (same name, parameters and outputs).
void RegisterReduceOps(PipelineRegistry& registry, const ops::OperatorRegistry& analyses,
                       const formats::FormatRegistry& formats);
/// crop, bin, flip-rotate, transpose, corrections, dtype: lazy views of a dataset.
void RegisterMapOps(PipelineRegistry& registry, const formats::FormatRegistry& formats);
/// array-crop, gaussian-blur, fft, arithmetic, normalise, threshold, find-peaks,
/// eels-background, spectrum-peaks.
void RegisterArrayOps(PipelineRegistry& registry);
/// image, line-plot, overlay-points, overlay-vectors: figures (RGB images).
void RegisterDisplayOps(PipelineRegistry& registry);
/// Every built-in operator, registered once (with the built-in formats and analyses).
const PipelineRegistry& BuiltinOperators();

/// Return "path|size|mtime" of the file behind `path` (an HDF5 "file.h5:/dset" names its file),
/// or "missing:path": the external cache key of operators that read files.
std::string FileStamp(const std::string& path);

/// Read every frame of a small dataset into one array of its full shape as `dtype`. Throws
/// kInvalidArgument (field `field`) above 2^31 elements.
NdArray ReadWhole(const dataset::Dataset& ds, DType dtype, const std::string& field);

}  // namespace tessera::pipeline
