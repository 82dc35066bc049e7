# Guest script of boot "iface": the CUSE device interface with dd as the client.
. /hil/lib.sh
modprobe cuse 2>/dev/null || true
hil_case iface_cuse_dd iface_cuse_guest
