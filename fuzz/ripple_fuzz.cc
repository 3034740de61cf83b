// SPDX-License-Identifier: MIT
// libFuzzer target: Ripple .rpl header and its .raw data
// (input: RPL text [, split marker, RAW bytes]).
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
  const std::string rpl = scratch.Write("fuzz.rpl", parts[0]);
  if (parts.size() > 1) scratch.Write("fuzz.raw", parts[1]);
  OpenAndRead(rpl, {}, "ripple");
  return 0;
}
