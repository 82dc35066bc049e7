// wdfx/wudfddi.hpp over the core: the UMDF 1 IWDFInterrupt lock methods. The lock itself is the
// interrupt's (interrupt::acquire_lock and friends); this layer adds the two rules of the
// IWDFInterrupt::AcquireInterruptLock reference page, as verifier reports.
#include <wdfx/wudfddi.hpp>

#include <cstdint>

#include "core/interrupt_impl.hpp"
#include "core/verifier.hpp"

namespace wdfx::wudf {

namespace {

using detail::interrupt_impl;

// AcquireInterruptLock calls the verifier refused on this thread (report mode): their
// ReleaseInterruptLock is a no-op rather than a second report. A driver holds few at once.
constexpr int kRefusedSlots = 8;
thread_local std::uint64_t t_refused[kRefusedSlots];

void note_refused(std::uint64_t h) noexcept {
    for (auto& slot : t_refused)
        if (slot == 0) {
            slot = h;
            return;
        }
}
bool take_refused(std::uint64_t h) noexcept {
    for (auto& slot : t_refused)
        if (slot == h) {
            slot = 0;
            return true;
        }
    return false;
}

/// "Your driver cannot call AcquireInterruptLock before the framework has called the driver's
/// OnInterruptEnable callback function or after the framework has called the driver's
/// OnInterruptDisable callback function." `enabled` is set once EvtInterruptEnable succeeded
/// and cleared once EvtInterruptDisable returned (interrupt.cpp, §8.1/§8.2).
bool check_enabled(interrupt_impl* irq, const char* api) {
    if (irq->enabled.load(std::memory_order_acquire)) return true;
    detail::verifier_report(api, irq->handle(), "interrupt not enabled",
                            "called before OnInterruptEnable or after OnInterruptDisable "
                            "(IWDFInterrupt::AcquireInterruptLock remarks, wdf-semantics §16)");
    return false;
}

}  // namespace

void IWDFInterrupt::AcquireInterruptLock() {
    constexpr const char* api = "IWDFInterrupt::AcquireInterruptLock";
    auto* irq = detail::resolve<interrupt_impl>(irq_.handle(), api);
    if (irq == nullptr) return;
    // Checked first: the lock is held around OnInterruptEnable/Disable themselves.
    if (irq->ilock->held_by_me()) {
        detail::verifier_report(api, irq_.handle(), "recursive interrupt lock acquire",
                                "must not call AcquireInterruptLock again for the same interrupt "
                                "object before ReleaseInterruptLock (the framework breaks into "
                                "the debugger; here: a report, not a self-deadlock)");
        note_refused(irq_.handle());
        return;
    }
    if (!check_enabled(irq, api)) {
        note_refused(irq_.handle());
        return;
    }
    irq_.acquire_lock();
}

void IWDFInterrupt::ReleaseInterruptLock() {
    constexpr const char* api = "IWDFInterrupt::ReleaseInterruptLock";
    auto* irq = detail::resolve<interrupt_impl>(irq_.handle(), api);
    if (irq == nullptr) return;
    if (!irq->ilock->held_by_me() && take_refused(irq_.handle())) return;
    irq_.release_lock();  // reports a release without the lock
}

BOOL IWDFInterrupt::TryToAcquireInterruptLock() {
    constexpr const char* api = "IWDFInterrupt::TryToAcquireInterruptLock";
    auto* irq = detail::resolve<interrupt_impl>(irq_.handle(), api);
    if (irq == nullptr) return 0;
    if (!check_enabled(irq, api)) return 0;
    // Held by anyone, this thread included: FALSE without waiting (§10.3, §16).
    return irq_.try_to_acquire_lock() ? 1 : 0;
}

}  // namespace wdfx::wudf
