// SPDX-License-Identifier: MIT
#include "tessera/render/line_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "tessera/render/line_plot_internal.h"
#include "tessera/render/test_util_internal.h"

namespace tessera::render {
namespace {

using testing::ExpectInvalid;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Return whether `colour` appears in column x between rows y - reach and y + reach.
bool ColourNear(const RgbImage& image, int64_t y, int64_t x, int64_t reach, Rgb colour) {
  for (int64_t row = y - reach; row <= y + reach; ++row) {
    if (image.Contains(row, x) && image.Get(row, x) == colour) return true;
  }
  return false;
}

int64_t Count(const RgbImage& image, Rgb colour) {
  int64_t count = 0;
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) count += image.Get(y, x) == colour;
  }
  return count;
}

Series Line(std::vector<double> x, std::vector<double> y, std::string label = {}) {
  return Series{.x = std::move(x), .y = std::move(y), .label = std::move(label)};
}

TEST(LinePlot, HasTheRequestedSize) {
  const RgbImage plot = RenderLinePlot({}, PlotOptions{});
  EXPECT_EQ(plot.height, 500);
  EXPECT_EQ(plot.width, 800);
  const RgbImage small = RenderLinePlot({}, {.width = 200, .height = 120});
  EXPECT_EQ(small.height, 120);
  EXPECT_EQ(small.width, 200);
}

TEST(LinePlot, DrawsTheDiagonalAlongItsPixelPath) {
  const Series series[] = {Line({0, 1}, {0, 1})};
  const PlotOptions options{.xmin = 0.0, .xmax = 1.0, .ymin = 0.0, .ymax = 1.0};
  const RgbImage plot = RenderLinePlot(series, options);
  const internal::PlotFrame frame = internal::LayOutLinePlot(series, options);
  const internal::Box& box = frame.box;
  const Rgb colour = SeriesColour(0);
  for (int64_t x = box.left + 3; x < box.right() - 3; ++x) {
    const double f = static_cast<double>(x - box.left) / static_cast<double>(box.width - 1);
    const auto y = static_cast<int64_t>(std::lround(static_cast<double>(box.bottom() - 1) -
                                                    f * static_cast<double>(box.height - 1)));
    EXPECT_TRUE(ColourNear(plot, y, x, 1, colour)) << "column " << x << ", row " << y;
    EXPECT_FALSE(ColourNear(plot, y - 6, x, 0, colour)) << "column " << x;
    EXPECT_FALSE(ColourNear(plot, y + 6, x, 0, colour)) << "column " << x;
  }
  // Nothing of the line outside the axes box.
  for (int64_t y = 0; y < plot.height; ++y) {
    for (int64_t x = 0; x < plot.width; ++x) {
      EXPECT_TRUE(plot.Get(y, x) != colour || box.Contains(y, x)) << y << ", " << x;
    }
  }
}

TEST(LinePlot, LaysOutNiceTicksFromTheData) {
  const Series series[] = {Line({0, 10, 20}, {283.5, 310.2, 290})};
  const internal::PlotFrame frame = internal::LayOutLinePlot(series, PlotOptions{});
  EXPECT_EQ(frame.x.low, 0.0);  // x is not padded
  EXPECT_EQ(frame.x.high, 20.0);
  EXPECT_LT(frame.y.low, 283.5);  // y is padded by 5%
  EXPECT_GT(frame.y.high, 310.2);
  EXPECT_EQ(frame.y.ticks, (std::vector<double>{285, 290, 295, 300, 305, 310}));
  EXPECT_EQ(frame.y.labels.front(), "285");
  EXPECT_EQ(frame.x.ticks.front(), 0.0);
  EXPECT_EQ(frame.x.ticks.back(), 20.0);
}

TEST(LinePlot, EmptyAndAllNanInputStillGiveAxes) {
  const RgbImage empty = RenderLinePlot({}, PlotOptions{});
  const internal::PlotFrame frame = internal::LayOutLinePlot({}, PlotOptions{});
  EXPECT_EQ(empty.Get(frame.box.top, frame.box.left + 10), kBlack);  // axes box
  EXPECT_EQ(empty.Get(frame.box.bottom() - 1, frame.box.left + 10), kBlack);
  EXPECT_EQ(frame.x.labels.front(), "0");  // default range [0, 1]
  EXPECT_GT(Count(empty, kBlack), 1000);   // box, ticks and labels
  const Series nan[] = {Line({kNaN, 1, 2}, {1, kNaN, kInf}), Line({}, {})};
  const RgbImage all_nan = RenderLinePlot(nan, PlotOptions{});
  EXPECT_EQ(all_nan.pixels, empty.pixels);
}

TEST(LinePlot, NanBreaksTheLine) {
  std::vector<double> x, y;
  for (int i = 0; i <= 10; ++i) {
    x.push_back(i);
    y.push_back(i == 5 ? kNaN : 1.0);
  }
  const Series series[] = {Line(x, y)};
  const PlotOptions options{.ymin = 0.0, .ymax = 2.0};
  const RgbImage plot = RenderLinePlot(series, options);
  const internal::PlotFrame frame = internal::LayOutLinePlot(series, options);
  const auto row = static_cast<int64_t>(std::lround(frame.PixelY(1.0)));
  const Rgb colour = SeriesColour(0);
  EXPECT_EQ(plot.Get(row, std::lround(frame.PixelX(2.5))), colour);
  EXPECT_EQ(plot.Get(row, std::lround(frame.PixelX(7.5))), colour);
  EXPECT_FALSE(ColourNear(plot, row, std::lround(frame.PixelX(5.0)), 3, colour));
  EXPECT_FALSE(ColourNear(plot, row, std::lround(frame.PixelX(4.5)), 3, colour));
}

TEST(LinePlot, LoneFinitePointsShowAsDots) {
  const Series series[] = {Line({1, 2, 3}, {kNaN, 5, kNaN})};
  const RgbImage plot = RenderLinePlot(series, PlotOptions{});
  EXPECT_GT(Count(plot, SeriesColour(0)), 4);
}

TEST(LinePlot, GivesEachSeriesItsColourAndALegend) {
  std::set<std::tuple<int, int, int>> colours;
  for (int64_t i = 0; i < 10; ++i) {
    const Rgb c = SeriesColour(i);
    colours.insert({c.r, c.g, c.b});
  }
  EXPECT_EQ(colours.size(), 10u);
  EXPECT_EQ(SeriesColour(10), SeriesColour(0));
  const Rgb own{1, 2, 3};
  Series custom = Line({0, 1}, {1, 0}, "custom");
  custom.colour = own;
  const Series series[] = {Line({0, 1}, {0, 1}, "rising"), custom, Line({0, 1}, {0.5, 0.5})};
  const RgbImage plot = RenderLinePlot(series, PlotOptions{.title = "Title"});
  EXPECT_GT(Count(plot, SeriesColour(0)), 300);
  EXPECT_GT(Count(plot, own), 300);
  EXPECT_GT(Count(plot, SeriesColour(2)), 300);
  // The legend's border is drawn in a grey no series uses.
  EXPECT_GT(Count(plot, Rgb{170, 170, 170}), 40);
  const Series unlabelled[] = {Line({0, 1}, {0, 1})};
  EXPECT_EQ(Count(RenderLinePlot(unlabelled, PlotOptions{}), Rgb{170, 170, 170}), 0);
}

TEST(LinePlot, DrawsTitleAndAxisLabels) {
  const RgbImage bare = RenderLinePlot({}, PlotOptions{});
  const RgbImage labelled = RenderLinePlot(
      {}, PlotOptions{.title = "Radial profile", .xlabel = "q (1/nm)", .ylabel = "intensity"});
  auto ink_in = [](const RgbImage& image, int64_t top, int64_t left, int64_t height,
                   int64_t width) {
    int64_t ink = 0;
    for (int64_t y = top; y < top + height; ++y) {
      for (int64_t x = left; x < left + width; ++x) ink += image.Get(y, x) == kBlack;
    }
    return ink;
  };
  EXPECT_EQ(ink_in(bare, 0, 0, 10, 800), 0);         // the axes box starts lower
  EXPECT_GT(ink_in(labelled, 0, 0, 10, 800), 50);    // title
  EXPECT_GT(ink_in(labelled, 480, 0, 20, 800), 20);  // x label
  EXPECT_GT(ink_in(labelled, 100, 0, 300, 20), 20);  // y label, rotated
}

TEST(LinePlot, LogAxisUsesDecades) {
  std::vector<double> x, y;
  for (int i = 0; i <= 4; ++i) {
    x.push_back(i);
    y.push_back(std::pow(10.0, i));
  }
  y[2] = -1;  // not drawable on a log axis: breaks the line
  const Series series[] = {Line(x, y)};
  const PlotOptions options{.ymin = 1.0, .ymax = 1e4, .log_y = true};
  const internal::PlotFrame frame = internal::LayOutLinePlot(series, options);
  EXPECT_EQ(frame.y.ticks, (std::vector<double>{1, 10, 100, 1000, 10000}));
  EXPECT_EQ(frame.y.labels.back(), "10000");
  EXPECT_NEAR(frame.PixelY(100), (frame.PixelY(1) + frame.PixelY(1e4)) / 2, 1e-9);
  EXPECT_TRUE(std::isnan(frame.PixelY(0.0)));
  const RgbImage plot = RenderLinePlot(series, options);
  EXPECT_EQ(
      plot.Get(std::lround(frame.PixelY(std::pow(10.0, 0.5))), std::lround(frame.PixelX(0.5))),
      SeriesColour(0));
  EXPECT_FALSE(ColourNear(plot, std::lround(frame.PixelY(100)), std::lround(frame.PixelX(2)), 3,
                          SeriesColour(0)));
}

TEST(LinePlot, ClipsHugeValues) {
  const Series series[] = {Line({0, 1, 2, 3}, {0, 1e300, -1e300, 1}),
                           Line({-1e308, 1e308}, {1e308, -1e308})};
  const PlotOptions options{.xmin = 0.0, .xmax = 3.0, .ymin = 0.0, .ymax = 1.0};
  const RgbImage plot = RenderLinePlot(series, options);
  EXPECT_GT(Count(plot, SeriesColour(0)), 100);
  const RgbImage autoscaled = RenderLinePlot(series, PlotOptions{});
  EXPECT_EQ(autoscaled.height, 500);
  // Subnormal and near-overflow values on a log axis: limits stay within 1e+-300.
  const Series extreme[] = {Line({0, 1, 2}, {5e-324, 1e-310, 1e308})};
  const internal::PlotFrame frame = internal::LayOutLinePlot(extreme, {.log_y = true});
  EXPECT_GE(frame.y.low, -300.0);
  EXPECT_LE(frame.y.high, 300.0);
  EXPECT_GE(frame.y.ticks.size(), 2u);
  EXPECT_EQ(RenderLinePlot(extreme, {.log_y = true}).width, 800);
}

TEST(LinePlot, RejectsBadOptions) {
  const Series mismatched[] = {Line({0, 1, 2}, {0, 1})};
  ExpectInvalid([&] { RenderLinePlot(mismatched, {}); }, "series");
  ExpectInvalid([] { RenderLinePlot({}, {.width = 10}); }, "width");
  ExpectInvalid([] { RenderLinePlot({}, {.height = 20000}); }, "height");
  ExpectInvalid([] { RenderLinePlot({}, {.xmin = 1.0, .xmax = 1.0}); }, "xmax");
  ExpectInvalid([] { RenderLinePlot({}, {.xmin = kNaN}); }, "xmin");
  ExpectInvalid([] { RenderLinePlot({}, {.ymax = kInf}); }, "ymax");
  ExpectInvalid([] { RenderLinePlot({}, {.ymin = 0.0, .log_y = true}); }, "ymin");
  ExpectInvalid([] { RenderLinePlot({}, {.line_width = 0.0}); }, "line_width");
  ExpectInvalid([] { RenderLinePlot({}, {.text_scale = 0}); }, "text_scale");
  ExpectInvalid([] { RenderLinePlot({}, {.width = 64, .height = 64, .text_scale = 8}); }, "height");
}

}  // namespace
}  // namespace tessera::render
