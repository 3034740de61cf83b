// SPDX-License-Identifier: MIT
// Hardware ceilings for bench/run_bench.sh, printed as one JSON object on stdout.
//   membw mem [GIB] [THREADS]        memory-read bandwidth: sum an array of GIB GiB, best of 5
//   membw file PATH [THREADS]        page-cache read bandwidth: pread PATH into a small per-thread
//                                    buffer (after one warm read), best of 3
//   membw warm PATH [THREADS]        read PATH once (bring it into the page cache before a timing)
// Built by the benchmark script with `g++ -O2 -pthread`; no Tessera code involved.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point begin) {
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

// Sixteen independent lanes, vectorised, so that the loop is bound by memory, not by the add
// latency or the instruction rate.
uint64_t SumWords(const uint64_t* data, size_t count) {
  uint64_t acc[16] = {};
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
#pragma omp simd
    for (int k = 0; k < 16; ++k) acc[k] += data[i + k];
  }
  for (; i < count; ++i) acc[0] += data[i];
  uint64_t total = 0;
  for (uint64_t a : acc) total += a;
  return total;
}

int MemoryBandwidth(double gib, int threads) {
  const size_t bytes = static_cast<size_t>(gib * (1 << 30));
  const size_t words = bytes / sizeof(uint64_t);
  // 2 MiB aligned and advised as huge pages: with 4 KiB pages the sum is bound by TLB misses, not
  // by memory, and under-reports the ceiling (page-cache files here use large folios).
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t alloc_bytes = (words * sizeof(uint64_t) + kHuge - 1) / kHuge * kHuge;
  std::unique_ptr<uint64_t[], decltype(&std::free)> data(
      static_cast<uint64_t*>(std::aligned_alloc(kHuge, alloc_bytes)), &std::free);
  ::madvise(data.get(), alloc_bytes, MADV_HUGEPAGE);
  const size_t per_thread = words / static_cast<size_t>(threads);
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  auto run = [&](bool fill) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        uint64_t* chunk = data.get() + per_thread * static_cast<size_t>(t);
        if (fill) {
          // First touch by the thread that reads it later (NUMA-friendly).
          for (size_t i = 0; i < per_thread; ++i) chunk[i] = i ^ static_cast<size_t>(t);
        } else {
          sums[static_cast<size_t>(t)] = SumWords(chunk, per_thread);
        }
      });
    }
    for (auto& thread : pool) thread.join();
  };
  run(true);
  double best = 1e30;
  uint64_t check = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto begin = Clock::now();
    run(false);
    best = std::min(best, Seconds(begin));
    for (uint64_t s : sums) check += s;
  }
  const double read_bytes = static_cast<double>(per_thread * static_cast<size_t>(threads) * 8);
  std::printf("{\"mode\": \"mem\", \"bytes\": %.0f, \"threads\": %d, \"best_s\": %.6f, "
              "\"gb_per_s\": %.3f, \"check\": %llu}\n",
              read_bytes, threads, best, read_bytes / best / 1e9,
              static_cast<unsigned long long>(check & 0xff));
  return 0;
}

int PageCacheBandwidth(const char* path, int threads, int repeats) {
  const int fd = ::open(path, O_RDONLY);
  if (fd < 0) {
    std::fprintf(stderr, "membw: cannot open %s: %s\n", path, std::strerror(errno));
    return 1;
  }
  struct stat st {};
  ::fstat(fd, &st);
  const int64_t size = st.st_size;
  constexpr int64_t kBuffer = 256 << 10;  // fits in L2: we measure the copy out of the page cache
  const int64_t per_thread = (size + threads - 1) / threads;
  auto pass = [&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        std::unique_ptr<char[]> buffer(new char[kBuffer]);
        const int64_t begin = per_thread * t;
        const int64_t end = std::min(size, begin + per_thread);
        for (int64_t offset = begin; offset < end;) {
          const ssize_t got = ::pread(fd, buffer.get(),
                                      static_cast<size_t>(std::min(kBuffer, end - offset)), offset);
          if (got <= 0) break;
          offset += got;
        }
      });
    }
    for (auto& thread : pool) thread.join();
  };
  double best = 1e30;
  if (repeats == 0) {  // warm only
    const auto begin = Clock::now();
    pass();
    best = Seconds(begin);
  } else {
    pass();  // warm: bring every page into the page cache
  }
  for (int rep = 0; rep < repeats; ++rep) {
    const auto begin = Clock::now();
    pass();
    best = std::min(best, Seconds(begin));
  }
  ::close(fd);
  std::printf("{\"mode\": \"%s\", \"bytes\": %lld, \"threads\": %d, \"best_s\": %.6f, "
              "\"gb_per_s\": %.3f}\n",
              repeats == 0 ? "warm" : "file", static_cast<long long>(size), threads, best,
              static_cast<double>(size) / best / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "mem";
  if (mode == "mem") {
    const double gib = argc > 2 ? std::atof(argv[2]) : 2.0;
    const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
    return MemoryBandwidth(gib, std::max(threads, 1));
  }
  if ((mode == "file" || mode == "warm") && argc > 2) {
    const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
    return PageCacheBandwidth(argv[2], std::max(threads, 1), mode == "file" ? 3 : 0);
  }
  std::fprintf(stderr,
               "usage: membw mem [GIB] [THREADS] | membw file PATH [THREADS] | "
               "membw warm PATH [THREADS]\n");
  return 2;
}
