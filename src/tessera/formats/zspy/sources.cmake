# SPDX-License-Identifier: MIT
# HyperSpy .zspy / zarr v2: libblosc (blosc chunks), libzip (ZipStore), libzstd, zlib.
list(APPEND TESSERA_FORMATS_SOURCES zspy/zspy_format.cc)
list(APPEND TESSERA_FORMATS_TEST_SOURCES zspy/zspy_test.cc)
pkg_check_modules(BLOSC REQUIRED IMPORTED_TARGET blosc)
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
pkg_check_modules(LIBZSTD REQUIRED IMPORTED_TARGET libzstd)
# The targets are declared after the fragments are included: link them once this directory is
# processed. The test writes its own stores, so it links the codecs too.
cmake_language(DEFER CALL target_link_libraries tessera_formats PRIVATE
               PkgConfig::BLOSC PkgConfig::LIBZIP PkgConfig::LIBZSTD ZLIB::ZLIB)
if(TESSERA_BUILD_TESTS)
  cmake_language(DEFER CALL target_link_libraries tessera-formats-test PRIVATE
                 PkgConfig::BLOSC PkgConfig::LIBZIP PkgConfig::LIBZSTD ZLIB::ZLIB)
endif()
