// WDFINTERRUPT internals (FxInterrupt): the connection state machine of §8, the locks of §10,
// the deferred work of §9 and the ISR dispatch of §14.
//
// Threads:
//  - configuration, connect/disconnect and policy: PASSIVE threads, serialised by connect_lock_
//    (the device's PnP thread, or a driver thread in WdfInterruptEnable/Disable);
//  - isr_dispatch: the vector's ISR thread only (stats are single-writer relaxed atomics);
//  - queue_*_for_isr: any thread, lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include <wdfx/interrupt.hpp>

#include "core/locks.hpp"
#include "core/object_impl.hpp"
#include "core/stats.hpp"
#include "exec/isr.hpp"
#include "exec/work.hpp"

namespace wdfx::detail {

class device_impl;

/// NotifyResourceObjectsD0/Dx flags (§8.1-§8.3).
enum notify_flags : unsigned {
    notify_none = 0,
    notify_np = 1,  // non-pageable: disable without disconnect
    notify_explicit_powerup = 2,
    notify_explicit_powerdown = 4,
    notify_force_disconnect = 8,   // D3Final
    notify_surprise_removed = 16,  // do not call EvtInterruptDisable
    notify_disconnect_inactive = 32,
};

class interrupt_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::interrupt;
    interrupt_impl(device_impl* dev, const interrupt_config& cfg, bool passive);
    ~interrupt_impl() override;

    // configuration (immutable after create)
    device_impl* const dev;
    const interrupt_config cfg;
    const bool passive;
    bool umdf = false;
    owner_lock* ilock = nullptr;  // the interrupt lock: built-in, WDFSPINLOCK's or wait lock's
    owner_lock builtin_lock;
    spin_lock_impl* shared_spin = nullptr;
    wait_lock_impl* wlock = nullptr;  // passive mode
    bool owns_wait_lock = false;
    callback_lock* cb_lock = nullptr;    // automatic serialization (§9.4)
    std::unique_ptr<deferred_item> dpc;  // KMDF: always present (one KDPC per interrupt)
    std::unique_ptr<deferred_item> wi;   // with EvtInterruptWorkItem (UMDF: or EvtInterruptDpc)
    bool created_in_prepare_hardware = false;
    std::uint32_t message_number = 0;
    level saved_level = level::passive;  // m_OldIrql: one slot, so the lock is not re-entrant

    // resources (PnP thread)
    bool has_resource = false;
    resource res{};
    interrupt_info info{};
    std::uint8_t sync_irql = 0;
    std::unique_ptr<isr_vector> vec;

    // connection state (§8), guarded by connect_lock_
    std::atomic<bool> connected{false};  // read lock-free by AcquireLock/Synchronize
    std::atomic<bool> enabled{false};  // EvtInterruptEnable succeeded; read lock-free by the
                                       // UMDF 1 interface's lock rules (src/wdf/wudfddi.cpp)
    bool force_disconnected = false;
    std::atomic<bool> active{false};
    bool attached = false;  // the eventfd is attached to the bus vector
    bool use_soft_disconnect = false;

    // policy (§13)
    bool policy_set = false;
    interrupt_extended_policy policy{};

    // hot path state (ISR thread)
    std::uint32_t consecutive_unclaimed = 0;
    std::atomic<bool> storm_masked{false};
    irq_stats local_stats;  // used when the device publishes no statistics file
    std::atomic<irq_stats*> stats_ptr{
        &local_stats};  // the ISR thread's counters (shared memory if published)

    std::mutex connect_lock;
    std::atomic<const void*> connect_owner{nullptr};
    /// Holds connect_lock and records the owner (to refuse Enable/Disable from inside callbacks).
    class connect_scope {
      public:
        explicit connect_scope(interrupt_impl& i) : i_(i) {
            i_.connect_lock.lock();
            i_.connect_owner.store(&tls(), std::memory_order_relaxed);
        }
        ~connect_scope() {
            i_.connect_owner.store(nullptr, std::memory_order_relaxed);
            i_.connect_lock.unlock();
        }
        connect_scope(const connect_scope&) = delete;
        connect_scope& operator=(const connect_scope&) = delete;

      private:
        interrupt_impl& i_;
    };

    // state machine (§8); connect_lock held by the caller (connect_scope)
    status connect(unsigned flags);
    status disconnect(unsigned flags);
    status report_inactive(bool internal);
    void report_active(bool internal);
    void force_disconnect();
    void force_reconnect();

    // resources
    void reset_resources() noexcept;
    void assign_resource(const resource& r, std::uint32_t message_offset);
    bool start_vector(std::string* why);
    void revoke_resources();

    // locks
    status run_enable_disable(bool enable);
    bool lock_for_isr() noexcept;
    void unlock_for_isr() noexcept;

    // deferred work
    bool queue_dpc() noexcept;
    bool queue_work_item() noexcept;
    static void dpc_thunk(void* self) noexcept;
    static void work_item_thunk(void* self) noexcept;

    // dispatch
    void dispatch(std::uint64_t signals) noexcept;
    void unclaimed_guard_trip() noexcept;

    /// Flush the DPC, then the work item (§8.2: the DPC first, so a DPC->work item chain drains).
    void flush_deferred() noexcept;

  protected:
    void dispose() override;
};

}  // namespace wdfx::detail
