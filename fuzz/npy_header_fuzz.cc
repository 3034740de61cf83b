// SPDX-License-Identifier: MIT
// libFuzzer target: the NPY header parser must turn any bytes into a header or a tessera::Error,
// never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tessera/core/error.h"
#include "tessera/formats/npy/npy_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto header = tessera::formats::ParseNpyHeader(
        std::as_bytes(std::span(data, size)), "fuzz.npy");
    (void)header;
  } catch (const tessera::Error&) {
    // Expected for malformed input.
  }
  return 0;
}
