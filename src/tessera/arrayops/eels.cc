// SPDX-License-Identifier: MIT
// FitPowerLawBackground and the energy-window helpers of eels_internal.h.
#include "tessera/arrayops/eels.h"

#include <ceres/ceres.h>
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "tessera/arrayops/arrayops_internal.h"
#include "tessera/arrayops/eels_internal.h"
#include "tessera/arrayops/solver_internal.h"

namespace tessera::arrayops {
namespace internal {

void CheckSpectrum(const NdArray& spectrum, const EnergyAxis& axis) {
  RequireExactRank(spectrum, 1, "spectrum");
  if (!std::isfinite(axis.offset) || !std::isfinite(axis.scale) || !(axis.scale > 0)) {
    throw Error::InvalidArgument(
        fmt::format("needs a finite offset and a scale > 0, got offset {} scale {}", axis.offset,
                    axis.scale),
        "axis");
  }
}

WindowData SelectWindow(const NdArray& spectrum, const EnergyAxis& axis, double start, double end,
                        int64_t min_channels) {
  const int64_t channels = spectrum.shape()[0];
  const double first = Energy(axis, 0) - 0.5 * axis.scale;
  const double last = Energy(axis, channels - 1) + 0.5 * axis.scale;
  if (!std::isfinite(start) || !std::isfinite(end) || !(start < end) || start < first ||
      end > last) {
    throw Error::InvalidArgument(
        fmt::format("[{}, {}] eV is not an interval inside the energy range [{}, {}] eV", start,
                    end, Energy(axis, 0), Energy(axis, channels - 1)),
        "window");
  }
  // Channels whose energy lies in [start, end], with a tolerance for rounding in offset + i*scale.
  const double slack = 1e-9 * axis.scale;
  const auto begin = std::max<int64_t>(
      0, static_cast<int64_t>(std::ceil((start - axis.offset - slack) / axis.scale)));
  const auto stop = std::min<int64_t>(
      channels, static_cast<int64_t>(std::floor((end - axis.offset + slack) / axis.scale)) + 1);
  const NdArray values = ToFloat64(spectrum, "spectrum");
  WindowData window;
  const std::span<const double> all = values.flat<double>();
  for (int64_t i = begin; i < stop; ++i) {
    const double v = all[i];
    if (!std::isfinite(v)) continue;
    window.energy.push_back(Energy(axis, i));
    window.intensity.push_back(v);
  }
  if (static_cast<int64_t>(window.energy.size()) < min_channels) {
    throw Error::InvalidArgument(
        fmt::format("[{}, {}] eV holds {} finite channels, the fit needs at least {}", start, end,
                    window.energy.size(), min_channels),
        "window");
  }
  return window;
}

}  // namespace internal

namespace {

/// Residuals exp(log_a - r log E) - I over the window; parameters {log A, r}.
class PowerLawCost final : public ceres::SizedCostFunction<ceres::DYNAMIC, 2> {
 public:
  PowerLawCost(const std::vector<double>& log_energy, const std::vector<double>& intensity)
      : log_energy_(log_energy), intensity_(intensity) {
    set_num_residuals(static_cast<int>(intensity.size()));
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double log_amplitude = parameters[0][0];
    const double exponent = parameters[0][1];
    for (size_t i = 0; i < intensity_.size(); ++i) {
      const double model = std::exp(log_amplitude - exponent * log_energy_[i]);
      residuals[i] = model - intensity_[i];
      if (jacobians != nullptr && jacobians[0] != nullptr) {
        jacobians[0][2 * i] = model;
        jacobians[0][2 * i + 1] = -log_energy_[i] * model;
      }
    }
    return true;
  }

 private:
  const std::vector<double>& log_energy_;
  const std::vector<double>& intensity_;
};

/// Return {log A, r} from a straight-line fit of log I against log E over the positive counts;
/// with fewer than two, r = 3 (a typical EELS slope) through the mean.
std::array<double, 2> LogLogGuess(const std::vector<double>& log_energy,
                                  const std::vector<double>& intensity) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < intensity.size(); ++i) {
    if (!(intensity[i] > 0)) continue;
    const double x = log_energy[i];
    const double y = std::log(intensity[i]);
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double denominator = n * sxx - sx * sx;
  if (n >= 2 && denominator > 0) {
    const double slope = (n * sxy - sx * sy) / denominator;
    return {(sy - slope * sx) / n, -slope};
  }
  double mean_log_e = 0, mean_i = 0;
  for (size_t i = 0; i < intensity.size(); ++i) {
    mean_log_e += log_energy[i] / static_cast<double>(intensity.size());
    mean_i += intensity[i] / static_cast<double>(intensity.size());
  }
  constexpr double kTypicalExponent = 3;
  return {std::log(std::max(mean_i, 1e-300)) + kTypicalExponent * mean_log_e, kTypicalExponent};
}

/// Return 1 - SS_res / SS_tot of the model over the window (1 for a perfect fit of flat data).
double RSquared(const internal::WindowData& window, double amplitude, double exponent) {
  double mean = 0;
  for (const double v : window.intensity) mean += v;
  mean /= static_cast<double>(window.intensity.size());
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < window.intensity.size(); ++i) {
    const double model = amplitude * std::pow(window.energy[i], -exponent);
    ss_res += (window.intensity[i] - model) * (window.intensity[i] - model);
    ss_tot += (window.intensity[i] - mean) * (window.intensity[i] - mean);
  }
  if (ss_tot == 0) return ss_res == 0 ? 1.0 : 0.0;
  return 1 - ss_res / ss_tot;
}

}  // namespace

PowerLawFit FitPowerLawBackground(const NdArray& spectrum, EnergyAxis axis, double window_start_ev,
                                  double window_end_ev) {
  internal::CheckSpectrum(spectrum, axis);
  const internal::WindowData window =
      internal::SelectWindow(spectrum, axis, window_start_ev, window_end_ev, 3);
  if (!(window_start_ev > 0) || !(window.energy.front() > 0)) {
    throw Error::InvalidArgument(
        fmt::format("starts at {} eV; a power law needs E > 0", window_start_ev), "window");
  }
  std::vector<double> log_energy;
  for (const double e : window.energy) log_energy.push_back(std::log(e));
  std::array<double, 2> params = LogLogGuess(log_energy, window.intensity);

  ceres::Problem::Options problem_options;
  problem_options.cost_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
  ceres::Problem problem(problem_options);
  PowerLawCost cost(log_energy, window.intensity);
  problem.AddResidualBlock(&cost, nullptr, params.data());
  const ceres::Solver::Options options = internal::LevenbergMarquardtOptions(1e-14, 200);
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);

  PowerLawFit fit;
  fit.amplitude = std::exp(params[0]);
  fit.exponent = params[1];
  fit.converged = summary.termination_type == ceres::CONVERGENCE && std::isfinite(fit.amplitude) &&
                  std::isfinite(fit.exponent);
  fit.r_squared = RSquared(window, fit.amplitude, fit.exponent);
  fit.background = NdArray(DType::kFloat64, spectrum.shape());
  fit.subtracted = internal::ToFloat64(spectrum, "spectrum");
  const std::span<double> background = fit.background.flat<double>();
  const std::span<double> subtracted = fit.subtracted.flat<double>();
  for (int64_t i = 0; i < spectrum.size(); ++i) {
    const double e = internal::Energy(axis, i);
    if (!(e > 0)) {
      background[i] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    background[i] = fit.amplitude * std::pow(e, -fit.exponent);
    subtracted[i] -= background[i];
  }
  return fit;
}

}  // namespace tessera::arrayops
