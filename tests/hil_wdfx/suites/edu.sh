# Guest script of boot "wdfx_edu" (fast flavour): edu bound to vfio-pci by init (BIND); the sysfs
# unbind case leaves it unbound, and wdfxctl then binds it to uio_pci_generic for the UIO cases.
. /hil/lib.sh
B=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
hil_case wdfx_conf_vfio_edu wdfx_hil conformance vfio "$B" edu
hil_case wdfx_edu_msi_dirql wdfx_hil edu vfio "$B"
hil_case wdfx_edu_msi_passive wdfx_hil edu vfio "$B" passive
hil_case wdfx_edu_intx_dirql wdfx_hil edu vfio "$B" intx
hil_case wdfx_edu_intx_passive wdfx_hil edu vfio "$B" intx passive
hil_case wdfx_edu_busy_group wdfx_hil edu-busy "$B"
hil_case wdfx_edu_reset_unsupported wdfx_hil edu-reset "$B" unsupported
hil_case wdfx_edu_bench wdfx_hil bench "$B" 4 2000
hil_case wdfx_edu_sysfs_unbind wdfx_hil edu-unbind vfio "$B"
# UIO: no IOMMU, DMA by physical address; the edu driver's 8 KiB common buffer must be physically
# contiguous, so it lives in a huge page (and may be anywhere in RAM: a 64-bit DMA profile, as
# edu runs with dma_mask=~0 here).
echo 4 > /proc/sys/vm/nr_hugepages
hil_log "huge pages: $(cat /proc/sys/vm/nr_hugepages)"
hil_case wdfx_conf_uio_edu hil-sh "wdfxctl bind --uio $B && wdfx_hil conformance uio $B edu"
hil_case wdfx_edu_uio_intx_dirql wdfx_hil edu uio "$B" dma64
hil_case wdfx_edu_uio_intx_passive wdfx_hil edu uio "$B" passive dma64
# Unbinding uio_pci_generic under the driver: the device is gone (surprise removal).
hil_case wdfx_edu_uio_unbind_surprise wdfx_hil edu-unbind uio "$B"
