// SPDX-License-Identifier: MIT
#include "tessera/render/render_image.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tessera/core/convert.h"
#include "tessera/core/error.h"
#include "tessera/core/shape.h"
#include "tessera/render/colormap.h"
#include "tessera/render/raster_internal.h"
#include "tessera/render/text.h"
#include "tessera/render/ticks.h"

namespace tessera::render {
namespace {

// Lookup-table entries per colormap: finer than 8-bit steps, so the table adds no banding; odd,
// so that t = 0.5 (a constant image) hits the middle entry exactly.
constexpr int64_t kTableSize = 1025;
constexpr int64_t kMaxScale = 64;

void CheckImage(const NdArray& image) {
  if (image.rank() != 2 || IsComplex(image.dtype()) || image.size() == 0) {
    throw Error::InvalidArgument(
        fmt::format("expected a real 2-D array with pixels, got {} of shape {}",
                    Name(image.dtype()), FormatDims(image.shape())),
        "image");
  }
}

void CheckLimit(const std::optional<double>& limit, bool log_scale, const char* field) {
  if (limit && (!std::isfinite(*limit) || (log_scale && *limit <= 0.0))) {
    throw Error::InvalidArgument(
        fmt::format("{} {} must be finite{}", field, *limit, log_scale ? " and positive" : ""),
        field);
  }
}

void CheckOptions(const ImageOptions& options) {
  const double low = options.percentile_low;
  const double high = options.percentile_high;
  if (!(low >= 0.0 && low <= 100.0)) {
    throw Error::InvalidArgument(fmt::format("{} is outside [0, 100]", low), "percentile_low");
  }
  if (!(high >= low && high <= 100.0)) {
    throw Error::InvalidArgument(fmt::format("{} is outside [{}, 100]", high, low),
                                 "percentile_high");
  }
  CheckLimit(options.vmin, options.log_scale, "vmin");
  CheckLimit(options.vmax, options.log_scale, "vmax");
  if (options.vmin && options.vmax && *options.vmax < *options.vmin) {
    throw Error::InvalidArgument(
        fmt::format("vmax {} is below vmin {}", *options.vmax, *options.vmin), "vmax");
  }
}

std::vector<double> ToDoubles(const NdArray& image) {
  std::vector<double> values(static_cast<size_t>(image.size()));
  ConvertElements(image.raw(), image.dtype(), false, values.data(), DType::kFloat64, image.size());
  return values;
}

// NumPy's default ("linear") percentile; reorders `values`. Calls with rising `percent` reuse
// the partial order left by earlier ones.
double Percentile(std::vector<double>& values, double percent) {
  const double position = percent / 100.0 * static_cast<double>(values.size() - 1);
  const auto index = static_cast<size_t>(std::floor(position));
  const double fraction = position - static_cast<double>(index);
  const auto nth = values.begin() + static_cast<ptrdiff_t>(index);
  std::nth_element(values.begin(), nth, values.end());
  if (fraction == 0.0 || index + 1 >= values.size()) return *nth;
  const double next = *std::min_element(nth + 1, values.end());
  return *nth + (next - *nth) * fraction;
}

// The [low, high] percentiles of the values that count (finite; positive for a log scale).
std::pair<double, double> DataRange(const NdArray& image, const ImageOptions& options) {
  std::vector<double> values = ToDoubles(image);
  std::erase_if(values,
                [&](double v) { return !std::isfinite(v) || (options.log_scale && v <= 0); });
  if (values.empty()) return options.log_scale ? std::pair{1.0, 10.0} : std::pair{0.0, 1.0};
  if (options.percentile_low == 0.0 && options.percentile_high == 100.0) {
    const auto [min, max] = std::minmax_element(values.begin(), values.end());
    return {*min, *max};
  }
  const double low = Percentile(values, options.percentile_low);
  return {low, Percentile(values, options.percentile_high)};
}

// Where a value falls in the range: 0 at the low end, 1 at the high end, NaN for NaN. An empty
// range puts values equal to it at 0.5.
class RangeMapper {
 public:
  explicit RangeMapper(const DisplayRange& range)
      : log_(range.log_scale),
        low_(Transform(range.low)),
        span_(Transform(range.high) - Transform(range.low)) {}

  double operator()(double value) const {
    if (std::isnan(value)) return value;
    if (log_ && value <= 0.0) return 0.0;
    const double offset = Transform(value) - low_;
    if (span_ > 0.0) return offset / span_;
    return offset < 0.0 ? 0.0 : offset > 0.0 ? 1.0 : 0.5;
  }

 private:
  double Transform(double value) const { return log_ ? std::log10(value) : value; }

  bool log_;
  double low_;
  double span_;
};

Rgb Lookup(const std::vector<Rgb>& table, double t) {
  if (std::isnan(t)) return kBadColour;
  const double clamped = std::clamp(t, 0.0, 1.0);
  return table[static_cast<size_t>(clamped * static_cast<double>(table.size() - 1) + 0.5)];
}

// Write one source row of colours `scale` times wider into `out` (width * scale pixels).
void WriteRow(std::span<const double> row, const RangeMapper& mapper, const std::vector<Rgb>& table,
              int64_t scale, uint8_t* out) {
  for (const double value : row) {
    const Rgb colour = Lookup(table, mapper(value));
    for (int64_t i = 0; i < scale; ++i) {
      *out++ = colour.r;
      *out++ = colour.g;
      *out++ = colour.b;
    }
  }
}

// A label beside a colour bar, `offset` rows below the bar's top.
struct BarLabel {
  int64_t offset;
  std::string text;
};

constexpr int64_t kBarTickLength = 3;
constexpr int64_t kBarLabelGap = 2;      // between tick mark and label
constexpr int64_t kLabelHalfHeight = 4;  // of the glyphs above the baseline, rounded up

// Label for a bar end: about three significant digits of the range, no trailing zeros.
std::string EndLabel(double value, const DisplayRange& range) {
  const double extent = range.log_scale ? std::abs(value) : range.high - range.low;
  const double step = extent > 0.0 ? std::pow(10.0, std::floor(std::log10(extent)) - 2) : 0.0;
  std::string text = FormatTick(value, step);
  const size_t exponent = std::min(text.find('e'), text.size());
  std::string mantissa = text.substr(0, exponent);
  if (mantissa.find('.') != std::string::npos) {
    mantissa.erase(mantissa.find_last_not_of('0') + 1);
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  return mantissa + text.substr(exponent);
}

// The labels of a bar `height` rows tall: both ends, and nice values that keep clear of them.
std::vector<BarLabel> ColourbarLabels(const DisplayRange& range, int64_t height) {
  const RangeMapper mapper(range);
  auto offset_of = [&](double value) {
    return static_cast<int64_t>(
        std::lround((1.0 - mapper(value)) * static_cast<double>(height - 1)));
  };
  if (!(range.high > range.low)) return {{(height - 1) / 2, EndLabel(range.low, range)}};
  std::vector<BarLabel> labels = {{height - 1, EndLabel(range.low, range)},
                                  {0, EndLabel(range.high, range)}};
  const int64_t max_ticks = std::clamp<int64_t>(height / 30, 2, 10);
  const std::vector<double> ticks = range.log_scale ? LogTicks(range.low, range.high, max_ticks)
                                                    : NiceTicks(range.low, range.high, max_ticks);
  const std::vector<std::string> texts = TickLabels(ticks, range.log_scale);
  for (size_t i = 0; i < ticks.size(); ++i) {
    const int64_t offset = offset_of(ticks[i]);
    const bool clear = std::all_of(labels.begin(), labels.end(), [&](const BarLabel& label) {
      return std::abs(label.offset - offset) > 2 * kLabelHalfHeight + 3;
    });
    if (clear) labels.push_back({offset, texts[i]});
  }
  return labels;
}

void CheckDisplayRange(const DisplayRange& range) {
  if (!std::isfinite(range.low) || !std::isfinite(range.high) || range.high < range.low ||
      (range.log_scale && !(range.low > 0.0))) {
    throw Error::InvalidArgument(
        fmt::format("range [{}, {}] is not finite, reversed or not positive on a log scale",
                    range.low, range.high),
        "range");
  }
}

void CheckRgbImage(const RgbImage& image) {
  if (image.height < 1 || image.width < 1 ||
      image.pixels.size() != static_cast<size_t>(image.height * image.width * 3)) {
    throw Error::InvalidArgument(fmt::format("image of {} x {} pixels holds {} bytes", image.height,
                                             image.width, image.pixels.size()),
                                 "image");
  }
}

}  // namespace

DisplayRange ResolveDisplayRange(const NdArray& image2d, const ImageOptions& options) {
  CheckImage(image2d);
  CheckOptions(options);
  DisplayRange range{.log_scale = options.log_scale};
  if (options.vmin && options.vmax) {
    range.low = *options.vmin;
    range.high = *options.vmax;
    return range;
  }
  const auto [data_low, data_high] = DataRange(image2d, options);
  range.low = options.vmin.value_or(data_low);
  range.high = options.vmax.value_or(data_high);
  // One end set by the caller, the data entirely beyond it: collapse onto the caller's end.
  if (range.high < range.low) {
    if (options.vmin) {
      range.high = range.low;
    } else {
      range.low = range.high;
    }
  }
  return range;
}

RgbImage RenderImage(const NdArray& image2d, const ImageOptions& options) {
  CheckImage(image2d);
  const std::vector<Rgb> table = ColourTable(options.colormap, kTableSize);
  const int64_t height = image2d.shape()[0];
  const int64_t width = image2d.shape()[1];
  const int64_t scale = options.scale;
  if (scale < 1 || scale > kMaxScale || height * scale > kMaxPixels / (width * scale)) {
    throw Error::InvalidArgument(
        fmt::format("scale {} is outside [1, {}] or makes more than {} pixels from {}", scale,
                    kMaxScale, kMaxPixels, FormatDims(image2d.shape())),
        "scale");
  }
  const RangeMapper mapper(ResolveDisplayRange(image2d, options));
  RgbImage out = RgbImage::Filled(height * scale, width * scale, kBlack);
  const size_t out_row_bytes = static_cast<size_t>(out.width * 3);
  const int64_t item = SizeOf(image2d.dtype());
  std::vector<double> row(static_cast<size_t>(width));
  for (int64_t y = 0; y < height; ++y) {
    const auto* source = static_cast<const std::byte*>(image2d.raw()) + y * width * item;
    ConvertElements(source, image2d.dtype(), false, row.data(), DType::kFloat64, width);
    uint8_t* first = out.pixels.data() + static_cast<size_t>(y * scale) * out_row_bytes;
    WriteRow(row, mapper, table, scale, first);
    for (int64_t copy = 1; copy < scale; ++copy) {
      std::memcpy(first + static_cast<size_t>(copy) * out_row_bytes, first, out_row_bytes);
    }
  }
  return out;
}

void DrawColourbar(RgbImage& canvas, int64_t top, int64_t left, int64_t height, int64_t width,
                   std::string_view colormap, const DisplayRange& range) {
  const std::vector<Rgb> table = ColourTable(colormap, kTableSize);
  if (height < 2 || height > kMaxPixels) {
    throw Error::InvalidArgument(fmt::format("bar height {} is outside [2, 2^28]", height),
                                 "height");
  }
  if (width < 1 || width > 65536) {
    throw Error::InvalidArgument(fmt::format("bar width {} is outside [1, 65536]", width), "width");
  }
  CheckDisplayRange(range);
  for (int64_t row = 0; row < height; ++row) {
    const double t = 1.0 - static_cast<double>(row) / static_cast<double>(height - 1);
    internal::FillBox(canvas, {top + row, left, 1, width}, Lookup(table, t));
  }
  internal::StrokeBox(canvas, {top - 1, left - 1, height + 2, width + 2}, kBlack);
  const int64_t tick_left = left + width + 1;
  for (const BarLabel& label : ColourbarLabels(range, height)) {
    const int64_t y = top + label.offset;
    internal::FillBox(canvas, {y, tick_left, 1, kBarTickLength}, kBlack);
    DrawText(canvas, y - kLabelHalfHeight + 1, tick_left + kBarTickLength + kBarLabelGap,
             label.text, kBlack);
  }
}

RgbImage AppendColourbar(const RgbImage& image, std::string_view colormap,
                         const DisplayRange& range) {
  CheckRgbImage(image);
  CheckDisplayRange(range);
  constexpr int64_t kGap = 12;
  constexpr int64_t kBarWidth = 16;
  constexpr int64_t kRightMargin = 6;
  // Leave room above and below for the end labels, which are centred on the bar's ends.
  const int64_t margin = image.height >= 40 ? kLabelHalfHeight + 2 : 1;
  const int64_t bar_height = std::max<int64_t>(image.height - 2 * margin, 2);
  int64_t label_width = 0;
  for (const BarLabel& label : ColourbarLabels(range, bar_height)) {
    label_width = std::max(label_width, MeasureText(label.text).width);
  }
  const int64_t strip =
      kGap + kBarWidth + 1 + kBarTickLength + kBarLabelGap + label_width + kRightMargin;
  RgbImage out = RgbImage::Filled(image.height, image.width + strip, kWhite);
  const size_t in_row = static_cast<size_t>(image.width * 3);
  const size_t out_row = static_cast<size_t>(out.width * 3);
  for (int64_t y = 0; y < image.height; ++y) {
    std::memcpy(out.pixels.data() + static_cast<size_t>(y) * out_row,
                image.pixels.data() + static_cast<size_t>(y) * in_row, in_row);
  }
  DrawColourbar(out, margin, image.width + kGap, bar_height, kBarWidth, colormap, range);
  return out;
}

}  // namespace tessera::render
