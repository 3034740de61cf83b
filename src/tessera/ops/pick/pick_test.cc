// SPDX-License-Identifier: MIT
#include "tessera/ops/pick/pick_udf.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/roi.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/ops/testing_internal.h"

namespace tessera::ops {
namespace {

using testing::ExpectInvalidArgument;
using testing::Get;

constexpr int64_t kNy = 4, kNx = 5, kSy = 7, kSx = 6, kPixels = kSy * kSx;

TEST(Pick, CopiesTheFramesInNativeDtype) {
  const std::vector<std::vector<int64_t>> positions{{0, 0}, {2, 3}, {1, 4}, {2, 3}, {3, 4}};
  for (DType dtype : {DType::kFloat32, DType::kUint16, DType::kUint8}) {
    NdArray data = testing::MakeRandomArray(dtype, {kNy, kNx, kSy, kSx}, 2, 200.0);
    auto ds = dataset::MakeMemoryDataset(data.Clone(), 2);
    for (bool tiny : {false, true}) {
      PickUdf pick(positions);
      const auto results = testing::Run(*ds, pick, {.partition_bytes = 3 * kPixels * 4, .tiny_tiles = tiny});
      const auto& frames = Get(results, "frames");
      ASSERT_EQ(frames.data.shape(), (std::vector<int64_t>{5, kSy, kSx}));
      ASSERT_EQ(frames.data.dtype(), dtype);
      EXPECT_EQ(frames.axes.front().name, "position");
      const int64_t elem = SizeOf(dtype);
      for (size_t i = 0; i < positions.size(); ++i) {
        const int64_t frame = positions[i][0] * kNx + positions[i][1];
        EXPECT_EQ(0, std::memcmp(static_cast<const std::byte*>(frames.data.raw()) + static_cast<int64_t>(i) * kPixels * elem,
                                 static_cast<const std::byte*>(data.raw()) + frame * kPixels * elem,
                                 static_cast<size_t>(kPixels * elem)))
            << "position " << i;
      }
    }
  }
}

TEST(Pick, BitIdenticalOnEveryExecutor) {
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {kNy, kNx, kSy, kSx}, 5), 2);
  PickUdf reference_udf({{3, 1}, {0, 2}});
  const auto reference = testing::Run(*ds, reference_udf, {.partition_bytes = 2 * kPixels * 4});
  for (testing::RunConfig config : testing::AllExecutors()) {
    config.partition_bytes = 2 * kPixels * 4;
    PickUdf udf({{3, 1}, {0, 2}});
    testing::ExpectBitIdentical(reference, testing::Run(*ds, udf, config));
  }
}

TEST(Pick, BadPositions) {
  OperatorRegistry registry;
  RegisterPickOps(registry);
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {kNy, kNx, kSy, kSx}, 5), 2);
  const auto roi = dataset::Roi::Parse(std::vector<int64_t>{kNy, kNx}, "0:2,0:5");
  auto run = [&](std::map<std::string, std::string> params, const dataset::Roi* r = nullptr) {
    auto udf = registry.Make("pick", params);
    return testing::Run(*ds, *udf, {.roi = r});
  };
  ExpectInvalidArgument([&] { run({}); }, "positions");
  ExpectInvalidArgument([&] { run({{"positions", "4,0"}}); }, "positions");
  ExpectInvalidArgument([&] { run({{"positions", "0,5"}}); }, "positions");
  ExpectInvalidArgument([&] { run({{"positions", "-1,0"}}); }, "positions");
  ExpectInvalidArgument([&] { run({{"positions", "1"}}); }, "positions");
  ExpectInvalidArgument([&] { run({{"positions", "1,x"}}); }, "positions");
  ExpectInvalidArgument([&] { run({{"positions", "3,0"}}, &roi); }, "positions");
  EXPECT_EQ(Get(run({{"positions", "1,0; 1,1"}}, &roi), "frames").data.shape()[0], 2);
}

}  // namespace
}  // namespace tessera::ops
