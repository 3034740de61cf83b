// SPDX-License-Identifier: MIT
// libFuzzer target: MRC/CCP4 header and data; an input starting with the gzip magic
// is written as .map.gz so the zlib path (bounded inflation) is fuzzed too.
// Any bytes must give a dataset whose frames read back, or a tessera::Error; see fuzz_util.h
// for what counts as a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tessera::fuzz;
  auto& scratch = Scratch::Get();
  scratch.Clear();
  const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  OpenAndRead(scratch.Write(gz ? "fuzz.map.gz" : "fuzz.mrc", bytes), {}, "mrc");
  return 0;
}
