# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES msa/msa_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES msa/msa_test.cc)
