// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>

#include <cmath>

#include "tessera/dataset/memory_dataset.h"
#include "tessera/dataset/roi.h"
#include "tessera/ops/masks/mask_shapes.h"
#include "tessera/ops/masks/virtual_detector_udf.h"
#include "tessera/ops/operator_registry.h"
#include "tessera/ops/testing_internal.h"

namespace tessera::ops {
namespace {

using testing::ExpectInvalidArgument;
using testing::Get;
using testing::Values;

constexpr int64_t kNy = 4, kNx = 5, kSy = 12, kSx = 10;
constexpr int64_t kFrames = kNy * kNx, kPixels = kSy * kSx;
const int64_t kSig[2] = {kSy, kSx};

int64_t CountSelected(const std::vector<float>& w) {
  return std::count_if(w.begin(), w.end(), [](float v) { return v != 0; });
}

TEST(MaskShapes, RasteriseAtPixelCentres) {
  const auto disk = Rasterize(MaskShape::Disk(4.5, 3.2, 2.5), kSig);
  for (int64_t y = 0; y < kSy; ++y) {
    for (int64_t x = 0; x < kSx; ++x) {
      const double d2 = (y - 4.5) * (y - 4.5) + (x - 3.2) * (x - 3.2);
      EXPECT_EQ(disk[static_cast<size_t>(y * kSx + x)] != 0, d2 <= 2.5 * 2.5) << y << "," << x;
    }
  }
  const auto ring = Rasterize(MaskShape::Ring(6, 5, 1.5, 3), kSig);
  for (int64_t y = 0; y < kSy; ++y) {
    for (int64_t x = 0; x < kSx; ++x) {
      const double d2 = (y - 6.0) * (y - 6.0) + (x - 5.0) * (x - 5.0);
      EXPECT_EQ(ring[static_cast<size_t>(y * kSx + x)] != 0, d2 > 2.25 && d2 <= 9) << y << "," << x;
    }
  }
  // A disk of radius r and a ring from r out partition the larger disk.
  const auto inner = Rasterize(MaskShape::Disk(6, 5, 2), kSig);
  const auto outer = Rasterize(MaskShape::Ring(6, 5, 2, 4), kSig);
  const auto whole = Rasterize(MaskShape::Disk(6, 5, 4), kSig);
  for (size_t p = 0; p < whole.size(); ++p) EXPECT_EQ(inner[p] + outer[p], whole[p]);
  EXPECT_EQ(CountSelected(Rasterize(MaskShape::Ring(6, 5, 0, 1), kSig)), 5);  // ri = 0 keeps the centre
  const auto point = Rasterize(MaskShape::Point(3.4, 7.6), kSig);
  EXPECT_EQ(CountSelected(point), 1);
  EXPECT_EQ(point[3 * kSx + 8], 1.0f);
  const auto rect = Rasterize(MaskShape::Rectangle(2, 1, 5, 4), kSig);
  EXPECT_EQ(CountSelected(rect), 9);
  EXPECT_EQ(rect[2 * kSx + 1], 1.0f);
  EXPECT_EQ(rect[4 * kSx + 3], 1.0f);
  EXPECT_EQ(rect[5 * kSx + 3], 0.0f);
  // Right triangle with legs along y = 0 and x = 0: pixels strictly inside x < 8 - y... by the
  // even-odd rule at pixel centres.
  const auto triangle = Rasterize(MaskShape::Polygon({0.5, 0.5, 0.5, 8.5, 8.5, 0.5}), kSig);
  for (int64_t y = 0; y < kSy; ++y) {
    for (int64_t x = 0; x < kSx; ++x) {
      const bool inside = y >= 1 && x >= 1 && (y - 0.5) + (x - 0.5) < 8;
      EXPECT_EQ(triangle[static_cast<size_t>(y * kSx + x)] != 0, inside) << y << "," << x;
    }
  }
}

TEST(MaskShapes, ParseStacks) {
  const auto masks = ParseMasks("disk:6,5,2; ring:6,5,2,4;rect:0,0,2,2;point:1,1;polygon:1,1,1,5,5,1;");
  ASSERT_EQ(masks.size(), 5u);
  EXPECT_EQ(masks[1].kind, MaskKind::kRing);
  EXPECT_EQ(masks[4].values.size(), 6u);
  ExpectInvalidArgument([] { ParseMasks("circle:1,2,3"); }, "masks");
  ExpectInvalidArgument([] { ParseMasks("disk:1,a,3"); }, "masks");
  ExpectInvalidArgument([] { ParseMasks("disk 1,2,3"); }, "masks");
  ExpectInvalidArgument([] { Rasterize(ParseMasks("disk:1,2")[0], kSig); }, "masks");
}

TEST(MaskShapes, MasksOutsideTheFrameAreErrors) {
  ExpectInvalidArgument([] { Rasterize(MaskShape::Disk(-1, 5, 3), kSig); }, "masks");
  ExpectInvalidArgument([] { Rasterize(MaskShape::Disk(5, 10.5, 3), kSig); }, "masks");
  ExpectInvalidArgument([] { Rasterize(MaskShape::Ring(5, 5, 3, 2), kSig); }, "masks");
  ExpectInvalidArgument([] { Rasterize(MaskShape::Point(12, 0), kSig); }, "masks");
  ExpectInvalidArgument([] { Rasterize(MaskShape::Rectangle(20, 20, 30, 30), kSig); }, "masks");
  ExpectInvalidArgument([] { Rasterize(MaskShape::Polygon({20, 20, 20, 30, 30, 20}), kSig); }, "masks");
  ExpectInvalidArgument([] { Rasterize(MaskShape::Image(NdArray(DType::kFloat32, {3, 3})), kSig); },
                        "mask_file");
}

NdArray MakeImageMask() {
  NdArray image(DType::kFloat32, {kSy, kSx});
  auto flat = image.flat<float>();
  for (size_t p = 0; p < flat.size(); ++p) flat[p] = static_cast<float>((p * 13) % 7) * 0.25f;
  return image;
}

std::vector<MaskShape> AllKinds() {
  return {MaskShape::Disk(5.5, 4.2, 3), MaskShape::Ring(6, 5, 1.5, 4), MaskShape::Point(2, 7),
          MaskShape::Rectangle(1, 2, 9, 6), MaskShape::Polygon({0, 0, 0, 9, 11, 4}),
          MaskShape::Image(MakeImageMask())};
}

/// Binary masks that do not overlap: the runs (label map) kernel applies.
std::vector<MaskShape> DisjointKinds() {
  return {MaskShape::Disk(5.5, 4.5, 1.5), MaskShape::Ring(5.5, 4.5, 1.5, 3),
          MaskShape::Ring(5.5, 4.5, 3, 5), MaskShape::Point(0, 0), MaskShape::Rectangle(10, 0, 12, 3)};
}

/// intensity[f, m] = sum_p data[f, p] * w_m[p] in float64; NaN outside the ROI.
std::vector<double> BruteForce(const NdArray& data, const std::vector<MaskShape>& masks,
                               const dataset::Roi* roi) {
  std::vector<double> out;
  std::vector<std::vector<float>> weights;
  for (const auto& mask : masks) weights.push_back(Rasterize(mask, kSig));
  for (int64_t f = 0; f < kFrames; ++f) {
    for (const auto& w : weights) {
      double acc = 0;
      for (int64_t p = 0; p < kPixels; ++p) acc += data.GetAsDouble(f * kPixels + p) * w[static_cast<size_t>(p)];
      out.push_back(roi != nullptr && !roi->selected(f) ? std::nan("") : acc);
    }
  }
  return out;
}

struct Case {
  DType dtype;
  MaskBackend backend;
  bool tiny_tiles;
  bool roi;
};

class VirtualDetector : public ::testing::TestWithParam<Case> {};

TEST_P(VirtualDetector, EveryMaskKindAgreesWithBruteForce) {
  const Case c = GetParam();
  NdArray data = testing::MakeRandomArray(c.dtype, {kNy, kNx, kSy, kSx}, 3, 4000.0);
  std::vector<uint8_t> mask(kFrames, 1);
  for (int64_t f = 0; f < kFrames; f += 3) mask[static_cast<size_t>(f)] = 0;
  const int64_t nav[2] = {kNy, kNx};
  const auto roi = dataset::Roi::FromMask(nav, mask);
  auto ds = dataset::MakeMemoryDataset(data.Clone(), 2);
  const auto masks = c.backend == MaskBackend::kRuns ? DisjointKinds() : AllKinds();
  const auto expected = BruteForce(data, masks, c.roi ? &roi : nullptr);
  // Each mask alone (sgemv / single-mask sparse) and the whole stack (sgemm / CSR).
  for (int64_t single = -1; single < static_cast<int64_t>(masks.size()); ++single) {
    std::vector<MaskShape> stack = single < 0 ? masks : std::vector<MaskShape>{masks[static_cast<size_t>(single)]};
    VirtualDetectorUdf udf(stack, c.backend);
    const auto results = testing::Run(*ds, udf, {.roi = c.roi ? &roi : nullptr,
                                                 .partition_bytes = 6 * kPixels * 4,
                                                 .tiny_tiles = c.tiny_tiles});
    EXPECT_EQ(udf.sparse(), c.backend == MaskBackend::kSparse);
    EXPECT_EQ(udf.used_backend(), c.backend);
    const auto& intensity = Get(results, "intensity");
    const int64_t n = static_cast<int64_t>(stack.size());
    ASSERT_EQ(intensity.data.shape(), (std::vector<int64_t>{kNy, kNx, n}));
    const auto actual = Values(intensity);
    for (int64_t f = 0; f < kFrames; ++f) {
      for (int64_t m = 0; m < n; ++m) {
        const double want = expected[static_cast<size_t>(f * static_cast<int64_t>(masks.size()) + (single < 0 ? m : single))];
        const double got = actual[static_cast<size_t>(f * n + m)];
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got));
        } else {
          EXPECT_NEAR(got, want, 1e-5 * std::abs(want) + 1e-3) << "frame " << f << " mask " << m;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, VirtualDetector,
    ::testing::Values(Case{DType::kFloat32, MaskBackend::kDense, false, false},
                      Case{DType::kFloat32, MaskBackend::kSparse, false, false},
                      Case{DType::kFloat32, MaskBackend::kDense, true, true},
                      Case{DType::kFloat32, MaskBackend::kSparse, true, true},
                      Case{DType::kUint16, MaskBackend::kDense, true, false},
                      Case{DType::kUint16, MaskBackend::kSparse, true, false},
                      Case{DType::kUint16, MaskBackend::kSparse, false, true},
                      Case{DType::kFloat32, MaskBackend::kRuns, false, false},
                      Case{DType::kFloat32, MaskBackend::kRuns, true, true},
                      Case{DType::kUint16, MaskBackend::kRuns, true, false}));

TEST(VirtualDetector, AutoPicksRunsForDisjointBinaryMasksAndRunsNeedThem) {
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {kNy, kNx, kSy, kSx}, 5), 2);
  VirtualDetectorUdf runs(DisjointKinds());
  const auto a = Values(Get(testing::Run(*ds, runs), "intensity"));
  EXPECT_EQ(runs.used_backend(), MaskBackend::kRuns);
  VirtualDetectorUdf dense(DisjointKinds(), MaskBackend::kDense);
  const auto b = Values(Get(testing::Run(*ds, dense), "intensity"));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * std::abs(b[i]) + 1e-3) << i;
  VirtualDetectorUdf overlapping({MaskShape::Disk(5, 5, 3), MaskShape::Disk(5, 5, 2)});
  testing::Run(*ds, overlapping);
  EXPECT_NE(overlapping.used_backend(), MaskBackend::kRuns);
  VirtualDetectorUdf forced(AllKinds(), MaskBackend::kRuns);
  ExpectInvalidArgument([&] { testing::Run(*ds, forced); }, "backend");
}

TEST(VirtualDetector, AutoPicksSparseForSparseStacks) {
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {kNy, kNx, kSy, kSx}, 1), 2);
  VirtualDetectorUdf point({MaskShape::Point(3, 3)}, MaskBackend::kAuto);
  testing::Run(*ds, point);
  EXPECT_EQ(point.used_backend(), MaskBackend::kRuns);  // binary: runs beat CSR
  VirtualDetectorUdf weighted({MaskShape::Image(MakeImageMask()), MaskShape::Point(3, 3)});
  testing::Run(*ds, weighted);
  EXPECT_EQ(weighted.used_backend(), MaskBackend::kDense);
  VirtualDetectorUdf rect({MaskShape::Rectangle(0, 0, 6, 10), MaskShape::Rectangle(2, 2, 4, 4)});
  testing::Run(*ds, rect);
  EXPECT_EQ(rect.used_backend(), MaskBackend::kDense);  // overlapping, dense
  EXPECT_DOUBLE_EQ(rect.density(), (60.0 + 4.0) / 240.0);
  VirtualDetectorUdf sparse({MaskShape::Rectangle(0, 0, 1, 2), MaskShape::Rectangle(0, 0, 1, 1),
                             MaskShape::Point(5, 5)});
  testing::Run(*ds, sparse);
  EXPECT_TRUE(sparse.sparse());  // overlapping and under 4 % non-zero
}

TEST(VirtualDetector, BitIdenticalOnEveryExecutor) {
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {kNy, kNx, kSy, kSx}, 9), 2);
  for (MaskBackend backend : {MaskBackend::kDense, MaskBackend::kSparse, MaskBackend::kRuns}) {
    const auto stack = backend == MaskBackend::kRuns ? DisjointKinds() : AllKinds();
    VirtualDetectorUdf reference_udf(stack, backend);
    const auto reference = testing::Run(*ds, reference_udf, {.partition_bytes = 3 * kPixels * 4});
    for (testing::RunConfig config : testing::AllExecutors()) {
      config.partition_bytes = 3 * kPixels * 4;
      VirtualDetectorUdf udf(stack, backend);
      testing::ExpectBitIdentical(reference, testing::Run(*ds, udf, config));
    }
  }
}

TEST(VirtualDetector, RegistryParams) {
  OperatorRegistry registry;
  RegisterMaskOps(registry);
  auto ds = dataset::MakeMemoryDataset(testing::MakeRandomArray(DType::kFloat32, {kNy, kNx, kSy, kSx}, 2), 2);
  auto run = [&](std::map<std::string, std::string> params, std::map<std::string, NdArray> arrays = {}) {
    auto udf = registry.Make("virtual-detector", params, std::move(arrays));
    return testing::Run(*ds, *udf);
  };
  // shape=disk without a centre is centred on the frame: same as an explicit centre.
  const auto a = Values(Get(run({{"shape", "disk"}, {"r", "3"}}), "intensity"));
  const auto b = Values(Get(run({{"masks", "disk:5.5,4.5,3"}}), "intensity"));
  EXPECT_EQ(a, b);
  std::map<std::string, NdArray> arrays;
  arrays.emplace("mask_file", MakeImageMask());
  const auto stacked = run({{"masks", "point:1,1;rect:0,0,3,3"}, {"shape", "ring"}, {"ri", "1"}, {"ro", "3"}},
                           std::move(arrays));
  EXPECT_EQ(Get(stacked, "intensity").data.shape(), (std::vector<int64_t>{kNy, kNx, 4}));
  ExpectInvalidArgument([&] { run({}); }, "masks");
  ExpectInvalidArgument([&] { run({{"shape", "disk"}}); }, "r");
  ExpectInvalidArgument([&] { run({{"shape", "disk"}, {"r", "two"}}); }, "r");
  ExpectInvalidArgument([&] { run({{"shape", "disk"}, {"r", "2"}, {"cy", "40"}}); }, "cy");
  ExpectInvalidArgument([&] { run({{"shape", "star"}}); }, "shape");
  ExpectInvalidArgument([&] { run({{"r", "2"}}); }, "r");
  ExpectInvalidArgument([&] { run({{"masks", "disk:50,50,3"}}); }, "masks");
  ExpectInvalidArgument([&] { run({{"masks", "disk:5,5,3"}, {"backend", "gpu"}}); }, "backend");
  ExpectInvalidArgument([&] { run({{"mask_file", "x.npy"}}); }, "mask_file");
  ExpectInvalidArgument([&] { run({{"masks", "disk:5,5,3"}, {"radius", "3"}}); }, "radius");
}

}  // namespace
}  // namespace tessera::ops
