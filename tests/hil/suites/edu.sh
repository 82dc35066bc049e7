# Guest script of boot "edu" (fast flavour): one edu device, moved between drivers case by case.
. /hil/lib.sh
B=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
hil_case edu_uio_intx hil-sh "hil_bind 1234:11e8 uio_pci_generic && edu_uio_intx $B 2000 2"
hil_case edu_vfio_intx hil-sh "hil_bind 1234:11e8 vfio-pci && edu_vfio_intx $B 2000"
hil_case edu_vfio_msi_dma edu_vfio_msi_dma "$B" 5000 4
