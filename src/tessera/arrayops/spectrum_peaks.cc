// SPDX-License-Identifier: MIT
// FitSpectrumPeaks: one Ceres problem with a parameter block per peak (centre, fwhm, height)
// and one for the constant background; errors from ceres::Covariance.
#include <ceres/ceres.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "tessera/arrayops/arrayops_internal.h"
#include "tessera/arrayops/eels.h"
#include "tessera/arrayops/eels_internal.h"
#include "tessera/arrayops/solver_internal.h"

namespace tessera::arrayops {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kFourLn2 = 4 * std::numbers::ln2;

/// Parameters of one peak, in the order of its Ceres block.
using PeakParams = std::array<double, 3>;  // centre, fwhm, height
enum : size_t { kCentre = 0, kFwhm = 1, kHeight = 2 };

/// One peak's value at E and its derivatives by centre, fwhm and height.
struct PeakTerms {
  double value;
  std::array<double, 3> gradient;
};

PeakTerms EvaluatePeak(PeakShape shape, double energy, const double* peak) {
  const double d = energy - peak[kCentre];
  const double w = peak[kFwhm];
  const double w2 = w * w;
  if (shape == PeakShape::kGaussian) {
    const double g = std::exp(-kFourLn2 * d * d / w2);
    const double f = peak[kHeight] * g;
    return {f, {f * 2 * kFourLn2 * d / w2, f * 2 * kFourLn2 * d * d / (w2 * w), g}};
  }
  const double l = 1 / (1 + 4 * d * d / w2);
  const double f = peak[kHeight] * l;
  return {f, {f * l * 8 * d / w2, f * l * 8 * d * d / (w2 * w), l}};
}

/// Return the integral of a peak of this height and FWHM over all E.
double AreaFactor(PeakShape shape) {
  return shape == PeakShape::kGaussian ? std::sqrt(std::numbers::pi / kFourLn2)
                                       : std::numbers::pi / 2;
}

/// Residuals sum_p peak_p(E) + background - I over the window. Parameter blocks: one of 3 per
/// peak, then the background (1).
class PeaksCost final : public ceres::CostFunction {
 public:
  PeaksCost(PeakShape shape, const internal::WindowData& window, size_t peaks)
      : shape_(shape), window_(window), peaks_(peaks) {
    set_num_residuals(static_cast<int>(window.energy.size()));
    for (size_t p = 0; p < peaks; ++p) mutable_parameter_block_sizes()->push_back(3);
    mutable_parameter_block_sizes()->push_back(1);
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    for (size_t p = 0; p < peaks_; ++p) {
      if (parameters[p][kFwhm] == 0) return false;
    }
    for (size_t i = 0; i < window_.energy.size(); ++i) {
      double model = parameters[peaks_][0];
      for (size_t p = 0; p < peaks_; ++p) {
        const PeakTerms terms = EvaluatePeak(shape_, window_.energy[i], parameters[p]);
        model += terms.value;
        if (jacobians != nullptr && jacobians[p] != nullptr) {
          std::copy(terms.gradient.begin(), terms.gradient.end(), jacobians[p] + 3 * i);
        }
      }
      if (jacobians != nullptr && jacobians[peaks_] != nullptr) jacobians[peaks_][i] = 1;
      residuals[i] = model - window_.intensity[i];
    }
    return true;
  }

 private:
  PeakShape shape_;
  const internal::WindowData& window_;
  size_t peaks_;
};

void CheckCentres(std::span<const double> centres, double start, double end) {
  if (centres.empty()) {
    throw Error::InvalidArgument("needs at least one centre", "initial_centres_ev");
  }
  for (const double c : centres) {
    if (!std::isfinite(c) || c < start || c > end) {
      throw Error::InvalidArgument(
          fmt::format("{} eV lies outside the window [{}, {}] eV", c, start, end),
          "initial_centres_ev");
    }
  }
}

/// Return the window index of the channel nearest to `energy`.
size_t NearestChannel(const internal::WindowData& window, double energy) {
  const auto it = std::lower_bound(window.energy.begin(), window.energy.end(), energy);
  if (it == window.energy.end()) return window.energy.size() - 1;
  const auto i = static_cast<size_t>(it - window.energy.begin());
  return i > 0 && energy - window.energy[i - 1] < *it - energy ? i - 1 : i;
}

/// Return the start point of every peak and the background (see the header).
std::vector<PeakParams> InitialPeaks(const internal::WindowData& window,
                                     std::span<const double> centres, double background,
                                     double scale) {
  const double range =
      *std::max_element(window.intensity.begin(), window.intensity.end()) - background;
  std::vector<PeakParams> peaks;
  for (size_t p = 0; p < centres.size(); ++p) {
    // Walk out to half height, but no further than half way to another centre.
    double left_limit = window.energy.front(), right_limit = window.energy.back();
    for (const double other : centres) {
      if (other < centres[p]) left_limit = std::max(left_limit, 0.5 * (other + centres[p]));
      if (other > centres[p]) right_limit = std::min(right_limit, 0.5 * (other + centres[p]));
    }
    const size_t centre = NearestChannel(window, centres[p]);
    double height = window.intensity[centre] - background;
    if (!(height > 0)) height = range > 0 ? 0.5 * range : 1.0;
    const double half = background + 0.5 * height;
    size_t left = centre, right = centre;
    while (left > 0 && window.energy[left - 1] >= left_limit && window.intensity[left] > half) {
      --left;
    }
    while (right + 1 < window.energy.size() && window.energy[right + 1] <= right_limit &&
           window.intensity[right] > half) {
      ++right;
    }
    const double fwhm = std::max(window.energy[right] - window.energy[left], 2 * scale);
    peaks.push_back({centres[p], fwhm, height});
  }
  return peaks;
}

/// Return the covariance matrix of all parameters (row-major, peaks then background) scaled by
/// the residual variance, or an empty vector when the fit is singular.
std::vector<double> ScaledCovariance(ceres::Problem& problem,
                                     const std::vector<const double*>& blocks, double variance) {
  ceres::Covariance::Options options;
  options.algorithm_type = ceres::DENSE_SVD;
  options.min_reciprocal_condition_number = 1e-20;
  ceres::Covariance covariance(options);
  std::vector<std::pair<const double*, const double*>> pairs;
  for (size_t i = 0; i < blocks.size(); ++i) {
    for (size_t j = i; j < blocks.size(); ++j) pairs.emplace_back(blocks[i], blocks[j]);
  }
  if (!covariance.Compute(pairs, &problem)) return {};
  const size_t n = 3 * (blocks.size() - 1) + 1;
  std::vector<double> matrix(n * n);
  if (!covariance.GetCovarianceMatrix(blocks, matrix.data())) return {};
  for (double& v : matrix) v *= variance;
  return matrix;
}

/// Fill the peak values and 1-sigma errors from the fitted parameters and covariance.
SpectrumPeak MakePeak(PeakShape shape, const PeakParams& params, const std::vector<double>& cov,
                      size_t index, size_t n_params) {
  SpectrumPeak peak{};
  peak.centre = params[kCentre];
  peak.fwhm = std::abs(params[kFwhm]);
  peak.amplitude = params[kHeight];
  peak.area = AreaFactor(shape) * peak.amplitude * peak.fwhm;
  const auto element = [&](size_t a, size_t b) {
    return cov.empty() ? kNaN : cov[(3 * index + a) * n_params + 3 * index + b];
  };
  peak.centre_error = std::sqrt(element(kCentre, kCentre));
  peak.fwhm_error = std::sqrt(element(kFwhm, kFwhm));
  peak.amplitude_error = std::sqrt(element(kHeight, kHeight));
  // area = k A |w|: var = k^2 (w^2 var_A + A^2 var_w + 2 A w cov_Aw), the sign of w cancels.
  const double w = params[kFwhm];
  const double a = params[kHeight];
  const double area_variance = w * w * element(kHeight, kHeight) + a * a * element(kFwhm, kFwhm) +
                               2 * a * w * element(kHeight, kFwhm);
  peak.area_error = AreaFactor(shape) * std::sqrt(area_variance);
  return peak;
}

Table MakeTable(const std::vector<SpectrumPeak>& peaks) {
  Table table;
  const auto column = [&](const char* name, const char* unit, double SpectrumPeak::*field) {
    std::vector<double> values;
    for (const SpectrumPeak& p : peaks) values.push_back(p.*field);
    table.AddColumn(name, unit, std::move(values));
  };
  column("centre", "eV", &SpectrumPeak::centre);
  column("fwhm", "eV", &SpectrumPeak::fwhm);
  column("amplitude", "", &SpectrumPeak::amplitude);
  column("area", "", &SpectrumPeak::area);
  column("centre_error", "eV", &SpectrumPeak::centre_error);
  column("fwhm_error", "eV", &SpectrumPeak::fwhm_error);
  column("amplitude_error", "", &SpectrumPeak::amplitude_error);
  column("area_error", "", &SpectrumPeak::area_error);
  return table;
}

}  // namespace

PeakFitResult FitSpectrumPeaks(const NdArray& spectrum, EnergyAxis axis, PeakShape shape,
                               std::span<const double> initial_centres_ev, double window_start_ev,
                               double window_end_ev) {
  internal::CheckSpectrum(spectrum, axis);
  const auto min_channels = static_cast<int64_t>(3 * initial_centres_ev.size() + 2);
  const internal::WindowData window =
      internal::SelectWindow(spectrum, axis, window_start_ev, window_end_ev, min_channels);
  CheckCentres(initial_centres_ev, window_start_ev, window_end_ev);

  const size_t n_peaks = initial_centres_ev.size();
  double background = *std::min_element(window.intensity.begin(), window.intensity.end());
  std::vector<PeakParams> peaks = InitialPeaks(window, initial_centres_ev, background, axis.scale);

  ceres::Problem::Options problem_options;
  problem_options.cost_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
  ceres::Problem problem(problem_options);
  PeaksCost cost(shape, window, n_peaks);
  std::vector<double*> blocks;
  for (PeakParams& p : peaks) blocks.push_back(p.data());
  blocks.push_back(&background);
  problem.AddResidualBlock(&cost, nullptr, blocks);

  const ceres::Solver::Options options = internal::LevenbergMarquardtOptions(1e-14, 500);
  ceres::Solver::Summary summary;
  ceres::Solve(options, &problem, &summary);

  const size_t n_params = 3 * n_peaks + 1;
  const double variance =
      2 * summary.final_cost / static_cast<double>(window.energy.size() - n_params);
  const std::vector<double> cov =
      ScaledCovariance(problem, std::vector<const double*>(blocks.begin(), blocks.end()), variance);

  PeakFitResult result;
  result.background = background;
  bool plausible = std::isfinite(background);
  for (size_t p = 0; p < n_peaks; ++p) {
    result.peaks.push_back(MakePeak(shape, peaks[p], cov, p, n_params));
    const SpectrumPeak& peak = result.peaks.back();
    plausible = plausible && std::isfinite(peak.amplitude) && std::isfinite(peak.fwhm) &&
                peak.fwhm > 0 && peak.centre >= window_start_ev && peak.centre <= window_end_ev;
  }
  result.converged = summary.termination_type == ceres::CONVERGENCE && plausible;
  result.table = MakeTable(result.peaks);
  result.fitted = NdArray(DType::kFloat64, spectrum.shape());
  const std::span<double> fitted = result.fitted.flat<double>();
  for (int64_t i = 0; i < spectrum.size(); ++i) {
    fitted[i] = background;
    for (const PeakParams& p : peaks) {
      fitted[i] += EvaluatePeak(shape, internal::Energy(axis, i), p.data()).value;
    }
  }
  return result;
}

}  // namespace tessera::arrayops
