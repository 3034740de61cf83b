// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessera/render/rgb_image.h"

namespace tessera::render {

/// One line of a plot: points (x[i], y[i]) joined in order; a NaN (or, on a log axis, a
/// non-positive y) breaks the line.
struct Series {
  std::vector<double> x;
  std::vector<double> y;
  std::string label;          // shown in the legend when not empty
  std::optional<Rgb> colour;  // default: SeriesColour(index)
};

/// How RenderLinePlot lays out a plot.
struct PlotOptions {
  int64_t width = 800;  // canvas size in pixels, 64..16384
  int64_t height = 500;
  std::string title;
  std::string xlabel;
  std::string ylabel;
  std::optional<double> xmin, xmax, ymin, ymax;  // default: the data's range (y padded by 5%)
  bool log_y = false;
  double line_width = 2.0;  // pixels, (0, 16]
  bool grid = true;         // light lines at the ticks
  int64_t text_scale = 1;   // 1..8; the title is drawn twice as large
};

/// Return the colour of series `index` when it sets none: the ten "tab10" colours, repeated.
Rgb SeriesColour(int64_t index);

/// Render series as an anti-aliased line plot: white background, axes box, nice ticks with
/// labels, grid, axis labels, title and a legend of the labelled series. Empty or all-NaN input
/// still gives a plot with axes. Throws kInvalidArgument ("width", "height", "series" when x and
/// y differ in length, "xmin", "xmax", "ymin", "ymax" for non-finite, reversed or, on a log
/// axis, non-positive limits, "line_width", "text_scale").
RgbImage RenderLinePlot(std::span<const Series> series, const PlotOptions& options);

}  // namespace tessera::render
