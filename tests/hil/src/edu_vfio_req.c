/* edu_vfio_req <bdf>
 *
 * Orderly removal through VFIO's request interrupt: with edu held through VFIO (BAR mapped, MSI
 * enabled) and an eventfd on VFIO_PCI_REQ_IRQ_INDEX, the program prints the marker
 * READY-FOR-UNPLUG; the host then sends QMP device_del. The kernel relays the removal request to
 * the REQ eventfd while the device still works; the program releases everything (BAR, IRQs, device,
 * group, container) and waits until the device has left sysfs. A removal that never arrives fails
 * the case, and so does a host that does not see QEMU's DEVICE_DELETED (HIL-ACK on ttyS2).
 * Figures: vfio_req (marker -> request, request -> device gone). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edu.h"
#include "hil_util.h"
#include "hil_vfio.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <bdf>\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct hil_vfio v;
  hil_vfio_open(&v, argv[1]);
  size_t barsz;
  volatile void *bar = hil_vfio_map_bar(&v, VFIO_PCI_BAR0_REGION_INDEX, &barsz);
  HIL_EXPECT((hil_rd32(bar, EDU_ID) & 0xff) == 0xed, "not an edu device");
  hil_vfio_enable_bus_master(&v);
  int msi;
  hil_vfio_irq_enable(&v, VFIO_PCI_MSI_IRQ_INDEX, 1, &msi, 0);
  hil_wr32(bar, EDU_IRQ_RAISE, 1); /* the device works before the request ... */
  HIL_EXPECT(hil_eventfd_wait(msi, 5000) == 1, "MSI before the request");
  hil_wr32(bar, EDU_IRQ_ACK, 1);

  struct vfio_irq_info ii;
  HIL_CHECK(hil_vfio_irq_info(&v, VFIO_PCI_REQ_IRQ_INDEX, &ii) == 0, "REQ irq info");
  HIL_EXPECT(ii.count == 1, "REQ count %u", ii.count);
  int req;
  hil_vfio_irq_enable(&v, VFIO_PCI_REQ_IRQ_INDEX, 1, &req, 0);

  int host = hil_host_open();
  uint64_t t_mark = hil_mark("READY-FOR-UNPLUG");
  uint64_t n = hil_eventfd_wait(req, 60000);
  uint64_t t_req = hil_now_ns();
  HIL_EXPECT(n > 0, "no removal request within 60 s of READY-FOR-UNPLUG");
  printf("removal request %.3f ms after the marker (count %llu)\n", (double)(t_req - t_mark) / 1e6,
         (unsigned long long)n);
  /* ... and still works when asked to go: this is a request, not a surprise removal. */
  HIL_EXPECT((hil_rd32(bar, EDU_ID) & 0xff) == 0xed, "BAR unreadable at the request");
  hil_wr32(bar, EDU_IRQ_RAISE, 1);
  HIL_EXPECT(hil_eventfd_wait(msi, 5000) == 1, "MSI at the request");
  hil_wr32(bar, EDU_IRQ_ACK, 1);

  /* Release in reverse order of acquisition; the kernel's removal waits for the last fd. */
  munmap((void *)bar, barsz);
  hil_vfio_irq_disable(&v, VFIO_PCI_MSI_IRQ_INDEX);
  hil_vfio_irq_disable(&v, VFIO_PCI_REQ_IRQ_INDEX);
  close(msi);
  close(req);
  hil_vfio_close(&v);
  uint64_t t_closed = hil_now_ns();

  char path[128];
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s", argv[1]);
  struct stat st;
  while (stat(path, &st) == 0) {
    HIL_EXPECT(hil_now_ns() - t_closed < 30000000000ull, "%s still present 30 s after release", path);
    usleep(1000); /* sysfs offers no event for a device's removal to a program without udev */
  }
  uint64_t t_gone = hil_now_ns();
  printf("released %.3f ms after the request; device gone from sysfs %.3f ms after release\n",
         (double)(t_closed - t_req) / 1e6, (double)(t_gone - t_closed) / 1e6);
  /* The host's actions for the marker end when QEMU reports DEVICE_DELETED: the unplug is complete
   * only then (QEMU unplugs once the guest has ejected the slot). */
  HIL_EXPECT(hil_host_await(host, "READY-FOR-UNPLUG", 30) == 0, "the host's unplug actions failed");
  uint64_t t_ack = hil_now_ns();
  close(host);
  printf("host saw DEVICE_DELETED; acknowledged %.3f ms after the marker\n", (double)(t_ack - t_mark) / 1e6);
  hil_figure_string("vfio_req", "what", "QMP device_del -> VFIO request eventfd -> release -> removed");
  hil_figure_value("vfio_req", "mark_to_request_ns", (double)(t_req - t_mark));
  hil_figure_value("vfio_req", "request_to_released_ns", (double)(t_closed - t_req));
  hil_figure_value("vfio_req", "released_to_gone_ns", (double)(t_gone - t_closed));
  hil_figure_value("vfio_req", "mark_to_gone_ns", (double)(t_gone - t_mark));
  hil_figure_value("vfio_req", "mark_to_host_ack_ns", (double)(t_ack - t_mark));
  hil_figures_write();
  printf("EDU VFIO REQ PASS\n");
  return 0;
}
