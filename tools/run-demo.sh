#!/usr/bin/env bash
# The README's main command: install what is needed, build, and run the edu sample driver on the
# sim bus's model of QEMU's edu device. Arguments go to wdfx-edu-demo (--passive, --intx, ...).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
build=${BUILD_DIR:-$root/build/plain}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target wdfx-edu-demo
exec "$build/sample-drivers/edu/wdfx-edu-demo" "$@"
