// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/core/error.h"
#include "tessera/dataset/corrections.h"
#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/partition.h"
#include "tessera/dataset/roi.h"

namespace tessera::dataset {
namespace {

TEST(Partitions, DependOnlyOnShapeAndSize) {
  const Shape shape({10, 10}, {64, 64});  // 16 KiB per float32 frame
  const auto parts = MakePartitions(shape, 1, (16 << 10) * 7);
  int64_t covered = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(parts[i].frame_begin, covered);
    covered = parts[i].frame_end;
  }
  EXPECT_EQ(covered, 100);
  const auto small = MakePartitions(shape, 4, 3 * 16384);  // 3 frames, aligned down to... 4
  EXPECT_EQ(small.front().num_frames(), 4);
  EXPECT_EQ(small.size(), 25u);
  EXPECT_THROW(MakePartitions(shape, 1, 0), Error);
}

TEST(Roi, ParsesSlicesAndChecksBounds) {
  const int64_t nav[2] = {4, 5};
  const auto roi = Roi::Parse(nav, "1:3,2:");
  EXPECT_EQ(roi.count(), 6);
  EXPECT_TRUE(roi.selected(1 * 5 + 2));
  EXPECT_FALSE(roi.selected(1 * 5 + 1));
  const auto runs = roi.Runs(0, 20);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0], std::make_pair(int64_t{7}, int64_t{10}));
  EXPECT_EQ(Roi::Parse(nav, "3,4").count(), 1);
  for (const char* bad : {"0:5,0:5", "1:3", "a:b,1", "3:2,0:1", "-1:2,0:1"}) {
    try {
      Roi::Parse(nav, bad);
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.info().field, "roi") << bad;
    }
  }
  EXPECT_THROW(Roi::FromMask(nav, std::vector<uint8_t>(3, 1)), Error);
}

TEST(Corrections, DarkGainAndExcludedPixels) {
  const Shape shape({1}, {3, 3});
  NdArray dark(DType::kFloat32, {3, 3});
  dark.Fill(1.0);
  NdArray gain(DType::kFloat32, {3, 3});
  gain.Fill(2.0);
  const auto set = CorrectionSet::Make(shape, dark, gain, {4});
  float frame[9] = {2, 3, 4, 5, 100, 7, 8, 9, 10};
  set.Apply(frame, 1, 9, {0, 9});
  EXPECT_FLOAT_EQ(frame[0], 2.0f);
  // Centre = mean of the 8 corrected neighbours.
  EXPECT_FLOAT_EQ(frame[4], (2 + 4 + 6 + 8 + 12 + 14 + 16 + 18) / 8.0f);
  EXPECT_THROW(CorrectionSet::Make(shape, NdArray(DType::kFloat32, {2, 2}), {}, {}), Error);
  try {
    CorrectionSet::Make(shape, {}, {}, {9});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.info().field, "excluded_pixels");
  }
}

TEST(MemoryDataset, DirectAndConvertedReads) {
  NdArray data(DType::kUint16, {2, 3, 4});
  auto flat = data.flat<uint16_t>();
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<uint16_t>(i);
  auto ds = MakeMemoryDataset(std::move(data), 1);
  EXPECT_EQ(ds->meta().shape.nav_size(), 6);
  float out[4];
  ds->ReadFrames(2, 3, {1, 3}, out, DType::kFloat32);
  EXPECT_EQ(out[0], 9.0f);
  EXPECT_EQ(out[1], 10.0f);
  const auto* direct = reinterpret_cast<const uint16_t*>(ds->DirectFrames(5, 6));
  EXPECT_EQ(direct[3], 23);
}

}  // namespace
}  // namespace tessera::dataset
