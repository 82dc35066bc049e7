# Install the build into a scratch prefix, build tests/install against it twice (CMake package,
# pkg-config), and run what was built: the client alone (no driver: a clean error), then the
# driver serving the client.
# -D: BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR HAVE_CUSE (whether the build has wdfx_cuse)
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()
set(expected include/wdfx/wdfx.hpp include/wdfx/wdf.h include/wdfx/client.h include/wdfx/client.hpp
    lib/libwdfx.a lib/libwdfx_pci.a lib/libwdfx_client.a lib/pkgconfig/wdfx.pc
    lib/pkgconfig/wdfx-client.pc lib/cmake/wdfx/wdfxConfig.cmake)
if(HAVE_CUSE)
  list(APPEND expected lib/libwdfx_cuse.a lib/pkgconfig/wdfx-cuse.pc lib/cmake/wdfx/wdfxCuseTargets.cmake)
endif()
foreach(f ${expected})
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()

# run(<what> <expected exit status> <regex the output must match> <command...>)
function(run what want_rc want_out)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${what}: exit ${rc}\n${out}${err}")
  if(NOT rc STREQUAL want_rc OR NOT out MATCHES "${want_out}")
    message(FATAL_ERROR "${what}: exit ${rc} (expected ${want_rc}), output expected to match '${want_out}'")
  endif()
endfunction()

# Both builds' programs: the client with no driver behind the socket reports the missing socket
# (ENOENT) and exits 2; the driver runs the client against its socket interface.
function(check_programs how driver client)
  run("${how}: client without a driver" 2 "no driver at .*: No such file or directory"
      ${client} ${WORK_DIR}/no-such-dir/none.sock "hello")
  set(cuse_out "")
  if(HAVE_CUSE)
    set(cuse_out "CUSE device .* published|no CUSE device \\(STATUS_[A-Z_]+\\)")
    run("${how}: driver" 0 "(${cuse_out}).*DPC ran: OK; socket interface published, 1 read\\(s\\) served, client: OK"
        ${driver} ${client})
  else()
    run("${how}: driver" 0 "DPC ran: OK; socket interface published, 1 read\\(s\\) served, client: OK"
        ${driver} ${client})
  endif()
endfunction()

# The CMake package.
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
                        -DCMAKE_PREFIX_PATH=${prefix} -DEXPECT_CUSE=${HAVE_CUSE} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the out-of-tree driver and client failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the out-of-tree driver and client failed")
endif()
check_programs("CMake package" ${WORK_DIR}/build/third_party_driver ${WORK_DIR}/build/third_party_client)

# The same sources through pkg-config: the driver with wdfx (wdfx-cuse, which requires it, where
# there is CUSE), the client with wdfx-client alone.
set(ENV{PKG_CONFIG_PATH} ${prefix}/lib/pkgconfig)
function(pc_flags var)
  execute_process(COMMAND pkg-config --cflags --libs ${ARGN} OUTPUT_VARIABLE flags RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not find ${ARGN}")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(${var} ${flags} PARENT_SCOPE)
endfunction()
if(HAVE_CUSE)
  pc_flags(driver_flags wdfx-cuse)
  list(APPEND driver_flags -DTHIRD_PARTY_CUSE=1)
else()
  pc_flags(driver_flags wdfx)
endif()
pc_flags(client_flags wdfx-client)
execute_process(COMMAND c++ -std=c++20 -Wall -Wextra -Werror ${SOURCE_DIR}/driver.cpp -o ${WORK_DIR}/pc_driver ${driver_flags}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the driver with pkg-config flags failed")
endif()
execute_process(COMMAND cc -std=c11 -Wall -Wextra -Werror ${SOURCE_DIR}/client.c -o ${WORK_DIR}/pc_client ${client_flags}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the client with pkg-config flags failed")
endif()
check_programs("pkg-config" ${WORK_DIR}/pc_driver ${WORK_DIR}/pc_client)
