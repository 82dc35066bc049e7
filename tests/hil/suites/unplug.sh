# Guest script of boot "unplug": edu behind pcie-root-port rp1 (ACPI hotplug, QEMU 7.2's q35 default),
# bound to vfio-pci by init; the host sends device_del at READY-FOR-UNPLUG (HOST_ACTIONS).
. /hil/lib.sh
B=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
hil_case edu_vfio_req_unplug edu_vfio_req "$B"
