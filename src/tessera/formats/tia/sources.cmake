# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES tia/tia_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES tia/tia_test.cc)
