// SPDX-License-Identifier: MIT
// RefinePeaksGaussian: one small Ceres problem per peak (6 parameters, one residual per window
// pixel, analytic Jacobian); the pixel list is reused from peak to peak.
#include <ceres/ceres.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "tessera/arrayops/arrayops_internal.h"
#include "tessera/arrayops/peaks.h"
#include "tessera/arrayops/solver_internal.h"

namespace tessera::arrayops {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Sigmas stay above this during the fit (the model divides by them) ...
constexpr double kSigmaBound = 0.05;
// ... and a fit that ends below this one has collapsed onto a single pixel.
constexpr double kMinSigma = 0.1;

/// A window pixel, at offsets from the integer peak position.
struct Pixel {
  double dy;
  double dx;
  double value;
};

/// Parameters, in this order: amplitude, y0, x0 (relative to the integer peak), sigma_y,
/// sigma_x, background.
using GaussParams = std::array<double, 6>;

/// Residuals A exp(-((dx - x0)^2 / (2 sx^2) + (dy - y0)^2 / (2 sy^2))) + c - value.
class GaussianWindowCost final : public ceres::CostFunction {
 public:
  explicit GaussianWindowCost(const std::vector<Pixel>& pixels) : pixels_(pixels) {
    set_num_residuals(static_cast<int>(pixels.size()));
    mutable_parameter_block_sizes()->push_back(6);
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double* p = parameters[0];
    const double amplitude = p[0], y0 = p[1], x0 = p[2], sy = p[3], sx = p[4], background = p[5];
    if (!(sy > 0) || !(sx > 0)) return false;
    double* jacobian = jacobians != nullptr ? jacobians[0] : nullptr;
    for (size_t i = 0; i < pixels_.size(); ++i) {
      const double ey = pixels_[i].dy - y0;
      const double ex = pixels_[i].dx - x0;
      const double g = std::exp(-(ex * ex / (2 * sx * sx) + ey * ey / (2 * sy * sy)));
      residuals[i] = amplitude * g + background - pixels_[i].value;
      if (jacobian == nullptr) continue;
      double* row = jacobian + 6 * i;
      const double ag = amplitude * g;
      row[0] = g;
      row[1] = ag * ey / (sy * sy);
      row[2] = ag * ex / (sx * sx);
      row[3] = ag * ey * ey / (sy * sy * sy);
      row[4] = ag * ex * ex / (sx * sx * sx);
      row[5] = 1;
    }
    return true;
  }

 private:
  const std::vector<Pixel>& pixels_;
};

/// The window around one peak, clipped to the image.
struct Window {
  int64_t y;  // integer peak position
  int64_t x;
  int64_t y_begin, y_end, x_begin, x_end;  // [begin, end) in the image
};

struct FitOutcome {
  GaussParams params{};
  bool converged = false;
};

/// Collect the finite pixels of `window` as offsets from the peak.
void CollectPixels(const double* image, int64_t cols, const Window& window,
                   std::vector<Pixel>& pixels) {
  pixels.clear();
  for (int64_t y = window.y_begin; y < window.y_end; ++y) {
    for (int64_t x = window.x_begin; x < window.x_end; ++x) {
      const double v = image[y * cols + x];
      if (std::isfinite(v)) {
        pixels.push_back({static_cast<double>(y - window.y), static_cast<double>(x - window.x), v});
      }
    }
  }
}

/// Return the starting point: background = window minimum, amplitude = peak pixel above it,
/// sigmas from the second moments of the background-free window, clamped to [0.5, half_window].
GaussParams InitialGuess(const std::vector<Pixel>& pixels, double peak_value, int64_t half_window) {
  double background = std::numeric_limits<double>::infinity();
  double max = -background;
  for (const Pixel& p : pixels) {
    background = std::min(background, p.value);
    max = std::max(max, p.value);
  }
  const double top = std::isfinite(peak_value) ? peak_value : max;
  double weight = 0, moment_y = 0, moment_x = 0;
  for (const Pixel& p : pixels) {
    const double w = p.value - background;
    weight += w;
    moment_y += w * p.dy * p.dy;
    moment_x += w * p.dx * p.dx;
  }
  const auto sigma = [&](double moment) {
    const double s = weight > 0 ? std::sqrt(moment / weight) : 1.0;
    return std::clamp(s, 0.5, static_cast<double>(half_window));
  };
  return {top - background, 0.0, 0.0, sigma(moment_y), sigma(moment_x), background};
}

/// Return whether fitted parameters describe a peak: finite, A > 0, sigmas within
/// [kMinSigma, window width], centre inside the window.
bool Plausible(const GaussParams& params, const Window& window, int64_t half_window) {
  if (!std::all_of(params.begin(), params.end(), [](double v) { return std::isfinite(v); })) {
    return false;
  }
  const double max_sigma = static_cast<double>(2 * half_window + 1);
  const auto sigma_ok = [&](double sigma) { return sigma >= kMinSigma && sigma <= max_sigma; };
  const double y = static_cast<double>(window.y) + params[1];
  const double x = static_cast<double>(window.x) + params[2];
  return params[0] > 0 && sigma_ok(params[3]) && sigma_ok(params[4]) &&
         y >= static_cast<double>(window.y_begin) && y <= static_cast<double>(window.y_end - 1) &&
         x >= static_cast<double>(window.x_begin) && x <= static_cast<double>(window.x_end - 1);
}

/// Fit the Gaussian to `pixels` with Levenberg-Marquardt.
FitOutcome FitWindow(const std::vector<Pixel>& pixels, const Window& window, double peak_value,
                     int64_t half_window) {
  FitOutcome outcome;
  if (pixels.size() <= outcome.params.size()) return outcome;
  outcome.params = InitialGuess(pixels, peak_value, half_window);
  if (!(outcome.params[0] > 0)) return outcome;  // a flat window has no peak to fit

  GaussianWindowCost cost(pixels);
  ceres::Problem::Options problem_options;
  problem_options.cost_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
  ceres::Problem problem(problem_options);
  double* params = outcome.params.data();
  problem.AddResidualBlock(&cost, nullptr, params);
  problem.SetParameterLowerBound(params, 3, kSigmaBound);
  problem.SetParameterLowerBound(params, 4, kSigmaBound);

  const ceres::Solver::Options options = internal::LevenbergMarquardtOptions(1e-12, 200);
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);

  outcome.converged = summary.termination_type == ceres::CONVERGENCE &&
                      Plausible(outcome.params, window, half_window);
  return outcome;
}

/// Return the integer position of row `row` of `peaks`; throws ("peaks") outside the image.
std::array<int64_t, 2> PeakPixel(const Table& peaks, size_t row, int64_t rows, int64_t cols) {
  const double y = std::round(peaks.Column("y")[row]);
  const double x = std::round(peaks.Column("x")[row]);
  if (!(y >= 0 && y < static_cast<double>(rows) && x >= 0 && x < static_cast<double>(cols))) {
    throw Error::InvalidArgument(
        fmt::format("row {}: ({}, {}) lies outside the {}x{} image", row, peaks.Column("y")[row],
                    peaks.Column("x")[row], rows, cols),
        "peaks");
  }
  return {static_cast<int64_t>(y), static_cast<int64_t>(x)};
}

}  // namespace

Table RefinePeaksGaussian(const NdArray& image, const Table& peaks, int64_t half_window) {
  internal::RequireExactRank(image, 2, "image");
  if (half_window < 1) {
    throw Error::InvalidArgument(fmt::format("must be >= 1, got {}", half_window), "half_window");
  }
  if (!peaks.HasColumn("y") || !peaks.HasColumn("x")) {
    throw Error::InvalidArgument("needs columns 'y' and 'x'", "peaks");
  }
  const int64_t rows = image.shape()[0];
  const int64_t cols = image.shape()[1];
  const NdArray converted = internal::ToFloat64(image, "image");
  const double* pixels_in = converted.flat<double>().data();

  // A window wider than the image holds nothing more (and (2 h + 1)^2 must not overflow).
  const int64_t reach = std::min(half_window, std::max(rows, cols));
  std::vector<std::vector<double>> columns(7);
  std::vector<Pixel> pixels;
  pixels.reserve(std::min((2 * reach + 1) * (2 * reach + 1), rows * cols));
  for (size_t row = 0; row < static_cast<size_t>(peaks.rows()); ++row) {
    const auto [y, x] = PeakPixel(peaks, row, rows, cols);
    const Window window{y,
                        x,
                        std::max<int64_t>(y - reach, 0),
                        std::min(y + reach + 1, rows),
                        std::max<int64_t>(x - reach, 0),
                        std::min(x + reach + 1, cols)};
    CollectPixels(pixels_in, cols, window, pixels);
    const FitOutcome fit = FitWindow(pixels, window, pixels_in[y * cols + x], reach);
    const auto& p = fit.params;
    columns[0].push_back(static_cast<double>(y) + (fit.converged ? p[1] : 0.0));
    columns[1].push_back(static_cast<double>(x) + (fit.converged ? p[2] : 0.0));
    columns[2].push_back(fit.converged ? p[0] : kNaN);
    columns[3].push_back(fit.converged ? p[3] : kNaN);
    columns[4].push_back(fit.converged ? p[4] : kNaN);
    columns[5].push_back(fit.converged ? p[5] : kNaN);
    columns[6].push_back(fit.converged ? 1.0 : 0.0);
  }
  Table table;
  table.AddColumn("y", "px", std::move(columns[0]));
  table.AddColumn("x", "px", std::move(columns[1]));
  table.AddColumn("amplitude", "", std::move(columns[2]));
  table.AddColumn("sigma_y", "px", std::move(columns[3]));
  table.AddColumn("sigma_x", "px", std::move(columns[4]));
  table.AddColumn("background", "", std::move(columns[5]));
  table.AddColumn("converged", "", std::move(columns[6]));
  return table;
}

}  // namespace tessera::arrayops
