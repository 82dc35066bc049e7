# Guest script of boot "wdfx_aer": virtio-rng-pci (aer=on) behind pcie-root-port rp1, bound to
# vfio-pci by init; the host injects an uncorrectable non-fatal AER error at AER-NONFATAL-1 and
# another at AER-NONFATAL-2 (HOST_ACTIONS).
. /hil/lib.sh
B=$(hil_bdf 1af4:1044) || { hil_log "no virtio-rng device"; exit 1; }
hil_case wdfx_aer_nonfatal wdfx_hil aer "$B"
