# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES velox/velox_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES velox/velox_test.cc)
