// Interrupts over the PnP/power life cycle (wdf-semantics §8, §21 rules 4, 5, 6 and 13): the exact
// order of the device and interrupt callbacks, the flush of deferred work before the disconnect,
// every failure path of §8.3, the windows in which the ISR is live, WdfInterruptDisable/Enable as
// a sticky forced disconnect/reconnect, non-pageable devices, soft disconnect (§12) and removal.
//
// How the tests observe things without sleeping:
//  - every callback appends to an event log; a callback that needs to show the hardware state at
//    that moment records whether its vector is attached on the sim bus (the eventfd is
//    connected);
//  - "the flush waits, before the disconnect" is shown by a DPC or work item that blocks on a
//    gate: the PnP operation runs on its own thread; the test waits until EvtInterruptDisable has
//    run and that thread has gone to sleep in the kernel (it has nothing left to do but wait for
//    the blocked callback), checks that the interrupt is still connected and the operation not
//    finished, then opens the gate. A flush placed after the disconnect, or none, shows up as a
//    detached vector every time, not only when a thread happens to be slow;
//  - removal driven by the bus runs on the PnP event thread; the test waits on counters bumped in
//    EvtDeviceReleaseHardware and in the device's destroy callback.
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
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
using log_t = std::vector<std::string>;

namespace {

class event_log {
  public:
    void add(std::string e) {
        std::lock_guard g(m_);
        v_.push_back(std::move(e));
    }
    log_t get() const {
        std::lock_guard g(m_);
        return v_;
    }
    /// The entries after the first `from`.
    log_t since(std::size_t from) const {
        std::lock_guard g(m_);
        return from >= v_.size() ? log_t{} : log_t(v_.begin() + static_cast<long>(from), v_.end());
    }
    std::size_t size() const {
        std::lock_guard g(m_);
        return v_.size();
    }

  private:
    mutable std::mutex m_;
    log_t v_;
};

/// Opens gates on scope exit, so a failed check never leaves a framework thread blocked.
/// Declare it after the harness and the threads that wait on the gates.
struct open_on_exit {
    std::vector<gate*> gates;
    ~open_on_exit() {
        for (gate* g : gates)
            g->open();
    }
};

const char* ps(device_power_state s) {
    switch (s) {
        case device_power_state::d0:
            return "D0";
        case device_power_state::d1:
            return "D1";
        case device_power_state::d2:
            return "D2";
        case device_power_state::d3:
            return "D3";
        case device_power_state::d3_final:
            return "D3Final";
        default:
            return "?";
    }
}

std::shared_ptr<sim::device> sim_of(device d) {
    return std::static_pointer_cast<sim::device>(d.bus_device());
}

/// The kernel's id of the calling thread.
pid_t this_tid() {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

/// Waits until thread `tid` of this process sleeps in the kernel (state S or D in
/// /proc/self/task/<tid>/stat), which a thread flushing a blocked callback does once it has
/// nothing else to do. An event, not a timing: the guard only turns "never sleeps" into a failure.
bool wait_until_asleep(pid_t tid, std::chrono::seconds guard = std::chrono::seconds(60)) {
    const std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
    const auto deadline = std::chrono::steady_clock::now() + guard;
    for (;;) {
        std::ifstream f(path);
        const std::string st((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        const auto paren = st.rfind(')');  // the state follows the command name: "pid (comm) S"
        if (paren != std::string::npos && paren + 2 < st.size() &&
            (st[paren + 2] == 'S' || st[paren + 2] == 'D'))
            return true;
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
}

/// A device with `n` MSI-X interrupts created in AddDevice (object i gets vector i, §7.1), whose
/// every PnP/power and interrupt callback appends to `log`, with failures to inject.
struct rig {
    explicit rig(std::uint32_t count) : n(count) {}

    const std::uint32_t n;
    event_log log;
    std::vector<interrupt> irqs;
    std::array<counter, 4> isr;  // ISR calls per interrupt
    counter disables, d0_exits, releases;
    // The device's destroy callback is the last thing the PnP event thread does for a removal;
    // the test may end as soon as it wakes, while add() is still notifying. The callback owns a
    // share of the counter, so it outlives that notification.
    std::shared_ptr<counter> destroyed = std::make_shared<counter>();
    std::string d0_exit_thread;
    // Failure injection (set before the operation that should fail).
    std::atomic<int> fail_enable{-1};
    std::atomic<int> fail_disable{-1};
    std::atomic<status> prepare_status{status::success};
    std::atomic<status> d0_entry_status{status::success};
    std::atomic<status> post_enabled_status{status::success};
    /// Adjusts interrupt i's config before it is created (passive handling, a DPC...).
    std::function<void(std::uint32_t, interrupt_config&)> tweak;
    bool power_pageable = true;

    /// "attached=101": which of the n vectors have an eventfd on the sim bus.
    std::string attached(device d) const {
        auto s = sim_of(d);
        std::string m = "attached=";
        for (std::uint32_t i = 0; i < n; ++i)
            m += s->vector_attached(bus::irq_kind::msix, i) ? '1' : '0';
        return m;
    }
    static std::string own(device d, std::uint32_t i) {
        return sim_of(d)->vector_attached(bus::irq_kind::msix, i) ? "attached" : "detached";
    }

    sim_harness::options options() {
        sim_harness::options o;
        o.device_attributes.on_destroy = [d = destroyed](object) { d->add(); };
        return o;
    }

    sim_harness::init_fn init() {
        return [this](device_init& in) {
            in.power_pageable = power_pageable;
            auto& p = in.pnp_power;
            p.on_prepare_hardware = [this](device, const resource_list&, const resource_list&) {
                log.add("PrepareHardware");
                return prepare_status.load();
            };
            p.on_d0_entry = [this](device d, device_power_state prev) {
                log.add(std::string("D0Entry ") + ps(prev) + " " + attached(d));
                return d0_entry_status.load();
            };
            p.on_d0_entry_post_interrupts_enabled = [this](device d, device_power_state prev) {
                log.add(std::string("PostInterruptsEnabled ") + ps(prev) + " " + attached(d));
                return post_enabled_status.load();
            };
            p.on_d0_exit_pre_interrupts_disabled = [this](device d, device_power_state target) {
                log.add(std::string("PreInterruptsDisabled ") + ps(target) + " " + attached(d));
                return status::success;
            };
            p.on_d0_exit = [this](device d, device_power_state target) {
                log.add(std::string("D0Exit ") + ps(target) + " " + attached(d));
                d0_exit_thread = current_thread_role();
                d0_exits.add();
                return status::success;
            };
            p.on_release_hardware = [this](device, const resource_list&) {
                log.add("ReleaseHardware");
                releases.add();
                return status::success;
            };
            p.on_surprise_removal = [this](device) { log.add("SurpriseRemoval"); };
        };
    }

    sim_harness::create_fn create() {
        return [this](device d) {
            for (std::uint32_t i = 0; i < n; ++i) {
                interrupt_config c;
                c.on_isr = [this, i](interrupt, const isr_context&) {
                    isr[i].add();
                    return true;
                };
                c.on_enable = [this, i](interrupt, device dev) {
                    // The level says whether it runs as the interrupt's ISR would (§6).
                    log.add("Enable " + std::to_string(i) + " " + own(dev, i) + " " +
                            level_name(current_level()));
                    return fail_enable.load() == static_cast<int>(i) ? status::io_device_error
                                                                     : status::success;
                };
                c.on_disable = [this, i](interrupt, device dev) {
                    log.add("Disable " + std::to_string(i) + " " + own(dev, i) + " " +
                            level_name(current_level()));
                    disables.add();
                    return fail_disable.load() == static_cast<int>(i) ? status::io_device_error
                                                                      : status::success;
                };
                if (tweak) tweak(i, c);
                auto r = interrupt::create(d, c);
                if (!r) return r.code();
                irqs.push_back(*r);
            }
            return status::success;
        };
    }
};

std::string enable(std::uint32_t i, const char* lvl = "DIRQL") {
    return "Enable " + std::to_string(i) + " attached " + lvl;
}
std::string disable(std::uint32_t i, const char* lvl = "DIRQL") {
    return "Disable " + std::to_string(i) + " attached " + lvl;
}

}  // namespace

// ---- rules 4 and 5: the order of callbacks
// ----------------------------------------------------------

TEST_CASE("rules 4 and 5 (§21, §8.3, §6): the callback order over start and stop") {
    rig r(3);
    r.tweak = [](std::uint32_t i, interrupt_config& c) {
        if (i == 1) c.passive_handling = true;  // Enable/Disable run at the interrupt's level
    };
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    // D0Entry before any connect; each interrupt connected, then enabled, in creation order; then
    // PostInterruptsEnabled with everything live.
    CHECK(r.log.get() == log_t{"PrepareHardware", "D0Entry D3Final attached=000", enable(0),
                               enable(1, "PASSIVE_LEVEL"), enable(2),
                               "PostInterruptsEnabled D3Final attached=111"});
    for (std::uint32_t i = 0; i < 3; ++i) {
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, i).ok());
        REQUIRE(r.isr[i].wait_for_at_least(1));
    }
    const std::size_t mark = r.log.size();
    REQUIRE(nt_success(h.dev.stop()));
    // PreInterruptsDisabled with everything live; Disable in reverse order, each while still
    // connected; D0Exit after every disconnect; then ReleaseHardware.
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3Final attached=111", disable(2),
                                     disable(1, "PASSIVE_LEVEL"), disable(0),
                                     "D0Exit D3Final attached=000", "ReleaseHardware"});
    CHECK(h.dev.state() == device_state::stopped);
}

TEST_CASE(
    "rule 4 (§21, §8.1) and rule 6: the ISR is connected before EvtInterruptEnable and "
    "still connected after EvtInterruptDisable") {
    // EvtInterruptEnable raises the interrupt itself: the signal is delivered (the vector is
    // connected) and the ISR runs as soon as Enable releases the interrupt lock.
    // EvtInterruptDisable does the same; the stop is then held in the flush by a blocked work item,
    // so the ISR's run in the window between Disable and the disconnect is an event the test waits
    // for.
    gate wi_gate;
    counter isr_calls, wi_started;
    std::atomic<bool> in_enable{false}, in_disable{false}, overlap{false}, arm_work_item{true};
    std::atomic<int> enable_delivered{-1}, disable_delivered{-1};
    std::atomic<bool> stop_returned{false};
    rig r(1);
    r.tweak = [&](std::uint32_t, interrupt_config& c) {
        c.on_isr = [&](interrupt irq, const isr_context&) {
            if (in_enable.load() || in_disable.load()) overlap = true;
            if (arm_work_item.exchange(false)) (void)irq.queue_work_item_for_isr();
            isr_calls.add();
            return true;
        };
        c.on_work_item = [&](interrupt, object) {
            wi_started.add();
            (void)wi_gate.wait();
        };
        c.on_enable = [&](interrupt, device d) {
            in_enable = true;
            auto s = sim_of(d);
            const auto before = s->get_counters().delivered;
            const bool ok = s->trigger(bus::irq_kind::msix, 0).ok();
            enable_delivered = ok && s->get_counters().delivered == before + 1 ? 1 : 0;
            in_enable = false;  // still under the interrupt lock
            return status::success;
        };
        c.on_disable = [&](interrupt, device d) {
            in_disable = true;
            auto s = sim_of(d);
            const auto before = s->get_counters().delivered;
            const bool ok = s->trigger(bus::irq_kind::msix, 0).ok();
            disable_delivered = ok && s->get_counters().delivered == before + 1 ? 1 : 0;
            in_disable = false;
            r.disables.add();
            return status::success;
        };
    };
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    CHECK(enable_delivered.load() == 1);
    REQUIRE(isr_calls.wait_for_at_least(1));  // raised inside Enable
    REQUIRE(wi_started.wait_for_at_least(1));
    std::atomic<pid_t> stopper_tid{0};
    counter stopper_running;
    std::jthread stopper([&] {
        stopper_tid = this_tid();
        stopper_running.add();
        (void)h.dev.stop();
        stop_returned = true;
    });
    open_on_exit guard{{&wi_gate}};
    REQUIRE(stopper_running.wait_for_at_least(1));
    REQUIRE(r.disables.wait_for_at_least(1));
    CHECK(disable_delivered.load() == 1);
    // The stop is held in the flush (the work item is blocked), the vector still connected, and
    // the ISR raised inside Disable runs in that window.
    REQUIRE(isr_calls.wait_for_at_least(2));
    REQUIRE(wait_until_asleep(stopper_tid.load()));
    CHECK(h.sim->vector_attached(bus::irq_kind::msix, 0));
    CHECK(r.d0_exits.get() == 0);
    CHECK_FALSE(stop_returned.load());
    wi_gate.open();
    stopper.join();
    CHECK(stop_returned.load());
    // The ISR never overlapped Enable or Disable: they run under the interrupt lock (§6, §8.1).
    CHECK_FALSE(overlap.load());
    CHECK(isr_calls.get() == 2);
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
}

// ---- rule 5: flush before disconnect, nothing dropped
// ------------------------------------------------

namespace {

/// Stops a device whose interrupt has deferred work blocked on a gate (rule 5, §8.2). The first
/// ISR queues the DPC or work item, which blocks; the second queues it again while the first run
/// is blocked (the queued bit was cleared before the callback, §9.3). The stop must run Disable,
/// then wait in the flush with the interrupt still connected, and only disconnect and call D0Exit
/// once both runs are done.
void stop_with_blocked_deferred_work(bool dpc) {
    gate g;
    counter isr_calls, started, done;
    std::atomic<int> budget{2}, queued{0};
    std::atomic<bool> detached_while_running{false}, stop_returned{false};
    std::atomic<std::uint64_t> done_at_d0_exit{99};
    rig r(1);
    r.tweak = [&](std::uint32_t, interrupt_config& c) {
        c.on_isr = [&, dpc](interrupt irq, const isr_context&) {
            // A DIRQL ISR's work item goes through the internal DPC (§9.2): the flush drains
            // the DPC first, then the work item.
            if (budget.fetch_sub(1) > 0 &&
                (dpc ? irq.queue_dpc_for_isr() : irq.queue_work_item_for_isr()))
                ++queued;
            isr_calls.add();
            return true;
        };
        auto deferred = [&](interrupt, object assoc) {
            started.add();
            (void)g.wait();
            // The stop is held in the flush until this returns: still connected.
            if (!sim_of(device(assoc.handle()))->vector_attached(bus::irq_kind::msix, 0))
                detached_while_running = true;
            done.add();
        };
        if (dpc)
            c.on_dpc = deferred;
        else
            c.on_work_item = deferred;
    };
    sim_harness h(
        r.options(),
        [&](device_init& in) {
            r.init()(in);
            auto inner = in.pnp_power.on_d0_exit;
            in.pnp_power.on_d0_exit = [&, inner](device d, device_power_state t) {
                done_at_d0_exit = done.get();
                return inner(d, t);
            };
        },
        r.create());
    REQUIRE(nt_success(h.start()));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    REQUIRE(started.wait_for_at_least(1));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    REQUIRE(isr_calls.wait_for_at_least(2));
    const std::size_t mark = r.log.size();
    std::atomic<pid_t> stopper_tid{0};
    counter stopper_running;
    std::jthread stopper([&] {
        stopper_tid = this_tid();
        stopper_running.add();
        (void)h.dev.stop();
        stop_returned = true;
    });
    open_on_exit guard{{&g}};
    REQUIRE(stopper_running.wait_for_at_least(1));
    REQUIRE(r.disables.wait_for_at_least(1));
    REQUIRE(wait_until_asleep(stopper_tid.load()));
    // Disable has run and the stop sleeps in the flush, before the disconnect: the interrupt is
    // still connected, so a signal raised now reaches the ISR (rule 6).
    REQUIRE(h.sim->vector_attached(bus::irq_kind::msix, 0));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    REQUIRE(isr_calls.wait_for_at_least(3));
    CHECK(r.d0_exits.get() == 0);
    CHECK_FALSE(stop_returned.load());
    CHECK(done.get() == 0);
    g.open();
    stopper.join();
    CHECK(queued.load() == 2);
    CHECK(done.get() == 2);
    CHECK_FALSE(detached_while_running.load());
    CHECK(done_at_d0_exit.load() == 2);  // both runs finished before D0Exit: none dropped
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3Final attached=1", disable(0),
                                     "D0Exit D3Final attached=0", "ReleaseHardware"});
}

}  // namespace

TEST_CASE(
    "rule 5 (§21, §8.2): a queued work item is flushed before the disconnect and never "
    "dropped") {
    stop_with_blocked_deferred_work(false);
}

TEST_CASE("rule 5 (§21, §8.2): a queued DPC is flushed before the disconnect and never dropped") {
    stop_with_blocked_deferred_work(true);
}

// ---- §8.3: failure paths
// ------------------------------------------------------------------------------

TEST_CASE(
    "§8.3, rule 4 (§21): EvtInterruptEnable fails for the 2nd of 3 interrupts - the 1st is "
    "disabled, everything disconnected, D0Exit(D3Final)") {
    rig r(3);
    r.fail_enable = 1;
    sim_harness h(r.options(), r.init(), r.create());
    CHECK(h.start() == status::io_device_error);
    // Interrupt 1 was connected but never enabled, so it gets no Disable (§8.1: m_Enabled stays
    // FALSE); interrupt 2 was never connected; interrupt 0 is disabled. No PostInterruptsEnabled
    // and no PreInterruptsDisabled on this path.
    CHECK(r.log.get() == log_t{"PrepareHardware", "D0Entry D3Final attached=000", enable(0),
                               enable(1), disable(0), "D0Exit D3Final attached=000",
                               "ReleaseHardware"});
    CHECK(h.dev.state() == device_state::failed);
    for (const interrupt& i : r.irqs)
        CHECK_FALSE(i.get_binding().connected);
}

TEST_CASE(
    "§8.3, rule 4 (§21): EvtDeviceD0EntryPostInterruptsEnabled fails - every interrupt is "
    "disabled and disconnected, D0Exit(D3Final)") {
    rig r(3);
    r.post_enabled_status = status::unsuccessful;
    sim_harness h(r.options(), r.init(), r.create());
    CHECK(h.start() == status::unsuccessful);
    CHECK(r.log.get() == log_t{"PrepareHardware", "D0Entry D3Final attached=000", enable(0),
                               enable(1), enable(2), "PostInterruptsEnabled D3Final attached=111",
                               disable(2), disable(1), disable(0), "D0Exit D3Final attached=000",
                               "ReleaseHardware"});
    CHECK(h.dev.state() == device_state::failed);
}

TEST_CASE("§8.2, rule 5 (§21): a failed EvtInterruptDisable does not stop the teardown") {
    rig r(3);
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    const std::size_t mark = r.log.size();
    r.fail_disable = 1;
    // The failure is reported (the last error, §8.3) but every interrupt is disabled and
    // disconnected and the device stops.
    CHECK(h.dev.stop() == status::io_device_error);
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3Final attached=111", disable(2),
                                     disable(1), disable(0), "D0Exit D3Final attached=000",
                                     "ReleaseHardware"});
    CHECK(h.dev.state() == device_state::stopped);
    // Nothing was left half torn down: the device starts again.
    r.fail_disable = -1;
    REQUIRE(nt_success(h.dev.start()));
    for (std::uint32_t i = 0; i < 3; ++i)
        CHECK(h.sim->vector_attached(bus::irq_kind::msix, i));
}

TEST_CASE("§8.3: a failed EvtDevicePrepareHardware still gets EvtDeviceReleaseHardware") {
    rig r(2);
    r.prepare_status = status::insufficient_resources;
    sim_harness h(r.options(), r.init(), r.create());
    CHECK(h.start() == status::insufficient_resources);
    CHECK(r.log.get() == log_t{"PrepareHardware", "ReleaseHardware"});
    CHECK(h.dev.state() == device_state::failed);
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 1));
}

TEST_CASE("§8.3: a failed EvtDeviceD0Entry gets no EvtDeviceD0Exit and no interrupt callback") {
    rig r(2);
    r.d0_entry_status = status::device_not_connected;
    sim_harness h(r.options(), r.init(), r.create());
    CHECK(h.start() == status::device_not_connected);
    CHECK(r.log.get() ==
          log_t{"PrepareHardware", "D0Entry D3Final attached=00", "ReleaseHardware"});
    CHECK(r.d0_exits.get() == 0);
    CHECK(h.dev.state() == device_state::failed);
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
}

// ---- rule 5: power cycles, non-pageable devices, soft disconnect
// -------------------------------------

TEST_CASE("rule 5 (§21, §8.3): power_down and power_up cycles re-run Disable and Enable") {
    rig r(2);
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    for (device_power_state target : {device_power_state::d3, device_power_state::d2}) {
        INFO("target " << ps(target));
        const std::string t = ps(target);
        std::size_t mark = r.log.size();
        REQUIRE(nt_success(h.dev.power_down(target)));
        CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled " + t + " attached=11", disable(1),
                                         disable(0), "D0Exit " + t + " attached=00"});
        CHECK(h.dev.state() == device_state::powered_down);
        // In Dx the vectors are disconnected: a signal goes nowhere.
        const auto before = h.sim->get_counters();
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
        CHECK(h.sim->get_counters().dropped == before.dropped + 1);
        mark = r.log.size();
        const std::uint64_t isr_before = r.isr[0].get();
        REQUIRE(nt_success(h.dev.power_up()));
        CHECK(r.log.since(mark) == log_t{"D0Entry " + t + " attached=00", enable(0), enable(1),
                                         "PostInterruptsEnabled " + t + " attached=11"});
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
        CHECK(r.isr[0].wait_for_at_least(isr_before + 1));
    }
}

TEST_CASE(
    "rule 5 (§21, §8.2, §8.3): a non-pageable device keeps its interrupts connected over "
    "Dx, and a stop from Dx disconnects without Disable") {
    rig r(2);
    r.power_pageable = false;  // WdfDeviceInitSetPowerNotPageable: flags NP
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    std::size_t mark = r.log.size();
    REQUIRE(nt_success(h.dev.power_down()));
    // Disabled but left connected.
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3 attached=11", disable(1), disable(0),
                                     "D0Exit D3 attached=11"});
    CHECK(r.irqs[0].get_binding().connected);
    mark = r.log.size();
    REQUIRE(nt_success(h.dev.power_up()));
    CHECK(r.log.since(mark) == log_t{"D0Entry D3 attached=11", enable(0), enable(1),
                                     "PostInterruptsEnabled D3 attached=11"});
    // §8.4: WdfInterruptDisable on a non-pageable device is Disable plus flush; it stays
    // connected.
    mark = r.log.size();
    r.irqs[0].disable();
    CHECK(r.log.since(mark) == log_t{disable(0)});
    CHECK(h.sim->vector_attached(bus::irq_kind::msix, 0));
    r.irqs[0].enable();
    CHECK(r.log.since(mark) == log_t{disable(0), enable(0)});
    // Stopped while in Dx (PowerGotoDxStoppedDisableInterruptNP): the interrupts are already
    // disabled, so no Disable and no hardware access; they are disconnected.
    REQUIRE(nt_success(h.dev.power_down()));
    mark = r.log.size();
    REQUIRE(nt_success(h.dev.stop()));
    CHECK(r.log.since(mark) == log_t{"ReleaseHardware"});
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 1));
    CHECK_FALSE(r.irqs[0].get_binding().connected);
}

TEST_CASE(
    "§12, §8.1, §8.2, rule 5 (§21): ReportInactiveOnPowerDown keeps the interrupt connected "
    "but inactive over Dx") {
    rig r(2);
    r.tweak = [](std::uint32_t i, interrupt_config& c) {
        if (i == 0) c.report_inactive_on_power_down = tri_state::true_value;
    };
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    std::size_t mark = r.log.size();
    REQUIRE(nt_success(h.dev.power_down()));
    // Both are disabled; interrupt 0 is reported inactive instead of disconnected.
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3 attached=11", disable(1), disable(0),
                                     "D0Exit D3 attached=00"});
    CHECK(r.irqs[0].get_binding().connected);
    CHECK_FALSE(r.irqs[1].get_binding().connected);
    // Inactive: its signals are not dispatched.
    const auto before = h.sim->get_counters();
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    CHECK(h.sim->get_counters().dropped == before.dropped + 1);
    mark = r.log.size();
    REQUIRE(nt_success(h.dev.power_up()));
    // Reported active again, then Enable (§8.1 "soft reconnect").
    CHECK(r.log.since(mark) == log_t{"D0Entry D3 attached=00", enable(0), enable(1),
                                     "PostInterruptsEnabled D3 attached=11"});
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    CHECK(r.isr[0].wait_for_at_least(1));
    // The final stop disconnects it for real.
    mark = r.log.size();
    REQUIRE(nt_success(h.dev.stop()));
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3Final attached=11", disable(1),
                                     disable(0), "D0Exit D3Final attached=00", "ReleaseHardware"});
    CHECK_FALSE(r.irqs[0].get_binding().connected);
}

// ---- rule 13: WdfInterruptDisable / WdfInterruptEnable
// ------------------------------------------------

TEST_CASE(
    "rule 13 (§21, §8.4): WdfInterruptDisable is a forced disconnect that flushes, and it is "
    "sticky across power_down and power_up until WdfInterruptEnable") {
    gate g;
    counter dpc_started, dpc_done;
    std::atomic<bool> arm_dpc{true}, disable_returned{false}, detached_while_running{false};
    std::atomic<std::uint64_t> done_at_return{99};
    rig r(2);
    r.tweak = [&](std::uint32_t i, interrupt_config& c) {
        if (i != 0) return;
        auto isr = c.on_isr;
        c.on_isr = [&, isr](interrupt irq, const isr_context& ctx) {
            if (arm_dpc.exchange(false)) (void)irq.queue_dpc_for_isr();
            return isr(irq, ctx);
        };
        c.on_dpc = [&](interrupt, object assoc) {
            dpc_started.add();
            (void)g.wait();
            // WdfInterruptDisable waits in the flush until this returns: still connected.
            if (!sim_of(device(assoc.handle()))->vector_attached(bus::irq_kind::msix, 0))
                detached_while_running = true;
            dpc_done.add();
        };
    };
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    REQUIRE(dpc_started.wait_for_at_least(1));
    std::size_t mark = r.log.size();
    std::atomic<pid_t> t_tid{0};
    counter t_running;
    std::jthread t([&] {
        t_tid = this_tid();
        t_running.add();
        r.irqs[0].disable();
        done_at_return = dpc_done.get();
        disable_returned = true;
    });
    open_on_exit guard{{&g}};
    REQUIRE(t_running.wait_for_at_least(1));
    REQUIRE(r.disables.wait_for_at_least(1));
    REQUIRE(wait_until_asleep(t_tid.load()));
    // Disable ran; the DPC flush holds the disconnect, so the ISR still gets signals (rule 6).
    REQUIRE(h.sim->vector_attached(bus::irq_kind::msix, 0));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    REQUIRE(r.isr[0].wait_for_at_least(2));
    CHECK_FALSE(disable_returned.load());
    g.open();
    t.join();
    CHECK(done_at_return.load() == 1);
    CHECK_FALSE(detached_while_running.load());
    CHECK(r.log.since(mark) == log_t{disable(0)});
    // A pageable device: the OS-level disconnect happened (the eventfd is detached).
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
    CHECK_FALSE(r.irqs[0].get_binding().connected);
    CHECK(h.sim->vector_attached(bus::irq_kind::msix, 1));
    const auto before = h.sim->get_counters();
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    CHECK(h.sim->get_counters().dropped == before.dropped + 1);
    // Sticky: the framework's own power transitions leave interrupt 0 alone.
    mark = r.log.size();
    REQUIRE(nt_success(h.dev.power_down()));
    REQUIRE(nt_success(h.dev.power_up()));
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3 attached=01", disable(1),
                                     "D0Exit D3 attached=00", "D0Entry D3 attached=00", enable(1),
                                     "PostInterruptsEnabled D3 attached=01"});
    CHECK_FALSE(r.irqs[0].get_binding().connected);
    // WdfInterruptEnable: a forced reconnect, then Enable.
    mark = r.log.size();
    const std::uint64_t isr_before = r.isr[0].get();
    r.irqs[0].enable();
    CHECK(r.log.since(mark) == log_t{enable(0)});
    CHECK(r.irqs[0].get_binding().connected);
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    CHECK(r.isr[0].wait_for_at_least(isr_before + 1));
    // And the next power transitions include it again.
    mark = r.log.size();
    REQUIRE(nt_success(h.dev.stop()));
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3Final attached=11", disable(1),
                                     disable(0), "D0Exit D3Final attached=00", "ReleaseHardware"});
}

TEST_CASE(
    "rule 13 (§21, §8.4): WdfInterruptDisable of a disconnected interrupt calls no callback "
    "but still sticks") {
    rig r(2);
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.add()));
    // Before the first start: nothing to disconnect, but the flag is set ...
    r.irqs[0].disable();
    CHECK(r.log.size() == 0);
    REQUIRE(nt_success(h.start()));
    // ... so the start does not connect it.
    CHECK(r.log.get() == log_t{"PrepareHardware", "D0Entry D3Final attached=00", enable(1),
                               "PostInterruptsEnabled D3Final attached=01"});
    r.irqs[0].enable();
    CHECK(r.log.get().back() == enable(0));
    // In Dx (disconnected by the power-down): no callback, and power_up leaves it disconnected.
    REQUIRE(nt_success(h.dev.power_down()));
    std::size_t mark = r.log.size();
    r.irqs[0].disable();
    CHECK(r.log.size() == mark);
    REQUIRE(nt_success(h.dev.power_up()));
    CHECK(r.log.since(mark) ==
          log_t{"D0Entry D3 attached=00", enable(1), "PostInterruptsEnabled D3 attached=01"});
    // Disabled twice in D0: the second call finds it disconnected and calls nothing.
    r.irqs[0].enable();
    mark = r.log.size();
    r.irqs[0].disable();
    r.irqs[0].disable();
    CHECK(r.log.since(mark) == log_t{disable(0)});
    CHECK_FALSE(h.sim->vector_attached(bus::irq_kind::msix, 0));
}

TEST_CASE(
    "rule 13 (§21, §8.4, §17): WdfInterruptEnable of a connected interrupt and "
    "WdfInterruptDisable above PASSIVE are verifier reports with no effect") {
    counter dpc_ran;
    rig r(1);
    r.tweak = [&](std::uint32_t, interrupt_config& c) {
        c.on_dpc = [&](interrupt irq, object) {
            irq.disable();  // at DISPATCH_LEVEL: PASSIVE only
            dpc_ran.add();
        };
    };
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    const std::size_t mark = r.log.size();
    verifier_reports v;
    r.irqs[0].enable();  // "multiple interrupt connection attempts"
    CHECK(v.count() == 1);
    REQUIRE(r.irqs[0].queue_dpc_for_isr());
    REQUIRE(dpc_ran.wait_for_at_least(1));
    CHECK(v.count() == 2);
    // Neither call did anything.
    CHECK(r.log.size() == mark);
    CHECK(r.irqs[0].get_binding().connected);
    CHECK(h.sim->vector_attached(bus::irq_kind::msix, 0));
}

TEST_CASE(
    "rule 13 (§21 §8.4): WdfInterruptEnable of a connected interrupt aborts by default "
    "(death test)") {
    wdfx_test::expect_verifier_abort("enable-connected", "interrupt already connected", [] {
        rig r(1);
        sim_harness h(r.options(), r.init(), r.create());
        if (!nt_success(h.start())) return;
        r.irqs[0].enable();
    });
}

// ---- removal
// ----------------------------------------------------------------------------------------

TEST_CASE(
    "§8.3, rule 5 (§21): an orderly removal request stops and removes the device on the "
    "PnP event thread") {
    rig r(2);
    sim_harness h(r.options(), r.init(), r.create());
    REQUIRE(nt_success(h.start()));
    const std::size_t mark = r.log.size();
    h.sim->request_removal();  // VFIO's request IRQ: the hardware is still there
    REQUIRE(r.releases.wait_for_at_least(1));
    REQUIRE(r.destroyed->wait_for_at_least(1));
    h.dev = device();  // removed by the framework: nothing left for the harness to remove
    CHECK(r.log.since(mark) == log_t{"PreInterruptsDisabled D3Final attached=11", disable(1),
                                     disable(0), "D0Exit D3Final attached=00", "ReleaseHardware"});
    CHECK(r.d0_exit_thread == "wdfx-pnp");
    CHECK_FALSE(r.irqs[0].is_valid());
    CHECK_FALSE(r.irqs[1].is_valid());
}

TEST_CASE(
    "§8.2, §8.3: surprise removal runs EvtDeviceSurpriseRemoval, then the D3Final sequence "
    "still calls Disable and D0Exit") {
    SUBCASE("the bus reports the device gone") {
        rig r(2);
        sim_harness h(r.options(), r.init(), r.create());
        REQUIRE(nt_success(h.start()));
        const std::size_t mark = r.log.size();
        h.sim->surprise_remove();
        REQUIRE(r.releases.wait_for_at_least(1));
        REQUIRE(r.destroyed->wait_for_at_least(1));
        h.dev = device();
        // The hardware is gone, so nothing shows as attached any more; the callbacks still run,
        // in the D3Final order, and must tolerate that (§8.2).
        CHECK(r.log.since(mark) == log_t{"SurpriseRemoval",
                                         "PreInterruptsDisabled D3Final attached=00",
                                         "Disable 1 detached DIRQL", "Disable 0 detached DIRQL",
                                         "D0Exit D3Final attached=00", "ReleaseHardware"});
        CHECK(r.d0_exit_thread == "wdfx-pnp");
        CHECK_FALSE(r.irqs[0].is_valid());
    }
    SUBCASE("the device stops answering and nobody says so: the presence probe notices") {
        // What a VFIO device whose hardware went away looks like (design.md: all-ones reads):
        // vfio-pci raises nothing. The probe (WDFX_PRESENCE_MS, 1 s by default) reads config
        // space on the PnP event thread and takes the surprise-removal path.
        rig r(2);
        sim_harness h(r.options(), r.init(), r.create());
        REQUIRE(nt_success(h.start()));
        const std::size_t mark = r.log.size();
        h.sim->vanish();
        REQUIRE(r.releases.wait_for_at_least(1));
        REQUIRE(r.destroyed->wait_for_at_least(1));
        h.dev = device();
        CHECK(r.log.since(mark) ==
              log_t{"SurpriseRemoval", "PreInterruptsDisabled D3Final attached=11", disable(1),
                    disable(0), "D0Exit D3Final attached=00", "ReleaseHardware"});
        CHECK(r.d0_exit_thread == "wdfx-pnp");
        CHECK_FALSE(r.irqs[0].is_valid());
    }
    SUBCASE("a removal request for a device that no longer answers is a surprise removal") {
        // vfio-pci relays the kernel's remove of a device that vanished (surprise hot-removal)
        // as the same request IRQ as an orderly unbind: the hardware decides which path runs.
        rig r(2);
        sim_harness h(r.options(), r.init(), r.create());
        REQUIRE(nt_success(h.start()));
        const std::size_t mark = r.log.size();
        h.sim->vanish();
        h.sim->request_removal();
        REQUIRE(r.releases.wait_for_at_least(1));
        REQUIRE(r.destroyed->wait_for_at_least(1));
        h.dev = device();
        REQUIRE_FALSE(r.log.since(mark).empty());
        CHECK(r.log.since(mark).front() == "SurpriseRemoval");
        CHECK(r.log.since(mark).back() == "ReleaseHardware");
    }
    SUBCASE("the PnP manager's surprise_remove") {
        rig r(2);
        sim_harness h(r.options(), r.init(), r.create());
        REQUIRE(nt_success(h.start()));
        const std::size_t mark = r.log.size();
        h.dev.surprise_remove();
        CHECK(r.destroyed->get() == 1);
        h.dev = device();
        CHECK(r.log.since(mark) ==
              log_t{"SurpriseRemoval", "PreInterruptsDisabled D3Final attached=11", disable(1),
                    disable(0), "D0Exit D3Final attached=00", "ReleaseHardware"});
        CHECK_FALSE(r.irqs[0].is_valid());
    }
}

TEST_CASE(
    "§8.3: unloading the driver while the PnP thread removes a device returns only once the "
    "device is gone and its bus device released (the IOMMU group free again)") {
    // A surprise removal runs on the PnP thread, and the device leaves the driver's children
    // before its teardown ends: it is held here in its EvtDestroyCallback, after it was unlinked
    // and before it (and its bus device) is freed. unload() must wait for that, or a driver
    // restarted right after (or a new process) finds the VFIO group still held.
    gate destroying, let_go;
    open_on_exit opener{{&let_go}};
    sim_harness::options o;
    o.device_attributes.on_destroy = [&](object) {
        destroying.open();
        CHECK(let_go.wait());
    };
    sim_harness h(o);
    REQUIRE(nt_success(h.start()));
    std::weak_ptr<sim::device> bus = h.sim;
    h.sim.reset();
    h.dev = device();
    bus.lock()->surprise_remove();  // the PnP thread removes it, and blocks in EvtDestroy
    REQUIRE(destroying.wait());
    std::atomic<pid_t> tid{0};
    std::atomic<bool> unloaded{false};
    driver drv = h.drv;
    std::thread unloader([&] {
        tid = this_tid();
        drv.unload();
        unloaded = true;
    });
    while (tid.load() == 0)
        std::this_thread::yield();
    // Asleep in unload (waiting), or already back (the bug): whichever comes first.
    const auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!unloaded.load() && !wait_until_asleep(tid.load(), std::chrono::seconds(0)) &&
           std::chrono::steady_clock::now() < guard)
        std::this_thread::yield();
    CHECK_FALSE(unloaded.load());  // waiting for the PnP thread's removal to end
    CHECK_FALSE(bus.expired());    // the device still holds its bus device
    let_go.open();
    unloader.join();
    CHECK(unloaded.load());
    CHECK(bus.expired());  // released before unload() returned
    h.drv = driver();
}
