# Install the build tree into a scratch prefix, then configure, build and run
# tests/consumer against it with find_package(tasker).
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build -G ${GENERATOR}
                        -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
                RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(rc)
  message(FATAL_ERROR "building the consumer failed (${rc})")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer ${SOURCE_DIR}/templates ${WORK_DIR}/consumer.db
                RESULT_VARIABLE rc OUTPUT_VARIABLE out)
# 6 squared four times: 6^16
if(rc OR NOT out MATCHES "consumer: complete 2821109907456")
  message(FATAL_ERROR "the consumer did not run correctly (${rc}): ${out}")
endif()
message(STATUS "${out}")
execute_process(COMMAND ${WORK_DIR}/build/server_consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(rc OR NOT out MATCHES "server consumer ok: http://127.0.0.1:")
  message(FATAL_ERROR "the server consumer did not run correctly (${rc}): ${out}")
endif()
message(STATUS "${out}")
