#define _GNU_SOURCE
#include "hil_vfio.h"

#include <errno.h>
#include <fcntl.h>
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

void hil_vfio_open(struct hil_vfio *v, const char *bdf) {
  memset(v, 0, sizeof *v);
  snprintf(v->bdf, sizeof v->bdf, "%s", bdf);
  char path[256], link[256];
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/iommu_group", bdf);
  ssize_t n = readlink(path, link, sizeof link - 1);
  HIL_CHECK(n > 0, "%s: no IOMMU group (is an IOMMU enabled? %s)", bdf, path);
  link[n] = 0;
  v->group_nr = atoi(strrchr(link, '/') + 1);

  v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  HIL_CHECK(v->container >= 0, "open /dev/vfio/vfio");
  HIL_EXPECT(ioctl(v->container, VFIO_GET_API_VERSION) == VFIO_API_VERSION, "VFIO API version");
  snprintf(path, sizeof path, "/dev/vfio/%d", v->group_nr);
  v->group = open(path, O_RDWR | O_CLOEXEC);
  HIL_CHECK(v->group >= 0, "open %s", path);
  struct vfio_group_status st = {.argsz = sizeof st};
  HIL_CHECK(ioctl(v->group, VFIO_GROUP_GET_STATUS, &st) == 0, "VFIO_GROUP_GET_STATUS");
  HIL_EXPECT(st.flags & VFIO_GROUP_FLAGS_VIABLE, "group %d not viable (all its devices must be bound to vfio-pci)",
             v->group_nr);
  HIL_CHECK(ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) == 0, "VFIO_GROUP_SET_CONTAINER");
  int type = ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1 ? VFIO_TYPE1v2_IOMMU
                                                                                 : VFIO_TYPE1_IOMMU;
  HIL_CHECK(ioctl(v->container, VFIO_SET_IOMMU, type) == 0, "VFIO_SET_IOMMU");
  v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
  HIL_CHECK(v->device >= 0, "VFIO_GROUP_GET_DEVICE_FD %s", bdf);
  v->info.argsz = sizeof v->info;
  HIL_CHECK(ioctl(v->device, VFIO_DEVICE_GET_INFO, &v->info) == 0, "VFIO_DEVICE_GET_INFO");
  HIL_EXPECT(v->info.flags & VFIO_DEVICE_FLAGS_PCI, "%s is not a PCI device", bdf);
}

void hil_vfio_close(struct hil_vfio *v) {
  if (v->device >= 0) close(v->device);
  if (v->group >= 0) close(v->group);
  if (v->container >= 0) close(v->container);
  v->device = v->group = v->container = -1;
}

struct vfio_region_info *hil_vfio_region_info(struct hil_vfio *v, unsigned index) {
  size_t sz = sizeof(struct vfio_region_info);
  for (;;) {
    struct vfio_region_info *r = calloc(1, sz);
    HIL_CHECK(r, "calloc");
    r->argsz = (uint32_t)sz;
    r->index = index;
    if (ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, r) != 0) {
      int e = errno;
      free(r);
      errno = e;
      return NULL;
    }
    if (r->argsz <= sz) return r;
    sz = r->argsz; /* the capability chain did not fit: ask again with room for it */
    free(r);
  }
}

void *hil_vfio_map_bar(struct hil_vfio *v, unsigned index, size_t *size) {
  struct vfio_region_info *r = hil_vfio_region_info(v, index);
  HIL_CHECK(r, "region info %u", index);
  HIL_EXPECT(r->size && (r->flags & VFIO_REGION_INFO_FLAG_MMAP), "BAR%u: size %llu flags 0x%x: not mmap-able",
             index, (unsigned long long)r->size, r->flags);
  void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device, (off_t)r->offset);
  HIL_CHECK(p != MAP_FAILED, "mmap BAR%u", index);
  if (size) *size = r->size;
  free(r);
  return p;
}

static uint64_t cfg_offset(struct hil_vfio *v) {
  static uint64_t off = UINT64_MAX;
  if (off == UINT64_MAX) {
    struct vfio_region_info *r = hil_vfio_region_info(v, VFIO_PCI_CONFIG_REGION_INDEX);
    HIL_CHECK(r, "config region info");
    off = r->offset;
    free(r);
  }
  return off;
}

uint32_t hil_vfio_cfg_read(struct hil_vfio *v, unsigned off, unsigned width) {
  uint32_t val = 0;
  HIL_CHECK(pread(v->device, &val, width, (off_t)(cfg_offset(v) + off)) == (ssize_t)width, "config read 0x%x", off);
  return val;
}

void hil_vfio_cfg_write(struct hil_vfio *v, unsigned off, unsigned width, uint32_t value) {
  HIL_CHECK(pwrite(v->device, &value, width, (off_t)(cfg_offset(v) + off)) == (ssize_t)width, "config write 0x%x",
            off);
}

void hil_vfio_enable_bus_master(struct hil_vfio *v) {
  uint32_t cmd = hil_vfio_cfg_read(v, PCI_COMMAND, 2);
  hil_vfio_cfg_write(v, PCI_COMMAND, 2, cmd | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
}

int hil_vfio_irq_info(struct hil_vfio *v, unsigned index, struct vfio_irq_info *out) {
  memset(out, 0, sizeof *out);
  out->argsz = sizeof *out;
  out->index = index;
  return ioctl(v->device, VFIO_DEVICE_GET_IRQ_INFO, out) == 0 ? 0 : -1;
}

static int set_irqs(struct hil_vfio *v, unsigned index, uint32_t flags, unsigned start, unsigned count,
                    const int *fds) {
  size_t sz = sizeof(struct vfio_irq_set) + (fds ? count * sizeof(int) : 0);
  struct vfio_irq_set *s = calloc(1, sz);
  HIL_CHECK(s, "calloc");
  s->argsz = (uint32_t)sz;
  s->flags = flags;
  s->index = index;
  s->start = start;
  s->count = count;
  if (fds) memcpy(s->data, fds, count * sizeof(int));
  int rc = ioctl(v->device, VFIO_DEVICE_SET_IRQS, s);
  int e = errno;
  free(s);
  errno = e;
  return rc == 0 ? 0 : -e;
}

void hil_vfio_irq_enable(struct hil_vfio *v, unsigned index, unsigned count, int *fds, int efd_flags) {
  for (unsigned i = 0; i < count; i++) {
    fds[i] = eventfd(0, EFD_CLOEXEC | efd_flags);
    HIL_CHECK(fds[i] >= 0, "eventfd");
  }
  HIL_CHECK(set_irqs(v, index, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, count, fds) == 0,
            "VFIO_DEVICE_SET_IRQS index %u: %u eventfds", index, count);
}

void hil_vfio_irq_set_fd(struct hil_vfio *v, unsigned index, uint32_t action, int fd) {
  HIL_CHECK(set_irqs(v, index, VFIO_IRQ_SET_DATA_EVENTFD | action, 0, 1, &fd) == 0,
            "VFIO_DEVICE_SET_IRQS index %u action 0x%x eventfd", index, action);
}

int hil_vfio_irq_none(struct hil_vfio *v, unsigned index, uint32_t action, unsigned start, unsigned count) {
  return set_irqs(v, index, VFIO_IRQ_SET_DATA_NONE | action, start, count, NULL);
}

void hil_vfio_irq_disable(struct hil_vfio *v, unsigned index) {
  HIL_CHECK(hil_vfio_irq_none(v, index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0) == 0, "disable IRQ index %u", index);
}

void *hil_dma_alloc(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  HIL_CHECK(p != MAP_FAILED, "mmap %zu bytes for DMA", size);
  return p;
}

void hil_vfio_dma_map(struct hil_vfio *v, void *vaddr, size_t size, uint64_t iova) {
  struct vfio_iommu_type1_dma_map m = {
      .argsz = sizeof m,
      .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
      .vaddr = (uintptr_t)vaddr,
      .iova = iova,
      .size = size,
  };
  HIL_CHECK(ioctl(v->container, VFIO_IOMMU_MAP_DMA, &m) == 0,
            "VFIO_IOMMU_MAP_DMA %zu bytes at IOVA 0x%llx (RLIMIT_MEMLOCK?)", size, (unsigned long long)iova);
}

uint64_t hil_vfio_dma_unmap(struct hil_vfio *v, size_t size, uint64_t iova) {
  struct vfio_iommu_type1_dma_unmap u = {.argsz = sizeof u, .iova = iova, .size = size};
  HIL_CHECK(ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &u) == 0, "VFIO_IOMMU_UNMAP_DMA IOVA 0x%llx",
            (unsigned long long)iova);
  return u.size;
}

uint64_t hil_eventfd_wait(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int n = poll(&p, 1, timeout_ms);
  HIL_CHECK(n >= 0, "poll");
  if (n == 0) return 0;
  uint64_t c;
  HIL_CHECK(read(fd, &c, sizeof c) == sizeof c, "read eventfd");
  return c;
}
