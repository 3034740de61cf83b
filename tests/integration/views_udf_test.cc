// SPDX-License-Identifier: MIT
// Analyses over lazy views: a run over a view must equal, bit for bit, the same run over a
// materialised copy of the transformed data, whatever the tiling and the executor.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/views.h"
#include "tessera/exec/executor.h"
#include "tessera/ops/operator_registry.h"

namespace tessera {
namespace {

constexpr int64_t kNy = 9, kNx = 11, kSy = 16, kSx = 13;

/// Asks for tiny tiles: the runner then cuts frames into bands of rows and tiles short.
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

NdArray RandomScan() {
  NdArray data(DType::kUint16, {kNy, kNx, kSy, kSx});
  std::mt19937_64 rng(42);
  for (auto& v : data.flat<uint16_t>()) v = static_cast<uint16_t>(rng() % 60000);
  return data;
}

/// Crop nav [1, 9) x [2, 11) and sig [1, 15) x [0, 13), then bin nav 2x3 and sig 2x3 by summing,
/// by brute force.
NdArray CropAndBinByHand(const NdArray& scan) {
  const auto in = scan.view<uint16_t>();
  NdArray out(DType::kInt64, {4, 3, 7, 4});
  auto flat = out.flat<int64_t>();
  size_t i = 0;
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 0; x < 3; ++x) {
      for (int64_t sy = 0; sy < 7; ++sy) {
        for (int64_t sx = 0; sx < 4; ++sx, ++i) {
          for (int64_t m = 0; m < 36; ++m) {
            const int64_t ny = 1 + 2 * y + m / 18, nx = 2 + 3 * x + m / 6 % 3;
            const int64_t py = 1 + 2 * sy + m / 3 % 2, px = 3 * sx + m % 3;
            flat[i] += in.data()[((ny * kNx + nx) * kSy + py) * kSx + px];
          }
        }
      }
    }
  }
  return out;
}

std::vector<udf::Result> RunAnalysis(const dataset::Dataset& ds, const std::string& analysis,
                                     const std::string& executor_name, bool tiny_tiles) {
  ops::OperatorRegistry registry;
  ops::RegisterBuiltinOps(registry);
  auto udf = registry.Make(analysis, {});
  TinyTilesUdf tiny;
  std::vector<udf::Udf*> udfs{udf.get()};
  if (tiny_tiles) udfs.push_back(&tiny);
  udf::RunOptions options;
  options.partition_bytes = 3 * 7 * 4 * 4;  // three frames: several partitions to merge
  auto executor = exec::MakeExecutor(executor_name, 2);
  return std::move(exec::RunUdfs(*executor, ds, udfs, options).front());
}

TEST(ViewsUdf, AnalysesOverCropAndBinEqualAMaterialisedCopy) {
  const NdArray scan = RandomScan();
  const dataset::DatasetPtr base = dataset::MakeMemoryDataset(scan.Clone(), 2);
  const auto view = dataset::BinView(dataset::CropView(base, {{1, 9}, {2, 11}}, {{1, 15}, {0, 13}}),
                                     {2, 3}, {2, 3}, dataset::BinReduce::kSum);
  const auto copy = dataset::MakeMemoryDataset(CropAndBinByHand(scan), 2);
  ASSERT_EQ(view->meta().shape, copy->meta().shape);
  ASSERT_EQ(view->meta().dtype, copy->meta().dtype);
  for (const char* analysis : {"sum", "stats", "frame-sum"}) {
    for (const char* executor : {"inline", "threads"}) {
      for (bool tiny_tiles : {false, true}) {
        SCOPED_TRACE(std::string(analysis) + " on " + executor +
                     (tiny_tiles ? ", tiny tiles" : ""));
        const auto got = RunAnalysis(*view, analysis, executor, tiny_tiles);
        const auto want = RunAnalysis(*copy, analysis, executor, tiny_tiles);
        ASSERT_EQ(got.size(), want.size());
        for (size_t r = 0; r < got.size(); ++r) {
          ASSERT_EQ(got[r].data.shape(), want[r].data.shape()) << got[r].name;
          ASSERT_EQ(got[r].data.dtype(), want[r].data.dtype()) << got[r].name;
          EXPECT_EQ(0, std::memcmp(got[r].data.raw(), want[r].data.raw(),
                                   static_cast<size_t>(got[r].data.nbytes())))
              << got[r].name << " differs";
        }
      }
    }
  }
  // Results carry the view's calibration: signal pixels 3 wide, their centres from 1.
  const auto sum = RunAnalysis(*view, "sum", "inline", false);
  ASSERT_EQ(sum.front().axes.size(), 2u);
  EXPECT_DOUBLE_EQ(sum.front().axes[1].scale, 3.0);
  EXPECT_DOUBLE_EQ(sum.front().axes[1].offset, 1.0);
  EXPECT_DOUBLE_EQ(sum.front().axes[0].offset, 1.5);
}

}  // namespace
}  // namespace tessera
