# Guest script of boot "system" (systemd flavour), run as root by hil-run.service. udev, not this
# script, binds edu (80-hil-bind.rules from BIND); the non-root case reports from its own service.
. /hil/lib.sh
udevadm settle
hil_case system_vfio_node_perms hil-sh '
  B=$(hil_bdf 1234:11e8) || { echo "no edu device"; exit 1; }
  d=$(hil_driver "$B"); echo "$B driver: $d"
  [ "$d" = vfio-pci ] || { echo "udev did not bind $B to vfio-pci"; exit 1; }
  n=/dev/vfio/$(hil_group "$B")
  ls -l "$n" /dev/vfio/vfio
  [ "$(stat -c "%G %a" "$n")" = "wdfx 660" ] || { echo "$n is not group wdfx, mode 0660"; exit 1; }'
