// wdfx/timer.hpp: WDFTIMER (wdf-semantics §18.7).
//
// A timer's callback runs at DISPATCH on the timer thread by default, or at PASSIVE on the
// dispatcher pool when its attributes say ExecutionLevel = Passive. The timer service sleeps in an
// io_uring and arms one IORING_OP_TIMEOUT per started timer; periodic timers are re-armed at each
// expiry from the previous deadline (kernel 6.1 / liburing 2.3 have no multishot timeouts).
#pragma once

#include <cstdint>
#include <functional>

#include <wdfx/object.hpp>

namespace wdfx {

class timer;

/// WDF_TIMER_CONFIG. WDF_TIMER_CONFIG_INIT: Period 0, AutomaticSerialization TRUE.
struct timer_config {
    std::function<void(timer)> on_timer;
    std::uint32_t period_ms = 0;  // 0: one-shot. Must be 0 for passive timers.
    bool automatic_serialization = true;
    std::uint32_t tolerable_delay_ms = 0;
};

class timer : public object {
  public:
    timer() = default;
    explicit timer(std::uint64_t h) : object(h) {}
    /// WdfTimerCreate: <= DISPATCH; the parent (a device or queue) is required.
    static result<timer> create(const timer_config& config, const object_attributes& attributes);
    /// WdfTimerStart: negative due time = relative, positive = absolute Windows system time
    /// (100 ns units since 1601-01-01), 0 = now. Returns TRUE if the timer was already queued (it
    /// is then re-armed with the new due time).
    bool start(std::int64_t due_time_100ns) const;
    /// WdfTimerStop: TRUE if the timer was queued. wait = true needs PASSIVE and waits for queued
    /// or running callbacks; never from the timer's own callback.
    bool stop(bool wait) const;
    /// WdfTimerGetParentObject.
    object get_parent_object() const;
};

/// WDF_REL_TIMEOUT_IN_MS and friends: 100 ns units, negative = relative.
constexpr std::int64_t relative_ms(std::int64_t ms) noexcept {
    return -ms * 10000;
}
constexpr std::int64_t relative_us(std::int64_t us) noexcept {
    return -us * 10;
}

}  // namespace wdfx
