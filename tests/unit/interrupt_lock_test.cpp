// Interrupt locks (wdf-semantics §10, §3, §7.3, §7.4, §21 rules 9, 10, 11, 14), ReportActive /
// ReportInactive (§12), interrupt policy (§13, rule 15), and stress tests of the lock, of
// WdfInterruptDisable/Enable under a flood, and of device removal with deferred work queued.
//
// Mutual exclusion is observed two ways: a section that must exclude another blocks on a gate
// while the other is started, and every protected section checks a plain (non-atomic) counter, so
// a broken exclusion is both a failed check and a data race for TSan. Where a clause says
// something must NOT happen while a lock is held, the test gives a broken implementation a short
// window to show it (kWindow); passing never depends on the window's length.
//
// The policy priority -> SCHED_FIFO mapping needs WDFX_REALTIME=1 (main.cpp sets 0 for the unit
// tests) and, for the refused case, a process without CAP_SYS_NICE and RLIMIT_RTPRIO: those tests
// run their body again in a child process of this binary set up that way.
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec/runtime.hpp"
#include "test_support.hpp"

using namespace wdfx;
using wdfx_test::counter;
using wdfx_test::gate;
using wdfx_test::sim_harness;
using wdfx_test::verifier_reports;
using namespace std::chrono_literals;

namespace {

constexpr auto kWindow = 100ms;

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds guard = 60s) {
    auto deadline = std::chrono::steady_clock::now() + guard;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

/// For "X must not happen now": true if X shows up within the window (a broken implementation).
template <class Pred>
bool shows_up_within(Pred pred, std::chrono::milliseconds window = kWindow) {
    return eventually(pred, window);
}

std::vector<int> cpus() {
    std::vector<int> v;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) v.push_back(i);
    return v;
}

struct open_on_exit {
    std::vector<gate*> gates;
    ~open_on_exit() {
        for (gate* g : gates)
            g->open();
    }
};

status create_irq(device d, interrupt& out, const interrupt_config& c,
                  const object_attributes& a = {}) {
    auto r = interrupt::create(d, c, a);
    if (!r) return r.code();
    out = *r;
    return status::success;
}

/// A section protected by an interrupt lock: a plain counter that must be 1 inside. A broken
/// exclusion is counted (and is a data race TSan reports).
struct exclusive_section {
    int inside = 0;  // deliberately not atomic: the lock under test protects it
    std::uint64_t entries = 0;
    std::atomic<std::uint64_t> violations{0};
    void run() {
        if (++inside != 1) violations.fetch_add(1, std::memory_order_relaxed);
        ++entries;
        for (int i = 0; i < 16; ++i)
            if (inside != 1) violations.fetch_add(1, std::memory_order_relaxed);
        --inside;
    }
};

/// An EvtInterruptSynchronize that counts its runs in the std::atomic<int> it is given.
bool count_run(interrupt, void* runs) {
    static_cast<std::atomic<int>*>(runs)->fetch_add(1);
    return true;
}

}  // namespace

// ---- rule 9: who excludes whom
// ---------------------------------------------------------------------

TEST_CASE("an AcquireLock section excludes the ISR, at DIRQL, until ReleaseLock (§10.1, rule 9)") {
    counter isr_calls;
    std::atomic<bool> held{false}, isr_saw_held{false};
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt, const isr_context&) {
            if (held.load()) isr_saw_held = true;
            isr_calls.add();
            return true;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    irq.acquire_lock();
    held = true;
    CHECK(current_level() == level::dirql);  // raised to the interrupt's SynchronizeIrql
    h.sim->raise(bus::irq_kind::msix, 0);
    CHECK_FALSE(shows_up_within([&] { return isr_calls.get() >= 1; }));
    held = false;
    irq.release_lock();
    CHECK(current_level() == level::passive);
    REQUIRE(isr_calls.wait_for_at_least(1));  // the ISR ran once the lock was released
    CHECK_FALSE(isr_saw_held.load());
}

TEST_CASE(
    "a Synchronize callback excludes the ISR, runs at DIRQL and Synchronize returns its "
    "value (§10.5, rule 9)") {
    counter isr_calls;
    std::atomic<bool> in_sync{false}, isr_saw_sync{false};
    std::shared_ptr<sim::device> simdev;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt, const isr_context&) {
            if (in_sync.load()) isr_saw_sync = true;
            isr_calls.add();
            return true;
        };
        return create_irq(d, irq, c);
    });
    simdev = h.sim;
    REQUIRE(h.start() == status::success);
    level inside_level = level::passive;
    bool isr_ran_inside = true;
    bool r = irq.synchronize([&](interrupt i) {
        in_sync = true;
        inside_level = current_level();
        CHECK(i == irq);
        simdev->raise(bus::irq_kind::msix, 0);
        isr_ran_inside = shows_up_within([&] { return isr_calls.get() >= 1; });
        in_sync = false;
        return true;
    });
    CHECK(r);
    CHECK(inside_level == level::dirql);
    CHECK_FALSE(isr_ran_inside);
    CHECK(current_level() == level::passive);
    REQUIRE(isr_calls.wait_for_at_least(1));
    CHECK_FALSE(isr_saw_sync.load());
    // The callback's BOOLEAN comes back unchanged: FALSE too.
    CHECK_FALSE(irq.synchronize([](interrupt) { return false; }));
    int ctx = 0;
    CHECK(irq.synchronize(
        [](interrupt, void* c) {
            ++*static_cast<int*>(c);
            return true;
        },
        &ctx));
    CHECK(ctx == 1);
}

TEST_CASE(
    "EvtInterruptEnable and EvtInterruptDisable run under the interrupt lock: the ISR, "
    "connected around them, cannot run inside them (§6, §8.1, §8.2, rule 9)") {
    counter isr_calls;
    std::atomic<bool> in_cb{false}, isr_saw_cb{false};
    std::atomic<int> enable_ran_isr{-1}, disable_ran_isr{-1};
    std::atomic<int> enable_level{-1}, disable_level{-1};
    std::shared_ptr<sim::device> simdev;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt, const isr_context&) {
            if (in_cb.load()) isr_saw_cb = true;
            isr_calls.add();
            return true;
        };
        c.on_enable = [&](interrupt, device) {
            in_cb = true;
            enable_level = static_cast<int>(current_level());
            std::uint64_t before = isr_calls.get();
            simdev->raise(bus::irq_kind::msix, 0);  // connected already: the ISR is live
            enable_ran_isr = shows_up_within([&] { return isr_calls.get() > before; }) ? 1 : 0;
            in_cb = false;
            return status::success;
        };
        c.on_disable = [&](interrupt, device) {
            in_cb = true;
            disable_level = static_cast<int>(current_level());
            std::uint64_t before = isr_calls.get();
            simdev->raise(bus::irq_kind::msix, 0);  // still connected until after Disable
            disable_ran_isr = shows_up_within([&] { return isr_calls.get() > before; }) ? 1 : 0;
            in_cb = false;
            return status::success;
        };
        return create_irq(d, irq, c);
    });
    simdev = h.sim;
    REQUIRE(h.start() == status::success);
    CHECK(enable_ran_isr.load() == 0);
    CHECK(enable_level.load() == static_cast<int>(level::dirql));
    REQUIRE(isr_calls.wait_for_at_least(1));  // delivered once Enable released the lock
    irq.disable();
    CHECK(disable_ran_isr.load() == 0);
    CHECK(disable_level.load() == static_cast<int>(level::dirql));
    CHECK_FALSE(isr_saw_cb.load());
}

TEST_CASE(
    "a passive interrupt's Enable runs under its wait lock: TryToAcquireLock from another "
    "thread fails inside it (§6, §10.2, rule 9)") {
    std::atomic<int> try_result{-1}, enable_level{-1};
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.passive_handling = true;
        c.on_isr = [](interrupt, const isr_context&) { return true; };
        c.on_enable = [&](interrupt i, device) {
            enable_level = static_cast<int>(current_level());
            std::thread t([&] { try_result = i.try_to_acquire_lock() ? 1 : 0; });
            t.join();
            return status::success;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    CHECK(try_result.load() == 0);
    CHECK(enable_level.load() == static_cast<int>(level::passive));
    REQUIRE(irq.try_to_acquire_lock());  // free again after Enable
    irq.release_lock();
}

TEST_CASE(
    "the ISR excludes AcquireLock and Synchronize from other threads (§10.1, §10.5, "
    "rule 9)") {
    gate isr_release;
    counter isr_calls;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt, const isr_context&) {
            isr_calls.add();
            (void)isr_release.wait();
            return true;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    open_on_exit opener{{&isr_release}};
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_calls.wait_for_at_least(1));  // the ISR holds the lock, blocked
    std::atomic<bool> acquired{false}, synced{false};
    std::thread locker([&] {
        irq.acquire_lock();
        acquired = true;
        irq.release_lock();
    });
    std::thread syncer([&] { synced = irq.synchronize([](interrupt) { return true; }); });
    CHECK_FALSE(shows_up_within([&] { return acquired.load() || synced.load(); }));
    isr_release.open();
    locker.join();
    syncer.join();
    CHECK(acquired.load());
    CHECK(synced.load());
}

// ---- shared spin lock (§3, §7.3)
// ---------------------------------------------------------------------

namespace {
/// Two DIRQL interrupts on two CPUs, optionally sharing a WDFSPINLOCK. A's ISR blocks; B is
/// raised. Returns whether B's ISR ran while A's was inside.
struct two_isrs {
    bool b_ran_while_a_inside = false;
    bool b_saw_a_inside = false;
    bool b_ran_under_a_lock = false;
};
two_isrs run_two_isrs(bool share_spin_lock) {
    two_isrs out;
    auto cpu_list = cpus();
    gate a_release;
    counter a_calls, b_calls;
    std::atomic<bool> a_inside{false}, b_saw_a{false};
    interrupt a, b;
    sim_harness h({}, {}, [&](device d) -> status {
        spin_lock sl;
        if (share_spin_lock) {
            auto s = spin_lock::create();
            if (!s) return s.code();
            sl = *s;
        }
        interrupt_config ca;
        ca.spin_lock_handle = sl;
        ca.on_isr = [&](interrupt, const isr_context&) {
            a_inside = true;
            a_calls.add();
            if (a_calls.get() == 1) (void)a_release.wait();
            a_inside = false;
            return true;
        };
        interrupt_config cb;
        cb.spin_lock_handle = sl;
        cb.on_isr = [&](interrupt, const isr_context&) {
            if (a_inside.load()) b_saw_a = true;
            b_calls.add();
            return true;
        };
        status s = create_irq(d, a, ca);
        if (nt_success(s)) s = create_irq(d, b, cb);
        if (!nt_success(s)) return s;
        if (cpu_list.size() >= 2) {
            a.set_policy(interrupt_policy::specified_processors, interrupt_priority::normal,
                         1ull << cpu_list[0]);
            b.set_policy(interrupt_policy::specified_processors, interrupt_priority::normal,
                         1ull << cpu_list[1]);
        }
        return status::success;
    });
    REQUIRE(h.start() == status::success);
    open_on_exit opener{{&a_release}};
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(a_calls.wait_for_at_least(1));
    h.sim->raise(bus::irq_kind::msix, 1);
    out.b_ran_while_a_inside = shows_up_within([&] { return b_calls.get() >= 1; });
    a_release.open();
    REQUIRE(b_calls.wait_for_at_least(1));
    out.b_saw_a_inside = b_saw_a.load();
    // WdfInterruptAcquireLock on A takes the lock of the whole set: B's ISR waits too.
    a.acquire_lock();
    h.sim->raise(bus::irq_kind::msix, 1);
    out.b_ran_under_a_lock = shows_up_within([&] { return b_calls.get() >= 2; });
    a.release_lock();
    REQUIRE(b_calls.wait_for_at_least(2));
    return out;
}
}  // namespace

TEST_CASE(
    "a WDFSPINLOCK shared by two interrupts serialises both ISRs and AcquireLock on either "
    "(§3, §7.3, rule 9)") {
    if (cpus().size() < 2) {
        MESSAGE("one CPU: two ISR threads cannot run at once here");
        return;
    }
    auto r = run_two_isrs(true);
    CHECK_FALSE(r.b_ran_while_a_inside);
    CHECK_FALSE(r.b_saw_a_inside);
    CHECK_FALSE(r.b_ran_under_a_lock);
}

TEST_CASE("without a shared spin lock the ISRs of two interrupts run in parallel (§3, §14.2)") {
    if (cpus().size() < 2) {
        MESSAGE("one CPU: two ISR threads cannot run at once here");
        return;
    }
    auto r = run_two_isrs(false);
    CHECK(r.b_ran_while_a_inside);
    CHECK(r.b_saw_a_inside);
    CHECK(r.b_ran_under_a_lock);
}

TEST_CASE(
    "WdfSpinLockAcquire on a spin lock named as an interrupt's SpinLock is a verifier report "
    "(§3, §17, §18.8)") {
    spin_lock shared, plain;
    counter isr_calls;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        auto s1 = spin_lock::create();
        auto s2 = spin_lock::create();
        if (!s1 || !s2) return status::insufficient_resources;
        shared = *s1;
        plain = *s2;
        interrupt_config c;
        c.spin_lock_handle = shared;
        c.on_isr = [&](interrupt, const isr_context&) {
            isr_calls.add();
            return true;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    verifier_reports v;
    plain.acquire();  // an ordinary WDFSPINLOCK: fine, at DISPATCH
    CHECK(current_level() == level::dispatch);
    plain.release();
    CHECK(v.count() == 0);
    shared.acquire();
    CHECK(v.count() == 1);
    CHECK(current_level() == level::passive);  // a no-op: not raised, not taken
    shared.release();
    CHECK(v.count() == 2);
    h.sim->raise(bus::irq_kind::msix, 0);  // the lock was not taken: the ISR runs
    REQUIRE(isr_calls.wait_for_at_least(1));
}

TEST_CASE(
    "WdfSpinLockAcquire on an interrupt's SpinLock aborts under the default verifier "
    "(§17)") {
    spin_lock shared;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        auto s = spin_lock::create();
        if (!s) return s.code();
        shared = *s;
        interrupt_config c;
        c.spin_lock_handle = shared;
        c.on_isr = [](interrupt, const isr_context&) { return true; };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    wdfx_test::expect_verifier_abort("spinlock-is-interrupt-lock", "spin lock is an interrupt lock",
                                     [&] { shared.acquire(); });
}

// ---- passive interrupts: the wait lock (§10.2, §7.4)
// ----------------------------------------------

TEST_CASE(
    "a passive interrupt's ISR runs at PASSIVE under a wait lock that knows its owner "
    "(§10.2, §14.2, rule 10)") {
    counter isr_calls;
    std::mutex m;
    std::string role;
    std::atomic<int> isr_level{-1}, try_in_isr{-1};
    std::atomic<std::uint64_t> isr_reports{0};
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.passive_handling = true;
        c.on_isr = [&](interrupt i, const isr_context&) {
            {
                std::lock_guard g(m);
                role = current_thread_role();
            }
            isr_level = static_cast<int>(current_level());
            std::uint64_t before = verifier_report_count();
            // The owner trying again: FALSE, not a deadlock and not a report (§10.3).
            try_in_isr = i.try_to_acquire_lock() ? 1 : 0;
            isr_reports = verifier_report_count() - before;
            isr_calls.add();
            return true;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.add() == status::success);
    // The passive lock exists from creation: AcquireLock works before the connect (§10.1).
    verifier_reports v;
    irq.acquire_lock();
    CHECK(current_level() == level::passive);  // a wait lock does not raise the level
    irq.release_lock();
    CHECK(v.count() == 0);
    REQUIRE(h.start() == status::success);
    CHECK(irq.get_info().irql == 0);
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_calls.wait_for_at_least(1));
    CHECK(isr_level.load() == static_cast<int>(level::passive));
    CHECK(try_in_isr.load() == 0);
    CHECK(isr_reports.load() == 0);
    std::lock_guard g(m);
    CHECK(role.rfind("wdfx-isr/", 0) == 0);
}

TEST_CASE(
    "a WDFWAITLOCK shared by two passive interrupts serialises both ISRs, and taking it "
    "directly holds off both (§7.4, §10.2, rule 10)") {
    auto cpu_list = cpus();
    gate a_release;
    counter a_calls, b_calls;
    std::atomic<bool> a_inside{false}, b_saw_a{false};
    wait_lock wl;
    interrupt a, b;
    sim_harness h({}, {}, [&](device d) -> status {
        auto w = wait_lock::create();
        if (!w) return w.code();
        wl = *w;
        interrupt_config ca;
        ca.passive_handling = true;
        ca.wait_lock_handle = wl;
        ca.on_isr = [&](interrupt, const isr_context&) {
            a_inside = true;
            a_calls.add();
            if (a_calls.get() == 1) (void)a_release.wait();
            a_inside = false;
            return true;
        };
        interrupt_config cb;
        cb.passive_handling = true;
        cb.wait_lock_handle = wl;
        cb.on_isr = [&](interrupt, const isr_context&) {
            if (a_inside.load()) b_saw_a = true;
            b_calls.add();
            return true;
        };
        status s = create_irq(d, a, ca);
        return nt_success(s) ? create_irq(d, b, cb) : s;
    });
    REQUIRE(h.start() == status::success);
    open_on_exit opener{{&a_release}};
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(a_calls.wait_for_at_least(1));
    // A's ISR holds the shared lock: B's ISR waits, TryToAcquireLock on B fails, and
    // WdfWaitLockAcquire with a zero timeout times out.
    h.sim->raise(bus::irq_kind::msix, 1);
    CHECK_FALSE(shows_up_within([&] { return b_calls.get() >= 1; }));
    CHECK_FALSE(b.try_to_acquire_lock());
    std::int64_t zero = 0;
    CHECK(wl.acquire(&zero) == status::timeout);
    a_release.open();
    REQUIRE(b_calls.wait_for_at_least(1));
    CHECK_FALSE(b_saw_a.load());
    // The driver holding the WDFWAITLOCK itself holds off both ISRs.
    REQUIRE(wl.acquire() == status::success);
    CHECK_FALSE(a.try_to_acquire_lock());
    h.sim->raise(bus::irq_kind::msix, 0);
    h.sim->raise(bus::irq_kind::msix, 1);
    CHECK_FALSE(shows_up_within([&] { return a_calls.get() >= 2 || b_calls.get() >= 2; }));
    wl.release();
    REQUIRE(a_calls.wait_for_at_least(2));
    REQUIRE(b_calls.wait_for_at_least(2));
}

// ---- rule 11: TryToAcquireLock
// -----------------------------------------------------------------------

TEST_CASE(
    "TryToAcquireLock is FALSE whenever the lock is held - by the ISR, by another thread, "
    "by the caller itself - and TRUE when it is free (§10.3, rule 11)") {
    gate isr_release;
    counter isr_calls;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.passive_handling = true;
        c.on_isr = [&](interrupt, const isr_context&) {
            isr_calls.add();
            (void)isr_release.wait();
            return true;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    open_on_exit opener{{&isr_release}};
    verifier_reports v;

    // Free: TRUE, and the caller now holds it.
    REQUIRE(irq.try_to_acquire_lock());
    // Held by the caller itself: FALSE, without a report and without a deadlock.
    CHECK_FALSE(irq.try_to_acquire_lock());
    irq.release_lock();
    irq.acquire_lock();
    CHECK_FALSE(irq.try_to_acquire_lock());
    irq.release_lock();
    CHECK(v.count() == 0);

    // Held by another thread.
    gate holder_release;
    counter holder_has_it;
    open_on_exit opener2{{&holder_release}};
    std::thread holder([&] {
        irq.acquire_lock();
        holder_has_it.add();
        (void)holder_release.wait();
        irq.release_lock();
    });
    REQUIRE(holder_has_it.wait_for_at_least(1));
    CHECK_FALSE(irq.try_to_acquire_lock());
    holder_release.open();
    holder.join();

    // Held by the ISR.
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_calls.wait_for_at_least(1));
    CHECK_FALSE(irq.try_to_acquire_lock());
    isr_release.open();
    // Free again once the ISR returned.
    CHECK(eventually([&] {
        if (!irq.try_to_acquire_lock()) return false;
        irq.release_lock();
        return true;
    }));
    CHECK(v.count() == 0);
}

TEST_CASE(
    "TryToAcquireLock on a DIRQL interrupt returns FALSE and takes nothing (§10.3, §17, "
    "rule 11)") {
    counter isr_calls;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt, const isr_context&) {
            isr_calls.add();
            return true;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    const bool got = irq.try_to_acquire_lock();
    CHECK_FALSE(got);             // the lock is free, still FALSE
    if (got) irq.release_lock();  // broken: do not leave it held
    CHECK(current_level() == level::passive);
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_calls.wait_for_at_least(1));  // nothing was taken
    irq.acquire_lock();
    irq.release_lock();
}

TEST_CASE(
    "Synchronize on a passive interrupt runs the callback at PASSIVE under the wait lock "
    "and returns its value (§10.5, rule 9)") {
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.passive_handling = true;
        c.on_isr = [](interrupt, const isr_context&) { return true; };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    level inside = level::dirql;
    int other_thread_try = -1;
    CHECK(irq.synchronize([&](interrupt i) {
        inside = current_level();
        std::thread t([&] { other_thread_try = i.try_to_acquire_lock() ? 1 : 0; });
        t.join();
        return true;
    }));
    CHECK(inside == level::passive);
    CHECK(other_thread_try == 0);  // the wait lock was held around the callback
    CHECK_FALSE(irq.synchronize([](interrupt) { return false; }));
    REQUIRE(irq.try_to_acquire_lock());
    irq.release_lock();
}

// ---- rule 10/14: recursion, unconnected, wrong level
// -------------------------------------------------

TEST_CASE(
    "recursive AcquireLock and nested Synchronize from the ISR, a Synchronize callback or a "
    "locked section are verifier reports, not deadlocks (§10.1, §10.5, §17, rule 10)") {
    counter dirql_calls, passive_calls;
    std::atomic<std::uint64_t> dirql_isr_reports{0}, passive_isr_reports{0};
    std::atomic<int> dirql_isr_sync{-1}, passive_isr_sync{-1};
    std::atomic<int> nested_callback_runs{0};
    interrupt dirql_irq, passive_irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config a;
        a.on_isr = [&](interrupt i, const isr_context&) {
            std::uint64_t before = verifier_report_count();
            i.acquire_lock();  // the ISR holds it
            dirql_isr_sync = i.synchronize(count_run, &nested_callback_runs) ? 1 : 0;
            dirql_isr_reports = verifier_report_count() - before;
            dirql_calls.add();
            return true;
        };
        interrupt_config p;
        p.passive_handling = true;
        p.on_isr = [&](interrupt i, const isr_context&) {
            std::uint64_t before = verifier_report_count();
            i.acquire_lock();
            passive_isr_sync = i.synchronize(count_run, &nested_callback_runs) ? 1 : 0;
            passive_isr_reports = verifier_report_count() - before;
            passive_calls.add();
            return true;
        };
        status s = create_irq(d, dirql_irq, a);
        return nt_success(s) ? create_irq(d, passive_irq, p) : s;
    });
    REQUIRE(h.start() == status::success);
    verifier_reports v;

    // One at a time: each ISR measures its own reports on the process-wide count.
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(dirql_calls.wait_for_at_least(1));
    h.sim->raise(bus::irq_kind::msix, 1);
    REQUIRE(passive_calls.wait_for_at_least(1));
    CHECK(dirql_isr_reports.load() == 2);
    CHECK(dirql_isr_sync.load() == 0);
    CHECK(passive_isr_reports.load() == 2);
    CHECK(passive_isr_sync.load() == 0);
    CHECK(nested_callback_runs.load() == 0);  // the nested callbacks never ran

    for (interrupt i : {dirql_irq, passive_irq}) {
        INFO("passive: " << (i == passive_irq));
        std::uint64_t before = v.count();
        bool outer = i.synchronize([&](interrupt j) {
            j.acquire_lock();
            bool inner = j.synchronize(count_run, &nested_callback_runs);
            return !inner;
        });
        CHECK(outer);
        CHECK(v.count() == before + 2);
        // A locked section: a second AcquireLock and a Synchronize inside it.
        i.acquire_lock();
        i.acquire_lock();
        CHECK_FALSE(i.synchronize(count_run, &nested_callback_runs));
        i.release_lock();
        CHECK(v.count() == before + 4);
        CHECK(nested_callback_runs.load() == 0);
    }
    // Nothing is left held: the interrupts still work and the lock is free.
    h.sim->raise(bus::irq_kind::msix, 1);
    REQUIRE(passive_calls.wait_for_at_least(2));
    CHECK(eventually([&] {  // free once that ISR has returned
        if (!passive_irq.try_to_acquire_lock()) return false;
        passive_irq.release_lock();
        return true;
    }));
}

TEST_CASE(
    "a recursive AcquireLock aborts under the default verifier - from a thread and from the "
    "ISR (§10.1 and §17)") {
    std::atomic<bool> recurse_in_isr{false};
    counter isr_calls;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt i, const isr_context&) {
            if (recurse_in_isr.load()) i.acquire_lock();
            isr_calls.add();
            return true;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    wdfx_test::expect_verifier_abort("recursive-acquire-thread", "recursive interrupt lock acquire",
                                     [&] {
                                         irq.acquire_lock();
                                         irq.acquire_lock();
                                     });
    wdfx_test::expect_verifier_abort("recursive-acquire-isr", "recursive interrupt lock acquire",
                                     [&] {
                                         recurse_in_isr = true;
                                         h.sim->raise(bus::irq_kind::msix, 0);
                                         (void)isr_calls.wait_for_at_least(1);
                                     });
}

TEST_CASE(
    "AcquireLock and Synchronize on a DIRQL interrupt that is not connected are verifier "
    "reports, a passive one's lock works unconnected (§10.1, §10.5, rule 14)") {
    int sync_runs = 0;
    interrupt dirql_irq, passive_irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config a;
        a.on_isr = [](interrupt, const isr_context&) { return true; };
        interrupt_config p;
        p.passive_handling = true;
        p.on_isr = [](interrupt, const isr_context&) { return true; };
        status s = create_irq(d, dirql_irq, a);
        return nt_success(s) ? create_irq(d, passive_irq, p) : s;
    });
    REQUIRE(h.add() == status::success);  // created, not started: not connected
    auto count_sync = [&](interrupt) {
        ++sync_runs;
        return true;
    };
    {
        verifier_reports v;
        dirql_irq.acquire_lock();  // reported; WDF then returns WITHOUT the lock
        CHECK(v.count() == 1);
        CHECK(current_level() == level::passive);
        dirql_irq.release_lock();  // nothing to release: reported
        CHECK(v.count() == 2);
        CHECK_FALSE(dirql_irq.synchronize(count_sync));
        CHECK(v.count() == 3);
        CHECK(sync_runs == 0);
        passive_irq.acquire_lock();  // the wait lock exists from creation
        passive_irq.release_lock();
        CHECK(v.count() == 3);
    }
    REQUIRE(h.start() == status::success);
    {
        verifier_reports v;
        dirql_irq.acquire_lock();
        CHECK(current_level() == level::dirql);
        dirql_irq.release_lock();
        CHECK(dirql_irq.synchronize(count_sync));
        CHECK(sync_runs == 1);
        CHECK(v.count() == 0);
        dirql_irq.disable();  // force-disconnected: not connected again
        dirql_irq.acquire_lock();
        CHECK(v.count() == 1);
        CHECK_FALSE(dirql_irq.synchronize(count_sync));
        CHECK(v.count() == 2);
        CHECK(sync_runs == 1);
        dirql_irq.enable();
        dirql_irq.acquire_lock();
        dirql_irq.release_lock();
        CHECK(v.count() == 2);
    }
}

TEST_CASE(
    "wrong-level calls are verifier reports - TryToAcquireLock and a passive Synchronize "
    "from a DPC, WdfInterruptEnable and Disable from the ISR (§1, §8.4, §10.3, §17)") {
    counter dpc_runs, dirql_isr_calls, passive_isr_calls;
    std::atomic<int> dpc_try{-1}, dpc_sync{-1};
    std::atomic<std::uint64_t> dpc_reports{0}, dirql_isr_reports{0}, passive_isr_reports{0};
    std::atomic<int> dirql_isr_enable_calls{0};
    std::atomic<int> sync_callback_runs{0};
    std::atomic<int> enable_callbacks{0}, disable_callbacks{0};
    interrupt passive_irq, dirql_irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config p;
        p.passive_handling = true;
        p.on_isr = [&](interrupt i, const isr_context&) {
            std::uint64_t before = verifier_report_count();
            i.enable();  // under its own lock: a report, not a deadlock
            passive_isr_reports = verifier_report_count() - before;
            passive_isr_calls.add();
            return true;
        };
        interrupt_config a;
        a.on_isr = [&](interrupt i, const isr_context&) {
            std::uint64_t before = verifier_report_count();
            if (dirql_isr_enable_calls.fetch_add(1) == 0) {
                i.enable();   // PASSIVE only
                i.disable();  // PASSIVE only
            }
            dirql_isr_reports = verifier_report_count() - before;
            dirql_isr_calls.add();
            return i.queue_dpc_for_isr();
        };
        a.on_dpc = [&](interrupt, object) {
            std::uint64_t before = verifier_report_count();
            dpc_try = passive_irq.try_to_acquire_lock() ? 1 : 0;  // PASSIVE only
            if (dpc_try.load() == 1) passive_irq.release_lock();  // broken: do not leave it held
            dpc_sync = passive_irq.synchronize([&](interrupt) {
                sync_callback_runs.fetch_add(1);
                return true;
            })
                           ? 1
                           : 0;
            dpc_reports = verifier_report_count() - before;
            dpc_runs.add();
        };
        a.on_enable = [&](interrupt, device) {
            enable_callbacks.fetch_add(1);
            return status::success;
        };
        a.on_disable = [&](interrupt, device) {
            disable_callbacks.fetch_add(1);
            return status::success;
        };
        status s = create_irq(d, passive_irq, p);
        return nt_success(s) ? create_irq(d, dirql_irq, a) : s;
    });
    REQUIRE(h.start() == status::success);
    verifier_reports v;
    h.sim->raise(bus::irq_kind::msix, 1);
    REQUIRE(dpc_runs.wait_for_at_least(1));
    CHECK(dirql_isr_reports.load() == 2);
    CHECK(dpc_try.load() == 0);
    CHECK(dpc_sync.load() == 0);
    CHECK(sync_callback_runs.load() == 0);
    CHECK(dpc_reports.load() == 2);
    // Enable/Disable from the ISR did nothing: still connected, no callbacks.
    CHECK(dirql_irq.get_binding().connected);
    CHECK(enable_callbacks.load() == 1);
    CHECK(disable_callbacks.load() == 0);
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(passive_isr_calls.wait_for_at_least(1));
    CHECK(passive_isr_reports.load() == 1);
    CHECK(passive_irq.get_binding().connected);
    CHECK(v.count() == 5);
}

// ---- §12: ReportActive / ReportInactive
// ----------------------------------------------------------

TEST_CASE(
    "ReportActive and ReportInactive need a connected interrupt, are idempotent, keep it "
    "connected, call no Enable or Disable, and an inactive vector is not delivered "
    "(§12, rule 14)") {
    counter isr_calls;
    std::atomic<int> enables{0}, disables{0};
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt, const isr_context&) {
            isr_calls.add();
            return true;
        };
        c.on_enable = [&](interrupt, device) {
            enables.fetch_add(1);
            return status::success;
        };
        c.on_disable = [&](interrupt, device) {
            disables.fetch_add(1);
            return status::success;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.add() == status::success);
    {
        verifier_reports v;  // not connected: report and return
        irq.report_inactive();
        irq.report_active();
        CHECK(v.count() == 2);
    }
    REQUIRE(h.start() == status::success);
    REQUIRE(enables.load() == 1);
    verifier_reports v;
    CHECK(h.sim->vector_attached(bus::irq_kind::msix, 0));

    irq.report_inactive();
    CHECK(irq.get_binding().connected);  // a soft disconnect
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
    auto before = h.sim->get_counters();
    h.sim->raise(bus::irq_kind::msix, 0);
    auto after = h.sim->get_counters();
    CHECK(after.delivered == before.delivered);  // never reaches the ISR's eventfd
    CHECK(after.dropped == before.dropped + 1);
    irq.report_inactive();  // idempotent
    CHECK(irq.get_binding().connected);
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
    // Still connected, so the interrupt lock works (rule 14).
    irq.acquire_lock();
    irq.release_lock();

    irq.report_active();
    CHECK(h.sim->vector_attached(bus::irq_kind::msix, 0));
    irq.report_active();  // idempotent
    CHECK(h.sim->vector_attached(bus::irq_kind::msix, 0));
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_calls.wait_for_at_least(1));
    CHECK(isr_calls.get() == 1);  // the signal raised while inactive was not delivered later
    CHECK(v.count() == 0);
    CHECK(enables.load() == 1);
    CHECK(disables.load() == 0);
    h.dev.stop();
    CHECK(disables.load() == 1);
}

// ---- §13: policy
// ---------------------------------------------------------------------------------

TEST_CASE(
    "SetPolicy with an out-of-range policy or priority, or Priority Undefined, is a verifier "
    "no-op (§13, §20, rule 15)") {
    auto cpu_list = cpus();
    const int cpu_a = cpu_list.back();
    const int cpu_b = cpu_list.front();
    interrupt a, b;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [](interrupt, const isr_context&) { return true; };
        status s = create_irq(d, a, c);
        if (nt_success(s)) s = create_irq(d, b, c);
        if (!nt_success(s)) return s;
        a.set_policy(interrupt_policy::specified_processors, interrupt_priority::high,
                     1ull << cpu_a);
        // Each of these is rejected and changes nothing.
        a.set_policy(interrupt_policy::specified_processors, interrupt_priority::undefined,
                     1ull << cpu_b);
        a.set_policy(static_cast<interrupt_policy>(42), interrupt_priority::normal, 1ull << cpu_b);
        a.set_policy(interrupt_policy::specified_processors, static_cast<interrupt_priority>(9),
                     1ull << cpu_b);
        interrupt_extended_policy e;  // WDF_INTERRUPT_EXTENDED_POLICY_INIT: Priority Undefined
        e.policy = interrupt_policy::specified_processors;
        e.target_processors = 1ull << cpu_b;
        a.set_extended_policy(e);
        b.set_policy(interrupt_policy::machine_default, interrupt_priority::normal, 0);
        return status::success;
    });
    verifier_reports v;
    REQUIRE(h.start() == status::success);
    CHECK(v.count() == 4);
    // The first, valid call stands: High priority (a higher DIRQL than Normal) on cpu_a.
    CHECK(a.get_info().irql > b.get_info().irql);
    CHECK(a.get_info().target_processor_set == (1ull << cpu_a));
    CHECK(a.get_binding().cpu == cpu_a);
}

TEST_CASE(
    "SetPolicy in AddDevice takes effect at start - SpecifiedProcessors pins the ISR thread "
    "- and a later call only at the next start (§13, §19.2, rule 15)") {
    auto cpu_list = cpus();
    const int target = cpu_list.back();
    std::atomic<int> isr_cpu{-2};
    counter isr_calls;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt, const isr_context&) {
            isr_cpu = sched_getcpu();
            isr_calls.add();
            return true;
        };
        status s = create_irq(d, irq, c);
        if (nt_success(s))
            irq.set_policy(interrupt_policy::specified_processors, interrupt_priority::normal,
                           1ull << target);
        return s;
    });
    REQUIRE(h.start() == status::success);
    CHECK(irq.get_binding().cpu == target);
    CHECK(irq.get_info().target_processor_set == (1ull << target));
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_calls.wait_for_at_least(1));
    CHECK(isr_cpu.load() == target);
    if (cpu_list.size() < 2) return;
    const int other = cpu_list.front();
    irq.set_policy(interrupt_policy::specified_processors, interrupt_priority::normal,
                   1ull << other);
    CHECK(irq.get_binding().cpu == target);  // resources are already assigned
    REQUIRE(h.dev.stop() == status::success);
    REQUIRE(h.dev.start() == status::success);
    CHECK(irq.get_binding().cpu == other);
    CHECK(irq.get_info().target_processor_set == (1ull << other));
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_calls.wait_for_at_least(2));
    CHECK(isr_cpu.load() == other);
}

TEST_CASE(
    "SpreadMessagesAcrossAllProcessors puts the messages of a device on different "
    "processors (§13, rule 15)") {
    auto cpu_list = cpus();
    const std::size_t n = std::min<std::size_t>(4, cpu_list.size());
    std::vector<interrupt> irqs(4);
    sim_harness h({}, {}, [&](device d) -> status {
        for (auto& i : irqs) {
            interrupt_config c;
            c.on_isr = [](interrupt, const isr_context&) { return true; };
            status s = create_irq(d, i, c);
            if (!nt_success(s)) return s;
            i.set_policy(interrupt_policy::spread_messages_across_all_processors,
                         interrupt_priority::normal, 0);
        }
        return status::success;
    });
    REQUIRE(h.start() == status::success);
    std::vector<int> used;
    for (std::size_t m = 0; m < irqs.size(); ++m) {
        INFO("message " << m);
        int cpu = irqs[m].get_binding().cpu;
        CHECK(cpu == cpu_list[m % cpu_list.size()]);
        if (cpu >= 0) CHECK(irqs[m].get_info().target_processor_set == (1ull << cpu));
        if (m < n) used.push_back(cpu);
    }
    std::sort(used.begin(), used.end());
    CHECK(std::unique(used.begin(), used.end()) == used.end());  // n messages, n processors
}

TEST_CASE(
    "SetPolicy on an interrupt created in EvtDevicePrepareHardware is a verifier report and "
    "does not place its ISR (§13, §19.2, rule 15)") {
    auto cpu_list = cpus();
    std::array<interrupt, 2> irqs;
    std::array<status, 2> created{status::unsuccessful, status::unsuccessful};
    sim_harness h({}, [&](device_init& init) {
        init.pnp_power.on_prepare_hardware = [&](device d, const resource_list& raw,
                                                 const resource_list& translated) {
            std::size_t k = 0;
            for (std::size_t r = 0; r < translated.size() && k < irqs.size(); ++r) {
                if (translated[r].type != resource_type::interrupt) continue;
                interrupt_config c;
                c.on_isr = [](interrupt, const isr_context&) { return true; };
                c.interrupt_raw = &raw[r];
                c.interrupt_translated = &translated[r];
                created[k] = create_irq(d, irqs[k], c);
                if (nt_success(created[k]))
                    irqs[k].set_policy(interrupt_policy::specified_processors,
                                       interrupt_priority::high, 1ull << cpu_list.front());
                ++k;
            }
            return status::success;
        };
    });
    verifier_reports v;
    REQUIRE(h.start() == status::success);
    REQUIRE(created[0] == status::success);
    REQUIRE(created[1] == status::success);
    CHECK(v.count() == 2);
    if (cpu_list.size() >= 2) {
        // Placed as if no policy had been set: two messages on two processors, not both pinned
        // to the one processor the (too late) policy named.
        CHECK(irqs[0].get_binding().cpu != irqs[1].get_binding().cpu);
    }
}

// ---- stress
// -------------------------------------------------------------------------------------------

namespace {
#ifdef WDFX_SANITIZER_BUILD
constexpr int kStressRaises = 3000;
constexpr int kStressSections = 1500;
constexpr int kToggles = 60;
#else
constexpr int kStressRaises = 20000;
constexpr int kStressSections = 10000;
constexpr int kToggles = 200;
#endif
}  // namespace

TEST_CASE(
    "stress: Synchronize and AcquireLock from several threads exclude two ISRs sharing a "
    "spin lock while interrupts flood, and no signal is lost (§10, §7.3, §19.2, rule 9)") {
    exclusive_section sec;
    std::array<std::uint64_t, 2> isr_signals{};  // under the shared lock
    std::array<counter, 2> delivered;
    std::array<interrupt, 2> irqs;
    sim_harness h({}, {}, [&](device d) -> status {
        auto sl = spin_lock::create();
        if (!sl) return sl.code();
        for (int v = 0; v < 2; ++v) {
            interrupt_config c;
            c.spin_lock_handle = *sl;
            c.on_isr = [&, v](interrupt, const isr_context& ctx) {
                sec.run();
                isr_signals[static_cast<std::size_t>(v)] += ctx.signals;
                delivered[static_cast<std::size_t>(v)].add(ctx.signals);
                return true;
            };
            status s = create_irq(d, irqs[static_cast<std::size_t>(v)], c);
            if (!nt_success(s)) return s;
        }
        return status::success;
    });
    REQUIRE(h.start() == status::success);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < kStressRaises; ++i) {
                h.sim->raise(bus::irq_kind::msix, 0);
                h.sim->raise(bus::irq_kind::msix, 1);
            }
        });
    std::atomic<int> sync_false{0};
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&, t] {
            interrupt mine = irqs[static_cast<std::size_t>(t % 2)];
            interrupt other = irqs[static_cast<std::size_t>((t + 1) % 2)];
            for (int i = 0; i < kStressSections; ++i) {
                if (!mine.synchronize([&](interrupt) {
                        sec.run();
                        return true;
                    }))
                    sync_false.fetch_add(1);
                other.acquire_lock();
                sec.run();
                other.release_lock();
            }
        });
    for (auto& t : threads)
        t.join();
    const std::uint64_t expected = 2ull * kStressRaises;
    REQUIRE(delivered[0].wait_for_at_least(expected));
    REQUIRE(delivered[1].wait_for_at_least(expected));
    for (auto& i : irqs)
        i.disable();
    CHECK(sec.violations.load() == 0);
    CHECK(sync_false.load() == 0);
    CHECK(isr_signals[0] == expected);
    CHECK(isr_signals[1] == expected);
    CHECK(h.sim->get_counters().dropped == 0);
    CHECK(sec.entries >= 3ull * 2 * kStressSections);
}

TEST_CASE(
    "stress: Synchronize, AcquireLock, TryToAcquireLock and WdfWaitLockAcquire exclude two "
    "passive ISRs sharing a wait lock while interrupts flood (§10.2, §10.3, §7.4, "
    "rule 10)") {
    exclusive_section sec;
    std::array<std::uint64_t, 2> isr_signals{};
    std::array<counter, 2> delivered;
    std::array<interrupt, 2> irqs;
    wait_lock wl;
    sim_harness h({}, {}, [&](device d) -> status {
        auto w = wait_lock::create();
        if (!w) return w.code();
        wl = *w;
        for (int v = 0; v < 2; ++v) {
            interrupt_config c;
            c.passive_handling = true;
            c.wait_lock_handle = wl;
            c.on_isr = [&, v](interrupt, const isr_context& ctx) {
                sec.run();
                isr_signals[static_cast<std::size_t>(v)] += ctx.signals;
                delivered[static_cast<std::size_t>(v)].add(ctx.signals);
                return true;
            };
            status s = create_irq(d, irqs[static_cast<std::size_t>(v)], c);
            if (!nt_success(s)) return s;
        }
        return status::success;
    });
    REQUIRE(h.start() == status::success);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < kStressRaises; ++i) {
                h.sim->raise(bus::irq_kind::msix, 0);
                h.sim->raise(bus::irq_kind::msix, 1);
            }
        });
    std::atomic<std::uint64_t> tries_won{0};
    std::atomic<int> acquire_failed{0};
    for (int t = 0; t < 3; ++t)
        threads.emplace_back([&, t] {
            interrupt mine = irqs[static_cast<std::size_t>(t % 2)];
            for (int i = 0; i < kStressSections; ++i) {
                (void)mine.synchronize([&](interrupt) {
                    sec.run();
                    return true;
                });
                mine.acquire_lock();
                sec.run();
                mine.release_lock();
                if (mine.try_to_acquire_lock()) {
                    tries_won.fetch_add(1);
                    sec.run();
                    mine.release_lock();
                }
                if (wl.acquire() != status::success) {
                    acquire_failed.fetch_add(1);
                    continue;
                }
                sec.run();
                wl.release();
            }
        });
    for (auto& t : threads)
        t.join();
    const std::uint64_t expected = 2ull * kStressRaises;
    REQUIRE(delivered[0].wait_for_at_least(expected));
    REQUIRE(delivered[1].wait_for_at_least(expected));
    for (auto& i : irqs)
        i.disable();
    CHECK(sec.violations.load() == 0);
    CHECK(acquire_failed.load() == 0);
    CHECK(isr_signals[0] == expected);
    CHECK(isr_signals[1] == expected);
    CHECK(h.sim->get_counters().dropped == 0);
}

TEST_CASE(
    "stress: WdfInterruptDisable and WdfInterruptEnable repeatedly while interrupts flood - "
    "no hang, Enable/Disable exclude the ISR, signals after the last Enable are delivered "
    "(§8.4, §8.2, rule 13)") {
    exclusive_section sec;
    counter isr_signals;
    std::atomic<int> enables{0}, disables{0};
    std::atomic<bool> stop{false};
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [&](interrupt i, const isr_context& ctx) {
            sec.run();
            isr_signals.add(ctx.signals);
            return i.queue_dpc_for_isr();
        };
        c.on_dpc = [](interrupt, object) {};
        c.on_enable = [&](interrupt, device) {
            sec.run();
            enables.fetch_add(1);
            return status::success;
        };
        c.on_disable = [&](interrupt, device) {
            sec.run();
            disables.fetch_add(1);
            return status::success;
        };
        return create_irq(d, irq, c);
    });
    REQUIRE(h.start() == status::success);
    std::thread raiser([&] {
        while (!stop.load(std::memory_order_relaxed))
            h.sim->raise(bus::irq_kind::msix, 0);
    });
    for (int i = 0; i < kToggles; ++i) {
        irq.disable();
        irq.enable();
    }
    stop = true;
    raiser.join();
    CHECK(enables.load() == kToggles + 1);
    CHECK(disables.load() == kToggles);
    CHECK(irq.get_binding().connected);
    // Drain: every signal the bus delivered to the eventfd has been read, dispatched or dropped
    // (dropped: read in a window with no connection).
    REQUIRE(eventually([&] {
        auto st = irq.get_stats();
        return h.sim->get_counters().delivered == st.signals + st.dropped;
    }));
    const std::uint64_t s0 = isr_signals.get();
    for (int i = 0; i < 10; ++i)
        h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(isr_signals.wait_for_at_least(s0 + 10));
    irq.disable();
    CHECK(isr_signals.get() == s0 + 10);
    CHECK(sec.violations.load() == 0);
}

TEST_CASE(
    "stress: removing the device while its DPC and work item are queued runs them before "
    "the interrupts go, and loses nothing (§8.2, §8.6, rule 5)") {
    struct irq_ctx {
        std::vector<int> data = std::vector<int>(64, 7);
    };
    auto cpu_list = cpus();
    gate dpc_release, pool_release;
    counter dpc_isr_calls, dpc_runs, wi_runs, removing, pool_started;
    std::atomic<std::uint64_t> dpc_true{0};
    std::atomic<int> bad_context{0};
    std::mutex m;
    std::vector<std::string> events;
    interrupt dpc_irq, wi_irq;
    auto note = [&](std::string e) {
        std::lock_guard g(m);
        events.push_back(std::move(e));
    };
    sim_harness h(
        {},
        [&](device_init& init) {
            init.pnp_power.on_d0_exit_pre_interrupts_disabled = [&](device, device_power_state) {
                removing.add();
                return status::success;
            };
        },
        [&](device d) -> status {
            object_attributes a = object_attributes::with_context<irq_ctx>();
            a.on_cleanup = [&](object) { note("cleanup"); };
            interrupt_config c1;
            c1.on_isr = [&](interrupt i, const isr_context&) {
                if (i.queue_dpc_for_isr()) dpc_true.fetch_add(1);
                dpc_isr_calls.add();
                return true;
            };
            c1.on_dpc = [&](interrupt i, object) {
                if (i.context<irq_ctx>()->data[63] != 7) bad_context.fetch_add(1);
                dpc_runs.add();
                note("dpc");
                if (dpc_runs.get() == 1) (void)dpc_release.wait();
            };
            interrupt_config c2;
            c2.on_isr = [](interrupt, const isr_context&) { return true; };
            c2.on_work_item = [&](interrupt i, object) {
                if (i.context<irq_ctx>()->data[0] != 7) bad_context.fetch_add(1);
                wi_runs.add();
                note("work item");
            };
            status s = create_irq(d, dpc_irq, c1, a);
            if (nt_success(s)) s = create_irq(d, wi_irq, c2, a);
            if (nt_success(s))
                dpc_irq.set_policy(interrupt_policy::specified_processors,
                                   interrupt_priority::normal, 1ull << cpu_list.front());
            return s;
        });
    REQUIRE(h.start() == status::success);
    open_on_exit opener{{&dpc_release, &pool_release}};
    // Occupy every pool worker so the work item stays queued.
    const unsigned n = detail::runtime::get().pool().size();
    detail::runtime::get().pool().cap_size(n);  // no growth while they block on purpose
    std::vector<work_item> blockers;
    for (unsigned i = 0; i < n; ++i) {
        work_item_config wc;
        wc.automatic_serialization = false;
        wc.on_work_item = [&](work_item) {
            pool_started.add();
            (void)pool_release.wait();
        };
        object_attributes wa;
        wa.parent = h.dev.handle();
        auto w = work_item::create(wc, wa);
        REQUIRE(w.ok());
        blockers.push_back(*w);
        w->enqueue();
    }
    REQUIRE(pool_started.wait_for_at_least(n));
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(dpc_runs.wait_for_at_least(1));  // DPC run #1 blocked on its CPU's executor
    h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(dpc_isr_calls.wait_for_at_least(2));
    REQUIRE(dpc_true.load() == 2);              // run #2 queued behind run #1
    REQUIRE(wi_irq.queue_work_item_for_isr());  // queued behind the blockers

    device dev = h.dev;
    std::atomic<bool> removed{false};
    std::thread remover([dev, &removed] {
        dev.remove();
        removed = true;
    });
    REQUIRE(removing.wait_for_at_least(1));  // the removal has begun; the work is still queued
    // The removal flushes: it cannot finish while a DPC it must wait for is still blocked.
    CHECK_FALSE(shows_up_within([&] { return removed.load(); }));
    CHECK(dpc_runs.get() == 1);
    CHECK(wi_runs.get() == 0);
    dpc_release.open();
    pool_release.open();
    remover.join();
    CHECK_FALSE(dev.is_valid());
    CHECK(dpc_runs.get() == 2);
    CHECK(wi_runs.get() == 1);
    CHECK(bad_context.load() == 0);
    std::lock_guard g(m);
    // Both interrupts were cleaned up, after every run.
    REQUIRE(events.size() == 5);
    CHECK(std::count(events.begin(), events.end(), "cleanup") == 2);
    CHECK(events[3] == "cleanup");
    CHECK(events[4] == "cleanup");
}

// ---- §13: policy priority -> the ISR thread's SCHED_FIFO priority (in a child process)
// --------------------------------------------------------

extern char** environ;

namespace {

constexpr const char* kPolicyChild = "WDFX_TEST_POLICY_CHILD";
constexpr uid_t kNobody = 65534;
/// Exit statuses of a child that could not be put in the state the test needs (not doctest's).
constexpr int kCannotDrop = 125;    // setuid refused, or this binary unreachable as uid 65534
constexpr int kCannotRefuse = 124;  // SCHED_FIFO still permitted after dropping everything

bool in_policy_child() {
    return std::getenv(kPolicyChild) != nullptr;
}

/// Whether a thread of this process may make itself SCHED_FIFO (CAP_SYS_NICE or RLIMIT_RTPRIO).
bool fifo_permitted() {
    bool ok = false;
    std::thread t([&] {
        sched_param p{};
        p.sched_priority = 1;
        ok = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0;
    });
    t.join();
    return ok;
}

struct child_run {
    int code = -1;  // exit status, -1 if it did not exit
    std::string output;
};

/// Runs the current test case again in a child of this binary, with WDFX_REALTIME=1 (main.cpp
/// keeps an inherited value) and kPolicyChild set. `unprivileged`: before exec the child sets
/// RLIMIT_RTPRIO to 0 and, when this process is root, becomes uid/gid 65534 without supplementary
/// groups (which drops CAP_SYS_NICE), then makes sure SCHED_FIFO is refused.
child_run run_policy_child(bool unprivileged) {
    const char* tc = doctest::getContextOptions()->currentTest->m_name;
    std::string filter = "--test-case=";
    for (const char* c = tc; *c != '\0'; ++c) {
        if (*c == ',') filter += '\\';  // doctest splits filters at commas
        filter += *c;
    }
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    REQUIRE(n > 0);
    exe[n] = '\0';
    char out_path[] = "/tmp/wdfx-policy-XXXXXX";
    int out = ::mkostemp(out_path, O_CLOEXEC);
    REQUIRE(out >= 0);
    // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "WDFX_REALTIME=", 14) != 0 &&
            std::strncmp(*e, kPolicyChild, std::strlen(kPolicyChild)) != 0)
            env_s.push_back(*e);
    env_s.push_back("WDFX_REALTIME=1");
    env_s.push_back(std::string(kPolicyChild) + "=1");
    std::vector<char*> envp;
    for (auto& e : env_s)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string arg0 = exe, arg2 = "--no-breaks";
    char* argv[] = {arg0.data(), filter.data(), arg2.data(), nullptr};
    const bool drop = unprivileged && ::geteuid() == 0;

    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
        if (unprivileged) {
            rlimit none{0, 0};
            if (::setrlimit(RLIMIT_RTPRIO, &none) != 0) ::_exit(kCannotDrop);
            if (drop && (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 ||
                         ::setuid(kNobody) != 0 || ::geteuid() != kNobody ||
                         ::access(exe, X_OK) != 0))  // a build tree under a 0700 home
                ::_exit(kCannotDrop);
            sched_param p{};
            p.sched_priority = 1;
            if (::sched_setscheduler(0, SCHED_FIFO, &p) == 0) ::_exit(kCannotRefuse);
        }
        ::execve(exe, argv, envp.data());
        ::_exit(127);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    ::close(out);
    std::ifstream f(out_path);
    std::stringstream ss;
    ss << f.rdbuf();
    ::unlink(out_path);
    child_run r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.output = ss.str();
    REQUIRE_MESSAGE(r.code != 127, "cannot execute " << exe);
    return r;
}

std::size_t count_of(const std::string& s, const std::string& what) {
    std::size_t n = 0;
    for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size()))
        ++n;
    return n;
}

/// The lines wdfx logged (not doctest's report, which may quote the test's name).
std::string wdfx_log(const std::string& output) {
    std::istringstream in(output);
    std::string log;
    for (std::string line; std::getline(in, line);)
        if (line.rfind("wdfx ", 0) == 0) log += line + "\n";
    return log;
}

constexpr const char* kRefusedWarning = "SCHED_FIFO not permitted";

/// What the ISR thread's scheduling is, seen from the ISR itself.
struct seen_sched {
    std::atomic<int> policy{-1};
    std::atomic<int> priority{-1};
    void record() {
        int pol = -1;
        sched_param sp{};
        if (pthread_getschedparam(pthread_self(), &pol, &sp) == 0) {
            policy = pol;
            priority = sp.sched_priority;
        }
    }
};

}  // namespace

TEST_CASE(
    "§13 policy priority -> SCHED_FIFO: Low, Normal and High run the ISR thread at 30, 50 and 70, "
    "and 50 without a policy, as get_binding and GetInfo report (rule 15 - in a child with "
    "WDFX_REALTIME=1)") {
    if (!in_policy_child()) {
        if (!fifo_permitted()) {
            MESSAGE(
                "SCHED_FIFO is not permitted to this process (no CAP_SYS_NICE, RLIMIT_RTPRIO 0): "
                "the priority mapping cannot be observed here; skipped");
            return;
        }
        child_run r = run_policy_child(false);
        INFO("child output:\n" << r.output);
        CHECK(r.code == 0);
        CHECK(count_of(wdfx_log(r.output), kRefusedWarning) == 0);
        return;
    }
    // docs/wdf-substitutes.md: priorities map to SCHED_FIFO 30/50/70 (Low/Normal/High), 50 when
    // undefined; WDF_INTERRUPT_INFO.Irql 5/6/7 (docs/porting-from-wdf.md).
    constexpr int kFifo[4] = {30, 50, 70, 50};
    constexpr int kIrql[4] = {5, 6, 7, 6};
    std::array<interrupt, 4> irqs;
    std::array<seen_sched, 4> seen;
    std::array<counter, 4> calls;
    sim_harness h({}, {}, [&](device d) -> status {
        for (std::size_t i = 0; i < irqs.size(); ++i) {
            interrupt_config c;
            c.on_isr = [&, i](interrupt, const isr_context&) {
                seen[i].record();
                calls[i].add();
                return true;
            };
            status s = create_irq(d, irqs[i], c);
            if (!nt_success(s)) return s;
        }
        irqs[0].set_policy(interrupt_policy::machine_default, interrupt_priority::low, 0);
        irqs[1].set_policy(interrupt_policy::machine_default, interrupt_priority::normal, 0);
        interrupt_extended_policy e;
        e.priority = interrupt_priority::high;
        irqs[2].set_extended_policy(e);
        // irqs[3]: no policy (Priority undefined)
        return status::success;
    });
    verifier_reports v;
    REQUIRE(h.start() == status::success);
    CHECK(v.count() == 0);
    for (std::size_t i = 0; i < irqs.size(); ++i) {
        INFO("message " << i);
        interrupt_binding b = irqs[i].get_binding();
        CHECK(b.connected);
        CHECK(b.sched_priority == kFifo[i]);
        CHECK(irqs[i].get_info().irql == kIrql[i]);
        h.sim->raise(bus::irq_kind::msix, static_cast<std::uint32_t>(i));
        REQUIRE(calls[i].wait_for_at_least(1));
        CHECK(seen[i].policy.load() == SCHED_FIFO);  // what the kernel granted the thread
        CHECK(seen[i].priority.load() == kFifo[i]);
    }
}

TEST_CASE(
    "§13 SCHED_FIFO refused (no CAP_SYS_NICE, RLIMIT_RTPRIO 0): one clear warning, then the ISR "
    "threads run with normal scheduling and the interrupts work (child as uid 65534 with "
    "WDFX_REALTIME=1)") {
    if (!in_policy_child()) {
        child_run r = run_policy_child(true);
        if (r.code == kCannotDrop) {
            MESSAGE(
                "cannot run the child as uid 65534 here (setuid refused, or the build tree is "
                "not reachable by that user): skipped");
            return;
        }
        if (r.code == kCannotRefuse) {
            MESSAGE(
                "SCHED_FIFO stays permitted after RLIMIT_RTPRIO 0 (CAP_SYS_NICE that cannot be "
                "dropped without root): skipped");
            return;
        }
        INFO("child output:\n" << r.output);
        CHECK(r.code == 0);
        const std::string log = wdfx_log(r.output);
        CHECK(count_of(log, kRefusedWarning) == 1);  // once, not per thread or per start
        CHECK(count_of(log, "wdfx warning:") == 1);  // and nothing else to warn about
        // Clear: says what runs without it and what to grant.
        CHECK(count_of(log, "normal scheduling") == 1);
        CHECK(count_of(log, "CAP_SYS_NICE") == 1);
        CHECK(count_of(log, "LimitRTPRIO") == 1);
        return;
    }
    std::array<interrupt, 2> irqs;
    std::array<seen_sched, 2> seen;
    std::array<counter, 2> calls;
    sim_harness h({}, {}, [&](device d) -> status {
        for (std::size_t i = 0; i < irqs.size(); ++i) {
            interrupt_config c;
            c.on_isr = [&, i](interrupt, const isr_context&) {
                seen[i].record();
                calls[i].add();
                return true;
            };
            status s = create_irq(d, irqs[i], c);
            if (!nt_success(s)) return s;
        }
        irqs[0].set_policy(interrupt_policy::machine_default, interrupt_priority::high, 0);
        return status::success;
    });
    REQUIRE(h.start() == status::success);
    // Twice: a restart makes new ISR threads, which ask for SCHED_FIFO again.
    for (int round = 1; round <= 2; ++round) {
        for (std::size_t i = 0; i < irqs.size(); ++i) {
            INFO("round " << round << ", message " << i);
            interrupt_binding b = irqs[i].get_binding();
            CHECK(b.connected);
            CHECK(b.sched_priority == 0);  // SCHED_OTHER, as granted
            h.sim->raise(bus::irq_kind::msix, static_cast<std::uint32_t>(i));
            REQUIRE(calls[i].wait_for_at_least(static_cast<std::uint64_t>(round)));
            CHECK(seen[i].policy.load() == SCHED_OTHER);
        }
        CHECK(irqs[0].get_info().irql == 7);  // the policy still stands, as a request
        if (round == 1) {
            REQUIRE(h.dev.stop() == status::success);
            REQUIRE(h.dev.start() == status::success);
        }
    }
}
