# Guest script of boot "negative": no vIOMMU, so binding to vfio-pci fails and the VFIO program must
# fail; its ctest passes only if this case is reported as FAIL.
. /hil/lib.sh
B=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
hil_case negative_vfio_without_iommu edu_vfio_msi_dma "$B" 100 1
