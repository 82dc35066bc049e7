// WDFWORKITEM (wdf-semantics §18.5, §9.3, §9.4, §18.1) on the dispatcher pool.
//
// Every clause is proven with events: gates that callbacks block on, counters the test waits on,
// and, where a test must know that a thread is waiting inside the framework (flush, delete), the
// kernel's own view of that thread (/proc/self/task/<tid>/syscall shows it blocked in futex()).
// Nothing sleeps and nothing asserts on time; the 30 s guards only turn a hang into a failure.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
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

namespace {

constexpr auto kGuard = std::chrono::seconds(30);

pid_t this_tid() {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

/// How many dispatcher-pool workers the runtime runs (it starts them on first use, so a no-op
/// work item under `parent` is run first).
unsigned pool_threads(object parent) {
    work_item_config c;
    c.on_work_item = [](work_item) {};
    object_attributes a;
    a.parent = parent.handle();
    auto w = work_item::create(c, a);
    REQUIRE(w.ok());
    w->enqueue();
    w->flush();
    CHECK(w->delete_object() == status::success);
    // The runtime's count, not the threads named wdfx-pool/N: a worker names itself when it
    // starts running, which may not have happened yet.
    return detail::runtime::get().pool().size();
}

/// The system call `tid` is blocked in, or -1 while it runs (/proc/self/task/<tid>/syscall).
long blocked_syscall(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
    std::string first;
    f >> first;
    if (first.empty() || first == "running") return -1;
    return std::strtol(first.c_str(), nullptr, 10);
}

/// Poll (never sleep) until `tid` waits in futex(), or `done()` holds: "the thread is now inside
/// the framework's wait". Opening a gate earlier would only make a test weaker, never flaky.
bool wait_until_blocked(pid_t tid, const std::function<bool()>& done = {}) {
    auto guard = std::chrono::steady_clock::now() + kGuard;
    while (std::chrono::steady_clock::now() < guard) {
        if (done && done()) return true;
        if (blocked_syscall(tid) == SYS_futex) return true;
        std::this_thread::yield();
    }
    return false;
}

/// Opens gates when the scope ends, so a failed REQUIRE never leaves a pool worker blocked.
struct open_on_exit {
    std::vector<gate*> gates;
    ~open_on_exit() {
        for (gate* g : gates)
            g->open();
    }
};

/// An ordered record of what happened, written from any thread.
class journal {
  public:
    void add(std::string s) {
        std::lock_guard g(m_);
        v_.push_back(std::move(s));
    }
    std::vector<std::string> get() const {
        std::lock_guard g(m_);
        return v_;
    }
    /// The position of `s`, or -1.
    long index_of(const std::string& s) const {
        std::lock_guard g(m_);
        for (std::size_t i = 0; i < v_.size(); ++i)
            if (v_[i] == s) return static_cast<long>(i);
        return -1;
    }

  private:
    mutable std::mutex m_;
    std::vector<std::string> v_;
};

object_attributes parented(object parent) {
    object_attributes a;
    a.parent = parent.handle();
    return a;
}

work_item make_item(object parent, std::function<void(work_item)> fn, bool serialize = false,
                    object_attributes a = {}) {
    work_item_config c;
    c.on_work_item = std::move(fn);
    c.automatic_serialization = serialize;
    a.parent = parent.handle();
    auto w = work_item::create(c, a);
    REQUIRE_MESSAGE(w.ok(), (w.ok() ? "" : w.err().describe()));
    return *w;
}

/// `n` work items, enqueued, each of which counts itself in `blocked` and waits for `release`;
/// returns once all `n` run (each holds a pool worker).
std::vector<work_item> start_blockers(object parent, unsigned n, gate& release, counter& blocked) {
    std::vector<work_item> items;
    for (unsigned i = 0; i < n; ++i)
        items.push_back(make_item(parent, [&release, &blocked](work_item) {
            blocked.add();
            CHECK(release.wait(kGuard));
        }));
    for (auto& b : items)
        b.enqueue();
    REQUIRE(blocked.wait_for_at_least(n, kGuard));
    return items;
}

sim_harness::options with_device_constraints(execution_level l, synchronization_scope s) {
    sim_harness::options o;
    o.device_attributes.level = l;
    o.device_attributes.scope = s;
    return o;
}

}  // namespace

TEST_CASE("work item §18.5: a ParentObject is required - STATUS_WDF_PARENT_NOT_SPECIFIED") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    work_item_config c;
    c.on_work_item = [](work_item) {};
    auto w = work_item::create(c, object_attributes{});
    REQUIRE_FALSE(w.ok());
    CHECK(w.code() == status::wdf_parent_not_specified);
    CHECK_FALSE(w.err().message.empty());
    // EvtWorkItemFunc is required as well.
    auto no_fn = work_item::create(work_item_config{}, parented(h.dev));
    REQUIRE_FALSE(no_fn.ok());
    CHECK(no_fn.code() == status::invalid_parameter);
}

TEST_CASE("work item §18.5: the parent must be a device or queue or below one") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    work_item_config c;
    c.on_work_item = [](work_item) {};
    // The driver is above the device, not below it.
    auto on_driver = work_item::create(c, parented(h.drv));
    REQUIRE_FALSE(on_driver.ok());
    CHECK(on_driver.code() == status::invalid_device_request);
    // A plain object with no device ancestor.
    auto loose = create_object(object_attributes{});
    REQUIRE(loose.ok());
    auto on_loose = work_item::create(c, parented(*loose));
    REQUIRE_FALSE(on_loose.ok());
    CHECK(on_loose.code() == status::invalid_device_request);
    CHECK(loose->delete_object() == status::success);
    // The device itself, and an object below it, are accepted.
    auto on_device = work_item::create(c, parented(h.dev));
    REQUIRE(on_device.ok());
    CHECK(on_device->get_parent_object() == h.dev);
    CHECK(on_device->parent() == h.dev);
    auto below = create_object(parented(h.dev));
    REQUIRE(below.ok());
    auto on_below = work_item::create(c, parented(*below));
    REQUIRE(on_below.ok());
    CHECK(on_below->get_parent_object() == *below);
}

TEST_CASE("work item §18.5 design.md: callbacks run at PASSIVE on wdfx-pool/N threads") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter runs;
    std::atomic<int> seen_level{-1};
    std::string role;
    std::mutex m;
    work_item w = make_item(h.dev, [&](work_item self) {
        seen_level = static_cast<int>(current_level());
        {
            std::lock_guard g(m);
            role = current_thread_role();
        }
        CHECK(self.get_parent_object() == h.dev);
        runs.add();
    });
    w.enqueue();
    REQUIRE(runs.wait_for_at_least(1, kGuard));
    w.flush();
    CHECK(seen_level.load() == static_cast<int>(level::passive));
    std::lock_guard g(m);
    CHECK(role.rfind("wdfx-pool/", 0) == 0);
    CHECK(std::string(current_thread_role()) == "application");
}

TEST_CASE("work item §9.3 §18.5: enqueue while queued is ignored - exactly one run") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    // Occupy every pool worker so the item stays queued (not started) while it is enqueued again.
    const unsigned workers = pool_threads(h.dev);
    REQUIRE(workers >= 2);
    detail::runtime::get().pool().cap_size(workers);  // no growth while they block on purpose
    gate release;
    counter blocked;
    open_on_exit opener{{&release}};
    std::vector<work_item> blockers = start_blockers(h.dev, workers, release, blocked);

    counter runs;
    work_item w = make_item(h.dev, [&](work_item) { runs.add(); });
    w.enqueue();
    w.enqueue();  // queued and not started: ignored
    w.enqueue();
    CHECK(runs.get() == 0);
    release.open();
    for (auto& b : blockers)
        b.flush();
    w.flush();
    CHECK(runs.get() == 1);
    // Not queued any more: the next enqueue is a new run.
    w.enqueue();
    w.flush();
    CHECK(runs.get() == 2);
}

TEST_CASE(
    "work item §9.3 §18.5: the queued bit is cleared before the callback - a re-enqueue "
    "from the callback runs again and overlaps on the 2-thread pool") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    REQUIRE(pool_threads(h.dev) >= 2);
    gate second_started;
    counter runs;
    std::atomic<int> running{0};
    std::atomic<int> max_running{0};
    std::atomic<bool> overlapped{false};
    std::atomic<int> ordinal{0};
    open_on_exit opener{{&second_started}};
    work_item w = make_item(h.dev, [&](work_item self) {
        int now = running.fetch_add(1) + 1;
        int prev = max_running.load();
        while (now > prev && !max_running.compare_exchange_weak(prev, now)) {
        }
        if (ordinal.fetch_add(1) == 0) {
            // The bit is clear while we run: this enqueue schedules a second run, which another
            // worker starts while this one still waits here.
            self.enqueue();
            overlapped = second_started.wait(kGuard);
        } else {
            second_started.open();
        }
        running.fetch_sub(1);
        runs.add();
    });
    w.enqueue();
    REQUIRE(runs.wait_for_at_least(2, kGuard));
    w.flush();
    CHECK(overlapped.load());
    CHECK(max_running.load() == 2);
    CHECK(runs.get() == 2);
}

TEST_CASE(
    "work item §9.3 §18.5: flush waits for queued and running runs including re-queued "
    "ones") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    const pid_t me = this_tid();

    SUBCASE("a running run and the run it re-queued") {
        gate release;
        counter started, finished;
        std::atomic<bool> flush_returned{false};
        std::atomic<int> finished_after_flush{0};
        std::atomic<int> ordinal{0};
        work_item w = make_item(h.dev, [&](work_item self) {
            if (ordinal.fetch_add(1) == 0) self.enqueue();  // re-queued from inside
            started.add();
            CHECK(release.wait(kGuard));
            if (flush_returned.load()) finished_after_flush.fetch_add(1);
            finished.add();
        });
        w.enqueue();
        REQUIRE(started.wait_for_at_least(1, kGuard));
        std::jthread opener_thread([&] {
            CHECK(wait_until_blocked(me));  // the test thread waits inside flush()
            release.open();
        });
        open_on_exit opener{{&release}};
        w.flush();
        flush_returned = true;
        CHECK(finished.get() == 2);  // the re-queued run finished too
        CHECK(finished_after_flush.load() == 0);
    }

    SUBCASE("a run that is queued and not started yet") {
        const unsigned workers = pool_threads(h.dev);
        gate release;
        counter blocked;
        std::vector<work_item> blockers;
        for (unsigned i = 0; i < workers; ++i)
            blockers.push_back(make_item(h.dev, [&](work_item) {
                blocked.add();
                CHECK(release.wait(kGuard));
            }));
        for (auto& b : blockers)
            b.enqueue();
        open_on_exit opener0{{&release}};
        REQUIRE(blocked.wait_for_at_least(workers, kGuard));
        counter runs;
        work_item w = make_item(h.dev, [&](work_item) { runs.add(); });
        w.enqueue();  // queued behind the blockers
        std::jthread opener_thread([&] {
            CHECK(wait_until_blocked(me));
            release.open();
        });
        open_on_exit opener{{&release}};
        w.flush();
        CHECK(runs.get() == 1);
    }
}

TEST_CASE(
    "work item §18.5 §17: flush from its own callback is a verifier report, not a "
    "deadlock") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    verifier_reports v;
    counter runs;
    std::atomic<std::uint64_t> reports_in_callback{0};
    work_item w = make_item(h.dev, [&](work_item self) {
        std::uint64_t before = verifier_report_count();
        self.flush();  // would wait for itself: reported and ignored
        reports_in_callback = verifier_report_count() - before;
        runs.add();
    });
    w.enqueue();
    REQUIRE(runs.wait_for_at_least(1, kGuard));
    w.flush();
    CHECK(reports_in_callback.load() == 1);
    CHECK(v.count() == 1);
}

TEST_CASE("work item §18.5 §17: flush from its own callback aborts by default") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    wdfx_test::expect_verifier_abort("flush-self", "WdfWorkItemFlush", [&] {
        counter runs;
        work_item w = make_item(h.dev, [&](work_item self) {
            self.flush();
            runs.add();
        });
        w.enqueue();
        (void)runs.wait_for_at_least(1, kGuard);
        w.flush();
    });
}

TEST_CASE("work item §18.5 §17: enqueue after delete (a stale handle) is a verifier report") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    counter runs;
    work_item w = make_item(h.dev, [&](work_item) { runs.add(); });
    CHECK(w.delete_object() == status::success);
    CHECK_FALSE(w.is_valid());
    verifier_reports v;
    w.enqueue();
    CHECK(v.count() == 1);
    w.flush();
    CHECK(v.count() == 2);
    CHECK(runs.get() == 0);
}

TEST_CASE(
    "work item §18.5: WdfObjectDelete waits for the running callback before the cleanup "
    "callback") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    journal j;

    SUBCASE("not queued: deleted at once") {
        object_attributes a;
        a.on_cleanup = [&](object) { j.add("cleanup"); };
        work_item w = make_item(
            h.dev, [](work_item) {}, false, a);
        CHECK(w.delete_object() == status::success);
        CHECK(j.get() == std::vector<std::string>{"cleanup"});
        CHECK_FALSE(w.is_valid());
    }

    SUBCASE("running: the deletion waits") {
        gate release, deleting;
        counter started;
        std::atomic<bool> delete_returned{false};
        object_attributes a;
        a.on_cleanup = [&](object) { j.add("cleanup"); };
        work_item w = make_item(
            h.dev,
            [&](work_item) {
                started.add();
                CHECK(release.wait(kGuard));
                j.add("callback end");
            },
            false, a);
        // A child of the work item: children are deleted first, so its cleanup tells the test
        // that the deletion has begun.
        object_attributes ca = parented(w);
        ca.on_cleanup = [&](object) { deleting.open(); };
        REQUIRE(create_object(ca).ok());
        open_on_exit opener{{&release, &deleting}};
        w.enqueue();
        REQUIRE(started.wait_for_at_least(1, kGuard));
        std::atomic<pid_t> deleter_tid{0};
        std::jthread deleter([&] {
            deleter_tid = this_tid();
            CHECK(w.delete_object() == status::success);
            delete_returned = true;
        });
        open_on_exit opener_first{{&release, &deleting}};  // before the deleter is joined
        REQUIRE(deleting.wait(kGuard));
        CHECK(wait_until_blocked(deleter_tid.load(), [&] { return delete_returned.load(); }));
        CHECK_FALSE(delete_returned.load());  // still waiting for the callback
        release.open();
        deleter.join();
        auto order = j.get();
        CHECK(order == std::vector<std::string>{"callback end", "cleanup"});
        CHECK_FALSE(w.is_valid());
    }
}

TEST_CASE(
    "work item §18.5: deleting a work item from its own callback is deferred - no "
    "deadlock, cleanup after the callback") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    journal j;
    counter destroyed;
    std::atomic<int> delete_status{-1};
    object_attributes a;
    a.on_cleanup = [&](object) { j.add("cleanup"); };
    a.on_destroy = [&](object) { destroyed.add(); };
    work_item w = make_item(
        h.dev,
        [&](work_item self) {
            delete_status = static_cast<int>(self.delete_object());
            j.add("delete returned");
            CHECK(self.is_valid());  // nothing is freed under the running callback
            j.add("callback end");
        },
        false, a);
    w.enqueue();
    REQUIRE(destroyed.wait_for_at_least(1, kGuard));
    CHECK(delete_status.load() == static_cast<int>(status::success));
    CHECK(j.get() == std::vector<std::string>{"delete returned", "callback end", "cleanup"});
    // EvtDestroy runs with the handle still valid (context access is allowed there); the handle
    // is freed right after it returns, on the worker: wait for that, not for a time.
    const auto guard = std::chrono::steady_clock::now() + kGuard;
    while (w.is_valid() && std::chrono::steady_clock::now() < guard)
        std::this_thread::yield();
    CHECK_FALSE(w.is_valid());
}

TEST_CASE(
    "work item §9.4 §18.5: automatic serialization needs a PASSIVE parent - "
    "STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL under a DISPATCH Device-scope device") {
    sim_harness h(
        with_device_constraints(execution_level::dispatch, synchronization_scope::device));
    REQUIRE(nt_success(h.add()));
    work_item_config c;
    c.on_work_item = [](work_item) {};
    c.automatic_serialization = true;
    auto w = work_item::create(c, parented(h.dev));
    REQUIRE_FALSE(w.ok());
    CHECK(w.code() == status::wdf_incompatible_execution_level);
    // Below the device (an object whose ancestor is the device), the device's constraints count.
    auto below = create_object(parented(h.dev));
    REQUIRE(below.ok());
    auto w2 = work_item::create(c, parented(*below));
    REQUIRE_FALSE(w2.ok());
    CHECK(w2.code() == status::wdf_incompatible_execution_level);
    // Without automatic serialization the same parent is fine.
    c.automatic_serialization = false;
    CHECK(work_item::create(c, parented(h.dev)).ok());
}

TEST_CASE("work item §9.4: automatic serialization under scope None silently takes no lock") {
    // The driver's default constraints (§18.2): Dispatch, scope None; the device inherits them.
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    verifier_reports v;
    counter runs;
    std::atomic<bool> took_device_lock{false};
    work_item w = make_item(
        h.dev,
        [&](work_item) {
            // Were the callback under the device lock, this would be a recursive acquire.
            std::uint64_t before = verifier_report_count();
            h.dev.acquire_lock();
            took_device_lock = verifier_report_count() == before;
            h.dev.release_lock();
            runs.add();
        },
        true);
    w.enqueue();
    REQUIRE(runs.wait_for_at_least(1, kGuard));
    w.flush();
    CHECK(took_device_lock.load());
    CHECK(v.count() == 0);
}

TEST_CASE(
    "work item §9.4 §18.9: under a PASSIVE Device-scope device the callback runs under the "
    "device's callback lock") {
    sim_harness h(with_device_constraints(execution_level::passive, synchronization_scope::device));
    REQUIRE(nt_success(h.add()));
    verifier_reports v;
    counter runs;
    std::atomic<bool> test_holds_lock{false};
    std::atomic<bool> ran_while_test_held{false};
    std::atomic<std::uint64_t> recursive_reports{0};
    work_item w = make_item(
        h.dev,
        [&](work_item) {
            if (test_holds_lock.load()) ran_while_test_held = true;
            // The callback already holds the device's lock: taking it again is WDF_RECURSIVE_LOCK.
            std::uint64_t before = verifier_report_count();
            h.dev.acquire_lock();
            recursive_reports = verifier_report_count() - before;
            runs.add();
        },
        true);
    // WdfObjectAcquireLock on the device blocks the callback until WdfObjectReleaseLock.
    h.dev.acquire_lock();
    test_holds_lock = true;
    w.enqueue();
    // Wait until a pool worker is blocked on the lock (idle workers sleep in io_uring_enter, not
    // futex), then let it go.
    bool worker_blocked = false;
    auto guard = std::chrono::steady_clock::now() + kGuard;
    while (!worker_blocked && std::chrono::steady_clock::now() < guard) {
        for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
            std::ifstream f(e.path() / "comm");
            std::string n;
            std::getline(f, n);
            if (n.rfind("wdfx-pool/", 0) != 0) continue;
            pid_t tid = static_cast<pid_t>(std::stol(e.path().filename().string()));
            if (blocked_syscall(tid) == SYS_futex) worker_blocked = true;
        }
        std::this_thread::yield();
    }
    CHECK(worker_blocked);
    CHECK(runs.get() == 0);
    test_holds_lock = false;
    h.dev.release_lock();
    REQUIRE(runs.wait_for_at_least(1, kGuard));
    w.flush();
    CHECK_FALSE(ran_while_test_held.load());
    CHECK(recursive_reports.load() == 1);
    CHECK(v.count() == 1);
}

TEST_CASE(
    "work item §18.1 §18.5: deleting the parent device flushes and deletes its work "
    "items") {
    journal j;
    sim_harness::options o;
    o.device_attributes.on_cleanup = [&](object) { j.add("device cleanup"); };
    sim_harness h(o);
    REQUIRE(nt_success(h.add()));
    gate release, deleting;
    counter started;
    std::atomic<int> ordinal{0};
    object_attributes a;
    a.on_cleanup = [&](object) { j.add("work item cleanup"); };
    work_item w = make_item(
        h.dev,
        [&](work_item self) {
            int n = ordinal.fetch_add(1);
            if (n == 0) self.enqueue();  // a second run, queued while the first runs
            started.add();
            CHECK(release.wait(kGuard));
            j.add("run end");
        },
        false, a);
    // Created after the work item, so deleted before it: its cleanup says "removal has begun".
    object_attributes ca = parented(h.dev);
    ca.on_cleanup = [&](object) { deleting.open(); };
    REQUIRE(create_object(ca).ok());
    open_on_exit opener{{&release, &deleting}};
    w.enqueue();
    REQUIRE(started.wait_for_at_least(2, kGuard));  // both runs are in their callbacks
    device d = h.dev;
    std::atomic<pid_t> remover_tid{0};
    std::atomic<bool> removed{false};
    std::jthread remover([&] {
        remover_tid = this_tid();
        d.remove();
        removed = true;
    });
    open_on_exit opener_first{{&release, &deleting}};  // before the remover is joined
    REQUIRE(deleting.wait(kGuard));
    CHECK(wait_until_blocked(remover_tid.load(), [&] { return removed.load(); }));
    CHECK_FALSE(removed.load());
    release.open();
    remover.join();
    CHECK(j.get() ==
          std::vector<std::string>{"run end", "run end", "work item cleanup", "device cleanup"});
    CHECK_FALSE(w.is_valid());
    CHECK_FALSE(d.is_valid());
    verifier_reports v;
    w.enqueue();  // the work item went with its parent: a stale handle now
    CHECK(v.count() == 1);
}

TEST_CASE(
    "dispatcher pool: when every worker blocks with work queued, the pool grows and the queued "
    "item that unblocks them runs (no deadlock) - WDFX_POOL_MAX caps it") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    auto& pool = detail::runtime::get().pool();
    const unsigned workers = pool_threads(h.dev);
    REQUIRE(pool.size() == workers);
    REQUIRE(pool.max_size() > workers);  // the default cap: max(64, WDFX_POOL_THREADS)
    // Every worker waits for `release`, which only the item queued behind them opens: a fixed
    // pool deadlocks here (the hang guard fails the test instead).
    gate release;
    counter blocked;
    open_on_exit opener{{&release}};
    std::vector<work_item> blockers = start_blockers(h.dev, workers, release, blocked);
    counter opened;
    work_item unblocker = make_item(h.dev, [&](work_item) {
        opened.add();
        release.open();
    });
    unblocker.enqueue();
    CHECK(opened.wait_for_at_least(1, kGuard));
    for (auto& b : blockers)
        b.flush();
    unblocker.flush();
    CHECK(pool.size() == workers + 1);
    // The new worker stays and takes work like the others.
    counter after;
    work_item w = make_item(h.dev, [&](work_item) { after.add(); });
    w.enqueue();
    w.flush();
    CHECK(after.get() == 1);
    // A cap at the current size: cap_size never goes below it.
    pool.cap_size(1);
    CHECK(pool.max_size() == pool.size());
}
