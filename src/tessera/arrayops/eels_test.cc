// SPDX-License-Identifier: MIT
#include "tessera/arrayops/eels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "tessera/arrayops/testing_internal.h"

namespace tessera::arrayops {
namespace {

using testing::ExpectInvalidArgument;
using testing::MakeArray;
using testing::Values;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Return A * E^-r on `channels` channels of `axis`, plus an edge step of `edge_height` from
/// `edge_ev` on, Poisson-sampled when `seed` != 0.
NdArray PowerLawSpectrum(EnergyAxis axis, int64_t channels, double amplitude, double exponent,
                         uint64_t seed = 0, double edge_ev = 1e300, double edge_height = 0) {
  std::mt19937_64 rng(seed);
  std::vector<double> values(channels);
  for (int64_t i = 0; i < channels; ++i) {
    const double e = axis.offset + static_cast<double>(i) * axis.scale;
    double v = e > 0 ? amplitude * std::pow(e, -exponent) : 0.0;
    if (e >= edge_ev) v += edge_height;
    if (seed != 0) v = static_cast<double>(std::poisson_distribution<int64_t>(v)(rng));
    values[i] = v;
  }
  return MakeArray({channels}, values);
}

TEST(PowerLawTest, RecoversAnExactPowerLaw) {
  const EnergyAxis axis{.offset = 40, .scale = 0.25};
  const NdArray spectrum = PowerLawSpectrum(axis, 1200, 1e9, 3);
  const PowerLawFit fit = FitPowerLawBackground(spectrum, axis, 60, 160);
  EXPECT_TRUE(fit.converged);
  EXPECT_NEAR(fit.amplitude, 1e9, 1e-6 * 1e9);
  EXPECT_NEAR(fit.exponent, 3, 1e-7);
  EXPECT_NEAR(fit.r_squared, 1, 1e-12);
  const auto background = Values(fit.background);
  const auto subtracted = Values(fit.subtracted);
  for (int64_t i = 0; i < 1200; i += 37) {
    EXPECT_NEAR(background[i], spectrum.flat<double>()[i], 1e-6 * spectrum.flat<double>()[i]);
    EXPECT_NEAR(subtracted[i], 0, 1e-6 * spectrum.flat<double>()[i]);
  }
}

TEST(PowerLawTest, RecoversAPowerLawUnderPoissonNoise) {
  const EnergyAxis axis{.offset = 40, .scale = 0.25};
  const NdArray spectrum = PowerLawSpectrum(axis, 1200, 1e9, 3, 2026);
  const PowerLawFit fit = FitPowerLawBackground(spectrum, axis, 60, 160);
  EXPECT_TRUE(fit.converged);
  EXPECT_NEAR(fit.exponent, 3, 0.03 * 3);
  EXPECT_NEAR(fit.amplitude, 1e9, 0.1 * 1e9);  // A and r are strongly correlated
  // The background itself is good to a few % over the window and just beyond it.
  for (const double e : {60.0, 100.0, 160.0, 200.0}) {
    const auto i = static_cast<int64_t>((e - axis.offset) / axis.scale);
    EXPECT_NEAR(fit.background.flat<double>()[i], 1e9 * std::pow(e, -3),
                0.03 * 1e9 * std::pow(e, -3));
  }
  EXPECT_GT(fit.r_squared, 0.9);
}

TEST(PowerLawTest, SubtractsEverywhereAndRevealsTheEdge) {
  // Axis from -10 eV: no background at E <= 0 (NaN), the spectrum is kept there; the edge at
  // 250 eV stands out after the subtraction.
  const EnergyAxis axis{.offset = -10, .scale = 0.5};
  const NdArray spectrum = PowerLawSpectrum(axis, 800, 5e8, 2.7, 0, 250, 40);
  const PowerLawFit fit = FitPowerLawBackground(spectrum, axis, 150, 240);
  EXPECT_NEAR(fit.exponent, 2.7, 1e-7);
  const auto background = Values(fit.background);
  const auto subtracted = Values(fit.subtracted);
  EXPECT_TRUE(std::isnan(background[0]));
  EXPECT_TRUE(std::isnan(background[20]));  // E = 0
  EXPECT_EQ(subtracted[20], spectrum.flat<double>()[20]);
  EXPECT_NEAR(subtracted[40], 0, 1e-6 * spectrum.flat<double>()[40]);     // before the window
  EXPECT_NEAR(subtracted[700], 40, 1e-6 * spectrum.flat<double>()[700]);  // 340 eV, after the edge
}

TEST(PowerLawTest, LeavesNaNChannelsOut) {
  const EnergyAxis axis{.offset = 100, .scale = 1};
  std::vector<double> values = Values(PowerLawSpectrum(axis, 100, 1e7, 3));
  values[10] = kNaN;
  const PowerLawFit fit = FitPowerLawBackground(MakeArray({100}, values), axis, 105, 150);
  EXPECT_NEAR(fit.exponent, 3, 1e-7);
  EXPECT_TRUE(std::isnan(fit.subtracted.flat<double>()[10]));
  EXPECT_FALSE(std::isnan(fit.background.flat<double>()[10]));
}

TEST(PowerLawTest, FitsSparseCountsWithZeros) {
  // About one count per channel: many zeros, which the log-log start point must skip.
  const EnergyAxis axis{.offset = 100, .scale = 0.5};
  const NdArray spectrum = PowerLawSpectrum(axis, 400, 2e6, 3, 7);
  int64_t zeros = 0;
  for (const double v : spectrum.flat<double>()) zeros += v == 0;
  ASSERT_GT(zeros, 50);
  const PowerLawFit fit = FitPowerLawBackground(spectrum, axis, 100, 299);
  EXPECT_TRUE(fit.converged);
  EXPECT_NEAR(fit.exponent, 3, 1.0);
  EXPECT_TRUE(std::isfinite(fit.amplitude));
}

TEST(PowerLawTest, RejectsBadWindowsAndAxes) {
  const EnergyAxis axis{.offset = -5, .scale = 1};
  const NdArray spectrum = PowerLawSpectrum(axis, 100, 1e6, 3);
  ExpectInvalidArgument([&] { FitPowerLawBackground(spectrum, axis, 50, 200); }, "window",
                        "energy range");
  ExpectInvalidArgument([&] { FitPowerLawBackground(spectrum, axis, 60, 50); }, "window");
  ExpectInvalidArgument([&] { FitPowerLawBackground(spectrum, axis, -3, 50); }, "window", "E > 0");
  ExpectInvalidArgument([&] { FitPowerLawBackground(spectrum, axis, 50.2, 51.5); }, "window",
                        "at least 3");
  ExpectInvalidArgument([&] { FitPowerLawBackground(spectrum, axis, kNaN, 50); }, "window");
  ExpectInvalidArgument([&] { FitPowerLawBackground(spectrum, {.offset = 0, .scale = 0}, 5, 50); },
                        "axis");
  const NdArray image(DType::kFloat64, {2, 50});
  const NdArray empty(DType::kFloat64, {0});
  ExpectInvalidArgument([&] { FitPowerLawBackground(image, axis, 5, 40); }, "spectrum");
  ExpectInvalidArgument([&] { FitPowerLawBackground(empty, axis, 5, 40); }, "window");
}

struct TruePeak {
  double centre, fwhm, height;
};

/// Return the sum of peaks plus a constant, Poisson-sampled when `seed` != 0.
NdArray PeakSpectrum(EnergyAxis axis, int64_t channels, PeakShape shape,
                     const std::vector<TruePeak>& peaks, double background, uint64_t seed = 0) {
  std::mt19937_64 rng(seed);
  std::vector<double> values(channels);
  for (int64_t i = 0; i < channels; ++i) {
    const double e = axis.offset + static_cast<double>(i) * axis.scale;
    double v = background;
    for (const TruePeak& p : peaks) {
      const double u = (e - p.centre) / p.fwhm;
      v += shape == PeakShape::kGaussian ? p.height * std::exp(-4 * std::numbers::ln2 * u * u)
                                         : p.height / (1 + 4 * u * u);
    }
    if (seed != 0) v = static_cast<double>(std::poisson_distribution<int64_t>(v)(rng));
    values[i] = v;
  }
  return MakeArray({channels}, values);
}

const std::vector<TruePeak> kOverlapping = {{500.0, 2.5, 1000}, {503.0, 3.0, 600}};

TEST(SpectrumPeaksTest, SeparatesTwoOverlappingPeaksOfEachShape) {
  const EnergyAxis axis{.offset = 480, .scale = 0.1};
  for (const PeakShape shape : {PeakShape::kGaussian, PeakShape::kLorentzian}) {
    const NdArray spectrum = PeakSpectrum(axis, 400, shape, kOverlapping, 50);
    const std::vector<double> guesses{499.4, 503.8};
    const PeakFitResult fit = FitSpectrumPeaks(spectrum, axis, shape, guesses, 485, 515);
    EXPECT_TRUE(fit.converged);
    ASSERT_EQ(fit.peaks.size(), 2u);
    EXPECT_NEAR(fit.background, 50, 1e-6);
    for (size_t p = 0; p < 2; ++p) {
      EXPECT_NEAR(fit.peaks[p].centre, kOverlapping[p].centre, 1e-7);
      EXPECT_NEAR(fit.peaks[p].fwhm, kOverlapping[p].fwhm, 1e-7);
      EXPECT_NEAR(fit.peaks[p].amplitude, kOverlapping[p].height, 1e-6);
      const double area =
          shape == PeakShape::kGaussian
              ? kOverlapping[p].height * kOverlapping[p].fwhm *
                    std::sqrt(std::numbers::pi / (4 * std::numbers::ln2))
              : kOverlapping[p].height * kOverlapping[p].fwhm * std::numbers::pi / 2;
      EXPECT_NEAR(fit.peaks[p].area, area, 1e-6 * area);
      EXPECT_LT(fit.peaks[p].centre_error, 1e-6);  // a perfect fit leaves no residual
    }
    testing::ExpectAllNear(Values(fit.fitted), Values(spectrum), 1e-9);
    EXPECT_EQ(fit.table.columns,
              (std::vector<std::string>{"centre", "fwhm", "amplitude", "area", "centre_error",
                                        "fwhm_error", "amplitude_error", "area_error"}));
    EXPECT_EQ(fit.table.Column("centre")[1], fit.peaks[1].centre);
    EXPECT_EQ(fit.table.units[0], "eV");
  }
}

TEST(SpectrumPeaksTest, ErrorsDescribeTheScatterUnderPoissonNoise) {
  const EnergyAxis axis{.offset = 480, .scale = 0.1};
  for (const PeakShape shape : {PeakShape::kGaussian, PeakShape::kLorentzian}) {
    const NdArray spectrum = PeakSpectrum(axis, 400, shape, kOverlapping, 50, 99);
    const std::vector<double> guesses{500.5, 502.5};
    const PeakFitResult fit = FitSpectrumPeaks(spectrum, axis, shape, guesses, 485, 515);
    EXPECT_TRUE(fit.converged);
    for (size_t p = 0; p < 2; ++p) {
      const SpectrumPeak& peak = fit.peaks[p];
      for (const double error :
           {peak.centre_error, peak.fwhm_error, peak.amplitude_error, peak.area_error}) {
        EXPECT_TRUE(std::isfinite(error) && error > 0) << error;
      }
      EXPECT_NEAR(peak.centre, kOverlapping[p].centre, 4 * peak.centre_error);
      EXPECT_NEAR(peak.fwhm, kOverlapping[p].fwhm, 4 * peak.fwhm_error);
      EXPECT_NEAR(peak.amplitude, kOverlapping[p].height, 4 * peak.amplitude_error);
      EXPECT_NEAR(peak.centre, kOverlapping[p].centre, 0.05);
      EXPECT_NEAR(peak.amplitude, kOverlapping[p].height, 0.05 * kOverlapping[p].height);
    }
  }
}

TEST(SpectrumPeaksTest, RejectsBadCentresAndWindows) {
  const EnergyAxis axis{.offset = 480, .scale = 0.1};
  const NdArray spectrum = PeakSpectrum(axis, 400, PeakShape::kGaussian, kOverlapping, 50);
  const std::vector<double> none;
  const std::vector<double> outside{500, 530};
  const std::vector<double> nan{kNaN};
  const std::vector<double> one{500};
  ExpectInvalidArgument(
      [&] { FitSpectrumPeaks(spectrum, axis, PeakShape::kGaussian, none, 485, 515); },
      "initial_centres_ev");
  ExpectInvalidArgument(
      [&] { FitSpectrumPeaks(spectrum, axis, PeakShape::kGaussian, outside, 485, 515); },
      "initial_centres_ev", "530");
  ExpectInvalidArgument(
      [&] { FitSpectrumPeaks(spectrum, axis, PeakShape::kGaussian, nan, 485, 515); },
      "initial_centres_ev");
  ExpectInvalidArgument(
      [&] { FitSpectrumPeaks(spectrum, axis, PeakShape::kGaussian, one, 499.95, 500.3); }, "window",
      "at least 5");
  ExpectInvalidArgument(
      [&] { FitSpectrumPeaks(spectrum, axis, PeakShape::kGaussian, one, 470, 515); }, "window");
}

}  // namespace
}  // namespace tessera::arrayops
