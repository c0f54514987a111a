# The deprecated public names (CHANGELOG.md) warn where a program names them,
# each with its replacement, and nowhere else. Arguments: COMPILER, SOURCE_DIR,
# BINARY_DIR (for the generated tasker/version.hpp).
set(flags -std=c++20 -fsyntax-only -Wall -Wextra -I${SOURCE_DIR}/include -I${BINARY_DIR}/include)
execute_process(COMMAND ${COMPILER} ${flags} ${SOURCE_DIR}/tests/compat/deprecated_use.cpp
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
foreach(expected "use WorkerOptions::jitter \\(worker.jitter in configuration\\)" "use Config::store_options\\(\\)")
  if(NOT out MATCHES "${expected}")
    message(FATAL_ERROR "no deprecation warning matching `${expected}` for tests/compat/deprecated_use.cpp:\n${out}")
  endif()
endforeach()
execute_process(COMMAND ${COMPILER} ${flags} -Werror ${SOURCE_DIR}/tests/compat/plain_use.cpp
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc)
  message(FATAL_ERROR "tests/compat/plain_use.cpp names no deprecated member, yet:\n${out}")
endif()
message(STATUS "deprecated names warn with their replacement; copies and constructions do not")
