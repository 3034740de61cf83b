// SPDX-License-Identifier: MIT
#pragma once

// The Ceres solver settings shared by the arrayops fits (included by .cc files only).

#include <ceres/ceres.h>

namespace tessera::arrayops::internal {

/// Return options for a small dense problem: Levenberg-Marquardt, dense QR, silent, stopping
/// when the relative change of cost or parameters falls below `tolerance`.
inline ceres::Solver::Options LevenbergMarquardtOptions(double tolerance, int max_iterations) {
  ceres::Solver::Options options;
  options.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
  options.linear_solver_type = ceres::DENSE_QR;
  options.max_num_iterations = max_iterations;
  options.function_tolerance = tolerance;
  options.parameter_tolerance = tolerance;
  options.gradient_tolerance = tolerance * 1e-2;
  options.logging_type = ceres::SILENT;
  return options;
}

}  // namespace tessera::arrayops::internal
