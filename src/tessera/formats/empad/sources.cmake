# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES empad/empad_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES empad/empad_test.cc)
