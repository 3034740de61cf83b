# SPDX-License-Identifier: MIT
# tessera_layer(NAME SOURCES ... DEPS ...) declares the static library tessera_NAME.
# Includes are rooted at src/ ("tessera/core/dtype.h"); layers link PRIVATE or PUBLIC only to the
# layers below them, so including from a layer above fails to build.
function(tessera_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(tessera_${name} STATIC ${ARG_SOURCES})
  target_include_directories(tessera_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(tessera_${name} PRIVATE ${TESSERA_WARNING_FLAGS} ${TESSERA_CODEGEN_FLAGS})
  target_link_libraries(tessera_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# tessera_test(NAME SOURCES ... DEPS ... LABELS ...) declares one gtest binary and registers it.
function(tessera_test name)
  if(NOT TESSERA_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${TESSERA_WARNING_FLAGS} ${TESSERA_CODEGEN_FLAGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    TESSERA_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}"
    ENVIRONMENT "TESSERA_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# tessera_benchmark(NAME SOURCES ... DEPS ...) declares one Google Benchmark binary.
function(tessera_benchmark name)
  if(NOT TESSERA_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${TESSERA_WARNING_FLAGS} ${TESSERA_CODEGEN_FLAGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark benchmark::benchmark_main)
endfunction()
