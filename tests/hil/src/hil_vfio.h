/* A thin VFIO (type1 container + group) layer for the HIL guest programs: open a device by PCI
 * address, regions and config space, interrupts through eventfds, DMA mappings. Every failure is
 * fatal (HIL_FAIL) because these programs are tests: the first broken step is the finding. */
#ifndef HIL_VFIO_H
#define HIL_VFIO_H

#include <linux/vfio.h>
#include <stddef.h>
#include <stdint.h>

struct hil_vfio {
  char bdf[32];
  int group_nr;
  int container, group, device;
  struct vfio_device_info info;
};

/* Opens the container, the device's group (/dev/vfio/<iommu_group>) and the device. */
void hil_vfio_open(struct hil_vfio *v, const char *bdf);
void hil_vfio_close(struct hil_vfio *v);

/* Region info, growing argsz to fetch the capability chain. Returns NULL (errno set) where the
 * kernel refuses the index (e.g. VGA on a device without VGA). Caller frees. */
struct vfio_region_info *hil_vfio_region_info(struct hil_vfio *v, unsigned index);
void *hil_vfio_map_bar(struct hil_vfio *v, unsigned index, size_t *size);

uint32_t hil_vfio_cfg_read(struct hil_vfio *v, unsigned off, unsigned width);
void hil_vfio_cfg_write(struct hil_vfio *v, unsigned off, unsigned width, uint32_t value);
/* Sets PCI_COMMAND_MASTER (and MEMORY): without it MSI writes and DMA are dropped. */
void hil_vfio_enable_bus_master(struct hil_vfio *v);

/* 0 and errno on a refused index. */
int hil_vfio_irq_info(struct hil_vfio *v, unsigned index, struct vfio_irq_info *out);
/* Creates count eventfds (flags for eventfd()) and attaches them as the triggers of index. */
void hil_vfio_irq_enable(struct hil_vfio *v, unsigned index, unsigned count, int *fds, int efd_flags);
/* Attaches fd to an action (VFIO_IRQ_SET_ACTION_UNMASK / _MASK) of vector 0 of index. */
void hil_vfio_irq_set_fd(struct hil_vfio *v, unsigned index, uint32_t action, int fd);
/* DATA_NONE with an action: ACTION_TRIGGER fires vectors [start, start+count) by software,
 * ACTION_UNMASK unmasks INTx. Returns 0 or -errno. */
int hil_vfio_irq_none(struct hil_vfio *v, unsigned index, uint32_t action, unsigned start, unsigned count);
void hil_vfio_irq_disable(struct hil_vfio *v, unsigned index);

/* Anonymous, locked, zeroed memory for DMA. */
void *hil_dma_alloc(size_t size);
void hil_vfio_dma_map(struct hil_vfio *v, void *vaddr, size_t size, uint64_t iova);
/* Returns the size the kernel reports as unmapped. */
uint64_t hil_vfio_dma_unmap(struct hil_vfio *v, size_t size, uint64_t iova);

uint64_t hil_eventfd_wait(int fd, int timeout_ms); /* the counter, or 0 on timeout */

#endif
