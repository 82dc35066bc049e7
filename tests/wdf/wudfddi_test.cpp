// The reference page "IWDFInterrupt::AcquireInterruptLock method"
// (../shared/seeds/IWDFInterrupt-AcquireInterruptLock.md), as executable statements, in C++ over
// <wdfx/wudfddi.hpp> (UMDF 1 is a C++ interface). Same runner and conventions as the C pages:
// one ctest per statement, misuse in report mode, the verifier's abort as SIGABRT tests.
//
// The interrupt is a passive-level one, as UMDF 1's are (the driver host runs at PASSIVE_LEVEL).
#include <pthread.h>

#include <atomic>
#include <memory>

#include <wdfx/wdfx.hpp>
#include <wdfx/wudfddi.hpp>

#include "wdf_test.h"

using namespace wdfx;
using wdfx::wudf::IWDFInterrupt;

namespace {

namespace edu = wdfx::sim::edu;

struct state {
    driver drv;
    device dev;
    interrupt irq;
    register_block bar0;
    std::atomic<int> isr_calls{0}, isr_saw_locked{-1}, locked{0};
    std::atomic<int> enable_calls{0}, disable_calls{0};
    std::atomic<std::uint64_t> reports_in_add{~0ull};
    std::atomic<int> nested_try{-1};
    bool acquire_in_add = false;
    bool try_in_isr = false;
};
state* g;

void fail_status(const char* what, status s) {
    wdf_test_fail(__FILE__, __LINE__, "%s: %s", what, status_name(s));
    wdf_test_abandon();
}

/// A UMDF-style driver with one passive-level interrupt on a sim edu device.
void start(bool start_device = true) {
    g = new state();
    driver_config cfg;
    cfg.name = "wudfddi-test";
    cfg.on_device_add = [](driver, device_init& init) -> status {
        init.pnp_power.on_prepare_hardware = [](device d, const resource_list&,
                                                const resource_list& translated) {
            for (const auto& r : translated)
                if (r.type == resource_type::memory && r.bar == 0) {
                    auto m = d.map_registers(r);
                    if (!m) return m.code();
                    g->bar0 = *m;
                }
            return status::success;
        };
        auto d = device::create(init);
        if (!d) return d.code();
        g->dev = *d;
        interrupt_config ic;
        ic.passive_handling = true;
        ic.on_isr = [](interrupt, const isr_context&) -> bool {
            std::uint32_t st = g->bar0.read32(edu::reg_irq_status);
            if (st == 0) return false;
            g->bar0.write32(edu::reg_irq_ack, st);
            g->isr_saw_locked = g->locked.load();
            if (g->try_in_isr) {
                // An "OnRead" running nested on the ISR's thread, which holds the lock.
                IWDFInterrupt i(g->irq);
                g->nested_try = i.TryToAcquireInterruptLock();
            }
            g->isr_calls.fetch_add(1);
            return true;
        };
        ic.on_work_item = [](interrupt, object) {};
        ic.on_enable = [](interrupt, device) {
            g->enable_calls.fetch_add(1);
            return status::success;
        };
        ic.on_disable = [](interrupt, device) {
            g->disable_calls.fetch_add(1);
            return status::success;
        };
        auto i = interrupt::create(*d, ic);
        if (!i) return i.code();
        g->irq = *i;
        if (g->acquire_in_add) {
            // Before OnInterruptEnable: the interrupt exists, the framework has not enabled it.
            std::uint64_t before = verifier_report_count();
            IWDFInterrupt pInterrupt(*i);
            pInterrupt.AcquireInterruptLock();
            bool free_now = i->try_to_acquire_lock();  // nothing was taken
            if (free_now) i->release_lock();
            pInterrupt.ReleaseInterruptLock();
            g->reports_in_add = free_now ? verifier_report_count() - before : 99;
        }
        return status::success;
    };
    auto drv = driver::create(cfg);
    if (!drv) fail_status("driver::create", drv.code());
    g->drv = *drv;
    wdf_test_at_end([] {
        if (g->drv) g->drv.unload();
        delete g;
        g = nullptr;
    });
    if (!start_device) return;
    auto d = g->drv.add_and_start(sim::make_edu());
    if (!d) fail_status("add_and_start", d.code());
}

void raise_interrupt() {
    g->bar0.write32(edu::reg_irq_raise, 1);
}

/// Another thread calls TryToAcquireInterruptLock once.
int try_from_other_thread() {
    static std::atomic<int> got;
    pthread_t t;
    REQUIRE(pthread_create(
                &t, nullptr,
                [](void*) -> void* {
                    IWDFInterrupt i(g->irq);
                    got = i.TryToAcquireInterruptLock();
                    if (got) i.ReleaseInterruptLock();
                    return nullptr;
                },
                nullptr) == 0);
    pthread_join(t, nullptr);
    return got.load();
}

#define CHECK_REPORTS_CXX(n, stmt)                                                          \
    do {                                                                                    \
        std::uint64_t before_ = verifier_report_count();                                    \
        stmt;                                                                               \
        std::uint64_t made_ = verifier_report_count() - before_;                            \
        if (made_ != static_cast<std::uint64_t>(n))                                         \
            wdf_test_fail(__FILE__, __LINE__, "%s made %llu report(s), expected %d", #stmt, \
                          static_cast<unsigned long long>(made_), static_cast<int>(n));     \
    } while (0)

}  // namespace

// page: "The AcquireInterruptLock method begins a code sequence that executes while holding an
// interrupt object's lock." / "When a driver calls AcquireInterruptLock, the system acquires the
// framework's interrupt lock." (the interrupt's own lock: another thread cannot take it, through
// this interface or the WDF one)
WDF_TEST(acquires_framework_interrupt_lock) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    CHECK_REPORTS_CXX(0, pInterrupt.AcquireInterruptLock());
    CHECK_EQ_U(try_from_other_thread(), 0);
    pInterrupt.ReleaseInterruptLock();
}

// page: "When the driver calls ReleaseInterruptLock, the system releases the interrupt lock."
WDF_TEST(release_releases) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    pInterrupt.AcquireInterruptLock();
    CHECK_REPORTS_CXX(0, pInterrupt.ReleaseInterruptLock());
    CHECK_EQ_U(try_from_other_thread(), 1);
}

// page: "You can use AcquireInterruptLock and ReleaseInterruptLock if your driver must execute a
// few lines of code without being preempted and with interrupt servicing disabled." (the device's
// interrupt raised inside is serviced after the release; "without being preempted" is not
// honoured on Linux: docs/porting-from-wdf.md)
WDF_TEST(interrupt_servicing_disabled) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    pInterrupt.AcquireInterruptLock();
    g->locked = 1;
    raise_interrupt();
    SPIN_UNTIL(g->isr_calls.load() != 0, 200000000LL);
    g->locked = 0;
    pInterrupt.ReleaseInterruptLock();
    WAIT_UNTIL(g->isr_calls.load() == 1);
    CHECK_EQ_U(g->isr_saw_locked.load(), 0);
}

// page: "Your driver cannot call AcquireInterruptLock before the framework has called the
// driver's OnInterruptEnable callback function ..." (in EvtDriverDeviceAdd; and once added but not
// started): a verifier report, no lock taken, no hang.
WDF_TEST(not_before_on_interrupt_enable_report) {
    start(false);
    g->acquire_in_add = true;
    auto d = g->drv.add_device(sim::make_edu());
    REQUIRE(static_cast<bool>(d));
    CHECK_EQ_U(g->reports_in_add.load(), 1);
    CHECK_EQ_U(g->enable_calls.load(), 0);
    IWDFInterrupt pInterrupt(g->irq);
    CHECK_REPORTS_CXX(1, pInterrupt.AcquireInterruptLock());
    CHECK_REPORTS_CXX(0, pInterrupt.ReleaseInterruptLock());
    CHECK_REPORTS_CXX(1, CHECK_EQ_U(pInterrupt.TryToAcquireInterruptLock(), 0));
    REQUIRE(d->start() == status::success);
    CHECK_EQ_U(g->enable_calls.load(), 1);
    CHECK_REPORTS_CXX(0, pInterrupt.AcquireInterruptLock());
    pInterrupt.ReleaseInterruptLock();
}

// page: "... or after the framework has called the driver's OnInterruptDisable callback function."
// (after WdfInterruptDisable, and after a power-down; allowed again once re-enabled)
WDF_TEST(not_after_on_interrupt_disable_report) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    g->irq.disable();
    CHECK_EQ_U(g->disable_calls.load(), 1);
    CHECK_REPORTS_CXX(1, pInterrupt.AcquireInterruptLock());
    CHECK_REPORTS_CXX(0, pInterrupt.ReleaseInterruptLock());
    CHECK_EQ_U(try_from_other_thread(), 0);  // refused: a report each, nothing taken
    g->irq.enable();
    CHECK_REPORTS_CXX(0, pInterrupt.AcquireInterruptLock());
    pInterrupt.ReleaseInterruptLock();
    REQUIRE(g->dev.power_down() == status::success);
    CHECK_EQ_U(g->disable_calls.load(), 2);
    CHECK_REPORTS_CXX(1, pInterrupt.AcquireInterruptLock());
    pInterrupt.ReleaseInterruptLock();
    REQUIRE(g->dev.power_up() == status::success);
    CHECK_REPORTS_CXX(0, pInterrupt.AcquireInterruptLock());
    pInterrupt.ReleaseInterruptLock();
}

// page: the same rule with the verifier aborting (the framework's debugger break).
WDF_TEST_ABORT(not_after_on_interrupt_disable_aborts) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    g->irq.disable();
    pInterrupt.AcquireInterruptLock();
}

// page: "After your driver calls AcquireInterruptLock, it must not call the method again for the
// same interrupt object before calling ReleaseInterruptLock." / "The driver must not attempt to
// acquire the lock recursively. If connected to the debugger, the framework introduces a
// breakpoint in this scenario." (a report instead of a self-deadlock; the lock stays held once)
WDF_TEST(recursive_acquire_report_not_deadlock) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    pInterrupt.AcquireInterruptLock();
    CHECK_REPORTS_CXX(1, pInterrupt.AcquireInterruptLock());
    CHECK_EQ_U(try_from_other_thread(), 0);
    CHECK_REPORTS_CXX(0, pInterrupt.ReleaseInterruptLock());
    CHECK_REPORTS_CXX(0, pInterrupt.ReleaseInterruptLock());  // the refused one's: a no-op
    CHECK_EQ_U(try_from_other_thread(), 1);
}

// page: the same with the verifier aborting (the breakpoint).
WDF_TEST_ABORT(recursive_acquire_aborts) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    pInterrupt.AcquireInterruptLock();
    pInterrupt.AcquireInterruptLock();
}

// page: "When running in an arbitrary thread, such as an I/O queue callback method, drivers must
// call IWDFInterrupt::TryToAcquireInterruptLock instead of IWDFInterrupt::AcquireInterruptLock.
// ... Doing so avoids the possibility of deadlock" (wdf-semantics §16: TRUE if acquired, FALSE
// if another thread holds the lock; it does not wait)
WDF_TEST(try_in_arbitrary_thread) {
    start();
    IWDFInterrupt pInterrupt(g->irq);
    CHECK_EQ_U(pInterrupt.TryToAcquireInterruptLock(), 1);
    CHECK_EQ_U(try_from_other_thread(), 0);  // returns at once while this thread holds it
    pInterrupt.ReleaseInterruptLock();
    CHECK_EQ_U(try_from_other_thread(), 1);
}

// page: "... the driver calls IWDFInterrupt::TryToAcquireInterruptLock from
// IQueueCallbackRead::OnRead. Doing so avoids the possibility of deadlock, as described in the
// following scenario." (the SPB scenario, wdf-semantics §10.4: the callback runs nested on the
// thread that holds the lock, here the ISR's; FALSE, no report, no deadlock)
WDF_TEST(try_nested_under_lock_returns_false) {
    start();
    g->try_in_isr = true;
    std::uint64_t before = verifier_report_count();
    raise_interrupt();
    WAIT_UNTIL(g->isr_calls.load() == 1);
    CHECK_EQ_U(g->nested_try.load(), 0);
    CHECK_EQ_U(verifier_report_count() - before, 0);
}
