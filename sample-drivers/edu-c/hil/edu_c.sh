# Guest script of boot "edu_c" (fast flavour): the C driver on QEMU's edu through vfio-pci.
. /hil/lib.sh
B=$(hil_bdf 1234:11e8) || { hil_log "no edu device"; exit 1; }
hil_case edu_c_vfio_self_test env EDU_C_STOP_WHEN_DONE=1 edu-c-static --vfio "$B" --for-seconds 90
hil_case edu_c_vfio_interface sh /hil/edu_c_test_interface.sh edu-c-static edu-c-wdfx-io-static --vfio "$B"
