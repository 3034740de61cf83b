# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES mib/mib_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES mib/mib_test.cc)
