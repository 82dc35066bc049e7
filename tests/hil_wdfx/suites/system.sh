# Guest script of boot "wdfx_system" (systemd flavour, run as root by hil-run.service). udev bound
# edu to vfio-pci and gave /dev/vfio/N to group wdfx (80-hil-bind.rules). Each case runs the driver
# as a oneshot service (hil-as-service writes its unit file) with the settings a production unit has
# (systemd/wdfx-driver@.service): User=, SupplementaryGroups=wdfx, LimitMEMLOCK=, RuntimeDirectory=.
. /hil/lib.sh
udevadm settle
B=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
ls -l /dev/vfio
# LimitMEMLOCK= exactly the driver's DMA memory (edu: one 8 KiB common buffer): VFIO's pinning is
# all that is charged to it.
hil_case wdfx_nonroot_edu hil-as-service User=hil Group=hil SupplementaryGroups=wdfx \
  LimitMEMLOCK=8K RuntimeDirectory=wdfx -- /hil/bin/wdfx_hil nonroot "$B" ok
hil_case wdfx_nonroot_memlock_too_low hil-as-service User=hil Group=hil SupplementaryGroups=wdfx \
  LimitMEMLOCK=4K -- /hil/bin/wdfx_hil nonroot "$B" memlock
# A user outside group wdfx: the node is root:wdfx 0660.
hil_case wdfx_nonroot_no_node_access hil-as-service User=nobody Group=nogroup LimitMEMLOCK=64M \
  -- /hil/bin/wdfx_hil nonroot "$B" noaccess
