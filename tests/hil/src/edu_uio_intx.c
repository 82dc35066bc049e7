/* edu_uio_intx <bdf> [round-trips] [dma-transfers]
 *
 * uio_pci_generic on QEMU's edu device: INTx through /dev/uioN and BAR0 through sysfs resource0.
 * uio_pci_generic has no irqcontrol (write() to /dev/uioN fails with ENOSYS): its handler sets
 * PCI_COMMAND_INTX_DISABLE and nothing clears it, so after each interrupt we acknowledge the device
 * first (the line is level-triggered) and then clear bit 10 of the command register through sysfs
 * config, as the kernel's uio-howto does. Without an IOMMU domain of its own the device DMAs to
 * physical addresses (from /proc/self/pagemap; needs iommu=pt and root). Figures: uio_intx,
 * uio_dma_to_device, uio_dma_from_device. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edu.h"
#include "hil_util.h"

static int cfg_fd;

static uint16_t cfg_read16(unsigned off) {
  uint16_t v;
  HIL_CHECK(pread(cfg_fd, &v, 2, off) == 2, "config read 0x%x", off);
  return v;
}

static void cfg_write16(unsigned off, uint16_t v) {
  HIL_CHECK(pwrite(cfg_fd, &v, 2, off) == 2, "config write 0x%x", off);
}

static void intx_reenable(void) {
  uint16_t cmd = cfg_read16(PCI_COMMAND);
  if (cmd & PCI_COMMAND_INTX_DISABLE) cfg_write16(PCI_COMMAND, cmd & ~PCI_COMMAND_INTX_DISABLE);
}

static uint64_t phys_addr(void *p) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  HIL_CHECK(fd >= 0, "open /proc/self/pagemap");
  uint64_t e;
  long pg = sysconf(_SC_PAGESIZE);
  HIL_CHECK(pread(fd, &e, 8, (off_t)((uintptr_t)p / (uintptr_t)pg * 8)) == 8, "read pagemap");
  close(fd);
  HIL_EXPECT(e & (1ull << 63), "page not present");
  uint64_t pfn = e & ((1ull << 55) - 1);
  HIL_EXPECT(pfn, "pagemap hides the PFN (not root?)");
  return pfn * (uint64_t)pg + (uintptr_t)p % (uintptr_t)pg;
}

static void wait_irq(int uio, volatile void *bar, uint32_t bit) {
  uint32_t count;
  HIL_CHECK(read(uio, &count, sizeof count) == sizeof count, "read /dev/uio");
  uint32_t st = hil_rd32(bar, EDU_IRQ_STATUS);
  HIL_EXPECT(st & bit, "interrupt status 0x%x lacks 0x%x", st, bit);
  hil_wr32(bar, EDU_IRQ_ACK, bit); /* lower the level first ... */
  intx_reenable();                 /* ... then let the next interrupt through */
}

static void dma(volatile void *bar, int uio, uint64_t src, uint64_t dst, uint32_t cmd) {
  hil_wr64(bar, EDU_DMA_SRC, src);
  hil_wr64(bar, EDU_DMA_DST, dst);
  hil_wr64(bar, EDU_DMA_COUNT, EDU_DMA_XFER);
  hil_wr64(bar, EDU_DMA_CMD, cmd | EDU_DMA_START | EDU_DMA_IRQ);
  wait_irq(uio, bar, EDU_DMA_IRQ_BIT);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <bdf> [round-trips] [dma-transfers]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *bdf = argv[1];
  unsigned long n = argc > 2 ? hil_arg_ulong(argv[2], "round-trips") : 2000;
  unsigned long ndma = argc > 3 ? hil_arg_ulong(argv[3], "dma-transfers") : 2;
  char path[512], uioname[256] = "";

  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/uio", bdf);
  DIR *d = opendir(path);
  HIL_CHECK(d, "%s (is the device bound to uio_pci_generic?)", path);
  for (struct dirent *e; (e = readdir(d));)
    if (!strncmp(e->d_name, "uio", 3)) snprintf(uioname, sizeof uioname, "%s", e->d_name);
  closedir(d);
  HIL_EXPECT(uioname[0], "no uio device under %s", path);
  snprintf(path, sizeof path, "/dev/%s", uioname);
  int uio = open(path, O_RDWR | O_CLOEXEC);
  HIL_CHECK(uio >= 0, "open %s", path);
  uint32_t one = 1;
  errno = 0;
  HIL_EXPECT(write(uio, &one, sizeof one) < 0 && errno == ENOSYS,
             "expected ENOSYS from irqcontrol on uio_pci_generic (errno %d)", errno);
  printf("%s: %s, no irqcontrol (ENOSYS) as expected\n", bdf, path);

  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/config", bdf);
  cfg_fd = open(path, O_RDWR | O_CLOEXEC);
  HIL_CHECK(cfg_fd >= 0, "open %s", path);
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/resource0", bdf);
  int res = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
  HIL_CHECK(res >= 0, "open %s", path);
  volatile void *bar = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, res, 0);
  HIL_CHECK(bar != MAP_FAILED, "mmap %s", path);
  HIL_EXPECT((hil_rd32(bar, EDU_ID) & 0xff) == 0xed, "not an edu device");
  cfg_write16(PCI_COMMAND, (uint16_t)(cfg_read16(PCI_COMMAND) | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY));
  intx_reenable();

  hil_deadline(90, "UIO INTx round trips (an interrupt was lost)");
  struct hil_stats s;
  hil_stats_init(&s, "uio_intx", "edu raise -> /dev/uioN read(); ack; clear INTx-disable in config", n);
  s.t_begin = hil_now_ns();
  for (unsigned long i = 0; i < n; i++) {
    uint64_t t0 = hil_now_ns();
    hil_wr32(bar, EDU_IRQ_RAISE, 1);
    uint32_t count;
    HIL_CHECK(read(uio, &count, sizeof count) == sizeof count, "read /dev/uio");
    hil_stats_add(&s, hil_now_ns() - t0);
    HIL_EXPECT(hil_rd32(bar, EDU_IRQ_STATUS) & 1, "round trip %lu: status bit not set", i);
    hil_wr32(bar, EDU_IRQ_ACK, 1);
    intx_reenable();
  }
  s.t_end = hil_now_ns();
  hil_stats_report(&s);
  hil_stats_free(&s);

  uint8_t *src = mmap(NULL, EDU_DMA_BUF_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
  uint8_t *dst = mmap(NULL, EDU_DMA_BUF_SIZE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
  HIL_CHECK(src != MAP_FAILED && dst != MAP_FAILED, "mmap locked DMA pages");
  uint64_t psrc = phys_addr(src), pdst = phys_addr(dst);
  struct hil_stats to, from;
  hil_stats_init(&to, "uio_dma_to_device", "2 KiB RAM -> edu by physical address, start -> INTx read", ndma);
  hil_stats_init(&from, "uio_dma_from_device", "2 KiB edu -> RAM by physical address, start -> INTx read", ndma);
  hil_deadline(60, "UIO DMA (a completion interrupt was lost)");
  to.t_begin = from.t_begin = hil_now_ns();
  for (unsigned long i = 0; i < ndma; i++) {
    for (unsigned k = 0; k < EDU_DMA_BUF_SIZE; k++) src[k] = (uint8_t)(k * 3 + i * 5 + 7);
    memset(dst, 0, EDU_DMA_BUF_SIZE);
    uint64_t t0 = hil_now_ns();
    dma(bar, uio, psrc, EDU_DMA_BUF, 0);
    uint64_t t1 = hil_now_ns();
    dma(bar, uio, EDU_DMA_BUF, pdst, EDU_DMA_TO_RAM);
    hil_stats_add(&to, t1 - t0);
    hil_stats_add(&from, hil_now_ns() - t1);
    HIL_EXPECT(!memcmp(src, dst, EDU_DMA_XFER), "transfer %lu: data differs (iommu=pt missing?)", i);
  }
  to.t_end = from.t_end = hil_now_ns();
  hil_deadline(0, "");
  printf("DMA by physical address 0x%llx / 0x%llx: %lu x 2 KiB each way, data identical\n",
         (unsigned long long)psrc, (unsigned long long)pdst, ndma);
  hil_stats_report(&to);
  hil_stats_report(&from);
  hil_figure_string("device", "bdf", bdf);
  hil_figures_write();
  printf("EDU UIO INTX PASS\n");
  return 0;
}
