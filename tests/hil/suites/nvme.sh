# Guest script of boot "nvme": QEMU's NVMe controller bound to vfio-pci by init (BIND).
. /hil/lib.sh
B=$(hil_bdf 1b36:0010) || { hil_log "no NVMe controller"; exit 1; }
hil_case nvme_vfio_msix nvme_vfio_msix "$B" last 1000
# The device-agnostic test, exactly as on a real card: only the PCI address is given.
hil_case vfio_probe_by_address vfio_probe "$B"
hil_case dynamic_payload_libpci libpci_find 1b36:0010
