// SPDX-License-Identifier: MIT
#pragma once

// Helpers shared by the ops layer's tests (not part of the library).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tessera/core/nd_array.h"
#include "tessera/dataset/dataset.h"
#include "tessera/dataset/roi.h"
#include "tessera/exec/executor.h"
#include "tessera/udf/udf.h"

namespace tessera::ops::testing {

/// Produces nothing, but asks for tiny tiles: running it beside an analysis forces the runner
/// to split frames into several signal bands and to cut short tiles.
class TinyTilesUdf final : public udf::Udf {
 public:
  std::string name() const override { return "tiny-tiles"; }
  DType InputDType(DType native) const override { return native; }
  udf::TilingPreferences tiling_preferences() const override {
    return {.depth = 3, .total_bytes = 64};
  }
  std::vector<udf::BufferSpec> GetResultBuffers(const udf::UdfMeta&) const override { return {}; }
  void ProcessTile(const dataset::Tile&, udf::BufferSet&) const override {}
};

struct RunConfig {
  std::string executor = "inline";
  int threads = 1;
  const dataset::Roi* roi = nullptr;
  int64_t partition_bytes = dataset::kDefaultPartitionBytes;
  bool tiny_tiles = false;
  const dataset::CorrectionSet* corrections = nullptr;
};

/// Run one analysis over `ds` and return its results.
inline std::vector<udf::Result> Run(const dataset::Dataset& ds, udf::Udf& analysis,
                                    const RunConfig& config = {}) {
  auto executor = exec::MakeExecutor(config.executor, config.threads);
  TinyTilesUdf tiny;
  std::vector<udf::Udf*> udfs{&analysis};
  if (config.tiny_tiles) udfs.push_back(&tiny);
  udf::RunOptions options;
  options.roi = config.roi;
  options.partition_bytes = config.partition_bytes;
  options.corrections = config.corrections;
  auto all = exec::RunUdfs(*executor, ds, udfs, options);
  return std::move(all.front());
}

/// Return the result called `name`; fails the test when absent.
inline const udf::Result& Get(const std::vector<udf::Result>& results, const std::string& name) {
  for (const auto& result : results) {
    if (result.name == name) return result;
  }
  ADD_FAILURE() << "no result named " << name;
  static const udf::Result empty;
  return empty;
}

/// Return the result's values as float64.
inline std::vector<double> Values(const udf::Result& result) {
  std::vector<double> values(static_cast<size_t>(result.data.size()));
  for (int64_t i = 0; i < result.data.size(); ++i) {
    values[static_cast<size_t>(i)] = result.data.GetAsDouble(i);
  }
  return values;
}

/// A deterministic pseudo-random array (values in [0, max_value)).
inline NdArray MakeRandomArray(DType dtype, std::vector<int64_t> shape, uint64_t seed,
                               double max_value = 1000.0) {
  NdArray array(dtype, std::move(shape));
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < array.size(); ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const double u = static_cast<double>(state >> 11) / 9007199254740992.0;
    const double value = u * max_value;
    switch (dtype) {
      case DType::kFloat32: array.flat<float>()[static_cast<size_t>(i)] = static_cast<float>(value); break;
      case DType::kFloat64: array.flat<double>()[static_cast<size_t>(i)] = value; break;
      case DType::kUint16: array.flat<uint16_t>()[static_cast<size_t>(i)] = static_cast<uint16_t>(value); break;
      case DType::kUint8: array.flat<uint8_t>()[static_cast<size_t>(i)] = static_cast<uint8_t>(value); break;
      default: ADD_FAILURE() << "MakeRandomArray: unsupported dtype";
    }
  }
  return array;
}

/// Every executor configuration the bit-identity tests run on.
inline std::vector<RunConfig> AllExecutors() {
  return {{.executor = "inline"},
          {.executor = "threads", .threads = 1},
          {.executor = "threads", .threads = 2},
          {.executor = "threads", .threads = 3},
          {.executor = "threads", .threads = 4}};
}

/// Expect two result lists to be bit-identical (names, shapes, bytes; NaN == NaN).
inline void ExpectBitIdentical(const std::vector<udf::Result>& a, const std::vector<udf::Result>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    ASSERT_EQ(a[i].data.shape(), b[i].data.shape()) << a[i].name;
    ASSERT_EQ(a[i].data.dtype(), b[i].data.dtype()) << a[i].name;
    EXPECT_EQ(0, std::memcmp(a[i].data.raw(), b[i].data.raw(),
                             static_cast<size_t>(a[i].data.nbytes())))
        << a[i].name << " differs";
  }
}

/// Expect `code` and `field` from running `fn`.
template <class F>
void ExpectInvalidArgument(F&& fn, const std::string& field) {
  try {
    fn();
    ADD_FAILURE() << "expected kInvalidArgument naming '" << field << "'";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidArgument) << error.what();
    EXPECT_EQ(error.info().field, field) << error.what();
  }
}

}  // namespace tessera::ops::testing
