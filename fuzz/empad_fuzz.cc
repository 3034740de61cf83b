// SPDX-License-Identifier: MIT
// libFuzzer target: EMPAD acquisition .xml and the .raw it names
// (input: XML text [, split marker, RAW bytes]; the raw part is written as scan.raw, the name
// the seeds give in <raw_file filename=...>).
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
  const std::string xml = scratch.Write("fuzz.xml", parts[0]);
  if (parts.size() > 1) scratch.Write("scan.raw", parts[1]);
  OpenAndRead(xml, {}, "empad");
  return 0;
}
