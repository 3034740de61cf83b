// SPDX-License-Identifier: MIT
// Helpers shared by the formats tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessera/core/error.h"
#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"
#include "tessera/formats/format_registry.h"

namespace tessera::formats::testing {

/// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tessera-formats-XXXXXX");
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }
  /// Return the names of the entries in the directory, sorted.
  std::vector<std::string> List() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Run `fn`, expect a tessera::Error with `code` whose message names every string in `names`;
/// return its info for further checks.
inline ErrorInfo ExpectError(const std::function<void()>& fn, ErrorCode code,
                             const std::vector<std::string>& names) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& name : names) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos)
          << "'" << name << "' missing from: " << e.what();
    }
    return e.info();
  }
  ADD_FAILURE() << "no error thrown";
  return {};
}

/// Read every frame of both datasets as float64 (complex128 for complex data) and expect them
/// equal.
inline void ExpectSameFrames(const dataset::Dataset& expected, const dataset::Dataset& actual) {
  ASSERT_EQ(expected.meta().shape, actual.meta().shape);
  const DType as = IsComplex(expected.meta().dtype) || IsComplex(actual.meta().dtype)
                       ? DType::kComplex128
                       : DType::kFloat64;
  const int64_t sig = expected.meta().shape.sig_size();
  const int64_t frames = expected.meta().shape.nav_size();
  const auto bytes = static_cast<size_t>(sig * SizeOf(as));
  std::vector<std::byte> a(bytes), b(bytes);
  for (int64_t f = 0; f < frames; ++f) {
    expected.ReadFrames(f, f + 1, {0, sig}, a.data(), as);
    actual.ReadFrames(f, f + 1, {0, sig}, b.data(), as);
    ASSERT_EQ(a, b) << "frame " << f;
  }
}

/// Return a registry with every built-in format.
inline FormatRegistry Builtins() {
  FormatRegistry registry;
  RegisterBuiltinFormats(registry);
  return registry;
}

/// Float64 sum, minimum and maximum over every element of a dataset (the *.expected.json stats).
struct Stats {
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
};

/// Read frames [frame_begin, frame_end) of `ds` as float64.
inline std::vector<double> ReadAll(const dataset::Dataset& ds, int64_t frame_begin,
                                   int64_t frame_end) {
  const int64_t sig = ds.meta().shape.sig_size();
  std::vector<double> out(static_cast<size_t>((frame_end - frame_begin) * sig));
  ds.ReadFrames(frame_begin, frame_end, {0, sig}, out.data(), DType::kFloat64);
  return out;
}

/// Read every frame of `ds` as float64.
inline std::vector<double> ReadAll(const dataset::Dataset& ds) {
  return ReadAll(ds, 0, ds.meta().shape.nav_size());
}

/// Stats of frames [frame_begin, frame_end) of `ds`.
inline Stats ReadStats(const dataset::Dataset& ds, int64_t frame_begin, int64_t frame_end) {
  Stats stats;
  for (const double v : ReadAll(ds, frame_begin, frame_end)) {
    stats.sum += v;
    stats.min = std::min(stats.min, v);
    stats.max = std::max(stats.max, v);
  }
  return stats;
}

inline Stats ReadStats(const dataset::Dataset& ds) {
  return ReadStats(ds, 0, ds.meta().shape.nav_size());
}

/// Expect `actual` within a relative 1e-9 (absolute 1e-12) of `expected`.
/// What every reader's real-file test checks against one entry of an *.expected.json (a
/// `signals[i]` or `raw[i]` object): `path` is detected as `format` and opens as it, with the
/// entry's shape and dtype, float64 sum (relative 1e-9, plus `sum_slack`), min and max. Returns
/// the dataset for the format's own checks.
inline std::unique_ptr<dataset::Dataset> OpenAndMatch(const FormatRegistry& registry,
                                                      const std::string& path,
                                                      const std::string& format,
                                                      const nlohmann::json& expected,
                                                      double sum_slack = 0) {
  EXPECT_EQ(registry.Detect(path, {}).name, format);
  auto ds = registry.Open(path, {});
  EXPECT_EQ(ds->meta().format, format);
  EXPECT_EQ(ds->meta().shape.dims(), expected["shape"].get<std::vector<int64_t>>());
  EXPECT_EQ(Name(ds->meta().dtype), expected["dtype"].get<std::string>());
  const Stats stats = ReadStats(*ds);
  const double sum = expected["stats"]["sum"].get<double>();
  EXPECT_NEAR(stats.sum, sum, 1e-9 * std::abs(sum) + sum_slack);
  EXPECT_EQ(stats.min, expected["stats"]["min"].get<double>());
  EXPECT_EQ(stats.max, expected["stats"]["max"].get<double>());
  return ds;
}

inline void ExpectClose(double actual, double expected, const std::string& what = "") {
  EXPECT_NEAR(actual, expected, 1e-9 * std::abs(expected) + 1e-12) << what;
}

/// Return the shared test data directory, or nullopt when absent.
inline std::optional<std::string> TestDataDir() {
  if (const char* env = std::getenv("TESSERA_TESTDATA")) {
    if (std::filesystem::is_directory(env)) return std::string(env);
  }
  const std::string dir = std::string(TESSERA_SOURCE_DIR) + "/../shared/data";
  if (std::filesystem::is_directory(dir)) return dir;
  return std::nullopt;
}

}  // namespace tessera::formats::testing
