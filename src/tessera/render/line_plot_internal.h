// SPDX-License-Identifier: MIT
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tessera/render/line_plot.h"
#include "tessera/render/raster_internal.h"

namespace tessera::render::internal {

/// One axis of a plot: its limits (log10 of the values on a log axis), ticks and their labels.
struct PlotAxis {
  double low = 0.0;
  double high = 1.0;
  bool log = false;
  std::vector<double> ticks;  // in data units
  std::vector<std::string> labels;
};

/// Where RenderLinePlot puts things.
struct PlotFrame {
  Box box;  // the axes box; its one-pixel outline is the outermost rows and columns
  PlotAxis x;
  PlotAxis y;

  /// Return the canvas column of data value `x` (not clamped).
  double PixelX(double value) const;
  /// Return the canvas row of data value `y`; NaN for y <= 0 on a log axis.
  double PixelY(double value) const;
};

/// Check the options and series and lay out the plot (axis limits, ticks, margins).
PlotFrame LayOutLinePlot(std::span<const Series> series, const PlotOptions& options);

}  // namespace tessera::render::internal
