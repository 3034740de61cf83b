# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES mib/mib_format.cc mib/mib_raw.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES mib/mib_test.cc mib/mib_raw_test.cc)
tessera_benchmark(tessera-mib-benchmark
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/mib_benchmark.cc
  DEPS tessera_formats)
