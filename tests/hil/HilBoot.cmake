# wdfx_add_hil_boot(): adds one hardware-in-the-loop boot (a QEMU guest) and its test cases to ctest.
# Include this file from any CMakeLists that adds HIL boots (sample drivers, framework tests):
#   include(${PROJECT_SOURCE_DIR}/tests/hil/HilBoot.cmake)
# See tests/hil/README.md for the guest side (lib.sh: hil_case, hil_bind, hil_mark ...).
#
# wdfx_add_hil_boot(NAME <boot>
#   SCRIPT <guest shell script>            run in the guest (as /hil/run.sh) once devices are bound
#   CASES <case>...                        case names, unique across all boots; each becomes ctest
#                                          test hil.<boot>.<case> and results/<case>.json
#   [FLAVOUR fast|system]                  busybox initramfs (default) or systemd root file system
#   [DEVICES <qemu args>...]               e.g. -device edu,id=edu0; @WORK@ = the boot's work dir
#   [BIND <vvvv:dddd=vfio-pci|uio_pci_generic>...]  by init (fast) or by udev rules (system)
#   [PROGRAMS <target|file>...]            copied to /hil/bin (static as is, dynamic + ldd closure)
#   [FILES <host-path=guest-path>...]      extra files or directories (units, udev rules, data)
#   [HOST_ACTIONS "<marker> <verb> <args>"...]  host side at HIL-MARK <case> <marker>: qmp, hmp,
#                                          await-event; marker exit:<case>: file-contains (README)
#   [DISKS "<file>:<size>[:<offset>=<text>]..."]  sparse backing files in @WORK@, seeded
#   [MODULES <module>...]                  loaded at boot (fast flavour; must be in the pruned set)
#   [EXPECT_FAIL <case>...]                negative controls: pass only if the guest reports FAIL
#   [EXPECT_INFRA]                         negative control of the watchdog: the boot and every case
#                                          pass only if the watchdog killed both attempts (retried once)
#   [NO_IOMMU]                             no emulated VT-d (negative controls)
#   [TIMEOUT <s>] [CASE_TIMEOUT <s>] [MEMORY <MiB>] [APPEND <kernel args>])
include_guard(GLOBAL)

set(WDFX_HIL_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "tests/hil source directory")
set(WDFX_HIL_RESULTS ${CMAKE_BINARY_DIR}/tests/hil/results CACHE INTERNAL "per-case HIL result files")
find_program(WDFX_HIL_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(WDFX_HIL_PYTHON NAMES python3)

# The guest helpers every boot carries: hil-await (waits for the host on the control port), and the
# library the guest programs of tests/hil share.
if(NOT WDFX_SANITIZER)
  add_library(hil_guest STATIC ${CMAKE_CURRENT_LIST_DIR}/src/hil_util.c ${CMAKE_CURRENT_LIST_DIR}/src/hil_vfio.c)
  target_include_directories(hil_guest PUBLIC ${CMAKE_CURRENT_LIST_DIR}/src)
  target_compile_options(hil_guest PRIVATE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wcast-align)
  add_executable(hil-await ${CMAKE_CURRENT_LIST_DIR}/src/hil_await.c)
  target_link_libraries(hil-await PRIVATE hil_guest)
  target_compile_options(hil-await PRIVATE -Wall -Wextra -Werror -Wshadow -Wformat=2)
  target_link_options(hil-await PRIVATE -static)
endif()

function(_wdfx_hil_json_list out)
  set(items "")
  foreach(v IN LISTS ARGN)
    string(REPLACE "\\" "\\\\" v "${v}")
    string(REPLACE "\"" "\\\"" v "${v}")
    list(APPEND items "\"${v}\"")
  endforeach()
  list(JOIN items ", " joined)
  set(${out} "[${joined}]" PARENT_SCOPE)
endfunction()

# The two preparation tests, added once: every boot requires the kernel, system boots the root fs.
function(_wdfx_hil_add_prepare_tests)
  get_property(done GLOBAL PROPERTY WDFX_HIL_PREPARE_ADDED)
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY WDFX_HIL_PREPARE_ADDED TRUE)
  add_test(NAME hil.prepare.kernel COMMAND ${WDFX_HIL_PYTHON} ${WDFX_HIL_DIR}/hil.py prepare --flavour fast)
  set_tests_properties(hil.prepare.kernel PROPERTIES LABELS hil FIXTURES_SETUP hil_kernel TIMEOUT 900
                       SKIP_RETURN_CODE 77 RESOURCE_LOCK hil_cache)
  add_test(NAME hil.prepare.rootfs COMMAND ${WDFX_HIL_PYTHON} ${WDFX_HIL_DIR}/hil.py prepare --flavour system)
  set_tests_properties(hil.prepare.rootfs PROPERTIES LABELS hil FIXTURES_SETUP hil_rootfs
                       FIXTURES_REQUIRED hil_kernel TIMEOUT 900 SKIP_RETURN_CODE 77 RESOURCE_LOCK hil_cache)
endfunction()

function(wdfx_add_hil_boot)
  if(WDFX_SANITIZER)
    return()  # guest programs are static: no HIL boots in sanitizer builds
  endif()
  cmake_parse_arguments(PARSE_ARGV 0 B "NO_IOMMU;EXPECT_INFRA"
    "NAME;FLAVOUR;SCRIPT;TIMEOUT;CASE_TIMEOUT;MEMORY;APPEND"
    "DEVICES;BIND;PROGRAMS;CASES;EXPECT_FAIL;HOST_ACTIONS;DISKS;FILES;MODULES")
  if(NOT B_NAME OR NOT B_SCRIPT OR NOT B_CASES)
    message(FATAL_ERROR "wdfx_add_hil_boot: NAME, SCRIPT and CASES are required")
  endif()
  if(B_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "wdfx_add_hil_boot(${B_NAME}): unknown arguments ${B_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT B_FLAVOUR)
    set(B_FLAVOUR fast)
  endif()
  if(NOT B_FLAVOUR MATCHES "^(fast|system)$")
    message(FATAL_ERROR "wdfx_add_hil_boot(${B_NAME}): FLAVOUR must be fast or system")
  endif()
  if(NOT B_TIMEOUT)
    if(B_FLAVOUR STREQUAL system)
      set(B_TIMEOUT 300)
    else()
      set(B_TIMEOUT 120)
    endif()
  endif()
  get_filename_component(script ${B_SCRIPT} ABSOLUTE)
  get_property(all_cases GLOBAL PROPERTY WDFX_HIL_CASES)
  foreach(c IN LISTS B_CASES)
    if(c IN_LIST all_cases)
      message(FATAL_ERROR "wdfx_add_hil_boot(${B_NAME}): case name '${c}' is already used by another boot")
    endif()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY WDFX_HIL_CASES ${B_CASES})

  # Programs: CMake targets resolve to their built file at generate time.
  set(progs "$<TARGET_FILE:hil-await>")
  foreach(p IN LISTS B_PROGRAMS)
    if(TARGET ${p})
      list(APPEND progs "$<TARGET_FILE:${p}>")
    else()
      get_filename_component(p ${p} ABSOLUTE)
      list(APPEND progs "${p}")
    endif()
  endforeach()
  set(files "")
  foreach(f IN LISTS B_FILES)
    string(REGEX MATCH "^([^=]+)=(.+)$" m "${f}")
    if(NOT m)
      message(FATAL_ERROR "wdfx_add_hil_boot(${B_NAME}): FILES entry '${f}' is not host-path=guest-path")
    endif()
    get_filename_component(src ${CMAKE_MATCH_1} ABSOLUTE)
    list(APPEND files "${src}=${CMAKE_MATCH_2}")
  endforeach()

  set(work ${CMAKE_BINARY_DIR}/tests/hil/boots/${B_NAME})
  if(B_NO_IOMMU)
    set(iommu false)
  else()
    set(iommu true)
  endif()
  foreach(k DEVICES BIND CASES EXPECT_FAIL HOST_ACTIONS DISKS MODULES)
    _wdfx_hil_json_list(j_${k} ${B_${k}})
  endforeach()
  _wdfx_hil_json_list(j_PROGRAMS ${progs})
  _wdfx_hil_json_list(j_FILES ${files})
  foreach(k TIMEOUT CASE_TIMEOUT MEMORY)
    if(NOT B_${k})
      set(B_${k} 0)
    endif()
  endforeach()
  file(GENERATE OUTPUT ${work}/spec.json CONTENT "{
 \"name\": \"${B_NAME}\", \"flavour\": \"${B_FLAVOUR}\", \"iommu\": ${iommu},
 \"script\": \"${script}\", \"timeout\": ${B_TIMEOUT}, \"case_timeout\": ${B_CASE_TIMEOUT},
 \"memory\": ${B_MEMORY}, \"append\": \"${B_APPEND}\",
 \"devices\": ${j_DEVICES},
 \"bind\": ${j_BIND},
 \"programs\": ${j_PROGRAMS},
 \"files\": ${j_FILES},
 \"cases\": ${j_CASES},
 \"expect_fail\": ${j_EXPECT_FAIL},
 \"host_actions\": ${j_HOST_ACTIONS},
 \"disks\": ${j_DISKS},
 \"modules\": ${j_MODULES},
 \"results_dir\": \"${WDFX_HIL_RESULTS}\",
 \"work_dir\": \"${work}\"
}
")

  _wdfx_hil_add_prepare_tests()
  set(required hil_kernel)
  if(B_FLAVOUR STREQUAL system)
    list(APPEND required hil_rootfs)
  endif()
  # One boot runs every case; an infrastructure failure is retried once, hence twice the timeout.
  math(EXPR ctest_timeout "2 * ${B_TIMEOUT} + 120")
  set(run_mode --fixture)
  if(B_EXPECT_INFRA)
    set(run_mode --expect-infra)
  endif()
  add_test(NAME hil.${B_NAME}.boot COMMAND ${WDFX_HIL_PYTHON} ${WDFX_HIL_DIR}/hil.py run ${work}/spec.json ${run_mode})
  set_tests_properties(hil.${B_NAME}.boot PROPERTIES LABELS hil FIXTURES_SETUP hil_boot_${B_NAME}
    FIXTURES_REQUIRED "${required}" RESOURCE_LOCK hil_qemu TIMEOUT ${ctest_timeout} SKIP_RETURN_CODE 77)
  foreach(c IN LISTS B_CASES)
    set(expect PASS)
    if(c IN_LIST B_EXPECT_FAIL)
      set(expect FAIL)
    endif()
    if(B_EXPECT_INFRA)
      set(expect INFRA)
    endif()
    add_test(NAME hil.${B_NAME}.${c}
             COMMAND ${WDFX_HIL_PYTHON} ${WDFX_HIL_DIR}/hil.py check ${WDFX_HIL_RESULTS}/${c}.json --expect ${expect})
    set_tests_properties(hil.${B_NAME}.${c} PROPERTIES LABELS hil FIXTURES_REQUIRED hil_boot_${B_NAME}
                         TIMEOUT 30 SKIP_RETURN_CODE 77)
  endforeach()
endfunction()

# wdfx_add_hil_program(<name> <sources>...): a guest program, statically linked (it runs in the
# busybox initramfs with no libraries), warnings as errors. Use PROGRAMS <name> in a boot.
function(wdfx_add_hil_program name)
  add_executable(${name} ${ARGN})
  target_compile_options(${name} PRIVATE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wimplicit-fallthrough
                         -Wcast-align)
  target_link_options(${name} PRIVATE -static -pthread)
endfunction()
