// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "tessera/core/error.h"
#include "tessera/exec/executor.h"

namespace tessera::exec {

/// Return whether mpirun / srun started this process (OpenMPI, PMI or PMIx environment), unless
/// TESSERA_NO_MPI is set.
bool LaunchedByMpi();

/// Return whether this build of Tessera can run under MPI.
bool MpiAvailable();

/// The MPI job this process is a rank of (MPI_COMM_WORLD). One per process: it initialises MPI
/// (MPI_THREAD_SERIALIZED; Tessera makes every MPI call under one lock) and finalises it.
///
/// Faults: a rank that fails reports its error to rank 0 (FailRank); rank 0 polls for such
/// reports while it computes and while it waits for data, prints the failing rank's message and
/// stops the whole job (Abort). A killed rank is detected by mpirun, which ends the job. Nothing
/// blocks in a collective operation, so no failure can leave the job hanging.
class MpiWorld {
 public:
  /// Initialise MPI if LaunchedByMpi() and MpiAvailable(); return null otherwise.
  static std::unique_ptr<MpiWorld> InitIfLaunched();
  ~MpiWorld();
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  /// Non-root ranks: send `error` to rank 0, which stops the job; never returns (if rank 0 does
  /// not stop it within 30 s, this rank aborts the job itself).
  [[noreturn]] void FailRank(const ErrorInfo& error, int exit_code);
  /// Stop every rank of the job with `exit_code`; never returns.
  [[noreturn]] void Abort(int exit_code);

  // Point-to-point messages of any size (split into pieces below 2 GiB). Receives poll, and on
  // rank 0 they throw the first error another rank reported.
  void Send(int dest, int tag, std::span<const std::byte> bytes);
  std::vector<std::byte> Receive(int source, int tag);
  /// Rank 0: throw the first error reported by another rank, if any; drain progress reports.
  void PollReports();
  /// Non-root: tell rank 0 how many partitions and frames this rank has merged.
  void ReportProgress(int64_t partitions_done, int64_t frames_done);
  /// Rank 0: the latest progress reported by every rank (rank 0's own entry is not updated).
  std::vector<std::pair<int64_t, int64_t>> reported_progress() const;

  static constexpr int kTagBlocks = 11;
  static constexpr int kTagNavRows = 13;
  static constexpr int kTagProgress = 15;
  static constexpr int kTagError = 16;

 private:
  MpiWorld(int rank, int size);
  bool PollReportsLocked();

  int rank_ = 0;
  int size_ = 1;
  mutable std::mutex mutex_;  // every MPI call
  std::vector<std::pair<int64_t, int64_t>> progress_;
};

/// Where the time of one RunUdfsMpi() went, on this rank.
struct MpiRunStats {
  double compute_s = 0;  // processing and merging this rank's own share
  double reduce_s = 0;   // folding the shares along the rank tree (incl. waiting for others)
  double gather_s = 0;   // rank 0: receiving the nav rows of the other ranks
  int64_t partitions = 0;        // in this rank's share
  int64_t bytes_sent = 0;        // merge blocks + nav rows this rank sent
  int64_t bytes_received = 0;
};

/// Run `udfs` in one pass over `dataset` on every rank of `world`: rank r processes the r-th
/// contiguous share of the partitions on `local` (its threads) and merges it; shares then fold
/// along a binary tree over the ranks into rank 0. Partitions and the merge tree over them are
/// those of RunUdfs(), so the results are bit-identical to any single-process run. Rank 0
/// returns the results; other ranks return an empty vector. `on_partial` runs on rank 0 with the
/// progress of all ranks (`runner` is rank 0's own and snapshots only its share), and on other
/// ranks with their own progress.
std::vector<std::vector<udf::Result>> RunUdfsMpi(MpiWorld& world, Executor& local,
                                                 const dataset::Dataset& dataset,
                                                 std::vector<udf::Udf*> udfs,
                                                 const udf::RunOptions& options,
                                                 const PartialCallback& on_partial = {},
                                                 MpiRunStats* stats = nullptr);

}  // namespace tessera::exec
