#!/bin/sh
# ctest sample.edu-c.interface (and the HIL case edu_c_vfio_interface): edu-c serves its device
# interface to a real client process (wdfx-io): IOCTL_EDU_C_FACTORIAL computes 10! on the device,
# completed by its interrupt in the DPC; a read returns the identification register. Then SIGTERM
# stops the driver cleanly.
# usage: test_interface.sh EDU_C WDFX_IO [DEVICE ARGUMENTS]  (default --sim-edu; the HIL guest
# passes --vfio BDF)
set -u
edu_c=$1
wdfx_io=$2
shift 2
[ $# -gt 0 ] || set -- --sim-edu
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
name=edu-c-test-$$
export EDU_C_INTERFACE=$name
export XDG_RUNTIME_DIR=$work # where the socket goes when /run/wdfx is not writable
fail() {
    echo "FAIL: $*"
    echo "--- driver log"
    cat "$work/driver.log"
    exit 1
}

"$edu_c" "$@" --for-seconds 120 >"$work/driver.log" 2>&1 &
pid=$!
# Wait for the event "interface published" (the driver's log line), with a hang guard.
tries=0
until grep -q "device interface '$name' published" "$work/driver.log"; do
    kill -0 $pid 2>/dev/null || fail "the driver exited"
    tries=$((tries + 1))
    [ $tries -gt 600 ] && fail "the interface was not published"
    sleep 0.1
done

# 10! = 3628800 = 0x00375f00, little endian
out=$("$wdfx_io" "$name" ioctl 0x222000 0a000000 --out 4) || fail "ioctl: exit $?"
echo "ioctl FACTORIAL(10): $out"
echo "$out" | grep -qi "005f3700" || fail "ioctl returned '$out', expected 005f3700"

# 13! does not fit: STATUS_INVALID_PARAMETER
if "$wdfx_io" "$name" ioctl 0x222000 0d000000 --out 4 >/dev/null 2>&1; then
    fail "ioctl FACTORIAL(13) succeeded"
fi

id=$("$wdfx_io" "$name" read 8 | od -An -tx4 -N4 | tr -d ' ') || fail "read: exit $?"
echo "read: identification 0x$id"
[ "$id" = "010000ed" ] || fail "read returned identification '$id'"

kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "the driver exited with $rc"
grep -q "self-test passed" "$work/driver.log" || fail "no self-test"
grep -q "unloaded" "$work/driver.log" || fail "not unloaded"
echo "PASS"
