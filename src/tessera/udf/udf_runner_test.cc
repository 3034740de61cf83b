// SPDX-License-Identifier: MIT
#include "tessera/udf/udf_runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "tessera/dataset/memory_dataset.h"

namespace tessera::udf {
namespace {

/// Sums each frame (nav) and all frames (sig); records how it saw its data.
class ProbeUdf final : public Udf {
 public:
  explicit ProbeUdf(Method method, DType input = DType::kFloat32) : method_(method), input_(input) {}
  std::string name() const override { return "probe"; }
  Method method() const override { return method_; }
  DType InputDType(DType) const override { return input_; }
  TilingPreferences tiling_preferences() const override { return {.depth = 3, .total_bytes = 64}; }
  std::vector<BufferSpec> GetResultBuffers(const UdfMeta&) const override {
    return {{.name = "frame_sum", .kind = BufferKind::kNav, .dtype = DType::kFloat64},
            {.name = "sum", .kind = BufferKind::kSig, .dtype = DType::kFloat64}};
  }
  void ProcessTile(const dataset::Tile& tile, BufferSet& buffers) const override {
    if (tile.dtype == DType::kFloat32) Accumulate(tile.view<float>(), tile, buffers);
    else Accumulate(tile.view<uint16_t>(), tile, buffers);
  }
  void ProcessFrame(const dataset::Tile& frame, BufferSet& buffers) const override {
    ProcessTile(frame, buffers);
  }
  void ProcessPartition(const dataset::Tile& part, BufferSet& buffers) const override {
    auto view = part.view<float>();
    auto nav = buffers.Whole<double>(0);
    auto sig = buffers.Whole<double>(1);
    for (int64_t f = 0; f < part.depth; ++f) {
      const int64_t row = part.frame_index(f) - buffers.frame_begin();
      for (int64_t p = 0; p < view.shape(1); ++p) {
        nav(row) += view(f, p);
        sig(p) += view(f, p);
      }
    }
  }

 private:
  template <class T>
  static void Accumulate(NdView<const T> view, const dataset::Tile&, BufferSet& buffers) {
    auto nav = buffers.nav<double>(0);
    auto sig = buffers.sig<double>(1);
    for (int64_t f = 0; f < view.shape(0); ++f)
      for (int64_t p = 0; p < view.shape(1); ++p) {
        nav(f) += view(f, p);
        sig(p) += view(f, p);
      }
  }
  Method method_;
  DType input_;
};

NdArray MakeData() {
  NdArray data(DType::kUint16, {5, 4, 6, 5});
  auto flat = data.flat<uint16_t>();
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<uint16_t>((i * 7919) % 1000);
  return data;
}

std::vector<std::vector<Result>> RunAll(const dataset::Dataset& ds, std::vector<Udf*> udfs,
                                        RunOptions options) {
  auto runner = UdfRunner::Create(ds, std::move(udfs), options);
  for (size_t p = 0; p < runner->partitions().size(); ++p) {
    runner->Merge(runner->RunPartition(static_cast<int64_t>(p)));
  }
  return runner->Finish();
}

TEST(UdfRunner, EveryMethodAndDtypeAgreesWithBruteForce) {
  const NdArray reference = MakeData();
  auto ds = dataset::MakeMemoryDataset(reference.Clone(), 2);
  ProbeUdf tile(Method::kTile), frame(Method::kFrame), part(Method::kPartition),
      native(Method::kTile, DType::kUint16);
  RunOptions options;
  options.partition_bytes = 6 * 5 * 4 * 3;  // 3 frames per partition: 7 partitions
  auto results = RunAll(*ds, {&tile, &frame, &part, &native}, options);
  auto ref = reference.flat<uint16_t>();
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].data.shape(), (std::vector<int64_t>{5, 4}));
    EXPECT_EQ(r[1].data.shape(), (std::vector<int64_t>{6, 5}));
    for (int64_t f = 0; f < 20; ++f) {
      double s = 0;
      for (int64_t p = 0; p < 30; ++p) s += ref[static_cast<size_t>(f * 30 + p)];
      EXPECT_EQ(r[0].data.GetAsDouble(f), s);
    }
    for (int64_t p = 0; p < 30; ++p) {
      double s = 0;
      for (int64_t f = 0; f < 20; ++f) s += ref[static_cast<size_t>(f * 30 + p)];
      EXPECT_EQ(r[1].data.GetAsDouble(p), s);
    }
  }
}

TEST(UdfRunner, SplitsSignalIntoBandsWhenFramesExceedTheBudget) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);
  ProbeUdf tile(Method::kTile);
  auto runner = UdfRunner::Create(*ds, {&tile}, {});
  EXPECT_GT(runner->tiling_scheme().sig_ranges.size(), 1u);
  int64_t covered = 0;
  for (const auto& band : runner->tiling_scheme().sig_ranges) {
    EXPECT_EQ(band.begin, covered);
    EXPECT_EQ(band.size() % 5, 0);  // whole rows
    covered = band.end;
  }
  EXPECT_EQ(covered, 30);
}

/// A dataset stored in blocks of 5 frames (like HDF5 chunks).
class BlockedDataset final : public dataset::Dataset {
 public:
  explicit BlockedDataset(std::unique_ptr<dataset::Dataset> inner) : inner_(std::move(inner)) {}
  const dataset::DatasetMeta& meta() const override { return inner_->meta(); }
  int64_t native_depth() const override { return 5; }
  void ReadFrames(int64_t b, int64_t e, dataset::SigRange sig, void* dst, DType dtype) const override {
    inner_->ReadFrames(b, e, sig, dst, dtype);
  }

 private:
  std::unique_ptr<dataset::Dataset> inner_;
};

TEST(UdfRunner, TilesAndPartitionsFollowNativeBlocks) {
  BlockedDataset ds(dataset::MakeMemoryDataset(MakeData(), 2));
  ProbeUdf frame(Method::kFrame);  // whole frames, preferred depth 3
  auto runner = UdfRunner::Create(ds, {&frame}, {});
  EXPECT_EQ(runner->tiling_scheme().depth, 5);
  for (const auto& p : runner->partitions()) EXPECT_EQ(p.frame_begin % 5, 0);
  auto results = RunAll(ds, {&frame}, {});
  const NdArray reference = MakeData();
  double total = 0;
  for (int64_t i = 0; i < reference.size(); ++i) total += reference.GetAsDouble(i);
  double sum = 0;
  for (int64_t f = 0; f < 20; ++f) sum += results[0][0].data.GetAsDouble(f);
  EXPECT_EQ(sum, total);
}

TEST(UdfRunner, RoiFramesAreSkippedAndReadAsNan) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);
  const int64_t nav[2] = {5, 4};
  const auto roi = dataset::Roi::Parse(nav, "1:3,1:3");
  ProbeUdf tile(Method::kTile), part(Method::kPartition);
  RunOptions options;
  options.roi = &roi;
  options.partition_bytes = 6 * 5 * 4 * 3;
  auto results = RunAll(*ds, {&tile, &part}, options);
  for (const auto& r : results) {
    EXPECT_TRUE(std::isnan(r[0].data.GetAsDouble(0)));
    EXPECT_FALSE(std::isnan(r[0].data.GetAsDouble(5)));
    EXPECT_EQ(r[0].data.GetAsDouble(5), results[0][0].data.GetAsDouble(5));
  }
  EXPECT_EQ(results[0][1].data.GetAsDouble(7), results[1][1].data.GetAsDouble(7));
}

/// Records the merge tree: leaves are partition indices + 1; Merge(a, b) = 31 a + 7 b + 1, which
/// is neither commutative nor associative, so the value identifies the tree's shape.
class TreeUdf final : public Udf {
 public:
  std::string name() const override { return "tree"; }
  std::vector<BufferSpec> GetResultBuffers(const UdfMeta&) const override {
    return {{.name = "tree", .kind = BufferKind::kSingle, .dtype = DType::kInt64, .extra_shape = {1}}};
  }
  void ProcessTile(const dataset::Tile&, BufferSet& buffers) const override {
    buffers.Whole<int64_t>(0)(0) = buffers.frame_begin() / 4 + 1;  // 4 frames per partition
  }
  void Merge(BufferSet& dest, const BufferSet& src) const override {
    auto d = dest.Whole<int64_t>(0);
    d(0) = 31 * d(0) + 7 * src.Whole<int64_t>(0)(0) + 1;
  }
};

TEST(UdfRunner, PartitionsMergeAlongAFixedBinaryTree) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);  // 20 frames of 120 B (as float32)
  TreeUdf udf;
  RunOptions options;
  options.partition_bytes = 4 * 30 * 4;  // 4 frames: 5 partitions
  auto results = RunAll(*ds, {&udf}, options);
  auto f = [](int64_t a, int64_t b) { return 31 * a + 7 * b + 1; };
  // Binary counter over 5 leaves: ((1 2) (3 4)) and 5, joined right to left, then into the
  // neutral global buffer (0).
  const int64_t expected = f(0, f(f(f(1, 2), f(3, 4)), 5));
  EXPECT_EQ(static_cast<int64_t>(results[0][0].data.GetAsDouble(0)), expected);
}

/// Merges like `ranks` MPI ranks: each runner merges a contiguous share of the partitions, then
/// shares travel as bytes along a binary tree over the ranks into rank 0 (as exec/mpi does).
std::vector<std::vector<Result>> RunSplit(const dataset::Dataset& ds, std::vector<Udf*> udfs,
                                          RunOptions options, int64_t ranks) {
  std::vector<std::unique_ptr<UdfRunner>> runners;
  std::vector<int64_t> begins;
  for (int64_t r = 0; r < ranks; ++r) runners.push_back(UdfRunner::Create(ds, udfs, options));
  const int64_t n = static_cast<int64_t>(runners[0]->partitions().size());
  for (int64_t r = 0; r <= ranks; ++r) begins.push_back(r * n / ranks);
  for (int64_t r = 0; r < ranks; ++r) {
    runners[static_cast<size_t>(r)]->StartMergeAt(begins[static_cast<size_t>(r)]);
    for (int64_t p = begins[static_cast<size_t>(r)]; p < begins[static_cast<size_t>(r) + 1]; ++p) {
      runners[static_cast<size_t>(r)]->Merge(runners[static_cast<size_t>(r)]->RunPartition(p));
    }
  }
  for (int64_t step = 1; step < ranks; step *= 2) {
    for (int64_t r = 0; r + step < ranks; r += 2 * step) {
      std::vector<std::byte> bytes;
      auto& sender = *runners[static_cast<size_t>(r + step)];
      sender.SerializeBlocks(sender.TakeBlocks(), bytes);
      auto& receiver = *runners[static_cast<size_t>(r)];
      receiver.MergeBlocks(receiver.DeserializeBlocks(bytes));
    }
  }
  const auto& parts = runners[0]->partitions();
  for (int64_t r = 1; r < ranks; ++r) {
    const int64_t b = begins[static_cast<size_t>(r)], e = begins[static_cast<size_t>(r) + 1];
    if (b == e) continue;
    const int64_t f0 = parts[static_cast<size_t>(b)].frame_begin;
    const int64_t f1 = parts[static_cast<size_t>(e - 1)].frame_end;
    std::vector<std::byte> bytes;
    runners[static_cast<size_t>(r)]->SerializeNavRows(f0, f1, bytes);
    runners[0]->DeserializeNavRows(f0, f1, bytes);
  }
  return runners[0]->Finish();
}

void ExpectBitIdentical(const std::vector<std::vector<Result>>& a,
                        const std::vector<std::vector<Result>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t u = 0; u < a.size(); ++u) {
    ASSERT_EQ(a[u].size(), b[u].size());
    for (size_t r = 0; r < a[u].size(); ++r) {
      const NdArray& x = a[u][r].data;
      const NdArray& y = b[u][r].data;
      ASSERT_EQ(x.shape(), y.shape());
      ASSERT_EQ(x.nbytes(), y.nbytes());
      EXPECT_EQ(std::memcmp(x.raw(), y.raw(), static_cast<size_t>(x.nbytes())), 0)
          << a[u][r].name;
    }
  }
}

TEST(UdfRunner, ShareOfPartitionsMergedElsewhereGivesTheSameTree) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);  // 20 frames
  RunOptions options;
  options.partition_bytes = 30 * 4;  // one frame per partition: 20 partitions
  TreeUdf tree;
  ProbeUdf probe(Method::kTile);
  const auto expected = RunAll(*ds, {&tree, &probe}, options);
  for (int64_t ranks = 1; ranks <= 7; ++ranks) {
    SCOPED_TRACE(ranks);
    ExpectBitIdentical(RunSplit(*ds, {&tree, &probe}, options, ranks), expected);
  }
  // More ranks than partitions: some ranks have nothing to do.
  options.partition_bytes = 4 * 30 * 4;  // 5 partitions
  const auto few = RunAll(*ds, {&tree, &probe}, options);
  ExpectBitIdentical(RunSplit(*ds, {&tree, &probe}, options, 7), few);
  // With an ROI, frames outside it stay NaN wherever they were processed.
  const int64_t nav[1] = {20};
  const auto roi = dataset::Roi::Parse(nav, "3:17");
  options.roi = &roi;
  ExpectBitIdentical(RunSplit(*ds, {&tree, &probe}, options, 3), RunAll(*ds, {&tree, &probe}, options));
}

TEST(UdfRunner, MisplacedOrDamagedMergeMessagesAreRejected) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);
  RunOptions options;
  options.partition_bytes = 30 * 4;
  TreeUdf tree;
  auto a = UdfRunner::Create(*ds, {&tree}, options);
  auto b = UdfRunner::Create(*ds, {&tree}, options);
  b->StartMergeAt(4);
  for (int64_t p = 4; p < 8; ++p) b->Merge(b->RunPartition(p));
  std::vector<std::byte> bytes;
  b->SerializeBlocks(b->TakeBlocks(), bytes);
  // a has merged nothing yet: blocks starting at 4 do not continue it.
  EXPECT_THROW(a->MergeBlocks(a->DeserializeBlocks(bytes)), Error);
  bytes.pop_back();
  EXPECT_THROW(a->DeserializeBlocks(bytes), Error);
  EXPECT_THROW(a->DeserializeBlocks({}), Error);
  EXPECT_THROW(a->StartMergeAt(99), Error);
}

TEST(UdfRunner, CancellationAndBadRoi) {
  auto ds = dataset::MakeMemoryDataset(MakeData(), 2);
  ProbeUdf tile(Method::kTile);
  std::atomic<bool> cancel{true};
  RunOptions options;
  options.cancel = &cancel;
  auto runner = UdfRunner::Create(*ds, {&tile}, options);
  try {
    runner->RunPartition(0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCancelled);
  }
  const int64_t nav[1] = {3};
  const auto roi = dataset::Roi::Parse(nav, "0:2");
  options = {};
  options.roi = &roi;
  EXPECT_THROW(UdfRunner::Create(*ds, {&tile}, options), Error);
  EXPECT_THROW(UdfRunner::Create(*ds, {}, {}), Error);
}

}  // namespace
}  // namespace tessera::udf
