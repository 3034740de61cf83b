// SPDX-License-Identifier: MIT
// libFuzzer target: HDF5-based files (generic HDF5 and HyperSpy .hspy, Berkeley EMD, NeXus
// NXtomo, Thermo Fisher Velox .emd), opened by content like any user file. libhdf5 itself parses
// the container and is not hardened against hostile files: a crash inside libhdf5.so (no
// tessera frame in the trace) is recorded in fuzz/README.md as an upstream limitation; a
// finding with a tessera frame is ours. Seeds: run_fuzzers.sh adds the HDF5 files of
// ../shared/data (emd, hspy, nexus) as read-only seed directories.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera::fuzz;
  auto& scratch = Scratch::Get();
  scratch.Clear();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // .emd lets the Velox and EMD readers claim the file; the others sniff the HDF5 signature.
  OpenAndRead(scratch.Write("fuzz.emd", bytes));
  return 0;
}
