#!/usr/bin/env bash
# The one command that installs, builds and runs every test of wdfx:
#   1. plain build (-Werror): unit tests (ctest -LE hil)
#   2. ASan+UBSan build: unit tests, and the protocol parser's libFuzzer target (built with clang,
#      WDFX_FUZZ=ON) for a fixed-seed run
#   3. TSan build: unit tests
#   4. plain build: hardware-in-the-loop tests in a QEMU guest (ctest -L hil)
# It ends with one line "N passed, N failed" summing every pass. Exit status 0 iff nothing failed.
# Environment: WDFX_PASSES (default "plain asan tsan hil") picks passes; BUILD_ROOT (default build/).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
build_root=${BUILD_ROOT:-$root/build}
passes=${WDFX_PASSES:-plain asan tsan hil}
jobs=$(nproc)
total_pass=0
total_fail=0
declare -A configured=()

configure_and_build() {  # name cmake-args...
  local name=$1; shift
  [ -n "${configured[$name]:-}" ] && return "${configured[$name]}"
  local dir=$build_root/$name
  echo "==== configure + build: $name"
  if cmake -S "$root" -B "$dir" -G Ninja "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; false; }; then
    if cmake --build "$dir" -j "$jobs"; then configured[$name]=0; return 0; fi
  fi
  configured[$name]=1
  return 1
}

run_ctest() {  # pass-name build-name ctest-args...
  local pass=$1 name=$2; shift 2
  local log=$build_root/ctest-$pass.log
  echo "==== ctest ($pass): $*"
  (cd "$build_root/$name" && ctest --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log"
  local line
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "==== $pass: no ctest summary (counted as 1 failure)"
    total_fail=$((total_fail + 1)); return
  fi
  local failed total
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  total_pass=$((total_pass + total - failed))
  total_fail=$((total_fail + failed))
}

mkdir -p "$build_root"
for p in $passes; do
  case $p in
    plain)
      if configure_and_build plain -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
        run_ctest plain plain -LE hil -j "$jobs"
      else total_fail=$((total_fail + 1)); fi ;;
    asan)
      if configure_and_build asan -DCMAKE_BUILD_TYPE=Debug -DWDFX_SANITIZER=address,undefined \
          -DWDFX_BUILD_HIL=OFF -DWDFX_BUILD_BENCH=OFF -DWDFX_FUZZ=ON; then
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
          run_ctest asan asan -LE hil -j "$jobs"
      else total_fail=$((total_fail + 1)); fi ;;
    tsan)
      if configure_and_build tsan -DCMAKE_BUILD_TYPE=Debug -DWDFX_SANITIZER=thread \
          -DWDFX_BUILD_HIL=OFF -DWDFX_BUILD_BENCH=OFF; then
        TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" run_ctest tsan tsan -LE hil -j "$jobs"
      else total_fail=$((total_fail + 1)); fi ;;
    hil)
      if configure_and_build plain -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
        run_ctest hil plain -L hil
      else total_fail=$((total_fail + 1)); fi ;;
    *) echo "unknown pass $p"; total_fail=$((total_fail + 1)) ;;
  esac
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
