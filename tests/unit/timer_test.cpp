// WDFTIMER (wdf-semantics §18.7, §9.4, §18.1) on the timer service and the dispatcher pool.
//
// No clause is checked against the clock: the tests wait for callbacks on counters and gates,
// and "nothing ran after X" is checked after a later one-shot probe timer fired (an event). Where
// a test must know that a thread waits inside the framework (stop with wait, delete), it reads
// the kernel's view of that thread (/proc/self/task/<tid>/syscall: blocked in futex()).
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

using namespace wdfx;
using wdfx_test::counter;
using wdfx_test::gate;
using wdfx_test::sim_harness;
using wdfx_test::verifier_reports;

namespace {

constexpr auto kGuard = std::chrono::seconds(30);
constexpr std::int64_t kFarFuture = relative_ms(1000 * 1000);  // never reached in a test

pid_t this_tid() {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

/// The system call `tid` is blocked in, or -1 while it runs (/proc/self/task/<tid>/syscall).
long blocked_syscall(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
    std::string first;
    f >> first;
    if (first.empty() || first == "running") return -1;
    return std::strtol(first.c_str(), nullptr, 10);
}

/// Poll (never sleep) until `tid` waits in futex(), or `done()` holds.
bool wait_until_blocked(pid_t tid, const std::function<bool()>& done = {}) {
    auto guard = std::chrono::steady_clock::now() + kGuard;
    while (std::chrono::steady_clock::now() < guard) {
        if (done && done()) return true;
        if (blocked_syscall(tid) == SYS_futex) return true;
        std::this_thread::yield();
    }
    return false;
}

struct open_on_exit {
    std::vector<gate*> gates;
    ~open_on_exit() {
        for (gate* g : gates)
            g->open();
    }
};

object_attributes parented(object parent) {
    object_attributes a;
    a.parent = parent.handle();
    return a;
}

timer make_timer(object parent, std::function<void(timer)> fn, std::uint32_t period_ms = 0,
                 execution_level lvl = execution_level::inherit_from_parent, bool serialize = false,
                 object_attributes a = {}) {
    timer_config c;
    c.on_timer = std::move(fn);
    c.period_ms = period_ms;
    c.automatic_serialization = serialize;
    a.parent = parent.handle();
    a.level = lvl;
    auto t = timer::create(c, a);
    REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.err().describe()));
    return *t;
}

/// Fire a one-shot timer `due` from now and wait for it: an event that happens after everything
/// the timer service had to do before that deadline.
void wait_for_probe(object parent, std::int64_t due = relative_ms(20)) {
    counter fired;
    timer probe = make_timer(parent, [&](timer) { fired.add(); });
    CHECK_FALSE(probe.start(due));
    REQUIRE(fired.wait_for_at_least(1, kGuard));
    CHECK(probe.delete_object() == status::success);
}

/// The current time as a Windows system time (100 ns units since 1601-01-01).
std::int64_t windows_now() {
    timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    return 116444736000000000ll + rt.tv_sec * 10000000ll + rt.tv_nsec / 100;
}

sim_harness::options with_device_constraints(execution_level l, synchronization_scope s) {
    sim_harness::options o;
    o.device_attributes.level = l;
    o.device_attributes.scope = s;
    return o;
}

}  // namespace

TEST_CASE("timer §18.7: a ParentObject is required - STATUS_WDF_PARENT_NOT_SPECIFIED") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    timer_config c;
    c.on_timer = [](timer) {};
    auto t = timer::create(c, object_attributes{});
    REQUIRE_FALSE(t.ok());
    CHECK(t.code() == status::wdf_parent_not_specified);
    // The parent is a device or queue (or below one).
    auto on_driver = timer::create(c, parented(h.drv));
    REQUIRE_FALSE(on_driver.ok());
    CHECK(on_driver.code() == status::invalid_device_request);
    auto ok = timer::create(c, parented(h.dev));
    REQUIRE(ok.ok());
    CHECK(ok->get_parent_object() == h.dev);
    // EvtTimerFunc is required.
    auto no_fn = timer::create(timer_config{}, parented(h.dev));
    REQUIRE_FALSE(no_fn.ok());
    CHECK(no_fn.code() == status::invalid_parameter);
}

TEST_CASE("timer §18.7: a one-shot relative timer fires once") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter fired;
    timer t = make_timer(h.dev, [&](timer) { fired.add(); });
    CHECK_FALSE(t.start(relative_ms(5)));  // not queued before
    REQUIRE(fired.wait_for_at_least(1, kGuard));
    // A later probe has fired: a re-armed one-shot (5 ms) would have fired again by now.
    wait_for_probe(h.dev, relative_ms(30));
    CHECK(fired.get() == 1);
    CHECK_FALSE(t.stop(false));  // a one-shot that fired is no longer queued
    CHECK_FALSE(t.stop(true));
    CHECK(fired.get() == 1);
    // It can be started again.
    CHECK_FALSE(t.start(relative_us(100)));
    REQUIRE(fired.wait_for_at_least(2, kGuard));
    t.stop(true);
    CHECK(fired.get() == 2);
}

TEST_CASE(
    "timer §18.7: a periodic timer fires repeatedly until stop, and no callback runs after "
    "stop with wait returns") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter fired;
    std::atomic<bool> stopped{false};
    std::atomic<int> after_stop{0};
    timer t = make_timer(
        h.dev,
        [&](timer) {
            if (stopped.load()) after_stop.fetch_add(1);
            fired.add();
        },
        1);
    CHECK_FALSE(t.start(relative_ms(1)));
    REQUIRE(fired.wait_for_at_least(5, kGuard));
    CHECK(t.stop(true));  // a periodic timer stays queued until stopped
    stopped = true;
    std::uint64_t at_stop = fired.get();
    wait_for_probe(h.dev);
    CHECK(after_stop.load() == 0);
    CHECK(fired.get() == at_stop);
    CHECK_FALSE(t.stop(false));
}

TEST_CASE("timer §18.7: start returns TRUE if the timer was already queued and re-arms it") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter fired;
    timer t = make_timer(h.dev, [&](timer) { fired.add(); });
    CHECK_FALSE(t.start(kFarFuture));
    CHECK(t.start(kFarFuture));  // queued: TRUE
    // Re-armed with the new due time: it fires now, not in 1000 s.
    CHECK(t.start(relative_ms(1)));
    REQUIRE(fired.wait_for_at_least(1, kGuard));
    wait_for_probe(h.dev);
    CHECK(fired.get() == 1);           // the earlier armings were replaced, not added
    CHECK_FALSE(t.start(kFarFuture));  // it fired: not queued any more
    CHECK(t.stop(true));
}

TEST_CASE("timer §18.7: stop returns TRUE if the timer was queued") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter fired;
    timer t = make_timer(h.dev, [&](timer) { fired.add(); });
    CHECK_FALSE(t.stop(false));  // never started
    CHECK_FALSE(t.start(kFarFuture));
    CHECK(t.stop(false));
    CHECK_FALSE(t.stop(false));  // stopped: no longer queued
    CHECK_FALSE(t.start(kFarFuture));
    CHECK(t.stop(true));
    CHECK_FALSE(t.stop(true));
    CHECK(fired.get() == 0);
}

TEST_CASE("timer §18.7: stop with wait waits for a running callback") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    const pid_t me = this_tid();
    auto run = [&](execution_level lvl) {
        gate release;
        counter started;
        std::atomic<bool> finished{false};
        timer t = make_timer(
            h.dev,
            [&](timer) {
                started.add();
                CHECK(release.wait(kGuard));
                finished = true;
            },
            0, lvl);
        CHECK_FALSE(t.start(0));  // due now
        REQUIRE(started.wait_for_at_least(1, kGuard));
        std::jthread opener_thread([&] {
            CHECK(wait_until_blocked(me));  // the test thread waits inside stop()
            release.open();
        });
        open_on_exit opener{{&release}};
        CHECK_FALSE(t.stop(true));  // the one-shot is running, not queued
        CHECK(finished.load());
        CHECK(t.delete_object() == status::success);
    };
    SUBCASE("a DISPATCH timer (timer thread)") {
        run(execution_level::inherit_from_parent);
    }
    SUBCASE("a PASSIVE timer (dispatcher pool)") {
        run(execution_level::passive);
    }
}

TEST_CASE("timer §18.7 §17: stop with wait from the timer's own callback is a verifier report") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    verifier_reports v;
    counter fired;
    std::atomic<int> result{-1};
    std::atomic<std::uint64_t> reports{0};
    auto cb = [&](timer self) {
        std::uint64_t before = verifier_report_count();
        result = self.stop(true) ? 1 : 0;  // would wait for itself
        reports = verifier_report_count() - before;
        fired.add();
    };
    SUBCASE("PASSIVE timer: waiting for itself") {
        timer t = make_timer(h.dev, cb, 0, execution_level::passive);
        CHECK_FALSE(t.start(0));
        REQUIRE(fired.wait_for_at_least(1, kGuard));
        CHECK(t.stop(true) == false);
    }
    SUBCASE("DISPATCH timer: waiting is not allowed at DISPATCH either") {
        timer t = make_timer(h.dev, cb);
        CHECK_FALSE(t.start(0));
        REQUIRE(fired.wait_for_at_least(1, kGuard));
        CHECK(t.stop(true) == false);
    }
    CHECK(result.load() == 0);
    CHECK(reports.load() == 1);
    CHECK(v.count() == 1);
}

TEST_CASE(
    "timer §18.7 §17: stop with wait from a passive timer's own callback aborts by "
    "default") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    wdfx_test::expect_verifier_abort("timer-stop-self", "WdfTimerStop", [&] {
        counter fired;
        timer t = make_timer(
            h.dev,
            [&](timer self) {
                (void)self.stop(true);
                fired.add();
            },
            0, execution_level::passive);
        (void)t.start(0);
        (void)fired.wait_for_at_least(1, kGuard);
    });
}

TEST_CASE(
    "timer §18.7 design.md: DISPATCH timers run at DISPATCH on the timer thread, PASSIVE "
    "timers at PASSIVE on the pool") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    struct seen {
        std::mutex m;
        level lvl = level::dirql;
        std::string role;
    };
    auto observe = [&](execution_level attr) {
        seen s;
        counter fired;
        timer t = make_timer(
            h.dev,
            [&](timer) {
                std::lock_guard g(s.m);
                s.lvl = current_level();
                s.role = current_thread_role();
                fired.add();
            },
            0, attr);
        CHECK_FALSE(t.start(0));
        REQUIRE(fired.wait_for_at_least(1, kGuard));
        t.stop(true);
        std::lock_guard g(s.m);
        return std::make_pair(s.lvl, s.role);
    };
    auto [dl, drole] = observe(execution_level::inherit_from_parent);
    CHECK(dl == level::dispatch);
    CHECK(drole == "wdfx-timer");
    auto [dl2, drole2] = observe(execution_level::dispatch);
    CHECK(dl2 == level::dispatch);
    CHECK(drole2 == "wdfx-timer");
    auto [pl, prole] = observe(execution_level::passive);
    CHECK(pl == level::passive);
    CHECK(prole.rfind("wdfx-pool/", 0) == 0);
}

TEST_CASE("timer §18.7: a periodic PASSIVE timer is STATUS_NOT_SUPPORTED") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    timer_config c;
    c.on_timer = [](timer) {};
    c.period_ms = 10;
    c.automatic_serialization = false;
    object_attributes a = parented(h.dev);
    a.level = execution_level::passive;
    auto t = timer::create(c, a);
    REQUIRE_FALSE(t.ok());
    CHECK(t.code() == status::not_supported);
    c.period_ms = 0;  // one-shot passive timers are fine
    CHECK(timer::create(c, a).ok());
}

TEST_CASE(
    "timer §18.7 §9.4: automatic serialization under a PASSIVE Device-scope device - a "
    "DISPATCH timer is STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL, a PASSIVE timer runs under "
    "the device lock") {
    sim_harness h(with_device_constraints(execution_level::passive, synchronization_scope::device));
    REQUIRE(nt_success(h.add()));
    timer_config c;
    c.on_timer = [](timer) {};
    c.automatic_serialization = true;
    auto dispatch_timer = timer::create(c, parented(h.dev));
    REQUIRE_FALSE(dispatch_timer.ok());
    CHECK(dispatch_timer.code() == status::wdf_incompatible_execution_level);

    verifier_reports v;
    counter fired;
    std::atomic<std::uint64_t> recursive{0};
    timer t = make_timer(
        h.dev,
        [&](timer) {
            std::uint64_t before = verifier_report_count();
            h.dev.acquire_lock();  // already held by the framework around this callback
            recursive = verifier_report_count() - before;
            fired.add();
        },
        0, execution_level::passive, true);
    CHECK_FALSE(t.start(0));
    REQUIRE(fired.wait_for_at_least(1, kGuard));
    t.stop(true);
    CHECK(recursive.load() == 1);
    CHECK(v.count() == 1);
}

TEST_CASE(
    "timer §18.7 §9.4: automatic serialization under a DISPATCH Device-scope device - a "
    "PASSIVE timer is STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL, a DISPATCH timer runs under "
    "the device lock") {
    sim_harness h(
        with_device_constraints(execution_level::dispatch, synchronization_scope::device));
    REQUIRE(nt_success(h.add()));
    timer_config c;
    c.on_timer = [](timer) {};
    c.automatic_serialization = true;
    object_attributes pa = parented(h.dev);
    pa.level = execution_level::passive;
    auto passive_timer = timer::create(c, pa);
    REQUIRE_FALSE(passive_timer.ok());
    CHECK(passive_timer.code() == status::wdf_incompatible_execution_level);

    verifier_reports v;
    counter fired;
    std::atomic<std::uint64_t> recursive{0};
    timer t = make_timer(
        h.dev,
        [&](timer) {
            std::uint64_t before = verifier_report_count();
            h.dev.acquire_lock();
            recursive = verifier_report_count() - before;
            fired.add();
        },
        0, execution_level::inherit_from_parent, true);
    CHECK_FALSE(t.start(0));
    REQUIRE(fired.wait_for_at_least(1, kGuard));
    t.stop(true);
    CHECK(recursive.load() == 1);
    CHECK(v.count() == 1);
}

TEST_CASE("timer §9.4: automatic serialization under scope None silently takes no lock") {
    sim_harness h({});  // the driver's defaults: Dispatch, scope None
    REQUIRE(nt_success(h.add()));
    verifier_reports v;
    for (execution_level lvl : {execution_level::inherit_from_parent, execution_level::passive}) {
        counter fired;
        std::atomic<bool> took{false};
        timer t = make_timer(
            h.dev,
            [&](timer) {
                std::uint64_t before = verifier_report_count();
                h.dev.acquire_lock();
                took = verifier_report_count() == before;
                h.dev.release_lock();
                fired.add();
            },
            0, lvl, true);
        CHECK_FALSE(t.start(0));
        REQUIRE(fired.wait_for_at_least(1, kGuard));
        t.stop(true);
        CHECK(took.load());
    }
    CHECK(v.count() == 0);
}

TEST_CASE(
    "timer §18.7 §18.1: deleting a timer waits for its running callback before the cleanup "
    "callback") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    auto run = [&](execution_level lvl) {
        std::mutex m;
        std::vector<std::string> order;
        auto note = [&](const char* s) {
            std::lock_guard g(m);
            order.emplace_back(s);
        };
        gate release, deleting;
        counter started;
        std::atomic<bool> deleted{false};
        object_attributes a;
        a.on_cleanup = [&](object) { note("cleanup"); };
        timer t = make_timer(
            h.dev,
            [&](timer) {
                started.add();
                CHECK(release.wait(kGuard));
                note("callback end");
            },
            0, lvl, false, a);
        // A child of the timer is deleted first: its cleanup says the deletion has begun.
        object_attributes ca = parented(t);
        ca.on_cleanup = [&](object) { deleting.open(); };
        REQUIRE(create_object(ca).ok());
        open_on_exit opener{{&release, &deleting}};
        CHECK_FALSE(t.start(0));
        REQUIRE(started.wait_for_at_least(1, kGuard));
        std::atomic<pid_t> deleter_tid{0};
        std::jthread deleter([&] {
            deleter_tid = this_tid();
            CHECK(t.delete_object() == status::success);
            deleted = true;
        });
        open_on_exit opener_first{{&release, &deleting}};
        REQUIRE(deleting.wait(kGuard));
        CHECK(wait_until_blocked(deleter_tid.load(), [&] { return deleted.load(); }));
        CHECK_FALSE(deleted.load());
        release.open();
        deleter.join();
        std::lock_guard g(m);
        CHECK(order == std::vector<std::string>{"callback end", "cleanup"});
        CHECK_FALSE(t.is_valid());
    };
    SUBCASE("a DISPATCH timer") {
        run(execution_level::inherit_from_parent);
    }
    SUBCASE("a PASSIVE timer") {
        run(execution_level::passive);
    }
}

TEST_CASE(
    "timer §18.7: deleting a queued timer cancels it, and start after delete is a verifier "
    "report") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter fired;
    timer t = make_timer(h.dev, [&](timer) { fired.add(); });
    // Due well after the deletion below even on a loaded machine under TSan (at 5 ms it could
    // expire before delete_object ran, which is no cancellation at all).
    CHECK_FALSE(t.start(relative_ms(250)));
    // A reference keeps the deleted timer's memory: an expiry after the deletion would run its
    // callback (observable) instead of touching freed memory.
    t.reference();
    CHECK(t.delete_object() == status::success);
    CHECK(t.is_valid());
    wait_for_probe(h.dev, relative_ms(400));
    CHECK(fired.get() == 0);
    verifier_reports v;
    CHECK_FALSE(t.start(0));  // deleted, still referenced
    CHECK(v.count() == 1);
    t.dereference();
    CHECK_FALSE(t.is_valid());
    CHECK_FALSE(t.start(0));  // a stale handle
    CHECK(v.count() == 2);
    wait_for_probe(h.dev);
    CHECK(fired.get() == 0);
}

TEST_CASE("timer §18.7: an absolute due time (Windows system time, 100 ns since 1601) works") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter fired;
    timer t = make_timer(h.dev, [&](timer) { fired.add(); });
    SUBCASE("in the near future") {
        CHECK_FALSE(t.start(windows_now() + 10 * 10000));  // now + 10 ms
        REQUIRE(fired.wait_for_at_least(1, kGuard));
    }
    SUBCASE("in the past: due at once") {
        CHECK_FALSE(t.start(windows_now() - 10000000));  // one second ago
        REQUIRE(fired.wait_for_at_least(1, kGuard));
    }
    SUBCASE("far in the future: queued until stopped") {
        CHECK_FALSE(t.start(windows_now() + 1000ll * 10000000));  // in 1000 s
        wait_for_probe(h.dev);
        CHECK(fired.get() == 0);
        CHECK(t.stop(true));
    }
    CHECK_FALSE(t.stop(true));
}
