// SPDX-License-Identifier: MIT
#include "tessera/exec/executor.h"

#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>

#include "tessera/core/error.h"

namespace tessera::exec {
namespace {

class InlineExecutor final : public Executor {
 public:
  std::string name() const override { return "inline"; }
  int concurrency() const override { return 1; }
  void Run(int64_t num_tasks, const std::function<void(int64_t)>& task) override {
    for (int64_t i = 0; i < num_tasks; ++i) task(i);
  }
};

class ThreadsExecutor final : public Executor {
 public:
  explicit ThreadsExecutor(int threads)
      : threads_(threads > 0 ? threads : tbb::info::default_concurrency()), arena_(threads_) {}
  std::string name() const override { return "threads"; }
  int concurrency() const override { return threads_; }

  void Run(int64_t num_tasks, const std::function<void(int64_t)>& task) override {
    std::atomic<int64_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::optional<ErrorInfo> first_error;
    const int workers = static_cast<int>(std::min<int64_t>(threads_, std::max<int64_t>(num_tasks, 1)));
    // Each worker pulls the next index, so partitions start in order and merge without long waits.
    arena_.execute([&] {
      tbb::parallel_for(0, workers, [&](int) {
        while (!failed.load(std::memory_order_relaxed)) {
          const int64_t i = next.fetch_add(1);
          if (i >= num_tasks) break;
          try {
            task(i);
          } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!first_error) first_error = CurrentErrorInfo();
            failed = true;
          }
        }
      });
    });
    if (first_error) throw Error(*first_error);
  }

 private:
  int threads_;
  tbb::task_arena arena_;
};

}  // namespace

std::unique_ptr<Executor> MakeInlineExecutor() { return std::make_unique<InlineExecutor>(); }

std::unique_ptr<Executor> MakeThreadsExecutor(int threads) {
  return std::make_unique<ThreadsExecutor>(threads);
}

std::unique_ptr<Executor> MakeExecutor(const std::string& name, int threads) {
  if (name == "inline") return MakeInlineExecutor();
  if (name == "threads") return MakeThreadsExecutor(threads);
  throw Error::InvalidArgument(fmt::format("unknown executor '{}' (inline, threads)", name),
                               "executor");
}

std::vector<std::vector<udf::Result>> RunUdfs(Executor& executor, const dataset::Dataset& dataset,
                                              std::vector<udf::Udf*> udfs,
                                              const udf::RunOptions& options,
                                              const PartialCallback& on_partial) {
  auto runner = udf::UdfRunner::Create(dataset, std::move(udfs), options);
  const int64_t num_partitions = static_cast<int64_t>(runner->partitions().size());
  std::mutex merge_mutex;
  std::map<int64_t, udf::PartitionResult> pending;
  int64_t next_merge = 0;
  executor.Run(num_partitions, [&](int64_t index) {
    udf::PartitionResult result = runner->RunPartition(index);
    std::lock_guard lock(merge_mutex);
    pending.emplace(index, std::move(result));
    // Merge strictly in index order: the fold is the same whatever finished first.
    for (auto it = pending.find(next_merge); it != pending.end(); it = pending.find(next_merge)) {
      runner->Merge(std::move(it->second));
      pending.erase(it);
      ++next_merge;
      if (on_partial) on_partial(runner->progress(), *runner);
    }
  });
  return runner->Finish();
}

}  // namespace tessera::exec
