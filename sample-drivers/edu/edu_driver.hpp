// The wdfx driver for QEMU's educational PCI device (vendor 1234, device 11e8).
//
// KMDF-style by default: the ISR (DIRQL) reads the interrupt status, acknowledges it and queues
// the DPC; the DPC collects the saved status under the interrupt lock and completes the operation
// that waited for it. With `passive` the interrupt is a passive-level one (UMDF 2 model): the ISR
// runs at PASSIVE under the interrupt's wait lock and completes through the work item.
//
// Threads: the public calls (liveness, factorial, dma_roundtrip) are PASSIVE and may run on
// several threads at once; one operation of each kind is in flight at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <wdfx/wdfx.hpp>

namespace edu {

struct options {
    bool passive = false;     // passive-level interrupt (UMDF 2 model) instead of DIRQL + DPC
    bool force_intx = false;  // INTx even where MSI is available
    bool verbose = false;     // print what the ISR, DPC and work item do
    /// The device's DMA address width (its DMA enabler's profile). QEMU's edu has 28 bits unless
    /// started with dma_mask=; on UIO (physical addresses) a wider mask lets the buffer live
    /// anywhere in RAM.
    unsigned dma_address_bits = 28;
    /// Called inside EvtDriverDeviceAdd once the device, its DMA buffer and its interrupt exist:
    /// create queues and device interfaces there (edu_service.hpp). A failure fails AddDevice.
    std::function<wdfx::status(wdfx::device)> on_device_created;
    /// Called by the DPC (or passive work item) with the interrupt status bits it collected,
    /// after the direct-call waiters were woken: completes queued requests (edu_service.hpp).
    std::function<void(std::uint32_t bits)> on_interrupt_work;
};

/// What the interrupt paths did, for the demo and the tests.
struct activity {
    std::uint64_t isr_calls = 0, isr_claimed = 0, isr_signals = 0;
    std::uint64_t dpc_runs = 0, work_item_runs = 0;
    std::uint64_t factorial_irqs = 0, dma_irqs = 0, raised_irqs = 0;
    std::uint64_t d0_entries = 0, d0_exits = 0, hardware_releases = 0;  // PnP callbacks run
};

class driver {
  public:
    /// Create the WDF driver object (one per process) for edu devices.
    static wdfx::result<std::unique_ptr<driver>> create(const options& o);
    ~driver();

    /// AddDevice + start on a bus device (sim::make_edu() or a VFIO device).
    wdfx::status attach(std::shared_ptr<wdfx::bus::device> dev);
    void detach();

    wdfx::result<std::uint32_t> liveness(std::uint32_t value);
    /// n! computed by the device, completed by its interrupt.
    wdfx::result<std::uint32_t> factorial(std::uint32_t n);
    /// Raise an interrupt through the raise register and wait for the ISR to see it.
    wdfx::status raise(std::uint32_t value);
    /// Copy `data` into the device's buffer by DMA and back into a second host buffer; returns
    /// what came back.
    wdfx::result<std::vector<std::uint8_t>> dma_roundtrip(std::span<const std::uint8_t> data);

    // Non-blocking hardware steps for the request path (a sequential queue serialises them);
    // completion comes through options::on_interrupt_work.
    void start_factorial(std::uint32_t n);
    std::uint32_t read_factorial() const;
    void start_raise(std::uint32_t bits);
    /// DMA `data` into the device buffer at `offset` (data copied into the common buffer first).
    wdfx::status start_dma_to_device(std::span<const std::byte> data, std::size_t offset);
    /// DMA `length` bytes out of the device buffer at `offset`; read them with dma_result().
    wdfx::status start_dma_from_device(std::size_t length, std::size_t offset);
    std::span<const std::byte> dma_result(std::size_t length) const;

    activity get_activity() const;
    /// Wait until EvtDeviceReleaseHardware has run `count` times in all (after a stop or a
    /// removal the bus requested); false if it has not within `timeout`.
    bool wait_released(std::uint64_t count, std::chrono::milliseconds timeout);
    wdfx::interrupt interrupt_object() const { return irq_; }
    wdfx::device device_object() const { return dev_; }
    std::string interrupt_kind() const;

  private:
    driver() = default;
    struct context;
    wdfx::status wait_for(std::uint32_t bits, std::unique_lock<std::mutex>& lock);

    options opt_;
    wdfx::driver drv_;
    wdfx::device dev_;
    wdfx::interrupt irq_;
    std::shared_ptr<context> ctx_;
};

}  // namespace edu
