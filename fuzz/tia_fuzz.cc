// SPDX-License-Identifier: MIT
// libFuzzer target: TIA .ser series, alone or through the .emi that names it
// (input: SER bytes [, split marker, EMI bytes]; with an .emi the .emi is opened).
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
  const std::string ser = scratch.Write("fuzz_1.ser", parts[0]);
  if (parts.size() > 1) {
    OpenAndRead(scratch.Write("fuzz.emi", parts[1]), {}, "tia");
  } else {
    OpenAndRead(ser, {}, "tia");
  }
  return 0;
}
