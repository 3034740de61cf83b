// SPDX-License-Identifier: MIT
// FindPeaks: skimage.feature.peak_local_max with a separable van Herk / Gil-Werman maximum
// filter (O(1) per pixel whatever min_distance) and a grid for the spacing test.
#include "tessera/arrayops/peaks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tessera/arrayops/arrayops_internal.h"

namespace tessera::arrayops {
namespace {

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

struct Candidate {
  int64_t y;
  int64_t x;
  double intensity;
};

void CheckOptions(const PeakOptions& options) {
  if (options.min_distance < 0) {
    throw Error::InvalidArgument(fmt::format("must be >= 0, got {}", options.min_distance),
                                 "min_distance");
  }
  if (std::isnan(options.threshold_abs)) {
    throw Error::InvalidArgument("must not be NaN", "threshold_abs");
  }
  if (!(options.threshold_rel >= 0) || !std::isfinite(options.threshold_rel)) {
    throw Error::InvalidArgument(
        fmt::format("must be finite and >= 0, got {}", options.threshold_rel), "threshold_rel");
  }
  if (options.max_peaks < 0) {
    throw Error::InvalidArgument(fmt::format("must be >= 0, got {}", options.max_peaks),
                                 "max_peaks");
  }
  if (options.exclude_border < -1) {
    throw Error::InvalidArgument(
        fmt::format("must be >= 0, or -1 for min_distance, got {}", options.exclude_border),
        "exclude_border");
  }
}

/// Maximum over [i - radius, i + radius] along rows (edge values repeated: mode 'nearest'),
/// by van Herk / Gil-Werman on the padded row: block-wise prefix and suffix maxima.
class RowMaxFilter {
 public:
  RowMaxFilter(int64_t cols, int64_t radius)
      : radius_(radius), line_(cols + 2 * radius), prefix_(line_.size()), suffix_(line_.size()) {}

  /// Filter one row of `cols` values from `in` into `out`.
  void Run(const double* in, int64_t cols, double* out) {
    const int64_t width = 2 * radius_ + 1;
    const auto padded = static_cast<int64_t>(line_.size());
    for (int64_t j = 0; j < padded; ++j) {
      line_[j] = in[std::clamp<int64_t>(j - radius_, 0, cols - 1)];
    }
    for (int64_t start = 0; start < padded; start += width) {
      const int64_t stop = std::min(start + width, padded);
      prefix_[start] = line_[start];
      for (int64_t j = start + 1; j < stop; ++j) prefix_[j] = std::max(prefix_[j - 1], line_[j]);
      suffix_[stop - 1] = line_[stop - 1];
      for (int64_t j = stop - 2; j >= start; --j) suffix_[j] = std::max(suffix_[j + 1], line_[j]);
    }
    for (int64_t i = 0; i < cols; ++i) out[i] = std::max(suffix_[i], prefix_[i + width - 1]);
  }

 private:
  int64_t radius_;
  std::vector<double> line_, prefix_, suffix_;
};

/// Maximum over rows [y - radius, y + radius] (clamped), for whole rows at a time so the loops
/// run over contiguous memory: van Herk / Gil-Werman streamed block by block, keeping the
/// suffix maxima of one block of padded rows and a running prefix maximum of the next.
void ColumnMaxFilter(const double* in, int64_t rows, int64_t cols, int64_t radius, double* out) {
  const int64_t width = 2 * radius + 1;
  const auto padded_row = [&](int64_t j) {
    return in + std::clamp<int64_t>(j - radius, 0, rows - 1) * cols;
  };
  const auto max_into = [cols](double* dst, const double* a, const double* b) {
    for (int64_t x = 0; x < cols; ++x) dst[x] = std::max(a[x], b[x]);
  };
  std::vector<double> suffix(width * cols);
  std::vector<double> prefix(cols);
  for (int64_t block = 0; block < rows; block += width) {
    // Output row block + k is the maximum of padded rows [block + k, block + k + width - 1].
    const int64_t last = block + width - 1;
    std::copy(padded_row(last), padded_row(last) + cols, &suffix[(width - 1) * cols]);
    for (int64_t k = width - 2; k >= 0; --k) {
      max_into(&suffix[k * cols], &suffix[(k + 1) * cols], padded_row(block + k));
    }
    std::copy(&suffix[0], &suffix[cols], out + block * cols);
    std::copy(padded_row(last + 1), padded_row(last + 1) + cols, prefix.data());
    for (int64_t k = 1; k < width && block + k < rows; ++k) {
      if (k > 1) max_into(prefix.data(), prefix.data(), padded_row(last + k));
      max_into(out + (block + k) * cols, &suffix[k * cols], prefix.data());
    }
  }
}

/// Return the maximum filter of a rows x cols image over a (2 radius + 1)^2 square, mode
/// 'nearest'; NaNs must already be -inf.
std::vector<double> MaxFilter(const std::vector<double>& image, int64_t rows, int64_t cols,
                              int64_t radius) {
  std::vector<double> across(image.size());
  std::vector<double> out(image.size());
  RowMaxFilter filter(cols, radius);
  for (int64_t y = 0; y < rows; ++y) filter.Run(&image[y * cols], cols, &across[y * cols]);
  ColumnMaxFilter(across.data(), rows, cols, radius, out.data());
  return out;
}

/// Return the intensity threshold: max(threshold_abs or the minimum, threshold_rel * maximum).
double PeakThreshold(const std::vector<double>& image, const PeakOptions& options) {
  double min = std::numeric_limits<double>::infinity();
  double max = kMinusInf;
  for (const double v : image) {
    if (v == kMinusInf) continue;  // a NaN pixel
    min = std::min(min, v);
    max = std::max(max, v);
  }
  double threshold = options.threshold_abs == kMinusInf ? min : options.threshold_abs;
  if (options.threshold_rel > 0) threshold = std::max(threshold, options.threshold_rel * max);
  return threshold;
}

/// Return the pixels that equal their neighbourhood maximum and exceed `threshold`, outside the
/// excluded border, in raster order.
std::vector<Candidate> FindCandidates(const std::vector<double>& image, int64_t rows, int64_t cols,
                                      double threshold, const PeakOptions& options) {
  const int64_t border = options.exclude_border < 0 ? options.min_distance : options.exclude_border;
  std::vector<double> filtered;
  bool trivial = true;  // every (non-NaN) pixel is its own neighbourhood maximum
  if (options.min_distance > 0 && image.size() > 1) {
    // Beyond the image size a larger window sees nothing more (edges repeat).
    const int64_t radius = std::min(options.min_distance, std::max(rows, cols));
    filtered = MaxFilter(image, rows, cols, radius);
    for (size_t i = 0; i < image.size() && trivial; ++i) {
      trivial = image[i] == kMinusInf || image[i] == filtered[i];
    }
    if (trivial) return {};
  }
  std::vector<Candidate> candidates;
  for (int64_t y = border; y < rows - border; ++y) {
    for (int64_t x = border; x < cols - border; ++x) {
      const double v = image[y * cols + x];
      const bool is_max = filtered.empty() || v == filtered[y * cols + x];
      if (is_max && v > threshold && v != kMinusInf) candidates.push_back({y, x, v});
    }
  }
  return candidates;
}

/// Keep candidates (brightest first) that are at least `spacing` (Chebyshev) from every kept
/// one, stopping after `max_out` (0: no limit). A grid of spacing-sized cells holds at most one
/// kept peak per cell, so each test looks at 3 x 3 cells.
std::vector<Candidate> EnsureSpacing(const std::vector<Candidate>& sorted, int64_t rows,
                                     int64_t cols, int64_t spacing, int64_t max_out) {
  const int64_t grid_rows = rows / spacing + 1;
  const int64_t grid_cols = cols / spacing + 1;
  std::vector<int64_t> grid(grid_rows * grid_cols, -1);  // index into `kept`
  std::vector<Candidate> kept;
  for (const Candidate& c : sorted) {
    const int64_t cell_y = c.y / spacing;
    const int64_t cell_x = c.x / spacing;
    bool too_close = false;
    for (int64_t gy = std::max<int64_t>(cell_y - 1, 0);
         gy <= std::min(cell_y + 1, grid_rows - 1) && !too_close; ++gy) {
      for (int64_t gx = std::max<int64_t>(cell_x - 1, 0); gx <= std::min(cell_x + 1, grid_cols - 1);
           ++gx) {
        const int64_t k = grid[gy * grid_cols + gx];
        if (k >= 0 && std::max(std::abs(kept[k].y - c.y), std::abs(kept[k].x - c.x)) < spacing) {
          too_close = true;
          break;
        }
      }
    }
    if (too_close) continue;
    grid[cell_y * grid_cols + cell_x] = static_cast<int64_t>(kept.size());
    kept.push_back(c);
    if (max_out > 0 && static_cast<int64_t>(kept.size()) >= max_out) break;
  }
  return kept;
}

Table ToTable(const std::vector<Candidate>& peaks) {
  std::vector<double> ys, xs, intensities;
  for (const Candidate& p : peaks) {
    ys.push_back(static_cast<double>(p.y));
    xs.push_back(static_cast<double>(p.x));
    intensities.push_back(p.intensity);
  }
  Table table;
  table.AddColumn("y", "px", std::move(ys));
  table.AddColumn("x", "px", std::move(xs));
  table.AddColumn("intensity", "", std::move(intensities));
  return table;
}

}  // namespace

Table FindPeaks(const NdArray& image, const PeakOptions& options) {
  internal::RequireExactRank(image, 2, "image");
  CheckOptions(options);
  const int64_t rows = image.shape()[0];
  const int64_t cols = image.shape()[1];
  const NdArray converted = internal::ToFloat64(image, "image");
  std::vector<double> pixels;
  pixels.reserve(converted.size());
  for (const double v : converted.flat<double>()) pixels.push_back(std::isnan(v) ? kMinusInf : v);
  if (pixels.empty()) return ToTable({});
  const double threshold = PeakThreshold(pixels, options);
  std::vector<Candidate> candidates = FindCandidates(pixels, rows, cols, threshold, options);
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.intensity > b.intensity; });
  if (options.min_distance > 1) {
    candidates = EnsureSpacing(candidates, rows, cols, options.min_distance, options.max_peaks);
  }
  if (options.max_peaks > 0 && static_cast<int64_t>(candidates.size()) > options.max_peaks) {
    candidates.resize(options.max_peaks);
  }
  return ToTable(candidates);
}

}  // namespace tessera::arrayops
