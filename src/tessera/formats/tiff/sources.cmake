# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES tiff/tiff_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES tiff/tiff_test.cc)
