/* vfio_probe <bdf>
 *
 * Device-agnostic VFIO test for any PCI function bound to vfio-pci, on an emulated device in the
 * HIL guest or on a real card on a real machine (tests/hil/README.md). It only reads the device and
 * never starts it: regions and their capability chains (each mmap-able BAR is mapped), the config
 * space capability lists cross-checked against what VFIO reports, IRQ info per index, a
 * software-triggered interrupt (VFIO_IRQ_SET_DATA_NONE | ACTION_TRIGGER) on every vector of every
 * index, which must arrive on that vector's eventfd and no other, and DMA map/unmap inside the
 * IOVA ranges the IOMMU reports. Figures: sw_trigger, dma_map_unmap_4k. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/pci_regs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hil_util.h"
#include "hil_vfio.h"

static const char *irq_names[] = {"INTx", "MSI", "MSI-X", "ERR", "REQ"};
static const char *region_names[] = {"BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA"};

static void probe_regions(struct hil_vfio *v) {
  for (unsigned i = 0; i < v->info.num_regions; i++) {
    const char *name = i < 9 ? region_names[i] : "device-specific";
    struct vfio_region_info *r = hil_vfio_region_info(v, i);
    if (!r) {
      /* The VGA region exists only on VGA devices. */
      HIL_CHECK(i == VFIO_PCI_VGA_REGION_INDEX && errno == EINVAL, "region %u (%s) info", i, name);
      printf("region %u %-7s: absent (EINVAL)\n", i, name);
      continue;
    }
    printf("region %u %-7s: size 0x%llx flags 0x%x%s%s%s\n", i, name, (unsigned long long)r->size, r->flags,
           r->flags & VFIO_REGION_INFO_FLAG_READ ? " read" : "", r->flags & VFIO_REGION_INFO_FLAG_WRITE ? " write" : "",
           r->flags & VFIO_REGION_INFO_FLAG_MMAP ? " mmap" : "");
    struct vfio_region_sparse_mmap_area *areas = NULL;
    unsigned nareas = 0;
    if (r->flags & VFIO_REGION_INFO_FLAG_CAPS) {
      uint32_t off = r->cap_offset;
      for (int guard = 0; off && guard < 16; guard++) {
        HIL_EXPECT(off + sizeof(struct vfio_info_cap_header) <= r->argsz, "region %u: capability outside argsz", i);
        struct vfio_info_cap_header *h = (void *)((char *)r + off);
        switch (h->id) {
          case VFIO_REGION_INFO_CAP_SPARSE_MMAP: {
            struct vfio_region_info_cap_sparse_mmap *s = (void *)h;
            areas = s->areas;
            nareas = s->nr_areas;
            printf("  cap sparse mmap: %u areas\n", nareas);
            for (unsigned a = 0; a < nareas; a++)
              printf("    [0x%llx, +0x%llx)\n", (unsigned long long)areas[a].offset, (unsigned long long)areas[a].size);
            break;
          }
          case VFIO_REGION_INFO_CAP_TYPE: {
            struct vfio_region_info_cap_type *t = (void *)h;
            printf("  cap type %u subtype %u\n", t->type, t->subtype);
            break;
          }
          case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
            printf("  cap MSI-X mappable (the MSI-X table may be mmapped)\n");
            break;
          default:
            printf("  cap id %u version %u\n", h->id, h->version);
        }
        off = h->next;
      }
    }
    if (i <= VFIO_PCI_BAR5_REGION_INDEX && r->size && (r->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
      struct vfio_region_sparse_mmap_area whole = {.offset = 0, .size = r->size};
      if (!areas) {
        areas = &whole;
        nareas = 1;
      }
      for (unsigned a = 0; a < nareas; a++) {
        if (!areas[a].size) continue;
        void *p = mmap(NULL, areas[a].size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device,
                       (off_t)(r->offset + areas[a].offset));
        HIL_CHECK(p != MAP_FAILED, "mmap %s area %u", name, a);
        munmap(p, areas[a].size);
      }
      printf("  mmapped and unmapped %u area(s)\n", nareas);
    }
    free(r);
  }
}

/* Walks the config space capability lists; returns the MSI-X table size and the MSI vector count
 * the device advertises, for the cross-check with VFIO's IRQ info. */
static void probe_config(struct hil_vfio *v, unsigned *msix_n, unsigned *msi_n, unsigned *pin) {
  struct vfio_region_info *r = hil_vfio_region_info(v, VFIO_PCI_CONFIG_REGION_INDEX);
  HIL_CHECK(r, "config region info");
  unsigned size = (unsigned)r->size;
  free(r);
  printf("config space: %u bytes, vendor %04x device %04x class %06x header type 0x%02x\n", size,
         hil_vfio_cfg_read(v, PCI_VENDOR_ID, 2), hil_vfio_cfg_read(v, PCI_DEVICE_ID, 2),
         hil_vfio_cfg_read(v, PCI_CLASS_REVISION, 4) >> 8, hil_vfio_cfg_read(v, PCI_HEADER_TYPE, 1));
  *msix_n = *msi_n = 0;
  *pin = hil_vfio_cfg_read(v, PCI_INTERRUPT_PIN, 1);
  if (hil_vfio_cfg_read(v, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) {
    unsigned pos = hil_vfio_cfg_read(v, PCI_CAPABILITY_LIST, 1) & ~3u;
    for (int guard = 0; pos >= 0x40 && guard < 48; guard++) {
      unsigned id = hil_vfio_cfg_read(v, pos, 1);
      printf("  cap 0x%02x at 0x%02x\n", id, pos);
      if (id == PCI_CAP_ID_MSIX) *msix_n = (hil_vfio_cfg_read(v, pos + PCI_MSIX_FLAGS, 2) & PCI_MSIX_FLAGS_QSIZE) + 1;
      if (id == PCI_CAP_ID_MSI) *msi_n = 1u << ((hil_vfio_cfg_read(v, pos + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QMASK) >> 1);
      pos = hil_vfio_cfg_read(v, pos + 1, 1) & ~3u;
      HIL_EXPECT(guard < 47, "capability list does not end");
    }
  }
  if (size > 256) {
    unsigned pos = 0x100;
    for (int guard = 0; pos && guard < 64; guard++) {
      uint32_t h = hil_vfio_cfg_read(v, pos, 4);
      if (!h || h == 0xffffffff) break;
      printf("  ext cap 0x%04x v%u at 0x%03x\n", h & 0xffff, (h >> 16) & 0xf, pos);
      pos = h >> 20;
      HIL_EXPECT(!pos || pos >= 0x100, "extended capability pointer 0x%x", pos);
    }
  }
}

static struct hil_stats trig;

static void trigger_every_vector(struct hil_vfio *v, unsigned index, unsigned count) {
  int *fds = calloc(count, sizeof *fds);
  HIL_CHECK(fds, "calloc");
  hil_vfio_irq_enable(v, index, count, fds, EFD_NONBLOCK);
  for (unsigned i = 0; i < count; i++) {
    uint64_t t0 = hil_now_ns();
    int rc = hil_vfio_irq_none(v, index, VFIO_IRQ_SET_ACTION_TRIGGER, i, 1);
    HIL_EXPECT(rc == 0, "%s vector %u: software trigger failed: %s", irq_names[index], i, strerror(-rc));
    uint64_t c = hil_eventfd_wait(fds[i], 2000);
    hil_stats_add(&trig, hil_now_ns() - t0);
    HIL_EXPECT(c == 1, "%s vector %u: software trigger did not arrive on its eventfd", irq_names[index], i);
    for (unsigned k = 0; k < count; k++)
      if (k != i && read(fds[k], &c, sizeof c) == sizeof c)
        HIL_FAIL("%s vector %u: the trigger also fired vector %u", irq_names[index], i, k);
    if (index == VFIO_PCI_INTX_IRQ_INDEX) hil_vfio_irq_none(v, index, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1);
  }
  HIL_CHECK(hil_vfio_irq_none(v, index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0) == 0, "disable %s", irq_names[index]);
  for (unsigned i = 0; i < count; i++) close(fds[i]);
  free(fds);
  printf("  software trigger: all %u %s vector(s) fired on their own eventfd only\n", count, irq_names[index]);
}

static void probe_irqs(struct hil_vfio *v, unsigned msix_n, unsigned msi_n, unsigned pin) {
  unsigned total = 0;
  for (unsigned i = 0; i < v->info.num_irqs; i++) {
    struct vfio_irq_info ii;
    if (hil_vfio_irq_info(v, i, &ii)) {
      /* ERR exists only on PCIe functions. */
      HIL_CHECK(i == VFIO_PCI_ERR_IRQ_INDEX && errno == EINVAL, "irq info %u", i);
      printf("irq %u %-5s: absent (EINVAL)\n", i, i < 5 ? irq_names[i] : "?");
      continue;
    }
    printf("irq %u %-5s: count %u flags 0x%x%s%s%s%s\n", i, i < 5 ? irq_names[i] : "?", ii.count, ii.flags,
           ii.flags & VFIO_IRQ_INFO_EVENTFD ? " eventfd" : "", ii.flags & VFIO_IRQ_INFO_MASKABLE ? " maskable" : "",
           ii.flags & VFIO_IRQ_INFO_AUTOMASKED ? " automasked" : "", ii.flags & VFIO_IRQ_INFO_NORESIZE ? " noresize" : "");
    char key[16];
    snprintf(key, sizeof key, "irq_%s", i < 5 ? irq_names[i] : "other");
    hil_figure_value("device", key, ii.count);
    if (i == VFIO_PCI_MSIX_IRQ_INDEX)
      HIL_EXPECT(ii.count == msix_n, "VFIO MSI-X count %u, config space says %u", ii.count, msix_n);
    if (i == VFIO_PCI_MSI_IRQ_INDEX)
      HIL_EXPECT(ii.count == msi_n, "VFIO MSI count %u, config space says %u", ii.count, msi_n);
    if (i == VFIO_PCI_INTX_IRQ_INDEX)
      HIL_EXPECT(ii.count == (pin ? 1u : 0u), "VFIO INTx count %u, interrupt pin %u", ii.count, pin);
    if (ii.count && i < 5 && (ii.flags & VFIO_IRQ_INFO_EVENTFD)) {
      trigger_every_vector(v, i, ii.count);
      total += ii.count;
    }
  }
  printf("software-triggered %u vectors in all\n", total);
}

static void probe_dma(struct hil_vfio *v) {
  size_t sz = sizeof(struct vfio_iommu_type1_info);
  struct vfio_iommu_type1_info *info;
  for (;;) {
    info = calloc(1, sz);
    HIL_CHECK(info, "calloc");
    info->argsz = (uint32_t)sz;
    HIL_CHECK(ioctl(v->container, VFIO_IOMMU_GET_INFO, info) == 0, "VFIO_IOMMU_GET_INFO");
    if (info->argsz <= sz) break;
    sz = info->argsz;
    free(info);
  }
  printf("IOMMU: page sizes 0x%llx\n", (unsigned long long)info->iova_pgsizes);
  uint64_t base = 0, limit = 0;
  if (info->flags & VFIO_IOMMU_INFO_CAPS) {
    uint32_t off = info->cap_offset;
    for (int guard = 0; off && guard < 16; guard++) {
      struct vfio_info_cap_header *h = (void *)((char *)info + off);
      if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
        struct vfio_iommu_type1_info_cap_iova_range *c = (void *)h;
        for (unsigned i = 0; i < c->nr_iovas; i++) {
          printf("  IOVA range [0x%llx, 0x%llx]\n", (unsigned long long)c->iova_ranges[i].start,
                 (unsigned long long)c->iova_ranges[i].end);
          /* The first range with 16 MiB of room above 1 MiB. */
          uint64_t s = c->iova_ranges[i].start < 0x100000 ? 0x100000 : c->iova_ranges[i].start;
          s = (s + 0x1fffff) & ~0x1fffffull;
          if (!limit && c->iova_ranges[i].end > s && c->iova_ranges[i].end - s >= (16u << 20)) {
            base = s;
            limit = c->iova_ranges[i].end;
          }
        }
      } else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
        printf("  DMA mappings available: %u\n", ((struct vfio_iommu_type1_info_dma_avail *)h)->avail);
      }
      off = h->next;
    }
  }
  free(info);
  if (!limit) base = 0x100000; /* an old kernel without the IOVA range capability */
  printf("  mapping at IOVA 0x%llx\n", (unsigned long long)base);

  size_t sizes[] = {4096, 65536, 2u << 20};
  uint64_t iova = base;
  for (unsigned k = 0; k < 3; k++) {
    void *buf = hil_dma_alloc(sizes[k]);
    hil_vfio_dma_map(v, buf, sizes[k], iova);
    struct vfio_iommu_type1_dma_map again = {.argsz = sizeof again, .flags = VFIO_DMA_MAP_FLAG_READ,
                                             .vaddr = (uintptr_t)buf, .iova = iova, .size = sizes[k]};
    errno = 0;
    HIL_EXPECT(ioctl(v->container, VFIO_IOMMU_MAP_DMA, &again) != 0 && errno == EEXIST,
               "mapping IOVA 0x%llx twice did not fail with EEXIST (errno %d)", (unsigned long long)iova, errno);
    HIL_EXPECT(hil_vfio_dma_unmap(v, sizes[k], iova) == sizes[k], "unmap of %zu bytes", sizes[k]);
    HIL_EXPECT(hil_vfio_dma_unmap(v, sizes[k], iova) == 0, "second unmap of %zu bytes unmapped something", sizes[k]);
    munmap(buf, sizes[k]);
    printf("  %zu bytes: mapped, double map refused (EEXIST), unmapped, double unmap empty\n", sizes[k]);
    iova += 4u << 20;
  }
  struct hil_stats s;
  hil_stats_init(&s, "dma_map_unmap_4k", "VFIO_IOMMU_MAP_DMA + UNMAP_DMA of one 4 KiB page", 200);
  void *page = hil_dma_alloc(4096);
  s.t_begin = hil_now_ns();
  for (int i = 0; i < 200; i++) {
    uint64_t t0 = hil_now_ns();
    hil_vfio_dma_map(v, page, 4096, base);
    hil_vfio_dma_unmap(v, 4096, base);
    hil_stats_add(&s, hil_now_ns() - t0);
  }
  s.t_end = hil_now_ns();
  hil_stats_report(&s);
  hil_stats_free(&s);
}

int main(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr,
            "usage: %s <bdf>\n"
            "Device-agnostic VFIO checks of a PCI function bound to vfio-pci (see tests/hil/README.md).\n"
            "It never starts the device: regions, config capabilities, IRQ info, a software-triggered\n"
            "interrupt on every vector, DMA map/unmap. Exit status 0 iff every check passed.\n",
            argv[0]);
    return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct hil_vfio v;
  hil_vfio_open(&v, argv[1]);
  printf("%s: group %d, flags 0x%x%s, %u regions, %u irq indexes\n", v.bdf, v.group_nr, v.info.flags,
         v.info.flags & VFIO_DEVICE_FLAGS_RESET ? " (reset supported)" : "", v.info.num_regions, v.info.num_irqs);
  probe_regions(&v);
  unsigned msix_n, msi_n, pin;
  probe_config(&v, &msix_n, &msi_n, &pin);
  hil_stats_init(&trig, "sw_trigger", "ioctl(DATA_NONE|ACTION_TRIGGER) -> the vector's eventfd readable", 4096);
  trig.t_begin = hil_now_ns();
  probe_irqs(&v, msix_n, msi_n, pin);
  trig.t_end = hil_now_ns();
  if (trig.n) hil_stats_report(&trig);
  probe_dma(&v);
  hil_figure_string("device", "bdf", v.bdf);
  hil_figure_value("device", "regions", v.info.num_regions);
  hil_figures_write();
  hil_vfio_close(&v);
  printf("VFIO PROBE PASS\n");
  return 0;
}
