# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES blo/blo_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES blo/blo_test.cc)
