// WDFDEVICE internals: the PnP/power state machine (wdf-semantics §8.3, §21 rules 4-5).
//
// Threads: every life-cycle operation runs on a PASSIVE thread and holds pnp_lock, so PnP and power
// callbacks of one device are serialised (§18.3). Bus events arrive on the bus's thread and are
// handed to the PnP event thread of the device.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <wdfx/device.hpp>

#include "core/locks.hpp"
#include "core/object_impl.hpp"
#include "core/stats.hpp"
#include "os/thread.hpp"

namespace wdfx::detail {

class driver_impl;
class interrupt_impl;

class device_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::device;
    device_impl(driver_impl* drv, device_init& init, bool passive_level);
    ~device_impl() override;

    /// Counts the device as alive in its driver (driver_impl::live_devices) from construction
    /// until every member is destroyed: declared first, destroyed last, after the bus device.
    struct live_token {
        explicit live_token(driver_impl* d);
        ~live_token();
        driver_impl* const d;
    };
    live_token live;

    driver_impl* const drv;
    const pnp_power_callbacks cb;
    const bool power_pageable;
    const interrupt_type interrupt_preference;
    const std::uint32_t message_limit;
    const std::uint32_t unclaimed_limit;
    const device_error_callback on_error_reported;
    const std::shared_ptr<bus::device> bus;
    const std::string name;
    const int index;  // ordinal, for thread names

    std::unique_ptr<callback_lock> cb_lock;
    callback_lock* get_callback_lock() noexcept override { return cb_lock.get(); }
    /// The effective synchronization scope (attributes, else the driver's: None).
    synchronization_scope effective_scope() const noexcept;

    std::recursive_mutex pnp_lock;
    std::atomic<device_state> state{device_state::added};
    std::atomic<bool> in_prepare_hardware{false};
    std::atomic<bool> surprise_removed{false};
    bool removing = false;  // the D3Final power-down purges the queues instead of stopping them
    std::atomic<device_power_state> power{device_power_state::d3_final};
    bool hardware_prepared = false;

    // Interrupt objects in creation order (m_InterruptListHead); guarded by pnp_lock.
    std::vector<interrupt_impl*> interrupts;
    std::uint32_t interrupt_object_count = 0;
    resource_list raw;
    resource_list translated;
    std::vector<bus::irq_kind> enabled_irq_kinds;
    std::vector<std::uint32_t> mapped_bars;

    stats_file stats;  // shared-memory counters while started (wdfxctl stat)
    void publish_stats();
    void unpublish_stats();

    // I/O (queues, requests, file objects): guarded by io_lock.
    std::mutex io_lock;
    std::vector<class io_queue_impl*> queues;
    class io_queue_impl* default_queue = nullptr;
    std::vector<std::pair<request_type, class io_queue_impl*>> dispatch_table;
    file_object_config file_config;
    /// Stop (or purge) the queues at power-down; start them at power-up (§8.3).
    void stop_queues(bool purge);
    void start_queues();
    class io_queue_impl* queue_for(request_type t);

    void add_interrupt(interrupt_impl* irq);
    void remove_interrupt(interrupt_impl* irq);

    // Life cycle (pnp_lock held inside).
    status start();
    status stop(bool surprise);
    status power_down(device_power_state target);
    status power_up();
    status reset();
    void remove(bool surprise);

    void on_bus_event(bus::event_kind k);

    /// Surprise removal that no bus event announces (design.md: "a device that vanished").
    /// vfio-pci keeps a device whose hardware went away (a link down, a card pulled from a slot
    /// without hot-plug) until the process lets go, and the only sign is that nothing answers:
    /// config and BAR reads complete with all ones. While started, the device is probed every
    /// WDFX_PRESENCE_MS (one config read on the timer thread, never on an ISR's path), and a
    /// removal request is checked the same way before the orderly path is taken.
    bool hardware_present();
    void check_presence();
    void arm_presence_probe();
    void stop_presence_probe();
    class presence_probe;
    bool presence_registered = false;  // pnp_lock or the PnP thread
    std::atomic<bool> presence_check_queued{false};

  private:
    status build_resources();
    void match_resources();
    status power_up_sequence(device_power_state previous, unsigned flags);
    status power_down_sequence(device_power_state target, unsigned flags);
    void connect_failed_teardown(unsigned flags);
    void release_hardware();
    status call(const char* what, const std::function<status()>& fn);

  protected:
    void dispose() override;
};

}  // namespace wdfx::detail
