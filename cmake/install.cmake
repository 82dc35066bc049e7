# `cmake --install` puts headers, libraries, tools, drivers, udev rules, systemd units, driver
# manifests, a pkg-config file and a CMake package in the usual places.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/libwdfx/include/wdfx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
# The client library (wdfx/client.h, client.hpp) is installed with the runtime: a third-party
# application needs it, and it needs nothing else. Exported as wdfx::client, its in-tree name.
set_target_properties(wdfx_client PROPERTIES EXPORT_NAME client)
install(TARGETS wdfx wdfx_pci wdfx_client EXPORT wdfxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT wdfxTargets NAMESPACE wdfx:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wdfx)
# wdfx_cuse (built where libfuse3 is) in an export set of its own, which wdfxConfig.cmake loads
# only when it finds fuse3: wdfx::cuse then exists only where a driver can link it, and the rest
# of the package needs no libfuse3.
set(WDFX_HAVE_CUSE OFF)
if(TARGET wdfx_cuse)
  set(WDFX_HAVE_CUSE ON)
  set_target_properties(wdfx_cuse PROPERTIES EXPORT_NAME cuse)
  install(TARGETS wdfx_cuse EXPORT wdfxCuseTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(EXPORT wdfxCuseTargets NAMESPACE wdfx:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wdfx)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/wdfxConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/wdfxConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wdfx)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/wdfxConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/wdfxConfig.cmake ${PROJECT_BINARY_DIR}/wdfxConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wdfx)
# Relocatable: the prefix is found from the .pc file's own directory (cmake --install --prefix).
file(RELATIVE_PATH WDFX_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" WDFX_PC_TO_PREFIX "${WDFX_PC_TO_PREFIX}")
# wdfx: the runtime; wdfx-client: the client library alone; wdfx-cuse: CUSE interfaces (+ wdfx).
set(_wdfx_pcs wdfx wdfx-client)
if(WDFX_HAVE_CUSE)
  list(APPEND _wdfx_pcs wdfx-cuse)
endif()
foreach(pc ${_wdfx_pcs})
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# udev rules and systemd units go under the prefix's lib/ (/usr/lib/udev, /usr/lib/systemd when
# the prefix is /usr); driver manifests under share/wdfx/drivers.
set(WDFX_UDEV_DIR ${CMAKE_INSTALL_PREFIX}/lib/udev/rules.d CACHE PATH "udev rules directory")
set(WDFX_SYSTEMD_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system CACHE PATH "systemd unit directory")
file(GLOB _wdfx_udev ${PROJECT_SOURCE_DIR}/udev/*.rules)
file(GLOB _wdfx_units ${PROJECT_SOURCE_DIR}/systemd/*.service ${PROJECT_SOURCE_DIR}/systemd/*.conf)
if(_wdfx_udev)
  install(FILES ${_wdfx_udev} DESTINATION ${WDFX_UDEV_DIR})
endif()
if(_wdfx_units)
  install(FILES ${_wdfx_units} DESTINATION ${WDFX_SYSTEMD_DIR})
endif()
file(GLOB _wdfx_manifests ${PROJECT_SOURCE_DIR}/sample-drivers/*/*.match)
install(FILES ${_wdfx_manifests} DESTINATION ${CMAKE_INSTALL_DATADIR}/wdfx/drivers)

# The out-of-tree build test: install into a scratch prefix, then build a small driver (with a
# socket interface, and a CUSE one where wdfx_cuse is built) and a small C client against it with
# find_package(wdfx) and with pkg-config, and run them: the driver on the sim bus, serving the
# client.
if(WDFX_BUILD_TESTS AND NOT WDFX_SANITIZER)
  add_test(NAME install.out_of_tree_driver
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR}
                   -DSOURCE_DIR=${PROJECT_SOURCE_DIR}/tests/install
                   -DWORK_DIR=${PROJECT_BINARY_DIR}/install-test
                   -DGENERATOR=${CMAKE_GENERATOR}
                   -DHAVE_CUSE=${WDFX_HAVE_CUSE}
                   -P ${PROJECT_SOURCE_DIR}/tests/install/run.cmake)
  set_tests_properties(install.out_of_tree_driver PROPERTIES LABELS "install" TIMEOUT 600)
endif()
