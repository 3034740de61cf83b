// SPDX-License-Identifier: MIT
// libFuzzer target: HyperSpy .zspy / zarr v2 stores in a zip file (libzip for the container;
// our .zgroup/.zattrs/.zarray JSON handling, chunk grid and codecs), opened through the registry
// and read back. Any bytes must give a dataset whose frames read back, or a tessera::Error; see
// fuzz_util.h for what counts as a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera::fuzz;
  auto& scratch = Scratch::Get();
  scratch.Clear();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  OpenAndRead(scratch.Write("fuzz.zspy", bytes), {}, "zspy");
  return 0;
}
