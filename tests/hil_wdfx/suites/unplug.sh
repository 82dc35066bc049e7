# Guest script of boot "wdfx_unplug": edu behind pcie-root-port rp1, bound to vfio-pci by init; the
# host sends device_del at UNPLUG-NOW and waits for DEVICE_DELETED (HOST_ACTIONS).
. /hil/lib.sh
B=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
# Alone behind its root port, edu has a reset method (a secondary bus reset).
hil_case wdfx_edu_bus_reset wdfx_hil edu-reset "$B" ok
# Config space unreachable (root port bus numbers moved, then restored): surprise removal.
hil_case wdfx_edu_vanish wdfx_hil edu-vanish "$B"
hil_case wdfx_edu_unplug wdfx_hil edu-unplug "$B"
