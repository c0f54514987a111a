# Included by the test property files that ctest runs after discovery, so that
# TASKER_TEST_TIMEOUT_SCALE is read when ctest runs, not when CMake configures.
# Sets TASKER_TEST_TIMEOUT_FACTOR: the scale rounded up to a whole number (at
# least 1), by which ctest's per-test limits grow with the tests' own waits.
set(TASKER_TEST_TIMEOUT_FACTOR 1)
if("$ENV{TASKER_TEST_TIMEOUT_SCALE}" MATCHES "^([0-9]+)(\\.[0-9]*)?$")
  set(TASKER_TEST_TIMEOUT_FACTOR "${CMAKE_MATCH_1}")
  if(CMAKE_MATCH_2 MATCHES "[1-9]")
    math(EXPR TASKER_TEST_TIMEOUT_FACTOR "${TASKER_TEST_TIMEOUT_FACTOR} + 1")
  endif()
  if(TASKER_TEST_TIMEOUT_FACTOR LESS 1)
    set(TASKER_TEST_TIMEOUT_FACTOR 1)
  endif()
endif()
