// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tessera/dataset/dataset.h"
#include "tessera/udf/udf.h"
#include "tessera/udf/udf_runner.h"

namespace tessera::exec {

/// Runs independent tasks; the engine's only notion of parallelism.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::string name() const = 0;
  /// Return how many tasks may run at once.
  virtual int concurrency() const = 0;
  /// Call task(i) for every i in [0, num_tasks), tasks started in index order. If a task throws,
  /// tasks not yet started are skipped and the first error is rethrown after all running tasks
  /// returned.
  virtual void Run(int64_t num_tasks, const std::function<void(int64_t)>& task) = 0;
};

/// Run every task on the calling thread (tests, debugging, UDFs that parallelise themselves).
std::unique_ptr<Executor> MakeInlineExecutor();
/// Run tasks on a oneTBB arena of `threads` workers (0: all cores).
std::unique_ptr<Executor> MakeThreadsExecutor(int threads = 0);
/// Make an executor by name: "inline" or "threads"; throws kInvalidArgument naming "executor".
std::unique_ptr<Executor> MakeExecutor(const std::string& name, int threads = 0);

/// Called after every merged partition with the progress so far; `runner` may be asked for a
/// Snapshot() of partial results. Runs on a worker thread under the merge lock: keep it short.
using PartialCallback = std::function<void(const udf::Progress&, const udf::UdfRunner& runner)>;

/// Run `udfs` in one pass over `dataset` on `executor`; return each UDF's results.
/// Partitions merge in index order, so results are bit-identical on every executor.
std::vector<std::vector<udf::Result>> RunUdfs(Executor& executor, const dataset::Dataset& dataset,
                                              std::vector<udf::Udf*> udfs,
                                              const udf::RunOptions& options,
                                              const PartialCallback& on_partial = {});

}  // namespace tessera::exec
