/* nvme_vfio_msix <bdf> [vector|last] [reads]
 *
 * MSI-X on QEMU's emulated NVMe controller through vfio-pci: every MSI-X vector VFIO reports is
 * enabled with its own eventfd; the admin queue completes on vector 0 (Identify), an I/O completion
 * queue is created on the chosen vector and Reads of LBA 0 (seeded by the host) complete there and
 * nowhere else. A Write of LBA 1 is checked by the host in the backing file after the run.
 * Figures: nvme_msix_read (doorbell -> eventfd read() of the chosen vector, 512-byte reads).
 * It writes to the disk, so it refuses any controller but QEMU's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hil_util.h"
#include "hil_vfio.h"

#define IOVA_BASE 0x20000000ull
#define QSIZE 64u
#define SEED "HIL-NVME-LBA0"          /* written at offset 0 of the backing file by the host */
#define WRITTEN "HIL-NVME-WRITTEN-BY-GUEST" /* checked at offset 512 by the host after the run */

enum { CAP = 0x00, VS = 0x08, CC = 0x14, CSTS = 0x1c, AQA = 0x24, ASQ = 0x28, ACQ = 0x30, DBS = 0x1000 };
enum { OFF_ASQ = 0x0000, OFF_ACQ = 0x1000, OFF_IOSQ = 0x2000, OFF_IOCQ = 0x3000, OFF_ID = 0x4000,
       OFF_DATA = 0x5000, DMA_SIZE = 0x10000 };

struct queue {
  volatile uint8_t *sq, *cq;
  uint16_t qid, sq_tail, cq_head;
  int phase;
  int efd; /* eventfd of the vector this queue's completions interrupt */
};

static volatile void *bar;
static unsigned dstrd;
static uint8_t *mem;
static uint16_t next_cid = 1;

static void doorbell(unsigned idx, uint32_t v) { hil_wr32(bar, DBS + idx * (4u << dstrd), v); }

static uint16_t submit(struct queue *q, uint32_t cmd[16]) {
  uint16_t cid = next_cid++;
  cmd[0] |= (uint32_t)cid << 16;
  memcpy((void *)(q->sq + q->sq_tail * 64u), cmd, 64);
  q->sq_tail = (uint16_t)((q->sq_tail + 1) % QSIZE);
  __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the entry must be visible before the doorbell */
  doorbell(2u * q->qid, q->sq_tail);
  return cid;
}

/* Consumes one completion after its interrupt; returns the status field (0 = success). */
static uint16_t reap(struct queue *q, uint16_t cid) {
  volatile uint32_t *e = (volatile uint32_t *)(q->cq + q->cq_head * 16u);
  uint32_t dw3 = e[3];
  HIL_EXPECT(((dw3 >> 16) & 1) == (uint32_t)q->phase, "queue %u: interrupt without a new completion", q->qid);
  HIL_EXPECT((dw3 & 0xffff) == cid, "queue %u: completion for cid %u, expected %u", q->qid, dw3 & 0xffff, cid);
  if (++q->cq_head == QSIZE) {
    q->cq_head = 0;
    q->phase ^= 1;
  }
  doorbell(2u * q->qid + 1, q->cq_head);
  return (uint16_t)(dw3 >> 17);
}

static int *efds;
static unsigned nvec;

/* Waits for the vector of q, then checks that no other vector fired. */
static uint16_t complete(struct queue *q, uint16_t cid, const char *what) {
  HIL_EXPECT(hil_eventfd_wait(q->efd, 5000) > 0, "%s: no interrupt within 5 s", what);
  uint16_t st = reap(q, cid);
  for (unsigned i = 0; i < nvec; i++) {
    uint64_t c;
    if (efds[i] != q->efd && read(efds[i], &c, sizeof c) == sizeof c)
      HIL_FAIL("%s: stray interrupt on MSI-X vector %u", what, i);
  }
  printf("  %s: cid %u status 0x%x\n", what, cid, st);
  HIL_EXPECT(st == 0, "%s failed with status 0x%x", what, st);
  return st;
}

static void wait_ready(int want) {
  uint64_t cap = hil_rd64(bar, CAP);
  uint64_t limit_ns = ((cap >> 24) & 0xff) * 500000000ull + 1000000000ull; /* CAP.TO is in 500 ms */
  uint64_t t0 = hil_now_ns();
  while ((int)(hil_rd32(bar, CSTS) & 1) != want) {
    HIL_EXPECT(hil_now_ns() - t0 < limit_ns, "CSTS.RDY did not become %d", want);
    usleep(100); /* the controller's documented way: poll CSTS within CAP.TO */
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <bdf> [vector|last] [reads]\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  unsigned long reads = argc > 3 ? hil_arg_ulong(argv[3], "reads") : 1000;
  struct hil_vfio v;
  hil_vfio_open(&v, argv[1]);
  size_t barsz;
  bar = hil_vfio_map_bar(&v, VFIO_PCI_BAR0_REGION_INDEX, &barsz);
  struct vfio_irq_info msix, msi, intx;
  HIL_CHECK(hil_vfio_irq_info(&v, VFIO_PCI_MSIX_IRQ_INDEX, &msix) == 0, "MSI-X info");
  HIL_CHECK(hil_vfio_irq_info(&v, VFIO_PCI_MSI_IRQ_INDEX, &msi) == 0, "MSI info");
  HIL_CHECK(hil_vfio_irq_info(&v, VFIO_PCI_INTX_IRQ_INDEX, &intx) == 0, "INTx info");
  printf("BAR0 %zu bytes, VFIO MSI-X count %u (flags 0x%x), MSI count %u, INTx count %u\n", barsz, msix.count,
         msix.flags, msi.count, intx.count);
  HIL_EXPECT(msix.count >= 2, "need at least 2 MSI-X vectors");
  nvec = msix.count;
  unsigned vec = nvec - 1;
  if (argc > 2 && strcmp(argv[2], "last")) vec = (unsigned)hil_arg_ulong(argv[2], "vector");
  HIL_EXPECT(vec > 0 && vec < nvec, "vector %u: must be in 1..%u", vec, nvec - 1);

  /* Every vector, up front: on 6.1 an enabled MSI-X set cannot grow (NORESIZE). */
  efds = calloc(nvec, sizeof *efds);
  HIL_CHECK(efds, "calloc");
  hil_vfio_irq_enable(&v, VFIO_PCI_MSIX_IRQ_INDEX, nvec, efds, EFD_NONBLOCK);
  printf("enabled %u MSI-X vectors with eventfds\n", nvec);
  hil_vfio_enable_bus_master(&v);

  mem = hil_dma_alloc(DMA_SIZE);
  hil_vfio_dma_map(&v, mem, DMA_SIZE, IOVA_BASE);
  uint64_t cap = hil_rd64(bar, CAP);
  dstrd = (unsigned)((cap >> 32) & 0xf);
  printf("CAP %016llx VS %08x MQES %u DSTRD %u\n", (unsigned long long)cap, hil_rd32(bar, VS),
         (unsigned)(cap & 0xffff) + 1, dstrd);
  HIL_EXPECT((cap & 0xffff) + 1 >= QSIZE, "MQES too small");

  hil_wr32(bar, CC, 0);
  wait_ready(0);
  hil_wr32(bar, AQA, ((QSIZE - 1) << 16) | (QSIZE - 1));
  hil_wr64(bar, ASQ, IOVA_BASE + OFF_ASQ);
  hil_wr64(bar, ACQ, IOVA_BASE + OFF_ACQ);
  hil_wr32(bar, CC, (6u << 16) | (4u << 20) | 1u); /* IOSQES 64 B, IOCQES 16 B, 4 KiB pages, EN */
  wait_ready(1);
  struct queue aq = {.sq = mem + OFF_ASQ, .cq = mem + OFF_ACQ, .qid = 0, .phase = 1, .efd = efds[0]};

  uint32_t c[16];
  memset(c, 0, sizeof c); /* Identify Controller */
  c[0] = 0x06;
  c[6] = (uint32_t)(IOVA_BASE + OFF_ID);
  c[7] = (uint32_t)((IOVA_BASE + OFF_ID) >> 32);
  c[10] = 1;
  complete(&aq, submit(&aq, c), "Identify Controller (admin, vector 0)");
  char sn[21] = {0}, mn[41] = {0};
  memcpy(sn, mem + OFF_ID + 4, 20);
  memcpy(mn, mem + OFF_ID + 24, 40);
  uint16_t vid;
  memcpy(&vid, mem + OFF_ID, 2);
  printf("Identify: VID %04x SN '%s' MN '%s'\n", vid, sn, mn);
  HIL_EXPECT(!strncmp(mn, "QEMU NVMe Ctrl", 14), "not QEMU's NVMe controller: this test writes LBA 1, refusing");

  memset(c, 0, sizeof c); /* Identify Namespace 1: the LBA size */
  c[0] = 0x06;
  c[1] = 1;
  c[6] = (uint32_t)(IOVA_BASE + OFF_ID);
  c[7] = (uint32_t)((IOVA_BASE + OFF_ID) >> 32);
  complete(&aq, submit(&aq, c), "Identify Namespace 1 (admin, vector 0)");
  uint8_t flbas = mem[OFF_ID + 26] & 0xf;
  uint32_t lbaf;
  memcpy(&lbaf, mem + OFF_ID + 128 + 4u * flbas, 4);
  unsigned lba_size = 1u << ((lbaf >> 16) & 0xff);
  HIL_EXPECT(lba_size == 512, "LBA size %u: the host checks offset 512, expected 512-byte LBAs", lba_size);

  memset(c, 0, sizeof c); /* Create I/O Completion Queue 1 on the chosen vector */
  c[0] = 0x05;
  c[6] = (uint32_t)(IOVA_BASE + OFF_IOCQ);
  c[7] = (uint32_t)((IOVA_BASE + OFF_IOCQ) >> 32);
  c[10] = ((QSIZE - 1) << 16) | 1;
  c[11] = (vec << 16) | 2u | 1u; /* IV, IEN, PC */
  char what[96];
  snprintf(what, sizeof what, "Create I/O CQ 1 with IV=%u (admin, vector 0)", vec);
  complete(&aq, submit(&aq, c), what);
  memset(c, 0, sizeof c); /* Create I/O Submission Queue 1 -> CQ 1 */
  c[0] = 0x01;
  c[6] = (uint32_t)(IOVA_BASE + OFF_IOSQ);
  c[7] = (uint32_t)((IOVA_BASE + OFF_IOSQ) >> 32);
  c[10] = ((QSIZE - 1) << 16) | 1;
  c[11] = (1u << 16) | 1u;
  complete(&aq, submit(&aq, c), "Create I/O SQ 1 (admin, vector 0)");
  struct queue io = {.sq = mem + OFF_IOSQ, .cq = mem + OFF_IOCQ, .qid = 1, .phase = 1, .efd = efds[vec]};

  uint32_t rd[16];
  memset(rd, 0, sizeof rd); /* Read LBA 0, one block */
  rd[0] = 0x02;
  rd[1] = 1;
  rd[6] = (uint32_t)(IOVA_BASE + OFF_DATA);
  rd[7] = (uint32_t)((IOVA_BASE + OFF_DATA) >> 32);
  memcpy(c, rd, sizeof c);
  snprintf(what, sizeof what, "Read LBA 0 (I/O, vector %u)", vec);
  complete(&io, submit(&io, c), what);
  HIL_EXPECT(!memcmp(mem + OFF_DATA, SEED, strlen(SEED)), "LBA 0 does not hold the host's seed '%s'", SEED);
  printf("LBA0: '%.*s'\n", (int)strlen(SEED), (char *)mem + OFF_DATA);

  /* Raw interrupt round trip on the chosen vector: doorbell write -> blocking read() of its eventfd. */
  /* The other eventfds stay non-blocking for the stray-interrupt checks; this one blocks in read(),
   * as a framework's ISR thread does. */
  int fl_fd = efds[vec];
  HIL_CHECK(fcntl(fl_fd, F_SETFL, fcntl(fl_fd, F_GETFL) & ~O_NONBLOCK) == 0, "fcntl");
  struct hil_stats s;
  hil_stats_init(&s, "nvme_msix_read", "512 B Read: SQ doorbell -> read() of the chosen MSI-X vector's eventfd returns", reads);
  hil_deadline(120, "NVMe reads (a completion interrupt was lost)");
  s.t_begin = hil_now_ns();
  for (unsigned long i = 0; i < reads; i++) {
    memcpy(c, rd, sizeof c);
    uint64_t t0 = hil_now_ns();
    uint16_t cid = submit(&io, c);
    uint64_t cnt;
    HIL_CHECK(read(fl_fd, &cnt, sizeof cnt) == sizeof cnt, "read eventfd");
    hil_stats_add(&s, hil_now_ns() - t0);
    HIL_EXPECT(reap(&io, cid) == 0, "read %lu failed", i);
  }
  s.t_end = hil_now_ns();
  hil_deadline(0, "");
  hil_stats_report(&s);
  hil_stats_free(&s);

  memset(mem + OFF_DATA, 0, 512); /* Write LBA 1: the host finds it in the backing file */
  memcpy(mem + OFF_DATA, WRITTEN, strlen(WRITTEN));
  memcpy(c, rd, sizeof c);
  c[0] = 0x01;
  c[10] = 1;
  snprintf(what, sizeof what, "Write LBA 1 (I/O, vector %u)", vec);
  complete(&io, submit(&io, c), what);
  memset(c, 0, sizeof c);
  c[1] = 1; /* Flush */
  snprintf(what, sizeof what, "Flush (I/O, vector %u)", vec);
  complete(&io, submit(&io, c), what);

  hil_wr32(bar, CC, hil_rd32(bar, CC) | (1u << 14)); /* normal shutdown */
  uint64_t t0 = hil_now_ns();
  while (((hil_rd32(bar, CSTS) >> 2) & 3) != 2) {
    HIL_EXPECT(hil_now_ns() - t0 < 5000000000ull, "shutdown did not complete");
    usleep(100);
  }
  hil_vfio_irq_disable(&v, VFIO_PCI_MSIX_IRQ_INDEX);
  HIL_EXPECT(hil_vfio_dma_unmap(&v, DMA_SIZE, IOVA_BASE) == DMA_SIZE, "unmap");
  hil_figure_value("nvme_msix_read", "vector", vec);
  hil_figure_value("nvme_msix_read", "vectors_enabled", nvec);
  hil_figure_string("device", "bdf", v.bdf);
  hil_figures_write();
  hil_vfio_close(&v);
  printf("NVME MSI-X PASS\n");
  return 0;
}
