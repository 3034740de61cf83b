# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES dm/dm_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES dm/dm_test.cc)
