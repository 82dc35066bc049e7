/* libpci_find <vvvv:dddd>
 *
 * A dynamically linked guest program (libpci has no static archive in Debian): proves the harness
 * carries a dynamic payload's ldd closure and the dynamic loader into the guest. It finds the
 * device through libpci's sysfs scan and prints its address. Exit status 0 iff found. */
#include <pci/pci.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  unsigned ven, dev;
  if (argc != 2 || sscanf(argv[1], "%x:%x", &ven, &dev) != 2) {
    fprintf(stderr, "usage: %s <vvvv:dddd>\n", argv[0]);
    return 2;
  }
  struct pci_access *pacc = pci_alloc();
  pci_init(pacc);
  pci_scan_bus(pacc);
  int found = 0;
  for (struct pci_dev *d = pacc->devices; d; d = d->next) {
    pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS);
    if (d->vendor_id == ven && d->device_id == dev) {
      printf("libpci found %04x:%02x:%02x.%d %04x:%04x class %04x\n", d->domain, d->bus, d->dev, d->func,
             d->vendor_id, d->device_id, d->device_class);
      found = 1;
    }
  }
  pci_cleanup(pacc);
  if (!found) printf("libpci: no %04x:%04x\n", ven, dev);
  return found ? 0 : 1;
}
