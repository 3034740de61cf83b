// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
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
  // their height: partitions enter at height 0; two neighbours of equal height join.
  struct Subtree {
    int height = 0;
    std::vector<BufferSet> buffers;  // one per UDF
  };
  std::vector<Subtree> stack_;
  std::vector<uint8_t> merged_;  // per frame: 1 once its partition was merged
  int64_t next_merge_ = 0;
  Progress progress_;
};

}  // namespace tessera::udf
