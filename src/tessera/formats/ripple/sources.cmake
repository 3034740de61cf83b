# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES ripple/ripple_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES ripple/ripple_test.cc)
