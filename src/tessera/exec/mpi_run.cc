// SPDX-License-Identifier: MIT
// RunUdfsMpi: the same partitions and merge tree as RunUdfs, spread over MPI ranks.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "tessera/exec/mpi_world.h"

namespace tessera::exec {
namespace {

/// What every rank must agree on before shares can be folded together.
struct Fingerprint {
  int64_t partitions = 0;
  int64_t nav_size = 0;
  int64_t sig_size = 0;
  bool operator==(const Fingerprint&) const = default;
};

Fingerprint FingerprintOf(const udf::UdfRunner& runner, const dataset::Dataset& dataset) {
  return {static_cast<int64_t>(runner.partitions().size()), dataset.meta().shape.nav_size(),
          dataset.meta().shape.sig_size()};
}

/// Rank 0's watcher: drains progress reports and error reports of the other ranks while rank 0
/// computes its own share, and stops the local work when another rank failed or the user
/// cancelled.
class Watcher {
 public:
  Watcher(MpiWorld& world, const std::atomic<bool>* user_cancel, std::atomic<bool>& stop,
          std::function<void()> on_progress)
      : world_(world), user_cancel_(user_cancel), stop_(stop), on_progress_(std::move(on_progress)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Watcher() { Join(); }

  void Join() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  /// The error another rank reported, if any (after Join()).
  const std::optional<ErrorInfo>& remote_error() const { return remote_error_; }

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    while (!done_) {
      lock.unlock();
      try {
        world_.PollReports();
        if (on_progress_) on_progress_();
      } catch (...) {
        remote_error_ = CurrentErrorInfo();
        stop_ = true;
        return;
      }
      if (user_cancel_ != nullptr && user_cancel_->load()) stop_ = true;
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(5));
    }
  }

  MpiWorld& world_;
  const std::atomic<bool>* user_cancel_;
  std::atomic<bool>& stop_;
  std::function<void()> on_progress_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::optional<ErrorInfo> remote_error_;
  std::thread thread_;
};

}  // namespace

bool LaunchedByMpi() {
  if (std::getenv("TESSERA_NO_MPI") != nullptr) return false;
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::vector<std::vector<udf::Result>> RunUdfsMpi(MpiWorld& world, Executor& local,
                                                 const dataset::Dataset& dataset,
                                                 std::vector<udf::Udf*> udfs,
                                                 const udf::RunOptions& options,
                                                 const PartialCallback& on_partial,
                                                 MpiRunStats* stats) {
  MpiRunStats local_stats;
  MpiRunStats& st = stats != nullptr ? *stats : local_stats;
  st = {};
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  const auto t_start = Clock::now();
  const int ranks = world.size();
  const int rank = world.rank();
  const bool root = world.is_root();
  std::atomic<bool> stop{false};
  udf::RunOptions local_options = options;
  if (root && ranks > 1) local_options.cancel = &stop;
  auto runner = udf::UdfRunner::Create(dataset, std::move(udfs), local_options);
  const Fingerprint fingerprint = FingerprintOf(*runner, dataset);
  const int64_t n = fingerprint.partitions;
  // Contiguous shares: share boundaries depend on the number of ranks, the partitions and the
  // merge tree over them do not.
  auto share_begin = [&](int64_t r) { return r * n / ranks; };
  const int64_t begin = share_begin(rank);
  const int64_t end = share_begin(rank + 1);
  runner->StartMergeAt(begin);
  st.partitions = end - begin;

  std::mutex merge_mutex;
  // Progress of the whole job: rank 0's own merges plus what the others reported.
  auto global_progress = [&] {
    udf::Progress p = runner->progress();
    const auto reported = world.reported_progress();
    for (size_t r = 1; r < reported.size(); ++r) {
      p.partitions_done += reported[r].first;
      p.frames_done += reported[r].second;
    }
    return p;
  };
  int64_t last_reported = -1;
  auto notify = [&] {  // under merge_mutex
    if (!on_partial) return;
    if (root) {
      const udf::Progress p = global_progress();
      if (p.partitions_done == last_reported) return;
      last_reported = p.partitions_done;
      on_partial(p, *runner);
    } else {
      on_partial(runner->progress(), *runner);
    }
  };

  std::optional<Watcher> watcher;
  if (root && ranks > 1) {
    watcher.emplace(world, options.cancel, stop, [&] {
      std::lock_guard lock(merge_mutex);
      notify();
    });
  }
  std::map<int64_t, udf::PartitionResult> pending;
  int64_t next_merge = begin;
  auto last_report = std::chrono::steady_clock::now();
  try {
    local.Run(end - begin, [&](int64_t i) {
      udf::PartitionResult result = runner->RunPartition(begin + i);
      std::lock_guard lock(merge_mutex);
      pending.emplace(result.index, std::move(result));
      for (auto it = pending.find(next_merge); it != pending.end(); it = pending.find(next_merge)) {
        runner->Merge(std::move(it->second));
        pending.erase(it);
        ++next_merge;
        notify();
        const auto now = std::chrono::steady_clock::now();
        if (!root && (next_merge == end || now - last_report > std::chrono::milliseconds(100))) {
          world.ReportProgress(runner->progress().partitions_done, runner->progress().frames_done);
          last_report = now;
        }
      }
    });
  } catch (...) {
    if (watcher) {
      watcher->Join();
      if (watcher->remote_error()) throw Error(*watcher->remote_error());
    }
    throw;
  }
  if (watcher) {
    watcher->Join();
    if (watcher->remote_error()) throw Error(*watcher->remote_error());
  }

  st.compute_s = seconds_since(t_start);
  const auto t_reduce = Clock::now();

  // Fold the shares along a binary tree over the ranks: at step s, rank r + s hands its subtrees
  // to rank r (r a multiple of 2s). Rank 0 receives log2(ranks) messages.
  for (int step = 1; step < ranks; step *= 2) {
    if (rank % (2 * step) == step) {
      std::vector<std::byte> bytes(sizeof fingerprint);
      std::memcpy(bytes.data(), &fingerprint, sizeof fingerprint);
      runner->SerializeBlocks(runner->TakeBlocks(), bytes);
      world.Send(rank - step, MpiWorld::kTagBlocks, bytes);
      st.bytes_sent += static_cast<int64_t>(bytes.size());
      break;
    }
    if (rank % (2 * step) == 0 && rank + step < ranks) {
      const auto bytes = world.Receive(rank + step, MpiWorld::kTagBlocks);
      st.bytes_received += static_cast<int64_t>(bytes.size());
      Fingerprint theirs;
      if (bytes.size() < sizeof theirs) throw Error::Internal("merge message too short");
      std::memcpy(&theirs, bytes.data(), sizeof theirs);
      if (!(theirs == fingerprint)) {
        throw Error::InvalidArgument(
            fmt::format("rank {} sees a different dataset ({} partitions, {} frames of {} "
                        "pixels) than rank {} ({}, {}, {}): do all ranks read the same file?",
                        rank + step, theirs.partitions, theirs.nav_size, theirs.sig_size, rank,
                        fingerprint.partitions, fingerprint.nav_size, fingerprint.sig_size),
            dataset.meta().path);
      }
      runner->MergeBlocks(runner->DeserializeBlocks(std::span(bytes).subspan(sizeof theirs)));
      if (root) {
        std::lock_guard lock(merge_mutex);
        notify();
      }
    }
  }

  st.reduce_s = seconds_since(t_reduce);
  const auto t_gather = Clock::now();

  // Nav rows go straight to rank 0: they are disjoint and need no reduction.
  const auto& partitions = runner->partitions();
  auto frames_of = [&](int64_t r) -> std::pair<int64_t, int64_t> {
    const int64_t b = share_begin(r), e = share_begin(r + 1);
    if (b == e) return {0, 0};
    return {partitions[static_cast<size_t>(b)].frame_begin,
            partitions[static_cast<size_t>(e - 1)].frame_end};
  };
  if (!root) {
    const auto [f0, f1] = frames_of(rank);
    std::vector<std::byte> bytes;
    runner->SerializeNavRows(f0, f1, bytes);
    world.Send(0, MpiWorld::kTagNavRows, bytes);
    st.bytes_sent += static_cast<int64_t>(bytes.size());
    st.gather_s = seconds_since(t_gather);
    return {};
  }
  for (int r = 1; r < ranks; ++r) {
    const auto [f0, f1] = frames_of(r);
    const auto bytes = world.Receive(r, MpiWorld::kTagNavRows);
    st.bytes_received += static_cast<int64_t>(bytes.size());
    runner->DeserializeNavRows(f0, f1, bytes);
  }
  auto results = runner->Finish();
  st.gather_s = seconds_since(t_gather);
  return results;
}

}  // namespace tessera::exec
