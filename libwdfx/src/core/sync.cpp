#include <time.h>

#include <wdfx/sync.hpp>

#include "core/driver_impl.hpp"
#include "core/locks.hpp"
#include "core/object_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"

namespace wdfx {

namespace detail {

bool callback_lock::acquire(const char* api, std::uint64_t handle) {
    if (lk_.held_by_me()) {
        verifier_report(api, handle, "recursive lock acquire (WDF_RECURSIVE_LOCK)",
                        "the callback lock of this object is already held by this thread "
                        "(wdf-semantics §9.4)");
        return false;
    }
    if (passive_) {
        if (!verify_level_max(level::passive, api, handle)) return false;
        lk_.lock();
    } else {
        if (!verify_level_max(level::dispatch, api, handle)) return false;
        lk_.lock_spin();
        saved_ = tls().lvl;
        tls().lvl = level::dispatch;
    }
    return true;
}

void callback_lock::release() {
    if (!passive_) tls().lvl = saved_;
    lk_.unlock();
}

timespec wdf_timeout_to_realtime(std::int64_t t) noexcept {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    std::int64_t ns_epoch;
    if (t < 0) {
        ns_epoch = now.tv_sec * 1000000000ll + now.tv_nsec + (-t) * 100;
    } else {
        // Windows system time: 100 ns intervals since 1601-01-01.
        constexpr std::int64_t kEpochDelta100ns = 116444736000000000ll;
        ns_epoch = (t - kEpochDelta100ns) * 100;
    }
    timespec ts;
    ts.tv_sec = ns_epoch / 1000000000ll;
    ts.tv_nsec = ns_epoch % 1000000000ll;
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000ll;
        ts.tv_sec -= 1;
    }
    return ts;
}

}  // namespace detail

using namespace detail;

result<spin_lock> spin_lock::create(const object_attributes& attributes) {
    if (!verify_level_max(level::dispatch, "WdfSpinLockCreate", 0))
        return error::from_status(status::invalid_device_state,
                                  "WdfSpinLockCreate above DISPATCH_LEVEL");
    object_impl* parent = nullptr;
    if (attributes.parent != 0) {
        parent = resolve_any(attributes.parent, object_type::none, "WdfSpinLockCreate");
        if (parent == nullptr) return error::from_status(status::invalid_handle, "bad parent");
    } else {
        parent = current_driver_impl();  // default parent: the driver (§18.8)
    }
    auto* o = new spin_lock_impl;
    o->commit(attributes, parent);
    return spin_lock(o->handle());
}

void spin_lock::acquire() const {
    auto* o = resolve<spin_lock_impl>(h_, "WdfSpinLockAcquire");
    if (o == nullptr) return;
    if (o->is_interrupt_lock.load(std::memory_order_acquire)) {
        verifier_report("WdfSpinLockAcquire", h_, "spin lock is an interrupt lock",
                        "this WDFSPINLOCK was named as WDF_INTERRUPT_CONFIG.SpinLock; take it with "
                        "WdfInterruptAcquireLock (wdf-semantics §3)");
        return;
    }
    if (!verify_level_max(level::dispatch, "WdfSpinLockAcquire", h_)) return;
    if (o->lk.held_by_me()) {
        verifier_report("WdfSpinLockAcquire", h_, "recursive lock acquire",
                        "this thread already holds the spin lock (not re-entrant, §18.8)");
        return;
    }
    o->lk.lock_spin();
    o->saved_level = tls().lvl;
    tls().lvl = level::dispatch;
}

void spin_lock::release() const {
    auto* o = resolve<spin_lock_impl>(h_, "WdfSpinLockRelease");
    if (o == nullptr) return;
    if (o->is_interrupt_lock.load(std::memory_order_acquire)) {
        verifier_report("WdfSpinLockRelease", h_, "spin lock is an interrupt lock",
                        "use WdfInterruptReleaseLock (wdf-semantics §3)");
        return;
    }
    if (!o->lk.held_by_me()) {
        verifier_report("WdfSpinLockRelease", h_, "lock not held",
                        "releasing a spin lock this thread does not hold");
        return;
    }
    tls().lvl = o->saved_level;
    o->lk.unlock();
}

result<wait_lock> wait_lock::create(const object_attributes& attributes) {
    if (!verify_level_max(level::dispatch, "WdfWaitLockCreate", 0))
        return error::from_status(status::invalid_device_state,
                                  "WdfWaitLockCreate above DISPATCH_LEVEL");
    object_impl* parent = nullptr;
    if (attributes.parent != 0) {
        parent = resolve_any(attributes.parent, object_type::none, "WdfWaitLockCreate");
        if (parent == nullptr) return error::from_status(status::invalid_handle, "bad parent");
    } else {
        parent = current_driver_impl();  // default parent: the driver (§7.4)
    }
    auto* o = new wait_lock_impl;
    o->commit(attributes, parent);
    return wait_lock(o->handle());
}

status wait_lock::acquire(const std::int64_t* timeout) const {
    auto* o = resolve<wait_lock_impl>(h_, "WdfWaitLockAcquire");
    if (o == nullptr) return status::invalid_handle;
    // PASSIVE, except that a zero timeout may be tried at DISPATCH (header; §20).
    level max = (timeout != nullptr && *timeout == 0) ? level::dispatch : level::passive;
    if (!verify_level_max(max, "WdfWaitLockAcquire", h_)) return status::invalid_device_state;
    if (o->lk.held_by_me()) {
        if (timeout != nullptr) return status::timeout;  // with a timeout the ASSERT is skipped
        verifier_report("WdfWaitLockAcquire", h_, "recursive lock acquire",
                        "this thread already owns the wait lock and waits forever (§18.8)");
        return status::invalid_device_state;
    }
    if (timeout == nullptr) {
        o->lk.lock();
        return status::success;
    }
    if (*timeout == 0) return o->lk.try_lock() ? status::success : status::timeout;
    return o->lk.lock_until(wdf_timeout_to_realtime(*timeout)) ? status::success : status::timeout;
}

void wait_lock::release() const {
    auto* o = resolve<wait_lock_impl>(h_, "WdfWaitLockRelease");
    if (o == nullptr) return;
    if (!o->lk.held_by_me()) {
        verifier_report("WdfWaitLockRelease", h_, "lock not held",
                        "releasing a wait lock this thread does not own");
        return;
    }
    o->lk.unlock();
}

// WdfObjectAcquireLock / WdfObjectReleaseLock (§18.9): the callback lock that automatic
// serialization takes around DPCs, work items and timers of a device or queue.
void object::acquire_lock() const {
    constexpr const char* api = "WdfObjectAcquireLock";
    object_impl* o = resolve_any(h_, object_type::none, api);
    if (o == nullptr) return;
    callback_lock* l = o->get_callback_lock();
    if (l == nullptr) {
        verifier_report(api, h_, "object has no callback lock",
                        "only a device, queue or driver has a lock to acquire (§18.9)");
        return;
    }
    (void)l->acquire(api, h_);  // a recursive acquire is reported there (WDF_RECURSIVE_LOCK)
}

void object::release_lock() const {
    constexpr const char* api = "WdfObjectReleaseLock";
    object_impl* o = resolve_any(h_, object_type::none, api);
    if (o == nullptr) return;
    callback_lock* l = o->get_callback_lock();
    if (l == nullptr || !l->held_by_me()) {
        verifier_report(api, h_, "lock not held",
                        "releasing a callback lock this thread does not hold (§18.9)");
        return;
    }
    l->release();
}

}  // namespace wdfx
