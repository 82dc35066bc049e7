// Low-level locks and waits used inside the runtime.
//
// pi_mutex: a pthread mutex with PTHREAD_PRIO_INHERIT. Uncontended lock/unlock stay in userspace
//   (one CAS each); a contended lock sleeps in FUTEX_LOCK_PI, which boosts the holder to the
//   waiter's priority. Every queue that a SCHED_FIFO ISR thread touches is guarded by one: a plain
//   spin lock would let a preempted low-priority holder stall the ISR forever on its CPU.
// waitable: a futex word (std::atomic::wait/notify) for "wait until this condition holds" without
//   a condition variable (which cannot be paired with a PI mutex).
#pragma once

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace wdfx::os {

class pi_mutex {
  public:
    pi_mutex() noexcept {
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
        pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
        pthread_mutex_init(&m_, &a);
        pthread_mutexattr_destroy(&a);
    }
    ~pi_mutex() { pthread_mutex_destroy(&m_); }
    pi_mutex(const pi_mutex&) = delete;
    pi_mutex& operator=(const pi_mutex&) = delete;

    void lock() noexcept {
        int r = pthread_mutex_lock(&m_);
        if (r != 0) std::abort();  // EDEADLK/EINVAL: a runtime bug, never a driver's
    }
    bool try_lock() noexcept { return pthread_mutex_trylock(&m_) == 0; }
    /// Lock with an absolute CLOCK_REALTIME deadline; false on timeout.
    bool lock_until(const timespec& realtime_deadline) noexcept {
        return pthread_mutex_timedlock(&m_, &realtime_deadline) == 0;
    }
    /// A short spin of try_lock, then a blocking PI lock.
    void spin_lock(unsigned spins = 200) noexcept {
        for (unsigned i = 0; i < spins; ++i) {
            if (try_lock()) return;
            __builtin_ia32_pause();
        }
        lock();
    }
    void unlock() noexcept { pthread_mutex_unlock(&m_); }

  private:
    pthread_mutex_t m_;
};

class pi_guard {
  public:
    explicit pi_guard(pi_mutex& m) noexcept : m_(m) { m_.lock(); }
    ~pi_guard() { m_.unlock(); }
    pi_guard(const pi_guard&) = delete;
    pi_guard& operator=(const pi_guard&) = delete;

  private:
    pi_mutex& m_;
};

/// A sequence number that waiters sleep on. notify_all() after changing the state they test.
/// notify_all() makes no syscall unless somebody waits: the hot path (a DPC or work item that
/// finished) pays one atomic increment and one load.
class waitable {
  public:
    std::uint32_t snapshot() const noexcept { return seq_.load(std::memory_order_seq_cst); }
    /// Sleep while the sequence still equals `seen` (returns at once if it moved).
    void wait(std::uint32_t seen) noexcept {
        // Dekker with notify_all(): the waiter announces itself before it re-checks the sequence,
        // the notifier bumps the sequence before it looks for waiters (all seq_cst).
        waiters_.fetch_add(1, std::memory_order_seq_cst);
        seq_.wait(seen, std::memory_order_seq_cst);
        waiters_.fetch_sub(1, std::memory_order_seq_cst);
    }
    void notify_all() noexcept {
        seq_.fetch_add(1, std::memory_order_seq_cst);
        if (waiters_.load(std::memory_order_seq_cst) != 0) seq_.notify_all();
    }

    /// Wait until pred() holds; pred is evaluated under `m`.
    template <class Pred>
    void wait_until(pi_mutex& m, Pred pred) {
        for (;;) {
            m.lock();
            bool done = pred();
            std::uint32_t s = snapshot();
            m.unlock();
            if (done) return;
            wait(s);
        }
    }

  private:
    std::atomic<std::uint32_t> seq_{0};
    std::atomic<std::uint32_t> waiters_{0};
};

}  // namespace wdfx::os
