// wdfx/bus.hpp: the one narrow interface every bus implements (sim, VFIO, UIO).
//
// A bus hands the framework one `bus::device` per PCI function. Nothing above this interface
// knows whether it talks to vfio-pci, uio_pci_generic or a device model: regions and config space,
// interrupt vectors connected to eventfds the framework owns, DMA mappings, reset, and the events
// (removal requested, error reported, device gone) the bus raises.
//
// The bus conformance suite (tests/unit/bus_conformance.hpp) is written against this interface
// alone, so every bus runs the same checks (the sim bus in the unit tests, VFIO and UIO in the
// HIL guest).
//
// Threads: calls come from the framework's PnP thread (passive) except unmask_intx(), which the
// ISR thread calls after every ISR of a level-triggered line, and trigger(), which tests call
// from any thread. Events are delivered on a thread of the bus's choosing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <wdfx/registers.hpp>
#include <wdfx/status.hpp>

namespace wdfx::bus {

/// Interrupt indexes, in VFIO's order (VFIO_PCI_*_IRQ_INDEX).
enum class irq_kind : std::uint8_t { intx = 0, msi = 1, msix = 2, err = 3, req = 4 };
const char* irq_kind_name(irq_kind k) noexcept;

struct irq_info {
    std::uint32_t count = 0;
    bool eventfd = false;
    bool maskable = false;
    bool automasked = false;  // level-triggered: masked by the bus when it fires (INTx)
    bool noresize = false;    // the vector block cannot grow once enabled (MSI/MSI-X on 6.1)
};

struct region_info {
    std::uint32_t index = 0;
    std::uint64_t size = 0;
    bool readable = false;
    bool writable = false;
    bool mappable = false;
    bool io_port = false;
    /// Parts that can be mmapped when not all of it can (VFIO sparse mmap), as (offset, size).
    std::vector<std::pair<std::uint64_t, std::uint64_t>> sparse;
};

struct pci_id {
    std::uint16_t vendor = 0;
    std::uint16_t device = 0;
    std::uint16_t subsystem_vendor = 0;
    std::uint16_t subsystem_device = 0;
    std::uint32_t class_code = 0;  // base class << 16 | subclass << 8 | prog-if
    std::uint8_t revision = 0;
};

/// What the device's DMA engine can reach: the IOVA ranges the platform allows and the device's
/// address width (a DMA profile).
struct dma_limits {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> iova_ranges;  // [start, end] inclusive
    unsigned address_bits = 64;
    bool iommu = true;  // false: bus addresses are physical addresses (UIO)
};

enum class event_kind : std::uint8_t {
    removal_requested,  // orderly: the hardware is still there (VFIO request IRQ)
    error_reported,     // AER error IRQ: reported to the driver, not a removal
    device_gone,        // surprise removal: do not touch the hardware
};
const char* event_kind_name(event_kind k) noexcept;

class device {
  public:
    virtual ~device() = default;

    /// A stable name: the PCI address ("0000:00:04.0") or "sim:<name>".
    virtual std::string name() const = 0;
    virtual pci_id id() const = 0;

    virtual std::uint32_t num_regions() const = 0;
    virtual result<region_info> region(std::uint32_t index) const = 0;
    /// Map a whole BAR for register access (a model-served block on the sim bus, and on a VFIO
    /// region that can be mmapped only in parts: the areas mapped, the rest through
    /// pread/pwrite).
    virtual result<register_block> map_region(std::uint32_t index) = 0;
    virtual void unmap_region(std::uint32_t index) = 0;
    /// pread/pwrite-style access for regions or parts that cannot be mapped.
    virtual result<std::size_t> region_read(std::uint32_t index, std::uint64_t offset,
                                            std::span<std::byte> out) = 0;
    virtual result<std::size_t> region_write(std::uint32_t index, std::uint64_t offset,
                                             std::span<const std::byte> in) = 0;

    virtual result<std::size_t> config_read(std::uint32_t offset, std::span<std::byte> out) = 0;
    virtual result<std::size_t> config_write(std::uint32_t offset,
                                             std::span<const std::byte> in) = 0;

    virtual irq_info irq(irq_kind kind) const = 0;
    /// Enable a block of `count` vectors of `kind` with no eventfd attached yet (VFIO: SET_IRQS
    /// with fds of -1). With NORESIZE the block must be enabled once with every vector needed.
    virtual result<void> enable_irqs(irq_kind kind, std::uint32_t count) = 0;
    /// Attach (fd >= 0) or detach (fd == -1) the eventfds of vectors [start, start + fds.size()).
    /// The bus writes to an attached eventfd each time the vector fires.
    virtual result<void> set_irq_eventfds(irq_kind kind, std::uint32_t start,
                                          std::span<const int> fds) = 0;
    /// Disable every vector of `kind`.
    virtual result<void> disable_irqs(irq_kind kind) = 0;
    /// Level-triggered (automasked) lines: unmask after the ISR. Called on the ISR thread.
    virtual result<void> unmask_intx() noexcept = 0;
    virtual result<void> mask_intx() = 0;
    /// An eventfd whose write(1) unmasks INTx (VFIO's unmask eventfd), or -1 when the bus has
    /// none and unmask_intx() must be called instead.
    virtual int intx_unmask_eventfd() const noexcept { return -1; }
    /// Fire a vector in software, as VFIO_IRQ_SET_DATA_NONE | ACTION_TRIGGER does.
    virtual result<void> trigger(irq_kind kind, std::uint32_t vector) = 0;

    virtual dma_limits dma() const = 0;
    /// Map [va, va + size) at bus address `iova` for the device (IOMMU), or check that `iova`
    /// is the physical address of va (no IOMMU).
    virtual result<void> dma_map(void* va, std::size_t size, std::uint64_t iova) = 0;
    virtual result<void> dma_unmap(std::uint64_t iova, std::size_t size) = 0;
    /// Physical address of locked memory, for buses without an IOMMU (UIO); error otherwise.
    virtual result<std::uint64_t> physical_address(const void* va) {
        (void)va;
        return error::from_status(status::not_supported, "this bus maps DMA through an IOMMU");
    }

    virtual result<void> set_bus_master(bool on) = 0;
    /// Whether reset() can work (VFIO_DEVICE_FLAGS_RESET: FLR, PM reset, a bus reset).
    virtual bool can_reset() const { return true; }
    /// Function reset; a clear error when the device has no reset method.
    virtual result<void> reset() = 0;
    /// Steer the host IRQ of a vector to `cpu` (the CPU of its ISR thread), where the process
    /// has the privilege (/proc/irq/N/smp_affinity_list). Best effort: false when it could not.
    virtual bool set_irq_affinity(irq_kind kind, std::uint32_t vector, int cpu) {
        (void)kind;
        (void)vector;
        (void)cpu;
        return false;
    }

    /// Where the bus delivers its events. Set by the framework when the device is added; an
    /// empty function detaches. The bus may call it from any thread of its own.
    virtual void set_event_handler(std::function<void(event_kind)> handler) = 0;
};

}  // namespace wdfx::bus
