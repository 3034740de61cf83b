// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace tessera::exec {
class MpiWorld;
}

namespace tessera::cli {

/// State shared by the sub-commands and main().
struct Context {
  std::vector<std::string> command_line;
  const std::atomic<bool>* cancel = nullptr;
  bool json_errors = false;
  /// The MPI job this process is a rank of, when started by mpirun/srun; null otherwise.
  exec::MpiWorld* mpi = nullptr;
  /// Whether the chosen sub-command shares its work among MPI ranks; the others run on rank 0.
  bool distributed = false;
  /// The chosen sub-command's action, set during parsing; returns the exit code.
  std::function<int()> run;
};

/// Return "tessera 0.1.0 (git abc1234)".
std::string VersionString();

/// Add every sub-command (info, run, generate, convert, ops) to `app`.
void AddCommands(CLI::App& app, Context& context);
/// Add `pipeline validate|show|run|ops`, `cite` and `reproduce`.
void AddPipelineCommands(CLI::App& app, Context& context);

}  // namespace tessera::cli
