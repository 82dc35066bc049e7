// The framework's locks, each non-recursive and aware of its owner so a recursive acquire is a
// verifier report instead of a self-deadlock (wdf-semantics §10.1, §9.4, §18.8).
//
// owner_lock: a PI mutex plus the owning thread. Used for:
//   - the DIRQL interrupt lock (spin briefly, then sleep with priority inheritance), built in or
//     shared by several interrupts through a WDFSPINLOCK;
//   - the passive interrupt lock and WDFWAITLOCK (sleep at once; timeouts supported);
//   - the callback locks of devices and queues (automatic serialization).
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

#include <wdfx/sync.hpp>

#include "core/object_impl.hpp"
#include "exec/context.hpp"
#include "os/sync.hpp"

namespace wdfx::detail {

class owner_lock {
  public:
    bool held_by_me() const noexcept { return owner_.load(std::memory_order_relaxed) == &tls(); }
    bool is_held() const noexcept { return owner_.load(std::memory_order_relaxed) != nullptr; }
    void lock_spin() noexcept {
        m_.spin_lock();
        owner_.store(&tls(), std::memory_order_relaxed);
    }
    void lock() noexcept {
        m_.lock();
        owner_.store(&tls(), std::memory_order_relaxed);
    }
    bool try_lock() noexcept {
        if (!m_.try_lock()) return false;
        owner_.store(&tls(), std::memory_order_relaxed);
        return true;
    }
    bool lock_until(const timespec& realtime_deadline) noexcept {
        if (!m_.lock_until(realtime_deadline)) return false;
        owner_.store(&tls(), std::memory_order_relaxed);
        return true;
    }
    void unlock() noexcept {
        owner_.store(nullptr, std::memory_order_relaxed);
        m_.unlock();
    }

  private:
    os::pi_mutex m_;
    std::atomic<const void*> owner_{nullptr};
};

/// WDFSPINLOCK.
class spin_lock_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::spin_lock;
    spin_lock_impl() : object_impl(kType) {}
    owner_lock lk;
    level saved_level = level::passive;
    std::atomic<bool> is_interrupt_lock{false};  // named as an interrupt's SpinLock (§3)
};

/// WDFWAITLOCK.
class wait_lock_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::wait_lock;
    wait_lock_impl() : object_impl(kType) {}
    owner_lock lk;
};

/// The callback lock of a device or queue (FxCallbackSpinLock / FxCallbackMutexLock).
class callback_lock {
  public:
    explicit callback_lock(bool passive) noexcept : passive_(passive) {}
    bool is_passive() const noexcept { return passive_; }
    bool held_by_me() const noexcept { return lk_.held_by_me(); }
    /// Acquire for a callback or WdfObjectAcquireLock. A recursive acquire is a verifier report
    /// (bug check WDF_RECURSIVE_LOCK in WDF) and returns false without the lock.
    bool acquire(const char* api, std::uint64_t handle);
    void release();

  private:
    bool passive_;
    owner_lock lk_;
    level saved_ = level::passive;
};

/// Convert a WDF timeout (100 ns units; negative relative, positive absolute Windows system time)
/// into a CLOCK_REALTIME deadline.
timespec wdf_timeout_to_realtime(std::int64_t timeout_100ns) noexcept;

}  // namespace wdfx::detail
