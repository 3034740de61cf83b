// SPDX-License-Identifier: MIT
// libFuzzer target: Merlin .mib frames, with an optional .hdr beside them
// (input: MIB bytes [, split marker, HDR text]).
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
  const auto parts = SplitInput(data, size, 2);
  const std::string mib = scratch.Write("fuzz.mib", parts[0]);
  if (parts.size() > 1) scratch.Write("fuzz.hdr", parts[1]);
  OpenAndRead(mib, {}, "mib");
  return 0;
}
