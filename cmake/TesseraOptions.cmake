# SPDX-License-Identifier: MIT
# Every build option of Tessera lives here.
option(TESSERA_BUILD_TESTS "Build the unit and end-to-end tests" ON)
option(TESSERA_BUILD_BENCHMARKS "Build the Google Benchmark micro-benchmarks" OFF)
option(TESSERA_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
option(TESSERA_WERROR "Treat warnings in Tessera's own code as errors" ON)
option(TESSERA_FUZZ "Build the libFuzzer targets in fuzz/ (clang only)" OFF)
option(TESSERA_MPI "Run under mpirun/srun across ranks (OpenMPI)" ON)
# The Python module (python/); `pip install .` turns it on (pyproject.toml), presets leave it off.
option(TESSERA_PYTHON "Build the Python module tessera._tessera (pybind11)" OFF)

if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

find_program(TESSERA_CCACHE ccache)
if(TESSERA_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${TESSERA_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${TESSERA_CCACHE})
endif()

# Flags for Tessera's own targets only (third-party headers are included as SYSTEM).
set(TESSERA_WARNING_FLAGS -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local> -Wnon-virtual-dtor
    # Designated initialisers leave the other fields at their defaults on purpose.
    -Wno-missing-field-initializers)
if(TESSERA_WERROR)
  list(APPEND TESSERA_WARNING_FLAGS -Werror)
endif()
# `#pragma omp simd` vectorises floating-point reductions without an OpenMP runtime and
# without -ffast-math; release builds stay baseline x86-64 (no -march=native).
set(TESSERA_CODEGEN_FLAGS -fopenmp-simd)

if(TESSERA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  add_compile_definitions(_GLIBCXX_ASSERTIONS)
endif()
