/* edu_vfio_msi_dma <bdf> [round-trips] [dma-transfers]
 *
 * Raw VFIO baselines on QEMU's edu device: MSI round trips (write the raise register, block in read()
 * of the MSI eventfd, acknowledge) and DMA both ways through the IOMMU (RAM -> device buffer ->
 * another RAM buffer, completion by MSI), data compared. Figures: vfio_msi, dma_to_device,
 * dma_from_device. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "edu.h"
#include "hil_util.h"
#include "hil_vfio.h"

#define IOVA_SRC 0x10000000ull
#define IOVA_DST 0x10001000ull /* a second page, so the two directions cannot hide each other's bugs */

static void edu_identify(volatile void *bar) {
  uint32_t id = hil_rd32(bar, EDU_ID);
  HIL_EXPECT((id & 0xff) == 0xed, "edu ID register 0x%08x", id);
  hil_wr32(bar, EDU_LIVENESS, 0x12345678);
  HIL_EXPECT(hil_rd32(bar, EDU_LIVENESS) == ~0x12345678u, "edu liveness check");
  printf("edu %u.%u alive\n", id >> 24, (id >> 16) & 0xff);
}

static void wait_msi(int fd, volatile void *bar, uint32_t bit) {
  uint64_t c;
  HIL_CHECK(read(fd, &c, sizeof c) == sizeof c, "read MSI eventfd");
  uint32_t st = hil_rd32(bar, EDU_IRQ_STATUS);
  HIL_EXPECT(st & bit, "interrupt status 0x%x lacks 0x%x", st, bit);
  hil_wr32(bar, EDU_IRQ_ACK, bit);
}

static void dma(volatile void *bar, int fd, uint64_t src, uint64_t dst, uint32_t cmd) {
  hil_wr64(bar, EDU_DMA_SRC, src);
  hil_wr64(bar, EDU_DMA_DST, dst);
  hil_wr64(bar, EDU_DMA_COUNT, EDU_DMA_XFER);
  hil_wr64(bar, EDU_DMA_CMD, cmd | EDU_DMA_START | EDU_DMA_IRQ);
  wait_msi(fd, bar, EDU_DMA_IRQ_BIT);
  HIL_EXPECT(!(hil_rd64(bar, EDU_DMA_CMD) & EDU_DMA_START), "DMA still running after its interrupt");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <bdf> [round-trips] [dma-transfers]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  unsigned long n = argc > 2 ? hil_arg_ulong(argv[2], "round-trips") : 5000;
  unsigned long ndma = argc > 3 ? hil_arg_ulong(argv[3], "dma-transfers") : 4;

  struct hil_vfio v;
  hil_vfio_open(&v, argv[1]);
  printf("%s: VFIO group %d, %u regions, %u irq indexes, uid %d\n", v.bdf, v.group_nr, v.info.num_regions,
         v.info.num_irqs, (int)getuid());
  size_t barsz;
  volatile void *bar = hil_vfio_map_bar(&v, VFIO_PCI_BAR0_REGION_INDEX, &barsz);
  edu_identify(bar);
  hil_vfio_enable_bus_master(&v); /* MSI is a memory write by the device: dropped without it */

  struct vfio_irq_info ii;
  HIL_CHECK(hil_vfio_irq_info(&v, VFIO_PCI_MSI_IRQ_INDEX, &ii) == 0, "MSI irq info");
  HIL_EXPECT(ii.count >= 1, "edu reports no MSI vector");
  int fd;
  hil_vfio_irq_enable(&v, VFIO_PCI_MSI_IRQ_INDEX, 1, &fd, 0);

  hil_deadline(60, "MSI round trips (an interrupt was lost)");
  struct hil_stats s;
  hil_stats_init(&s, "vfio_msi", "edu raise register write -> MSI eventfd read() returns", n);
  s.t_begin = hil_now_ns();
  for (unsigned long i = 0; i < n; i++) {
    uint64_t t0 = hil_now_ns();
    hil_wr32(bar, EDU_IRQ_RAISE, 1);
    uint64_t c;
    HIL_CHECK(read(fd, &c, sizeof c) == sizeof c, "read MSI eventfd");
    uint64_t t1 = hil_now_ns();
    hil_stats_add(&s, t1 - t0);
    HIL_EXPECT(hil_rd32(bar, EDU_IRQ_STATUS) & 1, "round trip %lu: status bit not set", i);
    hil_wr32(bar, EDU_IRQ_ACK, 1);
  }
  s.t_end = hil_now_ns();
  hil_stats_report(&s);
  hil_stats_free(&s);

  /* DMA both ways. edu completes a transfer from a 100 ms (virtual time) timer, so few are enough. */
  uint8_t *src = hil_dma_alloc(EDU_DMA_BUF_SIZE), *dst = hil_dma_alloc(EDU_DMA_BUF_SIZE);
  hil_vfio_dma_map(&v, src, EDU_DMA_BUF_SIZE, IOVA_SRC);
  hil_vfio_dma_map(&v, dst, EDU_DMA_BUF_SIZE, IOVA_DST);
  struct hil_stats to, from;
  hil_stats_init(&to, "dma_to_device", "2 KiB RAM -> edu buffer through the IOMMU, start -> MSI read", ndma);
  hil_stats_init(&from, "dma_from_device", "2 KiB edu buffer -> RAM through the IOMMU, start -> MSI read", ndma);
  hil_deadline(60, "DMA (a completion interrupt was lost)");
  to.t_begin = hil_now_ns();
  for (unsigned long i = 0; i < ndma; i++) {
    for (unsigned k = 0; k < EDU_DMA_BUF_SIZE; k++) src[k] = (uint8_t)(k * 7 + i * 13 + 1);
    memset(dst, 0, EDU_DMA_BUF_SIZE);
    uint64_t t0 = hil_now_ns();
    dma(bar, fd, IOVA_SRC, EDU_DMA_BUF, 0);
    uint64_t t1 = hil_now_ns();
    dma(bar, fd, EDU_DMA_BUF, IOVA_DST, EDU_DMA_TO_RAM);
    uint64_t t2 = hil_now_ns();
    hil_stats_add(&to, t1 - t0);
    hil_stats_add(&from, t2 - t1);
    HIL_EXPECT(!memcmp(src, dst, EDU_DMA_XFER), "transfer %lu: data differs after RAM -> device -> RAM", i);
  }
  to.t_end = from.t_end = hil_now_ns();
  from.t_begin = to.t_begin;
  hil_deadline(0, "");
  printf("DMA: %lu x 2 KiB each way through IOVA 0x%llx / 0x%llx, data identical\n", ndma,
         (unsigned long long)IOVA_SRC, (unsigned long long)IOVA_DST);
  hil_stats_report(&to);
  hil_stats_report(&from);
  HIL_EXPECT(hil_vfio_dma_unmap(&v, EDU_DMA_BUF_SIZE, IOVA_SRC) == EDU_DMA_BUF_SIZE, "unmap src");
  HIL_EXPECT(hil_vfio_dma_unmap(&v, EDU_DMA_BUF_SIZE, IOVA_DST) == EDU_DMA_BUF_SIZE, "unmap dst");
  hil_vfio_irq_disable(&v, VFIO_PCI_MSI_IRQ_INDEX);
  close(fd);
  hil_figure_string("device", "bdf", v.bdf);
  hil_figures_write();
  hil_vfio_close(&v);
  printf("EDU VFIO MSI+DMA PASS\n");
  return 0;
}
