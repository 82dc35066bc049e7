# ctest helper: the names a test program compiled in (`<exe> --list`) must be exactly the names
# CMake registered from its source's WDF_TEST lines, so no statement is compiled but never run.
# cmake -DEXE=<program> -DNAMES=<a;b;c> -P check_list.cmake
execute_process(COMMAND ${EXE} --list OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} --list failed: ${rc}")
endif()
string(REGEX REPLACE " \\(abort\\)" "" out "${out}")
string(REGEX REPLACE "\n$" "" out "${out}")
string(REPLACE "\n" ";" compiled "${out}")
list(SORT compiled)
set(registered ${NAMES})
list(SORT registered)
if(NOT "${compiled}" STREQUAL "${registered}")
  message(FATAL_ERROR "compiled in: ${compiled}\nregistered with ctest: ${registered}")
endif()
list(LENGTH compiled n)
message(STATUS "${n} statements, each registered once")
