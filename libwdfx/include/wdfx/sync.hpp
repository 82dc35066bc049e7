// wdfx/sync.hpp: WDFSPINLOCK and WDFWAITLOCK (wdf-semantics §18.8).
//
// spin_lock: acquire raises the thread to DISPATCH and returns there; release restores the level.
//   Userspace cannot disable preemption, so the lock is a short spin followed by a futex with
//   priority inheritance: a preempted holder is boosted instead of stalling a SCHED_FIFO waiter.
//   A spin lock named as an interrupt's SpinLock (§3) becomes that interrupt set's lock; from then
//   on acquiring it through this API is a verifier report.
// wait_lock: a non-recursive lock with an owner thread, PASSIVE only (a zero timeout may be tried
//   below DISPATCH... and at DISPATCH, per the header, §20). Acquire returns STATUS_SUCCESS or
//   STATUS_TIMEOUT; both are NT_SUCCESS.
// Neither is re-entrant: a recursive acquire is a verifier report, not a deadlock.
#pragma once

#include <cstdint>

#include <wdfx/object.hpp>

namespace wdfx {

class spin_lock : public object {
  public:
    spin_lock() = default;
    explicit spin_lock(std::uint64_t h) : object(h) {}
    /// WdfSpinLockCreate. Default parent: the driver.
    static result<spin_lock> create(const object_attributes& attributes = {});
    /// WdfSpinLockAcquire: <= DISPATCH; returns at DISPATCH.
    void acquire() const;
    /// WdfSpinLockRelease.
    void release() const;
};

class wait_lock : public object {
  public:
    wait_lock() = default;
    explicit wait_lock(std::uint64_t h) : object(h) {}
    /// WdfWaitLockCreate. Default parent: the driver (§7.4).
    static result<wait_lock> create(const object_attributes& attributes = {});
    /// WdfWaitLockAcquire. timeout == nullptr: wait forever. *timeout == 0: try once. Negative:
    /// relative, positive: absolute (Windows system time), both in 100 ns units.
    /// Returns status::success or status::timeout.
    status acquire(const std::int64_t* timeout_100ns = nullptr) const;
    /// WdfWaitLockRelease.
    void release() const;
};

}  // namespace wdfx
