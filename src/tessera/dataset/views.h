// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "tessera/core/dtype.h"
#include "tessera/dataset/corrections.h"
#include "tessera/dataset/dataset.h"

namespace tessera::dataset {

// Lazy views: datasets that wrap another dataset and transform what it reads, frame range by
// frame range, without materialising anything. A UDF run over a view sees exactly what it would
// see on a transformed copy stored in meta().dtype. Views compose, are safe to read from several
// threads at once, report format "view" with the base's path and files, and throw
// kInvalidArgument naming the parameter for every bad argument.

using DatasetPtr = std::shared_ptr<const Dataset>;

/// Return the base cropped to per-axis [begin, end) ranges; an empty list keeps those axes
/// whole. Rank is kept (a crop to one scan row stays 2-D); axis offsets move to the new origin.
DatasetPtr CropView(DatasetPtr base, std::vector<std::pair<int64_t, int64_t>> nav,
                    std::vector<std::pair<int64_t, int64_t>> sig);

/// How BinView combines the elements of one bin.
enum class BinReduce { kSum, kMean };

/// Return the base binned by integer factors per nav and per sig axis (an empty list: factor 1
/// everywhere). A size not divisible by its factor drops the trailing remainder. Axis scales grow
/// by the factor and offsets move to the bin centres. Sums are exact for integer data (dtype
/// int64, uint64 for uint64 data, wrapping there) and accumulate in float64 for floating data
/// (dtype kept); means are float32 for data up to 16 bits and float32 itself, float64 otherwise
/// (complex data keeps its complex dtype).
DatasetPtr BinView(DatasetPtr base, std::vector<int64_t> nav_factors,
                   std::vector<int64_t> sig_factors, BinReduce reduce);

/// Return the base with each 2-D signal frame flipped up-down and/or left-right, then rotated by
/// rot90 * 90 degrees counter-clockwise (np.rot90 semantics, any integer, taken modulo 4). Odd
/// rot90 swaps the signal axes; calibrations travel with their axes (a flipped axis gets a
/// negative scale and the offset of its far end).
DatasetPtr FlipRotateView(DatasetPtr base, bool flip_y, bool flip_x, int rot90);

/// Return Savu's projection <-> sinogram swap of a nav (N) x sig (rows, cols) dataset: nav
/// (rows) x sig (N, cols), axes moving with their data. Applied twice it gives the original.
DatasetPtr TransposeNavSigView(DatasetPtr base);

/// Return the base converted to `dtype`: to integers by rounding to nearest (ties to even) and
/// saturating to the target range (NaN -> 0), to floats by IEEE rounding with finite values
/// saturated to the largest finite value, to bool as `value != 0`. Complex data converts only
/// to complex dtypes. Reading the view as a float returns the converted values exactly.
DatasetPtr DTypeView(DatasetPtr base, DType dtype);

/// Return the base with detector corrections applied on read, computed in float32 (the view's
/// dtype). `corrections` must be made for the base's signal shape. Sets with excluded pixels
/// read whole frames even when a band is asked for, since a repair needs its neighbours.
DatasetPtr CorrectedView(DatasetPtr base, CorrectionSet corrections);

}  // namespace tessera::dataset
