// SPDX-License-Identifier: MIT
// MpiWorld in a build without MPI (TESSERA_MPI=OFF): never created.
#include <cstdlib>

#include "tessera/exec/mpi_world.h"

namespace tessera::exec {

bool MpiAvailable() { return false; }

std::unique_ptr<MpiWorld> MpiWorld::InitIfLaunched() {
  if (!LaunchedByMpi()) return nullptr;
  // Each rank would otherwise run the whole job on its own and write the same outputs.
  throw Error::Unsupported(
      "started by mpirun/srun, but this Tessera was built without MPI (TESSERA_MPI=OFF); rebuild "
      "with OpenMPI, or set TESSERA_NO_MPI=1 to run each process on its own");
}

MpiWorld::MpiWorld(int rank, int size) : rank_(rank), size_(size) {}
MpiWorld::~MpiWorld() = default;
void MpiWorld::Abort(int exit_code) { std::_Exit(exit_code); }
void MpiWorld::FailRank(const ErrorInfo&, int exit_code) { std::_Exit(exit_code); }
void MpiWorld::Send(int, int, std::span<const std::byte>) { throw Error::Internal("no MPI"); }
std::vector<std::byte> MpiWorld::Receive(int, int) { throw Error::Internal("no MPI"); }
void MpiWorld::PollReports() {}
bool MpiWorld::PollReportsLocked() { return false; }
void MpiWorld::ReportProgress(int64_t, int64_t) {}
std::vector<std::pair<int64_t, int64_t>> MpiWorld::reported_progress() const { return progress_; }

}  // namespace tessera::exec
