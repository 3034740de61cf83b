# SPDX-License-Identifier: MIT
list(APPEND TESSERA_FORMATS_SOURCES mrc/mrc_format.cc mrc/mrc_writer.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES mrc/mrc_test.cc)
# zlib reads .mrc.gz maps. The library target is declared after the fragments are included, so
# link it once this directory is processed.
cmake_language(DEFER CALL target_link_libraries tessera_formats PRIVATE ZLIB::ZLIB)
