// SPDX-License-Identifier: MIT
#include "tessera/render/line_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "tessera/core/error.h"
#include "tessera/render/line_plot_internal.h"
#include "tessera/render/text.h"
#include "tessera/render/ticks.h"

namespace tessera::render {
namespace {

using internal::Box;
using internal::PlotAxis;
using internal::PlotFrame;

constexpr int64_t kPad = 8;  // between a canvas edge and text, or two text blocks
constexpr int64_t kTickLength = 5;
constexpr int64_t kTickLabelGap = 3;  // between a tick mark and its label
constexpr int64_t kMinPlotSide = 16;
constexpr double kYPadding = 0.05;  // of the data's y extent, added above and below
constexpr Rgb kGridColour{228, 228, 228};
constexpr Rgb kLegendBorder{170, 170, 170};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMaxLimit = 1e300;     // of a linear axis
constexpr double kMaxLogLimit = 300.0;  // of a log axis, in decades

// Matplotlib's "tab10" qualitative palette.
constexpr std::array<Rgb, 10> kTab10 = {{{31, 119, 180},
                                         {255, 127, 14},
                                         {44, 160, 44},
                                         {214, 39, 40},
                                         {148, 103, 189},
                                         {140, 86, 75},
                                         {227, 119, 194},
                                         {127, 127, 127},
                                         {188, 189, 34},
                                         {23, 190, 207}}};

int64_t GlyphHeight(int64_t scale) { return MeasureText("", scale).height; }

void CheckLimit(const std::optional<double>& limit, bool log, const char* field) {
  if (limit && (!std::isfinite(*limit) || (log && *limit <= 0.0))) {
    throw Error::InvalidArgument(
        fmt::format("axis limit {} must be finite{}", *limit, log ? " and positive" : ""), field);
  }
}

void CheckLimits(const std::optional<double>& low, const std::optional<double>& high, bool log,
                 const char* low_field, const char* high_field) {
  CheckLimit(low, log, low_field);
  CheckLimit(high, log, high_field);
  if (low && high && !(*high > *low)) {
    throw Error::InvalidArgument(
        fmt::format("{} {} must exceed {} {}", high_field, *high, low_field, *low), high_field);
  }
}

void CheckInputs(std::span<const Series> series, const PlotOptions& options) {
  if (options.width < 64 || options.width > 16384) {
    throw Error::InvalidArgument(fmt::format("width {} is outside [64, 16384]", options.width),
                                 "width");
  }
  if (options.height < 64 || options.height > 16384) {
    throw Error::InvalidArgument(fmt::format("height {} is outside [64, 16384]", options.height),
                                 "height");
  }
  if (!(options.line_width > 0.0 && options.line_width <= 16.0)) {
    throw Error::InvalidArgument(
        fmt::format("line width {} is outside (0, 16]", options.line_width), "line_width");
  }
  if (options.text_scale < 1 || options.text_scale > 8) {
    throw Error::InvalidArgument(fmt::format("text scale {} is outside [1, 8]", options.text_scale),
                                 "text_scale");
  }
  CheckLimits(options.xmin, options.xmax, false, "xmin", "xmax");
  CheckLimits(options.ymin, options.ymax, options.log_y, "ymin", "ymax");
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].x.size() != series[i].y.size()) {
      throw Error::InvalidArgument(
          fmt::format("series {} ('{}') has {} x values but {} y values", i, series[i].label,
                      series[i].x.size(), series[i].y.size()),
          "series");
    }
  }
}

// A point is drawn when both coordinates are finite (and y positive on a log axis).
bool Drawable(double x, double y, bool log_y) {
  return std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0.0);
}

double ToAxis(double value, bool log) { return log ? std::log10(value) : value; }

// The extent of the drawable points along x (`along_x`) or y, in axis units; nullopt if none.
std::optional<std::pair<double, double>> DataExtent(std::span<const Series> series, bool along_x,
                                                    bool log_y) {
  double low = std::numeric_limits<double>::infinity();
  double high = -low;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!Drawable(s.x[i], s.y[i], log_y)) continue;
      const double v = along_x ? s.x[i] : ToAxis(s.y[i], log_y);
      low = std::min(low, v);
      high = std::max(high, v);
    }
  }
  if (low > high) return std::nullopt;
  return std::pair{low, high};
}

// Axis limits: the caller's where given, else the data's (padded), else [0, 1]; widened around
// a single value so that the axis never has zero length.
// Limits are clamped to +-`max_limit`, which keeps differences of limits, and so pixel
// positions, finite (and, on a log axis, 10^limit a normal double).
std::pair<double, double> Limits(std::optional<std::pair<double, double>> data,
                                 std::optional<double> user_low, std::optional<double> user_high,
                                 double padding, double max_limit) {
  auto [low, high] = data.value_or(std::pair{0.0, 1.0});
  const double pad = high * padding - low * padding;  // high - low may overflow
  low = std::clamp(user_low.value_or(low - pad), -max_limit, max_limit);
  high = std::clamp(user_high.value_or(high + pad), -max_limit, max_limit);
  if (high > low) return {low, high};
  const double widen = low != 0.0 ? std::abs(low) * 0.05 : 0.5;
  if (user_low) return {low, low + 2 * widen};
  if (user_high) return {high - 2 * widen, high};
  return {low - widen, high + widen};
}

// Ticks for an axis: at most about `max_ticks`, but at least two where a few more allow it.
PlotAxis MakeAxis(std::pair<double, double> limits, bool log, int64_t max_ticks) {
  PlotAxis axis{.low = limits.first, .high = limits.second, .log = log};
  for (int64_t n = max_ticks; axis.ticks.size() < 2 && n <= max_ticks + 4; ++n) {
    axis.ticks = log ? LogTicks(std::pow(10.0, axis.low), std::pow(10.0, axis.high), n)
                     : NiceTicks(axis.low, axis.high, n);
  }
  axis.labels = TickLabels(axis.ticks, log);
  return axis;
}

// The y axis: limits from the options or the data (padded), ticks for a plot this high.
PlotAxis MakeYAxis(std::span<const Series> series, const PlotOptions& options,
                   int64_t plot_height) {
  const bool log = options.log_y;
  auto to_axis = [log](const std::optional<double>& limit) {
    return limit ? std::optional(ToAxis(*limit, log)) : std::nullopt;
  };
  const auto limits = Limits(DataExtent(series, false, log), to_axis(options.ymin),
                             to_axis(options.ymax), kYPadding, log ? kMaxLogLimit : kMaxLimit);
  return MakeAxis(limits, log, std::clamp<int64_t>(plot_height / 45, 2, 10));
}

int64_t WidestLabel(const PlotAxis& axis, int64_t scale) {
  int64_t widest = 0;
  for (const std::string& label : axis.labels) {
    widest = std::max(widest, MeasureText(label, scale).width);
  }
  return widest;
}

// Choose x ticks that leave room between their labels in a plot `plot_width` wide.
PlotAxis MakeXAxis(std::pair<double, double> limits, int64_t plot_width, int64_t scale) {
  for (int64_t max_ticks = std::clamp<int64_t>(plot_width / 80, 2, 10);; --max_ticks) {
    PlotAxis axis = MakeAxis(limits, false, max_ticks);
    const int64_t spacing =
        plot_width / std::max<int64_t>(static_cast<int64_t>(axis.ticks.size()), 1);
    if (max_ticks == 2 || WidestLabel(axis, scale) + 2 * kPad <= spacing) return axis;
  }
}

void CheckPlotSide(int64_t side, const char* field) {
  if (side < kMinPlotSide) {
    throw Error::InvalidArgument(
        fmt::format("{} leaves {} pixels for the axes box, beside the labels", field, side), field);
  }
}

Rgb ColourOf(std::span<const Series> series, size_t index) {
  return series[index].colour.value_or(SeriesColour(static_cast<int64_t>(index)));
}

void DrawGrid(RgbImage& canvas, const PlotFrame& frame) {
  const Box& box = frame.box;
  for (const double tick : frame.x.ticks) {
    const double px = std::round(frame.PixelX(tick));
    if (px > box.left && px < box.right() - 1) {
      internal::FillBox(canvas, {box.top + 1, static_cast<int64_t>(px), box.height - 2, 1},
                        kGridColour);
    }
  }
  for (const double tick : frame.y.ticks) {
    const double py = std::round(frame.PixelY(tick));
    if (py > box.top && py < box.bottom() - 1) {
      internal::FillBox(canvas, {static_cast<int64_t>(py), box.left + 1, 1, box.width - 2},
                        kGridColour);
    }
  }
}

// Draw one series as polylines broken at undrawable points; a lone point becomes a dot.
void DrawSeries(RgbImage& canvas, const PlotFrame& frame, const Series& series, Rgb colour,
                double line_width) {
  const Box& box = frame.box;
  internal::Coverage coverage(canvas.height, canvas.width,
                              {box.top + 1, box.left + 1, box.height - 2, box.width - 2});
  double last_y = kNaN;
  double last_x = kNaN;
  int64_t run = 0;  // drawable points in a row so far
  auto end_run = [&] {
    if (run == 1) coverage.AddDisc(last_y, last_x, line_width);
    run = 0;
  };
  for (size_t i = 0; i < series.x.size(); ++i) {
    if (!Drawable(series.x[i], series.y[i], frame.y.log)) {
      end_run();
      continue;
    }
    const double py = frame.PixelY(series.y[i]);
    const double px = frame.PixelX(series.x[i]);
    if (run > 0) coverage.AddLine(last_y, last_x, py, px, line_width);
    last_y = py;
    last_x = px;
    ++run;
  }
  end_run();
  coverage.Paint(canvas, colour);
}

void DrawTicks(RgbImage& canvas, const PlotFrame& frame, int64_t scale) {
  const Box& box = frame.box;
  for (size_t i = 0; i < frame.x.ticks.size(); ++i) {
    const auto px = static_cast<int64_t>(std::lround(frame.PixelX(frame.x.ticks[i])));
    if (px < box.left || px >= box.right()) continue;
    internal::FillBox(canvas, {box.bottom(), px, kTickLength, 1}, kBlack);
    const int64_t width = MeasureText(frame.x.labels[i], scale).width;
    DrawText(canvas, box.bottom() + kTickLength + kTickLabelGap, px - width / 2, frame.x.labels[i],
             kBlack, scale);
  }
  for (size_t i = 0; i < frame.y.ticks.size(); ++i) {
    const auto py = static_cast<int64_t>(std::lround(frame.PixelY(frame.y.ticks[i])));
    if (py < box.top || py >= box.bottom()) continue;
    internal::FillBox(canvas, {py, box.left - kTickLength, 1, kTickLength}, kBlack);
    const int64_t width = MeasureText(frame.y.labels[i], scale).width;
    // Centre the capitals (the top 7 of 9 glyph rows) on the tick.
    DrawText(canvas, py - 3 * scale, box.left - kTickLength - kTickLabelGap - width,
             frame.y.labels[i], kBlack, scale);
  }
}

void DrawTitles(RgbImage& canvas, const PlotFrame& frame, const PlotOptions& options) {
  const Box& box = frame.box;
  const int64_t scale = options.text_scale;
  const int64_t centre_x = box.left + box.width / 2;
  if (!options.title.empty()) {
    const int64_t width = MeasureText(options.title, 2 * scale).width;
    DrawText(canvas, kPad, std::max<int64_t>(centre_x - width / 2, 0), options.title, kBlack,
             2 * scale);
  }
  if (!options.xlabel.empty()) {
    const int64_t width = MeasureText(options.xlabel, scale).width;
    const int64_t y = box.bottom() + kTickLength + kTickLabelGap + GlyphHeight(scale) + kPad;
    DrawText(canvas, y, std::max<int64_t>(centre_x - width / 2, 0), options.xlabel, kBlack, scale);
  }
  if (!options.ylabel.empty()) {
    const TextSize size = MeasureText(options.ylabel, scale, TextDirection::kUp);
    const int64_t y = std::max<int64_t>(box.top + box.height / 2 - size.height / 2, 0);
    DrawText(canvas, y, kPad, options.ylabel, kBlack, scale, TextDirection::kUp);
  }
}

// Return how many drawable points of the series fall into `box`.
int64_t PointsInside(std::span<const Series> series, const PlotFrame& frame, const Box& box) {
  int64_t count = 0;
  for (const Series& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!Drawable(s.x[i], s.y[i], frame.y.log)) continue;
      const double py = frame.PixelY(s.y[i]);
      const double px = frame.PixelX(s.x[i]);
      count += py >= box.top && py < box.bottom() && px >= box.left && px < box.right();
    }
  }
  return count;
}

// Put the legend in the corner of the axes box that hides the fewest points (top right first).
Box PlaceLegend(std::span<const Series> series, const PlotFrame& frame, int64_t height,
                int64_t width) {
  const Box& box = frame.box;
  const int64_t top = box.top + kPad;
  const int64_t bottom = box.bottom() - kPad - height;
  const int64_t left = box.left + kPad;
  const int64_t right = box.right() - kPad - width;
  const std::array<Box, 4> corners = {{{top, right, height, width},
                                       {top, left, height, width},
                                       {bottom, right, height, width},
                                       {bottom, left, height, width}}};
  Box best = corners[0];
  int64_t fewest = PointsInside(series, frame, best);
  for (size_t i = 1; i < corners.size() && fewest > 0; ++i) {
    const int64_t count = PointsInside(series, frame, corners[i]);
    if (count < fewest) {
      fewest = count;
      best = corners[i];
    }
  }
  return best;
}

void DrawLegend(RgbImage& canvas, std::span<const Series> series, const PlotFrame& frame,
                const PlotOptions& options) {
  constexpr int64_t kInset = 6;
  constexpr int64_t kSample = 20;  // length of the line sample
  const int64_t scale = options.text_scale;
  const int64_t row_height = GlyphHeight(scale) + 4;
  std::vector<size_t> entries;
  int64_t widest = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].label.empty()) continue;
    entries.push_back(i);
    widest = std::max(widest, MeasureText(series[i].label, scale).width);
  }
  if (entries.empty()) return;
  const int64_t height = 2 * kInset + static_cast<int64_t>(entries.size()) * row_height - 4;
  const int64_t width = 2 * kInset + kSample + kInset + widest;
  const Box legend = PlaceLegend(series, frame, height, width);
  internal::FillBox(canvas, legend, kWhite);
  internal::StrokeBox(canvas, legend, kLegendBorder);
  for (size_t row = 0; row < entries.size(); ++row) {
    const int64_t text_top = legend.top + kInset + static_cast<int64_t>(row) * row_height;
    const auto line_y = static_cast<double>(text_top + 3 * scale);
    const auto sample_left = static_cast<double>(legend.left + kInset);
    internal::Coverage coverage(canvas.height, canvas.width, legend);
    coverage.AddLine(line_y, sample_left, line_y, sample_left + kSample, options.line_width);
    coverage.Paint(canvas, ColourOf(series, entries[row]));
    DrawText(canvas, text_top, legend.left + 2 * kInset + kSample, series[entries[row]].label,
             kBlack, scale);
  }
}

}  // namespace

namespace internal {

double PlotFrame::PixelX(double value) const {
  const double f = (value - x.low) / (x.high - x.low);
  return static_cast<double>(box.left) + f * static_cast<double>(box.width - 1);
}

double PlotFrame::PixelY(double value) const {
  if (y.log && !(value > 0.0)) return kNaN;
  const double f = (ToAxis(value, y.log) - y.low) / (y.high - y.low);
  return static_cast<double>(box.bottom() - 1) - f * static_cast<double>(box.height - 1);
}

PlotFrame LayOutLinePlot(std::span<const Series> series, const PlotOptions& options) {
  CheckInputs(series, options);
  const int64_t scale = options.text_scale;
  const int64_t text_height = GlyphHeight(scale);
  PlotFrame frame;
  frame.box.top = kPad + (options.title.empty() ? text_height / 2 : GlyphHeight(2 * scale) + kPad);
  const int64_t bottom_margin = kTickLength + kTickLabelGap + text_height + kPad +
                                (options.xlabel.empty() ? 0 : text_height + kPad);
  frame.box.height = options.height - frame.box.top - bottom_margin;
  CheckPlotSide(frame.box.height, "height");
  frame.y = MakeYAxis(series, options, frame.box.height);
  frame.box.left = kPad + (options.ylabel.empty() ? 0 : text_height + kPad) +
                   WidestLabel(frame.y, scale) + kTickLabelGap + kTickLength;
  const auto x_limits =
      Limits(DataExtent(series, true, options.log_y), options.xmin, options.xmax, 0.0, kMaxLimit);
  // The last x label is centred on the right edge: leave half of a wide one as margin.
  int64_t right_margin = kPad + 3 * 6 * scale;
  frame.box.width = options.width - frame.box.left - right_margin;
  CheckPlotSide(frame.box.width, "width");
  frame.x = MakeXAxis(x_limits, frame.box.width, scale);
  const std::string last_label = frame.x.labels.empty() ? "" : frame.x.labels.back();
  right_margin = std::max(kPad, MeasureText(last_label, scale).width / 2 + 2);
  frame.box.width = options.width - frame.box.left - right_margin;
  CheckPlotSide(frame.box.width, "width");
  return frame;
}

}  // namespace internal

Rgb SeriesColour(int64_t index) {
  const int64_t slot = index % static_cast<int64_t>(kTab10.size());
  return kTab10[static_cast<size_t>(slot < 0 ? slot + static_cast<int64_t>(kTab10.size()) : slot)];
}

RgbImage RenderLinePlot(std::span<const Series> series, const PlotOptions& options) {
  const PlotFrame frame = internal::LayOutLinePlot(series, options);
  RgbImage canvas = RgbImage::Filled(options.height, options.width, kWhite);
  if (options.grid) DrawGrid(canvas, frame);
  for (size_t i = 0; i < series.size(); ++i) {
    DrawSeries(canvas, frame, series[i], ColourOf(series, i), options.line_width);
  }
  internal::StrokeBox(canvas, frame.box, kBlack);
  DrawTicks(canvas, frame, options.text_scale);
  DrawTitles(canvas, frame, options);
  DrawLegend(canvas, series, frame, options);
  return canvas;
}

}  // namespace tessera::render
