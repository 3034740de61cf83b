// SPDX-License-Identifier: MIT
// libFuzzer target: TVIPS recorder series, one or two parts
// (input: part _000 [, split marker, part _001]; fuzz_000.tvips is opened).
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
  const std::string first = scratch.Write("fuzz_000.tvips", parts[0]);
  if (parts.size() > 1) scratch.Write("fuzz_001.tvips", parts[1]);
  OpenAndRead(first, {}, "tvips");
  return 0;
}
