# `cmake --install` puts headers, libraries, tools, drivers, udev rules, systemd units, driver
# manifests, a pkg-config file and a CMake package in the usual places.
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/libwdfx/include/wdfx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
install(TARGETS wdfx wdfx_pci EXPORT wdfxTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT wdfxTargets NAMESPACE wdfx:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wdfx)
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
configure_file(${PROJECT_SOURCE_DIR}/cmake/wdfx.pc.in ${PROJECT_BINARY_DIR}/wdfx.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/wdfx.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

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

# The out-of-tree build test: install into a scratch prefix, then build a small driver against
# it with find_package(wdfx) and with pkg-config, and run it on the sim bus.
if(WDFX_BUILD_TESTS AND NOT WDFX_SANITIZER)
  add_test(NAME install.out_of_tree_driver
           COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${PROJECT_BINARY_DIR}
                   -DSOURCE_DIR=${PROJECT_SOURCE_DIR}/tests/install
                   -DWORK_DIR=${PROJECT_BINARY_DIR}/install-test
                   -DGENERATOR=${CMAKE_GENERATOR}
                   -P ${PROJECT_SOURCE_DIR}/tests/install/run.cmake)
  set_tests_properties(install.out_of_tree_driver PROPERTIES LABELS "install" TIMEOUT 600)
endif()
