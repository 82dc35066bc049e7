"""wdfx HIL harness: prepares a Debian guest, boots it under QEMU (TCG, emulated VT-d) with emulated PCI
devices bound to the guest's real vfio-pci / uio_pci_generic, runs test cases inside and collects one
result per case. Python 3 standard library only. Entry point: tests/hil/hil.py."""
