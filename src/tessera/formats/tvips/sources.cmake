# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES tvips/tvips_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES tvips/tvips_test.cc)
