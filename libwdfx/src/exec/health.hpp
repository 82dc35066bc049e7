// Health of the runtime, for the service watchdog (issue: systemd integration).
//
// Stuck means: a callback (ISR, DPC, work item, timer) running longer than a bound, or an
// interrupt eventfd left readable and undrained longer than a bound. Both are observed from the
// outside without waking idle threads: busy slots are timestamps the threads write (a relaxed
// store of the TSC at entry, 0 at exit), and eventfds are polled with a zero timeout (poll does
// not consume the counter nor wake the ISR thread blocked in read()).
#pragma once

#include <x86intrin.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace wdfx::detail {

struct busy_slot {
    std::atomic<std::uint64_t> since_tsc{0};  // 0: idle
    std::atomic<std::uint32_t> entries{0};    // callbacks entered (progress); one writer
    const char* what = "";
    void enter() noexcept {
        since_tsc.store(__rdtsc() | 1, std::memory_order_relaxed);
        entries.store(entries.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    void leave() noexcept { since_tsc.store(0, std::memory_order_relaxed); }
};

void register_busy_slot(busy_slot* s);
void unregister_busy_slot(busy_slot* s);
/// `drainer`: the busy slot of the thread that drains `fd` (its ISR calls): an eventfd that is
/// readable at every look of a busy device is not stuck while that slot keeps being entered.
void register_watched_eventfd(int fd, const char* what, const busy_slot* drainer = nullptr);
void unregister_watched_eventfd(int fd);

/// Empty when healthy; else a description of what is stuck. Eventfd readiness is compared with
/// the previous call: "undrained" means readable at both calls, `eventfd_bound_ns` apart or more,
/// with no ISR call in between (a device that interrupts faster than its ISR thread drains is
/// busy, not stuck).
std::string runtime_health(std::uint64_t callback_bound_ns, std::uint64_t eventfd_bound_ns);

double tsc_ticks_per_ns() noexcept;

}  // namespace wdfx::detail
