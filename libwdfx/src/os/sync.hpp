// Low-level locks and waits used inside the runtime.
//
// pi_mutex: a pthread mutex with PTHREAD_PRIO_INHERIT. Uncontended lock/unlock stay in userspace
//   (one CAS each); a contended lock sleeps in FUTEX_LOCK_PI, which boosts the holder to the
//   waiter's priority. Every queue that a SCHED_FIFO ISR thread touches is guarded by one: a plain
//   spin lock would let a preempted low-priority holder stall the ISR forever on its CPU.
// waitable: a futex word (FUTEX_WAIT/FUTEX_WAKE) for "wait until this condition holds" without
//   a condition variable (which cannot be paired with a PI mutex).
#pragma once

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

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
        // A plain FUTEX_WAIT, not std::atomic::wait: libstdc++ 12 spins and calls sched_yield()
        // four times before it sleeps (four syscalls each time a DPC thread goes idle).
        waiters_.fetch_add(1, std::memory_order_seq_cst);
        while (seq_.load(std::memory_order_seq_cst) == seen)
            syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAIT_PRIVATE, seen,
                    nullptr, nullptr, 0);
        waiters_.fetch_sub(1, std::memory_order_seq_cst);
    }
    /// wait(), but for at most `ns` nanoseconds (returns early on notify_all or a signal).
    void wait_for(std::uint32_t seen, std::uint64_t ns) noexcept {
        timespec rel{static_cast<time_t>(ns / 1000000000u), static_cast<long>(ns % 1000000000u)};
        waiters_.fetch_add(1, std::memory_order_seq_cst);
        if (seq_.load(std::memory_order_seq_cst) == seen)
            syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAIT_PRIVATE, seen,
                    &rel, nullptr, 0);
        waiters_.fetch_sub(1, std::memory_order_seq_cst);
    }
    void notify_all() noexcept {
        seq_.fetch_add(1, std::memory_order_seq_cst);
        if (waiters_.load(std::memory_order_seq_cst) != 0)
            syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&seq_), FUTEX_WAKE_PRIVATE, INT_MAX,
                    nullptr, nullptr, 0);
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

/// How many threads run an object's callback, with a way to wait for zero that is safe against the
/// object being freed right after: leave() is the last access to the object's memory (the futex
/// wake that may follow touches only the kernel), so a flusher that saw zero may free it at once.
/// The waiter bit lives in the same word, so leave() knows from its own atomic read-modify-write
/// whether anybody waits: no syscall unless somebody does.
///
/// The word also holds a generation that every leave() to zero advances. Without it a waiter could
/// miss its wake-up: it reads "count 0", finds also() false (the item still queued), and meanwhile
/// a worker runs the item through enter() and leave() (0 -> 1 -> 0, no waiter bit yet, so no
/// wake); the waiter's compare-and-swap 0 -> 0|waiters then succeeded on the unchanged word and it
/// slept for good (a flush() that never returned under TSan). With the generation the CAS, or the
/// FUTEX_WAIT's compare, fails and the waiter looks again. A stale value would need exactly 128
/// runs to zero between a waiter's load and its sleep.
class running_count {
  public:
    void enter() noexcept { state_.fetch_add(1, std::memory_order_acq_rel); }
    void leave() noexcept {
        std::uint32_t old = state_.load(std::memory_order_relaxed);
        std::uint32_t next;
        do {
            next = old - 1;
            if ((next & kCount) == 0) next = ((old & kGeneration) + kGenerationOne) & kGeneration;
        } while (!state_.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                               std::memory_order_relaxed));
        if ((old & kWaiters) != 0 && (next & kCount) == 0) wake(&state_);
    }
    std::uint32_t count() const noexcept { return state_.load(std::memory_order_acquire) & kCount; }
    /// Wait until the count is zero and `also()` holds (evaluated each time the count is zero).
    /// `also` may only turn true while a run is inside (between its enter() and leave(), e.g. "not
    /// queued", cleared by the run itself): the wait is woken by the leave() that brings the count
    /// to zero, and a run that both entered and left unseen changes the generation.
    template <class Also>
    void wait_idle(Also also) noexcept {
        for (;;) {
            std::uint32_t s = state_.load(std::memory_order_acquire);
            if ((s & kCount) == 0 && also()) return;
            if ((s & kWaiters) == 0) {
                if (!state_.compare_exchange_strong(s, s | kWaiters, std::memory_order_acq_rel))
                    continue;
                s |= kWaiters;
            }
            syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, s,
                    nullptr, nullptr, 0);
        }
    }

  private:
    static void wake(std::atomic<std::uint32_t>* a) noexcept {
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(a), FUTEX_WAKE_PRIVATE, INT_MAX,
                nullptr, nullptr, 0);
    }
    static constexpr std::uint32_t kWaiters = 0x80000000u;
    static constexpr std::uint32_t kGeneration = 0x7f000000u;
    static constexpr std::uint32_t kGenerationOne = 0x01000000u;
    static constexpr std::uint32_t kCount = 0x00ffffffu;
    std::atomic<std::uint32_t> state_{0};
};

}  // namespace wdfx::os
