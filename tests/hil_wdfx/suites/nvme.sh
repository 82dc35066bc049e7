# Guest script of boot "wdfx_nvme" (fast flavour): QEMU's NVMe starts on the guest's nvme driver
# (MODULES nvme, no BIND); an edu with no driver sits beside it. wdfxctl moves the NVMe to vfio-pci
# and back.
. /hil/lib.sh
B=$(hil_bdf 1b36:0010) || { hil_log "no NVMe controller"; exit 1; }
E=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
export B E

hil_case wdfxctl_list hil-sh '
  d=$(hil_driver "$B"); echo "$B is on ${d:-no driver}"
  [ "$d" = nvme ] || { echo "the NVMe is not on the guest nvme driver"; exit 1; }
  out=$(wdfxctl list) || { echo "wdfxctl list failed"; exit 1; }
  echo "$out"
  G=$(hil_group "$B"); GE=$(hil_group "$E")
  echo "$out" | grep -E "^$B +1b36:0010 +010802 +nvme +$G +wdfx-hil-nvme" || { echo "no row: $B nvme group $G wdfx-hil-nvme"; exit 1; }
  echo "$out" | grep -E "^$E +1234:11e8 +00ff00 +- +$GE +wdfx-edu" || { echo "no row: $E (no driver) group $GE wdfx-edu"; exit 1; }
  wdfxctl frobnicate; [ $? = 2 ] || { echo "an unknown command is not exit status 2"; exit 1; }
  wdfxctl info 0000:00:1f.7; [ $? = 4 ] || { echo "a missing device is not exit status 4"; exit 1; }
  wdfx_hil as-user 1000 1000 wdfxctl bind "$B"; [ $? = 3 ] || { echo "bind as non-root is not exit status 3"; exit 1; }
  for c in list bind unbind info affinity stat udev-rules; do
    wdfxctl $c --help > /dev/null || { echo "wdfxctl $c --help failed"; exit 1; }
  done'

hil_case wdfxctl_bind_nvme hil-sh '
  wdfxctl bind "$B" || exit 1
  d=$(hil_driver "$B"); G=$(hil_group "$B")
  [ "$d" = vfio-pci ] || { echo "$B is on ${d:-no driver}, not vfio-pci"; exit 1; }
  [ -c /dev/vfio/$G ] || { echo "no /dev/vfio/$G"; exit 1; }
  [ "$(cat /run/wdfx/bind/$B.driver)" = nvme ] || { echo "the native driver was not remembered"; exit 1; }
  [ ! -e /sys/bus/pci/devices/$B/nvme ] || { echo "the nvme driver still holds $B"; exit 1; }
  wdfxctl bind "$B" | grep "already bound" || { echo "a second bind is not idempotent"; exit 1; }'

hil_case wdfxctl_info_nvme hil-sh '
  out=$(wdfxctl info "$B") || exit 1; echo "$out"
  echo "$out" | grep -q "driver vfio-pci" || { echo "driver not shown"; exit 1; }
  echo "$out" | grep -Eq "BAR 0: memory, [0-9]+ bytes" || { echo "BAR 0 not shown"; exit 1; }
  echo "$out" | grep -q "MSI-X (65 vectors)" || { echo "MSI-X capability not shown"; exit 1; }
  echo "$out" | grep -q "PCI Express" || { echo "PCIe capability not shown"; exit 1; }
  echo "$out" | grep -q "MSI-X 65 (noresize)" || { echo "VFIO MSI-X count not shown"; exit 1; }
  echo "$out" | grep -q "REQ 1" || { echo "VFIO request IRQ not shown"; exit 1; }'

hil_case wdfx_conf_vfio_nvme wdfx_hil conformance vfio "$B" nvme
hil_case wdfx_nvme_msix wdfx_hil nvme "$B" msix
hil_case wdfx_nvme_reset wdfx_hil nvme "$B" reset
hil_case wdfxctl_stat_affinity wdfx_hil nvme "$B" tools

hil_case wdfxctl_unbind_restore hil-sh '
  wdfxctl unbind "$B" || exit 1
  d=$(hil_driver "$B")
  [ "$d" = nvme ] || { echo "$B is on ${d:-no driver}, not back on nvme"; exit 1; }
  [ ! -e /run/wdfx/bind/$B.driver ] || { echo "the saved driver was not cleared"; exit 1; }
  [ -z "$(cat /sys/bus/pci/devices/$B/driver_override)" ] || [ "$(cat /sys/bus/pci/devices/$B/driver_override)" = "(null)" ] || { echo "driver_override not cleared"; exit 1; }
  wdfx_hil wait-path /dev/nvme0n1 30 || exit 1
  head -c 13 /dev/nvme0n1 > /tmp/lba0 || exit 1
  echo "LBA 0 through the guest nvme driver: $(cat /tmp/lba0)"
  [ "$(cat /tmp/lba0)" = HIL-NVME-LBA0 ] || { echo "the restored nvme driver does not read the disk"; exit 1; }'
