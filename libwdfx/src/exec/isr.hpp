// ISR threads: the DIRQL fast path (design.md).
//
// One isr_vector per interrupt vector that has an interrupt object: an eventfd the bus writes to,
// and a thread pinned and prioritised by the interrupt's policy that waits on it:
//   block            a plain blocking read() (the wake-up is the only cost);
//   spin_then_block  non-blocking reads for spin_ns, then poll() + read();
//   busy_poll        the vector joins the polling thread of its (CPU, priority), which serves
//                    several vectors with non-blocking reads and never sleeps.
// Each wake-up drains the counter (signals coalesce) and calls the dispatch function once with the
// count. The thread never allocates and makes no syscall but the read (and, for INTx, the unmask).
//
// Stopping and quiescing: a thread blocked in read() is woken by adding kKick to the counter,
// which no real signal count reaches; the kick is stripped before dispatch. quiesce() waits for an
// in-flight dispatch after the target was withdrawn (Dekker on `busy_` and `waiters_`).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <wdfx/interrupt.hpp>

#include "exec/health.hpp"
#include "os/fd.hpp"
#include "os/sync.hpp"
#include "os/thread.hpp"

namespace wdfx::detail {

class interrupt_impl;
class poll_group;

/// Called on the ISR thread with the number of signals the wake-up coalesced (>= 1).
void isr_dispatch(interrupt_impl* irq, std::uint64_t signals) noexcept;

class isr_vector {
  public:
    static constexpr std::uint64_t kKick = 1ull << 56;
    static constexpr std::uint64_t kSignalMask = kKick - 1;

    struct params {
        std::string thread_name;
        os::sched_request sched;
        wait_strategy strategy = wait_strategy::block;
        std::uint32_t spin_ns = 20000;
        bool dirql = true;  // the thread's base level: DIRQL, or PASSIVE for passive interrupts
    };

    /// Creates the eventfd and starts (or joins) the waiting thread.
    static std::unique_ptr<isr_vector> create(const params& p, std::string* why);
    ~isr_vector();
    isr_vector(const isr_vector&) = delete;
    isr_vector& operator=(const isr_vector&) = delete;

    int eventfd() const noexcept { return efd_.get(); }
    /// Publish the interrupt to dispatch to (connect); nullptr withdraws it (disconnect).
    void set_target(interrupt_impl* irq) noexcept { target_.store(irq, std::memory_order_seq_cst); }
    interrupt_impl* target() const noexcept { return target_.load(std::memory_order_acquire); }
    /// Wait until no dispatch is in flight (after set_target(nullptr)).
    void quiesce() noexcept;
    /// What the kernel granted the thread.
    os::sched_result granted() const noexcept { return granted_.load(std::memory_order_acquire); }
    bool on_this_thread() const noexcept;
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

    /// One wake-up's worth of work: strip kicks, dispatch if signals remain. Used by the vector's
    /// own thread and by poll groups.
    void handle(std::uint64_t count) noexcept;
    /// Non-blocking drain for polling threads: true if something was handled.
    bool poll_once() noexcept;

  private:
    isr_vector() = default;
    void run_blocking() noexcept;
    void run_spinning() noexcept;

    params p_;
    os::unique_fd efd_;
    std::atomic<interrupt_impl*> target_{nullptr};
    std::atomic<int> busy_{0};
    std::atomic<int> waiters_{0};
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> dropped_{0};  // signals that arrived with no target
    std::atomic<os::sched_result> granted_{};
    std::atomic<const void*> thread_tls_{nullptr};
    os::waitable quiet_;
    busy_slot busy_slot_;  // for the service watchdog: set while the ISR runs
    os::thread thread_;
    std::shared_ptr<poll_group> group_;
};

}  // namespace wdfx::detail
