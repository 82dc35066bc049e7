# Guest script of boot "watchdog": a case that never ends, so the host watchdog must kill QEMU
# (TIMEOUT 12 s; the guest's own case timeout is an hour). Its ctests pass only if both attempts were
# killed and the case was reported FAIL with that infrastructure failure (tests/hil/hil.py check
# --expect INFRA).
. /hil/lib.sh
hil_case watchdog_guest_never_ends sleep 3600
