#!/usr/bin/env bash
# Installs everything wdfx needs on Debian bookworm: the build (compiler, CMake, Boost, libpci,
# liburing, doctest), the protocol fuzzer (clang and its libFuzzer/sanitizer runtimes: the ASan
# pass of run-tests.sh builds it), the HIL harness (QEMU, busybox, mmdebstrap, ...) and the plotting
# used by the benchmark. Idempotent: does nothing when every package is already there.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config
  libboost-dev libboost-program-options-dev libpci-dev liburing-dev doctest-dev libsystemd-dev
  libfuse3-dev
  clang-14 libclang-rt-14-dev
  qemu-system-x86 busybox-static cpio xz-utils e2fsprogs mmdebstrap bc python3 kmod
  gnuplot-nox
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
