// SPDX-License-Identifier: MIT
// MpiWorld over OpenMPI. Every MPI call happens under one mutex, so MPI_THREAD_SERIALIZED is
// enough while the oneTBB workers of a rank report progress from their own threads.
// The C API only: OpenMPI and MPICH would otherwise pull in their deprecated C++ bindings.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "tessera/exec/mpi_world.h"

namespace tessera::exec {
namespace {

constexpr int64_t kPiece = int64_t{1} << 30;  // MPI counts are int: send at most 1 GiB at once
constexpr auto kPollInterval = std::chrono::microseconds(200);

void Check(int status, const char* what) {
  if (status != MPI_SUCCESS) throw Error::Internal(fmt::format("MPI: {} failed ({})", what, status));
}

void AppendString(std::vector<std::byte>& out, const std::string& s) {
  const uint32_t n = static_cast<uint32_t>(s.size());
  const auto* p = reinterpret_cast<const std::byte*>(&n);
  out.insert(out.end(), p, p + sizeof n);
  out.insert(out.end(), reinterpret_cast<const std::byte*>(s.data()),
             reinterpret_cast<const std::byte*>(s.data() + s.size()));
}

std::string ReadString(std::span<const std::byte> in, size_t& pos) {
  uint32_t n = 0;
  if (in.size() - pos < sizeof n) return {};
  std::memcpy(&n, in.data() + pos, sizeof n);
  pos += sizeof n;
  n = static_cast<uint32_t>(std::min<size_t>(n, in.size() - pos));
  std::string s(reinterpret_cast<const char*>(in.data() + pos), n);
  pos += n;
  return s;
}

std::vector<std::byte> EncodeError(const ErrorInfo& e) {
  std::vector<std::byte> out;
  out.push_back(static_cast<std::byte>(e.code));
  out.push_back(static_cast<std::byte>(e.offset.has_value()));
  const int64_t offset = e.offset.value_or(0);
  const auto* p = reinterpret_cast<const std::byte*>(&offset);
  out.insert(out.end(), p, p + sizeof offset);
  for (const auto* s : {&e.message, &e.file, &e.field, &e.node, &e.port}) AppendString(out, *s);
  return out;
}

ErrorInfo DecodeError(std::span<const std::byte> in, int rank) {
  ErrorInfo e;
  if (in.size() < 2 + sizeof(int64_t)) {
    e.message = fmt::format("rank {} failed (its error message was damaged)", rank);
    return e;
  }
  e.code = static_cast<ErrorCode>(std::min<int>(static_cast<int>(in[0]),
                                                static_cast<int>(ErrorCode::kInternal)));
  int64_t offset = 0;
  std::memcpy(&offset, in.data() + 2, sizeof offset);
  if (static_cast<int>(in[1]) != 0) e.offset = offset;
  size_t pos = 2 + sizeof offset;
  e.message = fmt::format("rank {}: {}", rank, ReadString(in, pos));
  e.file = ReadString(in, pos);
  e.field = ReadString(in, pos);
  e.node = ReadString(in, pos);
  e.port = ReadString(in, pos);
  return e;
}

}  // namespace

bool MpiAvailable() { return true; }

std::unique_ptr<MpiWorld> MpiWorld::InitIfLaunched() {
  if (!LaunchedByMpi()) return nullptr;
  int provided = 0;
  Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  if (provided < MPI_THREAD_SERIALIZED) {
    MPI_Finalize();
    throw Error::Unsupported("the MPI library does not support MPI_THREAD_SERIALIZED");
  }
  // Errors come back as codes (and become exceptions) instead of killing the job silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return std::unique_ptr<MpiWorld>(new MpiWorld(rank, size));
}

MpiWorld::MpiWorld(int rank, int size)
    : rank_(rank), size_(size), progress_(static_cast<size_t>(size), {0, 0}) {}

MpiWorld::~MpiWorld() { MPI_Finalize(); }

void MpiWorld::Abort(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

void MpiWorld::FailRank(const ErrorInfo& error, int exit_code) {
  if (size_ > 1 && rank_ != 0) {
    const auto bytes = EncodeError(error);
    {
      std::lock_guard lock(mutex_);
      MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, 0, kTagError,
               MPI_COMM_WORLD);
    }
    // Rank 0 prints the message and stops the job; wait for that, so the message is its.
    std::this_thread::sleep_for(std::chrono::seconds(30));
    std::fprintf(stderr, "tessera: rank %d: %s\n", rank_, error.message.c_str());
  }
  Abort(exit_code);
}

void MpiWorld::Send(int dest, int tag, std::span<const std::byte> bytes) {
  const int64_t total = static_cast<int64_t>(bytes.size());
  std::lock_guard lock(mutex_);
  Check(MPI_Send(&total, 1, MPI_INT64_T, dest, tag, MPI_COMM_WORLD), "MPI_Send");
  for (int64_t done = 0; done < total; done += kPiece) {
    const int n = static_cast<int>(std::min(kPiece, total - done));
    Check(MPI_Send(bytes.data() + done, n, MPI_BYTE, dest, tag + 1, MPI_COMM_WORLD), "MPI_Send");
  }
}

std::vector<std::byte> MpiWorld::Receive(int source, int tag) {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (rank_ == 0) PollReportsLocked();
      int ready = 0;
      MPI_Status status;
      Check(MPI_Iprobe(source, tag, MPI_COMM_WORLD, &ready, &status), "MPI_Iprobe");
      if (ready) {
        int64_t total = 0;
        Check(MPI_Recv(&total, 1, MPI_INT64_T, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Recv");
        if (total < 0) throw Error::Internal(fmt::format("rank {} announced {} bytes", source, total));
        std::vector<std::byte> bytes(static_cast<size_t>(total));
        // The pieces follow the announcement at once; a sender that dies now ends the job.
        for (int64_t done = 0; done < total; done += kPiece) {
          const int n = static_cast<int>(std::min(kPiece, total - done));
          Check(MPI_Recv(bytes.data() + done, n, MPI_BYTE, source, tag + 1, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE),
                "MPI_Recv");
        }
        return bytes;
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void MpiWorld::PollReports() {
  std::lock_guard lock(mutex_);
  PollReportsLocked();
}

bool MpiWorld::PollReportsLocked() {
  bool changed = false;
  for (;;) {
    int ready = 0;
    MPI_Status status;
    Check(MPI_Iprobe(MPI_ANY_SOURCE, kTagProgress, MPI_COMM_WORLD, &ready, &status), "MPI_Iprobe");
    if (!ready) break;
    int64_t counts[2] = {0, 0};
    Check(MPI_Recv(counts, 2, MPI_INT64_T, status.MPI_SOURCE, kTagProgress, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE),
          "MPI_Recv");
    progress_[static_cast<size_t>(status.MPI_SOURCE)] = {counts[0], counts[1]};
    changed = true;
  }
  int ready = 0;
  MPI_Status status;
  Check(MPI_Iprobe(MPI_ANY_SOURCE, kTagError, MPI_COMM_WORLD, &ready, &status), "MPI_Iprobe");
  if (ready) {
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    std::vector<std::byte> bytes(static_cast<size_t>(std::max(count, 0)));
    Check(MPI_Recv(bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, kTagError, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE),
          "MPI_Recv");
    throw Error(DecodeError(bytes, status.MPI_SOURCE));
  }
  return changed;
}

void MpiWorld::ReportProgress(int64_t partitions_done, int64_t frames_done) {
  const int64_t counts[2] = {partitions_done, frames_done};
  std::lock_guard lock(mutex_);
  Check(MPI_Send(counts, 2, MPI_INT64_T, 0, kTagProgress, MPI_COMM_WORLD), "MPI_Send");
}

std::vector<std::pair<int64_t, int64_t>> MpiWorld::reported_progress() const {
  std::lock_guard lock(mutex_);
  return progress_;
}

}  // namespace tessera::exec
