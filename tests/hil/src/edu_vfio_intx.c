/* edu_vfio_intx <bdf> [round-trips]
 *
 * VFIO INTx on QEMU's edu device (level-triggered, automasked by vfio-pci on every interrupt).
 * Two unmask styles, each timed: an unmask eventfd (one write(1) per interrupt: the cheap path a
 * framework should use) and the VFIO_IRQ_SET_ACTION_UNMASK ioctl. The device is acknowledged before
 * the unmask, or the still-asserted level would fire again at once. Figures: vfio_intx_unmask_eventfd,
 * vfio_intx_unmask_ioctl. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "edu.h"
#include "hil_util.h"
#include "hil_vfio.h"

static void loop(struct hil_vfio *v, volatile void *bar, int trig, int unmask_fd, unsigned long n,
                 struct hil_stats *s) {
  s->t_begin = hil_now_ns();
  for (unsigned long i = 0; i < n; i++) {
    uint64_t t0 = hil_now_ns();
    hil_wr32(bar, EDU_IRQ_RAISE, 1);
    uint64_t c;
    HIL_CHECK(read(trig, &c, sizeof c) == sizeof c, "read INTx eventfd");
    hil_stats_add(s, hil_now_ns() - t0);
    HIL_EXPECT(hil_rd32(bar, EDU_IRQ_STATUS) & 1, "round trip %lu: status bit not set", i);
    hil_wr32(bar, EDU_IRQ_ACK, 1);
    if (unmask_fd >= 0) {
      uint64_t one = 1;
      HIL_CHECK(write(unmask_fd, &one, sizeof one) == sizeof one, "write unmask eventfd");
    } else {
      HIL_CHECK(hil_vfio_irq_none(v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1) == 0,
                "INTx unmask ioctl");
    }
  }
  s->t_end = hil_now_ns();
  hil_stats_report(s);
  hil_stats_free(s);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <bdf> [round-trips]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  unsigned long n = argc > 2 ? hil_arg_ulong(argv[2], "round-trips") : 2000;
  struct hil_vfio v;
  hil_vfio_open(&v, argv[1]);
  volatile void *bar = hil_vfio_map_bar(&v, VFIO_PCI_BAR0_REGION_INDEX, NULL);
  HIL_EXPECT((hil_rd32(bar, EDU_ID) & 0xff) == 0xed, "not an edu device");

  struct vfio_irq_info ii;
  HIL_CHECK(hil_vfio_irq_info(&v, VFIO_PCI_INTX_IRQ_INDEX, &ii) == 0, "INTx irq info");
  printf("INTx: count %u flags 0x%x\n", ii.count, ii.flags);
  HIL_EXPECT(ii.count == 1 && (ii.flags & VFIO_IRQ_INFO_MASKABLE) && (ii.flags & VFIO_IRQ_INFO_AUTOMASKED),
             "INTx must be one maskable, automasked vector (count %u flags 0x%x)", ii.count, ii.flags);
  int trig;
  hil_vfio_irq_enable(&v, VFIO_PCI_INTX_IRQ_INDEX, 1, &trig, 0);
  int unmask = eventfd(0, EFD_CLOEXEC);
  HIL_CHECK(unmask >= 0, "eventfd");
  hil_vfio_irq_set_fd(&v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, unmask);

  hil_deadline(90, "INTx round trips (an interrupt was lost)");
  struct hil_stats s;
  hil_stats_init(&s, "vfio_intx_unmask_eventfd", "edu raise -> INTx eventfd read(); ack; unmask eventfd", n);
  loop(&v, bar, trig, unmask, n, &s);
  /* Detach the unmask eventfd, then the same with the ioctl. */
  hil_vfio_irq_set_fd(&v, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, -1);
  hil_stats_init(&s, "vfio_intx_unmask_ioctl", "edu raise -> INTx eventfd read(); ack; unmask ioctl", n);
  loop(&v, bar, trig, -1, n, &s);
  hil_deadline(0, "");

  hil_vfio_irq_disable(&v, VFIO_PCI_INTX_IRQ_INDEX);
  hil_figure_string("device", "bdf", v.bdf);
  hil_figures_write();
  hil_vfio_close(&v);
  printf("EDU VFIO INTX PASS\n");
  return 0;
}
