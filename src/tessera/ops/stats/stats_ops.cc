// SPDX-License-Identifier: MIT
#include <memory>

#include "tessera/ops/operator_registry.h"
#include "tessera/ops/stats/frame_sum_udf.h"
#include "tessera/ops/stats/noop_udf.h"
#include "tessera/ops/stats/stats_udf.h"
#include "tessera/ops/stats/sum_udf.h"

namespace tessera::ops {

void RegisterStatsOps(OperatorRegistry& registry) {
  registry.Add({
      .name = "sum",
      .version = "1",
      .summary = "Sum of all frames (the summed diffraction pattern).",
      .description =
          "Adds every frame inside the ROI pixel by pixel. The result 'sum' has the signal shape "
          "and dtype float64 (exact for integer data up to 2^53 counts per pixel). Integer and "
          "float data are read in their native dtype, without conversion.",
      .outputs = {"sum"},
      .make = [](const Params&) { return std::make_unique<SumUdf>(); },
  });
  registry.Add({
      .name = "frame-sum",
      .version = "1",
      .summary = "Sum of each frame (the integrated-intensity image).",
      .description =
          "Adds all pixels of each frame. The result 'frame_sum' has the navigation shape and "
          "dtype float64; positions outside the ROI read as NaN.",
      .outputs = {"frame_sum"},
      .make = [](const Params&) { return std::make_unique<FrameSumUdf>(); },
  });
  registry.Add({
      .name = "stats",
      .version = "1",
      .summary = "Per-pixel mean, variance, standard deviation, minimum and maximum over frames.",
      .description =
          "One pass over the data. Each tile is reduced in float64 (shifted sums), then merged "
          "with Chan et al.'s pairwise update into per-partition accumulators, and partitions are "
          "merged the same way, so the results agree with a two-pass float64 computation to "
          "about 1e-12 relative. Variance and standard deviation are population values "
          "(ddof = 0, as numpy.var). All outputs have the signal shape and dtype float64; NaN "
          "pixel values are not treated specially.",
      .citations = {{.doi = "10.1145/3221269.3223036",
                     .bibtex = "@inproceedings{schubert2018,\n  author = {Schubert, Erich and "
                               "Gertz, Michael},\n  title = {Numerically Stable Parallel "
                               "Computation of (Co-)Variance},\n  booktitle = {SSDBM '18},\n  "
                               "year = {2018},\n  doi = {10.1145/3221269.3223036}\n}"}},
      .outputs = {"mean", "var", "std", "min", "max"},
      .make = [](const Params&) { return std::make_unique<StatsUdf>(); },
  });
  registry.Add({
      .name = "noop",
      .version = "1",
      .summary = "Benchmark baseline: reads nothing, computes nothing.",
      .description =
          "Walks every tile of the dataset in its native dtype without touching the data and "
          "produces no result. Timing it gives the framework's overhead per tile and frame "
          "(partitioning, tiling, scheduling, merging), the floor under every other analysis.",
      .outputs = {"(none)"},
      .make = [](const Params&) { return std::make_unique<NoopUdf>(); },
  });
}

}  // namespace tessera::ops
