// wdfx/sim.hpp: the sim bus, a first-class bus backend for development and unit tests.
//
// A sim::device behaves like a PCI function owned by vfio-pci: BARs served through register
// accessors (a call into a device model), a config space with capabilities, MSI, MSI-X and INTx
// vectors delivered to real eventfds from whatever thread the "hardware" runs on (INTx is
// level-triggered and automasked, as VFIO does it), DMA into memory the model reads and writes
// through an IOMMU-like map, reset, and the events of removal. It adds fault injection: all-ones
// reads, orderly removal requests, surprise removal (device gone), and errno failures of chosen
// operations.
//
// sim::edu_model is a model of QEMU's educational device (docs/specs/edu.rst): identification,
// liveness, factorial with a completion interrupt, raise/acknowledge interrupt, DMA to and from
// its 4 KiB buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <wdfx/bus.hpp>
#include <wdfx/registers.hpp>

namespace wdfx::sim {

class device;

/// A device model: the "hardware" behind a sim::device's BARs.
class model : public register_model {
  public:
    /// Called once when the model is plugged into its device.
    virtual void attach(device& dev) { (void)dev; }
    /// Function reset (VFIO_DEVICE_RESET).
    virtual void reset() {}
};

struct device_spec {
    std::string name = "sim0";
    bus::pci_id id{};
    std::vector<std::uint64_t> bar_sizes;  // BAR i has bar_sizes[i] bytes (0: none), up to 6
    std::uint32_t msix_vectors = 0;
    std::uint32_t msi_vectors = 0;
    bool intx = true;
    bool pcie = false;         // PCIe capability, 4 KiB config space, an error IRQ
    bool reset_method = true;  // false: reset() fails like a device without FLR/PM reset
    unsigned dma_address_bits = 64;
};

/// Operations whose failure can be injected.
enum class operation : std::uint8_t {
    map_region,
    config_read,
    config_write,
    enable_irqs,
    set_irq_eventfds,
    disable_irqs,
    dma_map,
    dma_unmap,
    reset,
    set_bus_master,
    count
};

class device final : public bus::device {
  public:
    static std::shared_ptr<device> create(device_spec spec, std::shared_ptr<model> m = nullptr);
    ~device() override;
    device(const device&) = delete;
    device& operator=(const device&) = delete;

    // ---- bus::device -------------------------------------------------------------------------
    std::string name() const override;
    bus::pci_id id() const override;
    std::uint32_t num_regions() const override;
    result<bus::region_info> region(std::uint32_t index) const override;
    result<register_block> map_region(std::uint32_t index) override;
    void unmap_region(std::uint32_t index) override;
    result<std::size_t> region_read(std::uint32_t index, std::uint64_t offset,
                                    std::span<std::byte> out) override;
    result<std::size_t> region_write(std::uint32_t index, std::uint64_t offset,
                                     std::span<const std::byte> in) override;
    result<std::size_t> config_read(std::uint32_t offset, std::span<std::byte> out) override;
    result<std::size_t> config_write(std::uint32_t offset, std::span<const std::byte> in) override;
    bus::irq_info irq(bus::irq_kind kind) const override;
    result<void> enable_irqs(bus::irq_kind kind, std::uint32_t count) override;
    result<void> set_irq_eventfds(bus::irq_kind kind, std::uint32_t start,
                                  std::span<const int> fds) override;
    result<void> disable_irqs(bus::irq_kind kind) override;
    result<void> unmask_intx() noexcept override;
    result<void> mask_intx() override;
    result<void> trigger(bus::irq_kind kind, std::uint32_t vector) override;
    bus::dma_limits dma() const override;
    result<void> dma_map(void* va, std::size_t size, std::uint64_t iova) override;
    result<void> dma_unmap(std::uint64_t iova, std::size_t size) override;
    result<void> set_bus_master(bool on) override;
    bool can_reset() const override;
    result<void> reset() override;
    void set_event_handler(std::function<void(bus::event_kind)> handler) override;

    // ---- the hardware's side (called by models, or by tests as "the device") ------------------
    /// Signal an edge vector (MSI/MSI-X): one eventfd write if the vector is enabled and
    /// attached, else the signal is dropped (counted).
    void raise(bus::irq_kind kind, std::uint32_t vector);
    /// Drive the INTx line. While asserted and unmasked, it fires once and is automasked.
    void set_intx_level(bool asserted);
    /// The legacy interrupt of single-vector devices like edu: MSI vector 0 when MSI is enabled
    /// (one signal per call, edge), else MSI-X vector 0, else the INTx line (level).
    void assert_interrupt();
    void deassert_interrupt();
    /// DMA through the sim IOMMU: fails (and counts an IOMMU fault) outside mapped ranges.
    result<void> dma_read(std::uint64_t iova, void* dst, std::size_t len);
    result<void> dma_write(std::uint64_t iova, const void* src, std::size_t len);
    bool bus_master() const;

    // ---- fault injection
    // -------------------------------------------------------------------------
    /// BAR reads return all ones (a device that stopped answering) while on.
    void inject_all_ones(bool on);
    /// The device stops answering and nobody says so (a link that went down, as a VFIO device
    /// whose hardware is gone looks): config space and BAR reads return all ones, writes go
    /// nowhere, and no event is raised. The framework's presence probe must notice.
    void vanish();
    /// An orderly removal request (VFIO's request IRQ): the hardware is still there.
    void request_removal();
    /// The device vanished: all-ones reads, ENODEV from every operation, a device_gone event.
    void surprise_remove();
    /// An AER error report (the error IRQ of PCIe devices).
    void report_error();
    /// The next `count` calls of `op` fail with `err` (ENODEV, EIO, ...).
    void fail_next(operation op, int err, unsigned count = 1);

    // ---- observation (tests)
    // ------------------------------------------------------------------------
    struct counters {
        std::uint64_t delivered = 0;  // eventfd writes
        std::uint64_t dropped = 0;    // signals with no enabled, attached vector
        std::uint64_t intx_unmasks = 0;
        std::uint64_t iommu_faults = 0;
    };
    counters get_counters() const;
    bool intx_masked() const;
    bool vector_attached(bus::irq_kind kind, std::uint32_t vector) const;
    bus::irq_kind enabled_kind() const;  // intx when nothing is enabled either
    std::uint32_t enabled_count() const;
    std::size_t dma_mappings() const;

  private:
    device();
    struct state;
    std::unique_ptr<state> s_;
    std::shared_ptr<model> model_;
    class bar_model;
    friend class bar_model;
};

/// QEMU edu's register map.
namespace edu {
inline constexpr std::uint16_t vendor_id = 0x1234;
inline constexpr std::uint16_t device_id = 0x11e8;
inline constexpr std::uint32_t reg_id = 0x00;        // 0x010000ed: version 1.0, 'ed'
inline constexpr std::uint32_t reg_liveness = 0x04;  // reads back ~value
inline constexpr std::uint32_t reg_factorial = 0x08;
inline constexpr std::uint32_t reg_status = 0x20;  // 0x01 computing, 0x80 irq on completion
inline constexpr std::uint32_t reg_irq_status = 0x24;
inline constexpr std::uint32_t reg_irq_raise = 0x60;
inline constexpr std::uint32_t reg_irq_ack = 0x64;
inline constexpr std::uint32_t reg_dma_src = 0x80;
inline constexpr std::uint32_t reg_dma_dst = 0x88;
inline constexpr std::uint32_t reg_dma_count = 0x90;
inline constexpr std::uint32_t reg_dma_cmd = 0x98;  // 1 start, 2 EDU->RAM, 4 irq 0x100 when done
inline constexpr std::uint32_t status_computing = 0x01;
inline constexpr std::uint32_t status_irq_fact = 0x80;
inline constexpr std::uint32_t irq_factorial = 0x001;
inline constexpr std::uint32_t irq_dma = 0x100;
inline constexpr std::uint32_t dma_buffer = 0x40000;
inline constexpr std::uint32_t dma_buffer_size = 4096;
inline constexpr std::uint32_t dma_start = 0x1, dma_to_ram = 0x2, dma_irq = 0x4;
}  // namespace edu

struct edu_options {
    std::string name = "edu0";
    bool msi = true;                 // QEMU edu offers MSI (1 vector) and INTx
    unsigned dma_address_bits = 64;  // QEMU's default is 28 without dma_mask=
};

class edu_model;
/// A sim device with QEMU edu's identity, BAR0 of 1 MiB, MSI + INTx, no reset method.
std::shared_ptr<device> make_edu(const edu_options& options = {});

}  // namespace wdfx::sim
