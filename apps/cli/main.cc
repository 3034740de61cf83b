// SPDX-License-Identifier: MIT
// The `tessera` command: parses arguments and calls the layers; no analysis logic lives here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "tessera/core/error.h"
#include "tessera/exec/mpi_world.h"
#include "tessera/io/atomic_file.h"

namespace {

std::atomic<bool> g_cancel{false};

extern "C" void OnSignal(int /*signal*/) {
  // First Ctrl-C: ask the run to stop between tiles; the stack unwinds and removes temp files.
  // Second Ctrl-C: the user insists, leave now (temp files are removed on the way out).
  if (g_cancel.exchange(true)) {
    tessera::io::RemoveAllPendingTempFiles();
    std::_Exit(130);
  }
}

int ExitCode(tessera::ErrorCode code) {
  using tessera::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalidArgument: return 2;
    case ErrorCode::kNotFound: return 3;
    case ErrorCode::kCorruptFile: return 4;
    case ErrorCode::kUnsupported: return 5;
    case ErrorCode::kIo: return 6;
    case ErrorCode::kOutOfMemory: return 7;
    case ErrorCode::kCancelled: return 130;
    case ErrorCode::kInternal: return 70;
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  tessera::cli::Context context;
  context.cancel = &g_cancel;
  // Under mpirun/srun every rank runs this same command; rank 0 prints and writes.
  std::unique_ptr<tessera::exec::MpiWorld> mpi;
  try {
    mpi = tessera::exec::MpiWorld::InitIfLaunched();
  } catch (const tessera::Error& e) {
    std::fprintf(stderr, "tessera: error: %s\n", e.what());
    return ExitCode(e.code());
  }
  context.mpi = mpi.get();
  for (int i = 0; i < argc; ++i) context.command_line.push_back(argv[i]);

  CLI::App app{"Tessera: reproducible, high-throughput processing of 4D-STEM and detector data",
               "tessera"};
  app.require_subcommand(1);
  app.set_version_flag("--version", tessera::cli::VersionString());
  tessera::cli::AddCommands(app, context);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "tessera: %s\n", e.what());
    return 2;
  }
  // Commands that do not share their work (info, generate, convert...) run once, on rank 0.
  if (mpi && mpi->size() > 1 && !mpi->is_root() && !context.distributed) return 0;
  try {
    return context.run();
  } catch (const tessera::Error& e) {
    const int code = ExitCode(e.code());
    // Another rank: hand the error to rank 0, which prints it and stops the job.
    if (mpi && mpi->size() > 1 && !mpi->is_root()) mpi->FailRank(e.info(), code);
    if (e.code() == tessera::ErrorCode::kCancelled) {
      std::fprintf(stderr, "tessera: cancelled; no output was written\n");
    } else {
      std::fprintf(stderr, "tessera: error: %s\n", e.what());
    }
    if (context.json_errors) {
      nlohmann::json j = {{"error", {{"code", std::string(tessera::Name(e.code()))},
                                     {"message", e.info().message},
                                     {"file", e.info().file},
                                     {"field", e.info().field}}}};
      if (e.info().offset) j["error"]["offset"] = *e.info().offset;
      std::cout << j.dump(2) << std::endl;
    }
    if (mpi && mpi->size() > 1) mpi->Abort(code);
    return code;
  } catch (const std::exception& e) {
    if (mpi && mpi->size() > 1 && !mpi->is_root()) {
      mpi->FailRank(tessera::ErrorInfo{.code = tessera::ErrorCode::kInternal,
                                       .message = fmt::format("internal error: {}", e.what())},
                    70);
    }
    std::fprintf(stderr, "tessera: internal error: %s\n", e.what());
    if (mpi && mpi->size() > 1) mpi->Abort(70);
    return 70;
  }
}
