// SPDX-License-Identifier: MIT
// libFuzzer target: the DM3/DM4 tag-tree parser must turn any bytes into a DmFile or a
// tessera::Error, never a crash, hang, huge allocation or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tessera/core/error.h"
#include "tessera/formats/dm/dm_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = tessera::formats::ParseDm(std::as_bytes(std::span(data, size)), "fuzz.dm4");
    (void)file;
  } catch (const tessera::Error&) {
    // Expected for malformed input.
  }
  return 0;
}
