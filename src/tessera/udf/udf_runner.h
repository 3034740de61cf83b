// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tessera/dataset/corrections.h"
#include "tessera/dataset/dataset.h"
#include "tessera/dataset/partition.h"
#include "tessera/dataset/roi.h"
#include "tessera/dataset/tile.h"
#include "tessera/udf/udf.h"

namespace tessera::udf {

/// Options of one pass over a dataset.
struct RunOptions {
  const dataset::Roi* roi = nullptr;                   // null: every frame
  const dataset::CorrectionSet* corrections = nullptr;  // null: none
  int64_t partition_bytes = dataset::kDefaultPartitionBytes;
  /// Set to true from any thread (e.g. a SIGINT handler) to stop between tiles.
  const std::atomic<bool>* cancel = nullptr;
};

/// How far a run has come.
struct Progress {
  int64_t partitions_done = 0;
  int64_t partitions_total = 0;
  int64_t frames_done = 0;   // frames of merged partitions that were processed (inside the ROI)
  int64_t frames_total = 0;  // frames to process (inside the ROI)
};

/// The buffers of every UDF for one partition, ready to merge.
struct PartitionResult {
  int64_t index = -1;
  std::vector<BufferSet> buffers;  // one per UDF
};

/// A complete subtree of the merge tree: the 2^height partitions starting at `first` (a multiple
/// of 2^height), folded together. Processes exchange these to share one merge tree.
struct MergedBlock {
  int64_t first = 0;
  int height = 0;
  std::vector<BufferSet> buffers;  // one per UDF; nav buffers are not part of a block
};

/// Runs several UDFs in one pass over a dataset, partition by partition.
///
/// Executors call RunPartition() for every partition (from any thread, in any order) and Merge()
/// in partition index order. Merge() folds partitions along a fixed binary tree over their
/// indices (pairwise, like a binary counter: partitions 0+1, 2+3, then (0+1)+(2+3), ...), whose
/// shape depends only on the number of partitions: the result is bit-identical whatever runs the
/// partitions, and sums round like pairwise summation rather than a long sequential fold.
class UdfRunner {
 public:
  /// Validate the UDFs against the dataset, call PrepareRun() and negotiate the tiling scheme.
  static std::unique_ptr<UdfRunner> Create(const dataset::Dataset& dataset,
                                           std::vector<Udf*> udfs, RunOptions options);

  const std::vector<dataset::Partition>& partitions() const { return partitions_; }
  const dataset::TilingScheme& tiling_scheme() const { return scheme_; }
  const std::vector<UdfMeta>& metas() const { return metas_; }

  /// Process one partition into fresh partition-local buffers. Thread-safe; throws kCancelled
  /// when cancelled, kCorruptFile / kIo from the reader.
  PartitionResult RunPartition(int64_t index) const;
  /// Place a partition's nav buffers and fold its other buffers into the merge tree; must be
  /// called in partition index order.
  void Merge(PartitionResult&& result);

  // Sharing the merge tree between processes (MPI ranks): each process merges a contiguous
  // range of partitions, hands over its complete subtrees, and a neighbour folds them in. Only
  // subtrees aligned to their size join, so the tree is the same as in one process.

  /// Start merging at partition `first` rather than 0; call before the first Merge().
  void StartMergeAt(int64_t first);
  /// Return the index of the next partition Merge() or MergeBlocks() expects.
  int64_t next_merge() const { return next_merge_; }
  /// Hand over the merged subtrees, lowest partitions first; leaves the tree empty.
  std::vector<MergedBlock> TakeBlocks();
  /// Fold in subtrees merged elsewhere; the first must start at next_merge(), the others follow.
  void MergeBlocks(std::vector<MergedBlock>&& blocks);
  /// Append `blocks` to `out` as bytes (sig and single buffers; native byte order).
  void SerializeBlocks(const std::vector<MergedBlock>& blocks, std::vector<std::byte>& out) const;
  /// Read blocks written by SerializeBlocks() of a runner over the same dataset and UDFs.
  std::vector<MergedBlock> DeserializeBlocks(std::span<const std::byte> bytes) const;
  /// Append the merged nav rows of frames [frame_begin, frame_end) of every UDF to `out`.
  void SerializeNavRows(int64_t frame_begin, int64_t frame_end, std::vector<std::byte>& out) const;
  /// Place nav rows written by SerializeNavRows() for the same frames.
  void DeserializeNavRows(int64_t frame_begin, int64_t frame_end, std::span<const std::byte> bytes);
  Progress progress() const { return progress_; }
  /// Return each UDF's results as merged so far (nav entries not yet processed are NaN/0).
  std::vector<std::vector<Result>> Snapshot() const;
  /// Return each UDF's final results; call once after every partition was merged.
  std::vector<std::vector<Result>> Finish();

 private:
  UdfRunner(const dataset::Dataset& dataset, std::vector<Udf*> udfs, RunOptions options);
  void Negotiate();
  void CheckCancelled() const;
  /// Fold the pending subtrees (left to right) into copies of `into`.
  void FoldStack(std::vector<BufferSet>& into) const;
  std::vector<std::vector<Result>> Results(const std::vector<BufferSet>& merged) const;

  const dataset::Dataset& dataset_;
  std::vector<Udf*> udfs_;
  RunOptions options_;
  std::vector<UdfMeta> metas_;
  std::vector<std::vector<BufferSpec>> specs_;
  std::vector<dataset::Partition> partitions_;
  dataset::TilingScheme scheme_;
  std::vector<BufferSet> global_;
  // Roots of the complete subtrees of the merge tree not yet joined, lowest indices first, with
  // their height: partitions enter at height 0; two neighbours of equal height join when the
  // left one starts at a multiple of twice their size.
  // Complete subtrees not yet joined, lowest partitions first (binary-counter order).
  std::vector<MergedBlock> stack_;
  void PushBlock(MergedBlock&& block);
  void MarkMerged(int64_t partition_begin, int64_t partition_end);
  std::vector<uint8_t> merged_;  // per frame: 1 once its partition was merged
  int64_t next_merge_ = 0;
  Progress progress_;
};

}  // namespace tessera::udf
