// The edu sample driver (sample-drivers/edu) through the framework on a real vfio-pci or
// uio_pci_generic device in the guest: interrupts of each kind under both interrupt models,
// DMA through a common buffer, software triggers, counters, a busy group, reset without a reset
// method, removal by sysfs unbind and by QMP device_del, and the unprivileged failure messages.
#include "cases.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <wdfx/uio.hpp>
#include <wdfx/vfio.hpp>

#include "common.hpp"
#include "edu_driver.hpp"

namespace hil {

namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kRaiseBit = 0x40000;  // an edu status bit no operation uses

std::shared_ptr<wdfx::bus::device> open_bus(const std::string& bus, const std::string& bdf) {
    auto d = bus == "uio" ? wdfx::uio::open(bdf) : wdfx::vfio::open(bdf);
    CHECK(d.ok(), "%s open %s: %s", bus.c_str(), bdf.c_str(), d.err().describe().c_str());
    return *d;
}

std::unique_ptr<edu::driver> make_driver(const edu::options& o) {
    auto d = edu::driver::create(o);
    CHECK(d.ok(), "edu::driver::create: %s", d.err().describe().c_str());
    return std::move(*d);
}

void attach(edu::driver& drv, std::shared_ptr<wdfx::bus::device> dev) {
    wdfx::status st = drv.attach(std::move(dev));
    CHECK(wdfx::nt_success(st), "attach (AddDevice + start): %s", wdfx::status_name(st));
}

std::uint32_t factorial_of(std::uint32_t n) {
    std::uint32_t f = 1;
    for (std::uint32_t i = 2; i <= n; ++i)
        f *= i;
    return f;
}

/// Factorials computed by the device, each completed by its interrupt.
void run_factorials(edu::driver& drv, unsigned rounds, stats* st) {
    for (unsigned r = 0; r < rounds; ++r)
        for (std::uint32_t n = 1; n <= 12; ++n) {
            std::uint64_t t0 = now_ns();
            auto f = drv.factorial(n);
            if (st != nullptr) st->add(now_ns() - t0);
            CHECK(f.ok(), "factorial(%u): %s", n, f.err().describe().c_str());
            CHECK(*f == factorial_of(n), "factorial(%u) = %u, expected %u", n, *f, factorial_of(n));
        }
}

void run_dma(edu::driver& drv, stats* st) {
    // QEMU 7.2's edu aborts on a transfer that ends at its buffer's last byte: at most 2 KiB.
    const std::size_t sizes[] = {64, 1024, 2048};
    unsigned k = 0;
    for (std::size_t n : sizes) {
        std::vector<std::uint8_t> data(n);
        for (std::size_t i = 0; i < n; ++i)
            data[i] = static_cast<std::uint8_t>(i * 13 + k * 7 + 1);
        std::uint64_t t0 = now_ns();
        auto back = drv.dma_roundtrip(data);
        if (st != nullptr) st->add(now_ns() - t0);
        CHECK(back.ok(), "DMA round trip of %zu bytes: %s", n, back.err().describe().c_str());
        CHECK(*back == data, "DMA round trip of %zu bytes: the data differs", n);
        ++k;
    }
}

const hil::thread_info* find_isr_thread(const std::vector<thread_info>& ts, unsigned message) {
    const thread_info* found = nullptr;
    std::string suffix = "." + std::to_string(message);
    for (const auto& t : ts)
        if (t.name.rfind("wdfx-isr/", 0) == 0 && t.name.size() > suffix.size() &&
            t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            CHECK(found == nullptr, "two ISR threads for message %u: %s and %s", message,
                  found->name.c_str(), t.name.c_str());
            found = &t;
        }
    return found;
}

void print_activity(const char* when, const edu::activity& a) {
    say("%s: ISR calls %llu (claimed %llu, signals %llu), DPCs %llu, work items %llu, "
        "factorial IRQs %llu, DMA IRQs %llu, raised %llu, D0 entries %llu, D0 exits %llu, "
        "releases %llu",
        when, (unsigned long long)a.isr_calls, (unsigned long long)a.isr_claimed,
        (unsigned long long)a.isr_signals, (unsigned long long)a.dpc_runs,
        (unsigned long long)a.work_item_runs, (unsigned long long)a.factorial_irqs,
        (unsigned long long)a.dma_irqs, (unsigned long long)a.raised_irqs,
        (unsigned long long)a.d0_entries, (unsigned long long)a.d0_exits,
        (unsigned long long)a.hardware_releases);
}

/// The driver's counters once `want` signals since `base` have reached its ISR. An ISR thread
/// reads the eventfd counter and then runs the ISR, so the call that claims a raise may hold a
/// count read before the raise's own signal (and triggers written meanwhile, e.g. while it waited
/// for the interrupt lock) reached the eventfd: when raise() returns, those signals may still be
/// on their way to the next ISR call. Waits on the ISR's counters; a lost signal fails.
edu::activity settled(edu::driver& drv, const edu::activity& base, std::uint64_t want) {
    const std::uint64_t until = now_ns() + 30'000'000'000ull;  // a hang guard, not a timing check
    for (;;) {
        edu::activity a = drv.get_activity();
        if (a.isr_signals - base.isr_signals >= want) return a;
        CHECK(now_ns() < until, "only %llu of %llu signals reached the ISR (a signal was lost)",
              (unsigned long long)(a.isr_signals - base.isr_signals), (unsigned long long)want);
        std::this_thread::yield();
    }
}

}  // namespace

// ---- edu <vfio|uio> <bdf> [intx] [passive] [dma64]
// ------------------------------------------------------------------------------------------------

int edu_case(const std::string& bus, const std::string& bdf,
             const std::vector<std::string>& flags) {
    auto has = [&](const char* f) {
        return std::find(flags.begin(), flags.end(), f) != flags.end();
    };
    edu::options o;
    o.force_intx = has("intx");
    o.passive = has("passive");
    if (has("dma64")) o.dma_address_bits = 64;
    const auto want_kind =
        (o.force_intx || bus == "uio") ? wdfx::bus::irq_kind::intx : wdfx::bus::irq_kind::msi;
    hil_deadline(110, "the edu framework case (an interrupt or a completion was lost)");

    auto drv = make_driver(o);
    attach(*drv, open_bus(bus, bdf));
    auto irq = drv->interrupt_object();
    auto b = irq.get_binding();
    auto info = irq.get_info();
    say("edu %s on %s: %s vector %u, eventfd %d, %s, ISR CPU %d, SCHED_FIFO %d, %s model, IRQL %u",
        bdf.c_str(), bus.c_str(), wdfx::bus::irq_kind_name(b.kind), b.bus_vector, b.eventfd,
        b.connected ? "connected" : "NOT connected", b.cpu, b.sched_priority,
        o.passive ? "passive (UMDF 2)" : "DIRQL + DPC (KMDF)", info.irql);
    CHECK(b.kind == want_kind, "the interrupt is %s, expected %s", wdfx::bus::irq_kind_name(b.kind),
          wdfx::bus::irq_kind_name(want_kind));
    CHECK(b.connected && b.eventfd >= 0, "the interrupt is not connected");
    CHECK(info.message_signaled == (want_kind != wdfx::bus::irq_kind::intx),
          "WdfInterruptGetInfo: MessageSignaled %d", info.message_signaled);
    CHECK(o.passive ? info.irql == 0 : info.irql > 2, "IRQL %u for a %s interrupt", info.irql,
          o.passive ? "passive" : "DIRQL");
    auto ts = threads();
    const thread_info* isr = find_isr_thread(ts, 0);
    CHECK(isr != nullptr, "no ISR thread (wdfx-isr/N.0) in /proc/self/task");
    say("ISR thread %s (tid %d), allowed CPUs %zu", isr->name.c_str(), isr->tid,
        isr->allowed_cpus.size());
    if (b.cpu >= 0)
        CHECK(isr->allowed_cpus.size() == 1 && isr->allowed_cpus[0] == b.cpu,
              "the ISR thread is not pinned to CPU %d", b.cpu);
    // The host IRQ is steered to the ISR thread's CPU (root only: /proc/irq).
    if (::getuid() == 0 && b.cpu >= 0) {
        std::string host_irq;
        if (bus == "uio") {
            host_irq = read_file("/sys/bus/pci/devices/" + bdf + "/irq");
        } else {
            std::string tag =
                (b.kind == wdfx::bus::irq_kind::intx ? "vfio-intx(" : "vfio-msi[0](") + bdf + ")";
            std::string all = read_file("/proc/interrupts");
            std::size_t at = all.find(tag);
            if (at != std::string::npos) {
                std::size_t line = all.rfind('\n', at);
                line = line == std::string::npos ? 0 : line + 1;
                host_irq = std::to_string(std::strtoul(all.c_str() + line, nullptr, 10));
            }
        }
        CHECK(!host_irq.empty(), "no host IRQ found for the interrupt");
        std::string aff = read_file("/proc/irq/" + host_irq + "/smp_affinity_list");
        say("host IRQ %s -> CPU(s) %s", host_irq.c_str(), aff.c_str());
        CHECK(aff == std::to_string(b.cpu), "host IRQ %s goes to CPU(s) %s, the ISR runs on %d",
              host_irq.c_str(), aff.c_str(), b.cpu);
    }
    if (bus == "uio" && b.cpu >= 0) {
        // UIO's relay thread (/dev/uioN -> the ISR's eventfd) shares the ISR thread's CPU.
        bool found = false;
        for (const auto& t : ts)
            if (t.name == "wdfx-uio") {
                found = true;
                CHECK(t.allowed_cpus.size() == 1 && t.allowed_cpus[0] == b.cpu,
                      "the UIO relay thread is not pinned to the ISR's CPU %d", b.cpu);
            }
        CHECK(found, "no UIO relay thread (wdfx-uio)");
    }
    figure("interrupt", "kind", wdfx::bus::irq_kind_name(b.kind));
    figure("interrupt", "model", o.passive ? "passive" : "dirql");
    figure("interrupt", "cpu", b.cpu);

    auto live = drv->liveness(0x12345678);
    CHECK(live.ok() && *live == ~0x12345678u, "liveness register");

    stats fact("fw_factorial", "factorial register write -> completion (ISR, DPC/work item)", 64);
    fact.begin();
    run_factorials(*drv, 3, &fact);
    fact.end();
    fact.report();

    stats raise("fw_raise", "raise register write -> completion (ISR, DPC/work item) -> caller",
                200);
    raise.begin();
    for (int i = 0; i < 200; ++i) {
        std::uint64_t t0 = now_ns();
        wdfx::status st = drv->raise(kRaiseBit);
        raise.add(now_ns() - t0);
        CHECK(wdfx::nt_success(st), "raise %d: %s", i, wdfx::status_name(st));
    }
    raise.end();
    raise.report();

    stats dma("fw_dma_roundtrip",
              "64 B / 1 KiB / 2 KiB RAM -> edu -> RAM through a common buffer, two interrupts", 4);
    dma.begin();
    run_dma(*drv, &dma);
    dma.end();
    dma.report();

    // Software-triggered interrupts (the bus's trigger: VFIO_IRQ_SET_DATA_NONE | TRIGGER). The
    // edu status is 0 for them, so the ISR does not claim them; a raise after them completes
    // through the same eventfd, so once it has completed every earlier signal reached the ISR.
    auto busdev = drv->device_object().bus_device();
    edu::activity a0 = drv->get_activity();
    if (bus == "uio") {
        auto t = busdev->trigger(b.kind, b.bus_vector);
        CHECK(!t.ok(), "UIO accepted a software trigger");
        say("UIO refuses a software trigger, as documented: %s", t.err().describe().c_str());
    } else {
        const unsigned each = 20, burst = 25;
        for (unsigned i = 0; i < each; ++i) {
            auto t = busdev->trigger(b.kind, b.bus_vector);
            CHECK(t.ok(), "trigger %u: %s", i, t.err().describe().c_str());
            wdfx::status st = drv->raise(kRaiseBit);
            CHECK(wdfx::nt_success(st), "raise after trigger %u: %s", i, wdfx::status_name(st));
        }
        edu::activity a1 = settled(*drv, a0, 2 * each);
        std::uint64_t sig1 = a1.isr_signals - a0.isr_signals, calls1 = a1.isr_calls - a0.isr_calls;
        say("%u triggers, each followed by a raise: %llu signals in %llu ISR calls", each,
            (unsigned long long)sig1, (unsigned long long)calls1);
        // INTx is level-triggered: when an unclaimed ISR's unmask finds the line asserted (the
        // raise landed after the ISR read the status), vfio-pci re-signals instead of unmasking
        // (vfio_pci_intx_unmask_handler). At most one such signal per unclaimed call; MSI: none.
        const bool level = b.kind == wdfx::bus::irq_kind::intx;
        std::uint64_t unclaimed1 = calls1 - (a1.isr_claimed - a0.isr_claimed);
        std::uint64_t slack1 = level ? unclaimed1 : 0;
        CHECK(sig1 >= 2 * each && sig1 <= 2 * each + slack1,
              "the ISR saw %llu signals, expected %u (every trigger and raise) + at most %llu "
              "re-signals of an asserted line",
              (unsigned long long)sig1, 2 * each, (unsigned long long)slack1);
        CHECK(calls1 >= each && calls1 <= sig1, "%llu ISR calls for %u trigger+raise pairs",
              (unsigned long long)calls1, each);
        // A burst while the interrupt lock is held: the ISR cannot run (its thread may have read
        // the first signals and wait for the lock), the eventfd counter coalesces the rest, and
        // the ISR is told how many each call got (§19.2).
        irq.acquire_lock();
        for (unsigned i = 0; i < burst; ++i) {
            auto t = busdev->trigger(b.kind, b.bus_vector);
            CHECK(t.ok(), "burst trigger %u: %s", i, t.err().describe().c_str());
        }
        irq.release_lock();
        wdfx::status st = drv->raise(kRaiseBit);
        CHECK(wdfx::nt_success(st), "raise after the burst: %s", wdfx::status_name(st));
        edu::activity a2 = settled(*drv, a1, burst + 1);
        std::uint64_t sig2 = a2.isr_signals - a1.isr_signals, calls2 = a2.isr_calls - a1.isr_calls;
        say("a burst of %u triggers under the interrupt lock, then a raise: %llu signals in %llu "
            "ISR calls",
            burst, (unsigned long long)sig2, (unsigned long long)calls2);
        std::uint64_t slack2 = level ? calls2 - (a2.isr_claimed - a1.isr_claimed) : 0;
        CHECK(sig2 >= burst + 1 && sig2 <= burst + 1 + slack2,
              "the ISR saw %llu signals, expected %u (+ at most %llu re-signals)",
              (unsigned long long)sig2, burst + 1, (unsigned long long)slack2);
        const unsigned max_calls = level ? 4 : 3;  // a re-signal may add one
        CHECK(calls2 >= 1 && calls2 <= max_calls,
              "%llu ISR calls for a burst of %u coalesced signals (expected 1..%u)",
              (unsigned long long)calls2, burst + 1, max_calls);
        figure("triggers", "one_by_one_signals", static_cast<double>(sig1));
        figure("triggers", "one_by_one_isr_calls", static_cast<double>(calls1));
        figure("triggers", "burst_signals", static_cast<double>(sig2));
        figure("triggers", "burst_isr_calls", static_cast<double>(calls2));
    }
    busdev.reset();

    // The framework's counters (what wdfxctl stat shows) against what the driver saw. Disable
    // (WdfInterruptDisable) quiesces the ISR and flushes the DPC/work item, so the counters are
    // final; Enable reconnects.
    irq.disable();
    CHECK(!irq.get_binding().connected, "WdfInterruptDisable left the interrupt connected");
    wdfx::interrupt_stats s = irq.get_stats();
    edu::activity a = drv->get_activity();
    print_activity("driver", a);
    say("framework: wakeups %llu, signals %llu, claimed %llu, unclaimed %llu, dropped %llu, DPCs "
        "queued %llu, work items queued %llu, mean ISR %llu ns",
        (unsigned long long)s.wakeups, (unsigned long long)s.signals, (unsigned long long)s.claimed,
        (unsigned long long)s.unclaimed, (unsigned long long)s.dropped,
        (unsigned long long)s.dpcs_queued, (unsigned long long)s.work_items_queued,
        (unsigned long long)(s.wakeups ? s.isr_ns_total / s.wakeups : 0));
    CHECK(s.wakeups == a.isr_calls, "framework wakeups %llu != ISR calls %llu",
          (unsigned long long)s.wakeups, (unsigned long long)a.isr_calls);
    CHECK(s.signals == a.isr_signals, "framework signals %llu != signals the ISR was told %llu",
          (unsigned long long)s.signals, (unsigned long long)a.isr_signals);
    CHECK(s.claimed == a.isr_claimed && s.claimed + s.unclaimed == s.wakeups,
          "claimed %llu + unclaimed %llu != wakeups %llu (driver claimed %llu)",
          (unsigned long long)s.claimed, (unsigned long long)s.unclaimed,
          (unsigned long long)s.wakeups, (unsigned long long)a.isr_claimed);
    CHECK(s.signals >= s.wakeups, "fewer signals than wake-ups");
    std::uint64_t irqs_expected = 36 + 200 + 6;  // factorials, raises, DMA completions
    if (bus != "uio") irqs_expected += 20 + 1;   // the raises after the triggers
    CHECK(a.factorial_irqs >= 1 && a.dma_irqs >= 1 && a.raised_irqs >= 1,
          "an operation completed without its interrupt being seen");
    CHECK(a.isr_claimed <= irqs_expected && a.isr_claimed >= 1, "%llu claimed ISR calls",
          (unsigned long long)a.isr_claimed);
    if (o.passive) {
        CHECK(a.dpc_runs == 0 && a.work_item_runs == s.work_items_queued &&
                  s.work_items_queued >= 1 && s.work_items_queued <= s.claimed,
              "passive model: %llu work items queued, %llu ran, %llu DPCs",
              (unsigned long long)s.work_items_queued, (unsigned long long)a.work_item_runs,
              (unsigned long long)a.dpc_runs);
    } else {
        CHECK(a.work_item_runs == 0 && a.dpc_runs == s.dpcs_queued && s.dpcs_queued >= 1 &&
                  s.dpcs_queued <= s.claimed,
              "DIRQL model: %llu DPCs queued, %llu ran, %llu work items",
              (unsigned long long)s.dpcs_queued, (unsigned long long)a.dpc_runs,
              (unsigned long long)a.work_item_runs);
    }
    CHECK(!s.storm_masked, "the unclaimed-interrupt guard masked the vector");
    figure("counters", "wakeups", static_cast<double>(s.wakeups));
    figure("counters", "signals", static_cast<double>(s.signals));
    figure("counters", "claimed", static_cast<double>(s.claimed));
    figure("counters", "unclaimed", static_cast<double>(s.unclaimed));
    figure("counters", o.passive ? "work_items" : "dpcs",
           static_cast<double>(o.passive ? s.work_items_queued : s.dpcs_queued));
    irq.enable();
    CHECK(irq.get_binding().connected, "WdfInterruptEnable did not reconnect");
    run_factorials(*drv, 1, nullptr);  // interrupts work after Disable + Enable
    run_dma(*drv, nullptr);

    // The counters are published for wdfxctl stat.
    std::string stats_path = "/run/wdfx/stats/" + std::to_string(::getpid()) + "." + bdf + ".stats";
    CHECK(::access(stats_path.c_str(), R_OK) == 0, "%s is not published", stats_path.c_str());

    drv->detach();
    a = drv->get_activity();
    print_activity("after detach", a);
    CHECK(a.d0_entries == 1 && a.d0_exits == 1 && a.hardware_releases == 1,
          "detach: D0 entries %llu, D0 exits %llu, releases %llu (expected 1 each)",
          (unsigned long long)a.d0_entries, (unsigned long long)a.d0_exits,
          (unsigned long long)a.hardware_releases);
    CHECK(::access(stats_path.c_str(), F_OK) != 0, "%s is left behind after the device stopped",
          stats_path.c_str());
    drv.reset();
    // The device is free again: the group (VFIO) or the uio node can be opened.
    {
        auto again = bus == "uio" ? wdfx::uio::open(bdf) : wdfx::vfio::open(bdf);
        CHECK(again.ok(), "reopening %s after detach: %s", bdf.c_str(),
              again.err().describe().c_str());
    }
    figure("device", "bdf", bdf);
    hil_figures_write();
    say("EDU FRAMEWORK CASE PASS");
    return 0;
}

// ---- busy group
// --------------------------------------------------------------------------------------------

int try_open(const std::string& bdf, const std::string& holder) {
    auto d = wdfx::vfio::open(bdf);
    if (holder == "free") {
        CHECK(d.ok(), "the group should be free now: %s", d.err().describe().c_str());
        say("opened %s: the group is free", bdf.c_str());
        return 0;
    }
    CHECK(!d.ok(), "opened %s although pid %s holds its group", bdf.c_str(), holder.c_str());
    std::string msg = d.err().describe();
    say("second process (pid %d): %s", (int)::getpid(), msg.c_str());
    std::string node = "/dev/vfio/" + iommu_group(bdf);
    CHECK(contains(msg, "pid " + holder), "the message does not name the holder (pid %s)",
          holder.c_str());
    CHECK(contains(msg, node), "the message does not name the group node %s", node.c_str());
    CHECK(d.err().code == std::error_code(EBUSY, std::system_category()), "the error is not EBUSY");
    return 0;
}

int edu_busy_group(const std::string& self, const std::string& bdf) {
    hil_deadline(60, "the busy group case");
    auto drv = make_driver({});
    attach(*drv, open_bus("vfio", bdf));
    run_factorials(*drv, 1, nullptr);
    std::string pid = std::to_string(::getpid());
    CHECK(run(self + " try-open " + bdf + " " + pid) == 0, "the second process was not refused");
    std::string out;
    int rc = run("wdfxctl info " + bdf, &out);
    CHECK(rc == 0, "wdfxctl info failed");
    CHECK(contains(out, "in use") && contains(out, "pid " + pid),
          "wdfxctl info does not say the group is held by pid %s", pid.c_str());
    run_factorials(*drv, 1, nullptr);  // the holder was not disturbed
    drv->detach();
    drv.reset();
    CHECK(run(self + " try-open " + bdf + " free") == 0, "the group was not released");
    say("BUSY GROUP PASS");
    return 0;
}

// ---- reset without a reset method
// ------------------------------------------------------------------------------

int edu_reset(const std::string& bdf, bool expect_ok) {
    hil_deadline(60, "the edu reset case");
    auto drv = make_driver({});
    attach(*drv, open_bus("vfio", bdf));
    run_factorials(*drv, 1, nullptr);
    auto dev = drv->device_object();
    say("reset_method: '%s'", read_file("/sys/bus/pci/devices/" + bdf + "/reset_method").c_str());
    CHECK(dev.bus_device()->can_reset() == expect_ok, "can_reset() is %d",
          dev.bus_device()->can_reset());
    stderr_capture cap;
    cap.start();
    std::uint64_t t0 = now_ns();
    wdfx::status st = dev.reset();
    double ms = static_cast<double>(now_ns() - t0) / 1e6;
    std::string msg = cap.stop();
    say("device::reset(): %s in %.1f ms", wdfx::status_name(st), ms);
    auto a = drv->get_activity();
    if (expect_ok) {
        // edu alone behind a root port: VFIO resets it with a secondary bus reset.
        CHECK(wdfx::nt_success(st), "reset: %s", wdfx::status_name(st));
        CHECK(a.d0_exits == 1 && a.d0_entries == 2,
              "reset: D0 exits %llu, D0 entries %llu (expected 1 and 2)",
              (unsigned long long)a.d0_exits, (unsigned long long)a.d0_entries);
        figure("reset", "reset_ms", ms);
    } else {
        CHECK(st == wdfx::status::not_supported, "reset returned %s, expected STATUS_NOT_SUPPORTED",
              wdfx::status_name(st));
        CHECK(contains(msg, "no reset method") && contains(msg, bdf),
              "the log does not say that %s has no reset method", bdf.c_str());
        CHECK(a.d0_exits == 0 && a.d0_entries == 1,
              "an unsupported reset touched the device (D0 exits %llu, entries %llu)",
              (unsigned long long)a.d0_exits, (unsigned long long)a.d0_entries);
    }
    CHECK(dev.state() == wdfx::device_state::started, "the device is %s after the reset",
          wdfx::device_state_name(dev.state()));
    // The driver keeps working: interrupts and DMA.
    run_factorials(*drv, 1, nullptr);
    run_dma(*drv, nullptr);
    wdfx::status rs = drv->raise(kRaiseBit);
    CHECK(wdfx::nt_success(rs), "raise after the reset: %s", wdfx::status_name(rs));
    drv->detach();
    figure("reset", "status", wdfx::status_name(st));
    hil_figures_write();
    say("EDU RESET %s PASS", expect_ok ? "(bus reset)" : "NOT SUPPORTED");
    return 0;
}

// ---- removal
// --------------------------------------------------------------------------------------------------

int edu_sysfs_unbind(const std::string& bus, const std::string& bdf) {
    hil_deadline(60, "the sysfs unbind case (the unbind hung?)");
    edu::options o;
    if (bus == "uio") o.dma_address_bits = 64;  // physical addresses: anywhere in RAM
    auto drv = make_driver(o);
    attach(*drv, open_bus(bus, bdf));
    run_factorials(*drv, 1, nullptr);
    run_dma(*drv, nullptr);
    const std::string path = "/sys/bus/pci/devices/" + bdf + "/driver/unbind";
    std::uint64_t t0 = 0, t1 = 0;
    int err = 0;
    // vfio-pci: the unbind blocks in the kernel until the device is released; it sends the
    // request IRQ, and the framework stops the driver and closes the device. uio_pci_generic
    // does not wait: /dev/uioN fails under the relay thread, and the framework handles that as
    // a surprise removal (the device is gone: its callbacks must not rely on the hardware).
    stderr_capture cap;
    cap.start();
    std::thread w([&] {
        int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        t0 = now_ns();
        if (fd < 0 || ::write(fd, bdf.data(), bdf.size()) != static_cast<ssize_t>(bdf.size()))
            err = errno;
        t1 = now_ns();
        if (fd >= 0) ::close(fd);
    });
    bool released = drv->wait_released(1, 20s);
    std::uint64_t t_rel = now_ns();
    w.join();
    std::string log = cap.stop();
    CHECK(err == 0, "writing %s: %s", path.c_str(), std::strerror(err));
    CHECK(released, "ReleaseHardware did not run after the unbind");
    auto a = drv->get_activity();
    print_activity("after the unbind", a);
    CHECK(a.d0_exits == 1 && a.hardware_releases == 1, "D0 exits %llu, releases %llu",
          (unsigned long long)a.d0_exits, (unsigned long long)a.hardware_releases);
    const char* why = bus == "uio" ? "surprise removal" : "removal requested by the bus";
    CHECK(contains(log, why), "the log does not say '%s'", why);
    std::string now = pci_driver(bdf);
    CHECK(now.empty(), "%s is still bound to %s", bdf.c_str(), now.c_str());
    double unbind_ms = static_cast<double>(t1 - t0) / 1e6;
    double rel_ms = static_cast<double>(t_rel - t0) / 1e6;
    say("sysfs unbind of %s while the driver ran: %.1f ms (ReleaseHardware after %.1f ms)",
        bus == "uio" ? "uio_pci_generic" : "vfio-pci", unbind_ms, rel_ms);
    figure("sysfs_unbind", "unbind_ms", unbind_ms);
    figure("sysfs_unbind", "released_ms", rel_ms);
    hil_figures_write();
    CHECK(unbind_ms < 1000.0 && rel_ms < 1000.0,
          "the unbind took %.1f ms, the release %.1f ms "
          "(> 1 s)",
          unbind_ms, rel_ms);
    drv.reset();
    say("SYSFS UNBIND PASS");
    return 0;
}

int edu_unplug(const std::string& bdf) {
    hil_deadline(100, "the unplug case");
    auto drv = make_driver({});
    attach(*drv, open_bus("vfio", bdf));
    run_factorials(*drv, 1, nullptr);
    int ctl = hil_host_open();
    std::uint64_t t0 = hil_mark("UNPLUG-NOW");  // the host sends QMP device_del
    bool released = drv->wait_released(1, 30s);
    std::uint64_t t_rel = now_ns();
    CHECK(released, "ReleaseHardware did not run after device_del (no request IRQ?)");
    auto a = drv->get_activity();
    print_activity("after the request IRQ", a);
    CHECK(a.d0_exits == 1 && a.hardware_releases == 1, "D0 exits %llu, releases %llu",
          (unsigned long long)a.d0_exits, (unsigned long long)a.hardware_releases);
    int rc = hil_host_await(ctl, "UNPLUG-NOW", 60);  // DEVICE_DELETED within 30 s
    std::uint64_t t_del = now_ns();
    CHECK(rc == 0, "the host did not see DEVICE_DELETED");
    CHECK(::access(("/sys/bus/pci/devices/" + bdf).c_str(), F_OK) != 0,
          "%s is still in sysfs after DEVICE_DELETED", bdf.c_str());
    say("device_del: D0Exit + ReleaseHardware %.1f ms after the mark, DEVICE_DELETED seen by the "
        "host %.1f ms after it",
        static_cast<double>(t_rel - t0) / 1e6, static_cast<double>(t_del - t0) / 1e6);
    figure("unplug", "mark_to_released_ms", static_cast<double>(t_rel - t0) / 1e6);
    figure("unplug", "mark_to_host_ack_ms", static_cast<double>(t_del - t0) / 1e6);
    hil_figures_write();
    drv.reset();
    say("UNPLUG PASS");
    return 0;
}

// ---- edu-vanish <bdf>: the device stops answering while the driver runs
// ------------------------------------------------------------------------------------------
// QEMU cannot pull a card out, but it routes config cycles by the bridges' bus numbers, as
// hardware does: with its root port's secondary and subordinate bus numbers moved away, edu's
// config space reads all ones through vfio-pci (which passes the class dword through), as a
// device behind a link that went down does, and nothing tells the kernel or vfio-pci. The
// framework's presence probe (WDFX_PRESENCE_MS, 1 s) must take the surprise-removal path.

namespace {
std::string parent_bridge(const std::string& bdf) {
    char buf[4096];
    std::string link = "/sys/bus/pci/devices/" + bdf;
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return {};
    buf[n] = '\0';
    std::string path(buf);  // ../../../devices/pci0000:00/0000:00:02.0/0000:01:00.0
    std::size_t last = path.rfind('/');
    if (last == std::string::npos || last == 0) return {};
    std::size_t prev = path.rfind('/', last - 1);
    std::string parent = path.substr(prev + 1, last - prev - 1);
    return parent.rfind("pci", 0) == 0 ? std::string() : parent;  // on the root bus: none
}

bool config_bytes(const std::string& bdf, off_t off, std::uint8_t* b, std::size_t n, bool write) {
    std::string path = "/sys/bus/pci/devices/" + bdf + "/config";
    int fd = ::open(path.c_str(), (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t r = write ? ::pwrite(fd, b, n, off) : ::pread(fd, b, n, off);
    ::close(fd);
    return r == static_cast<ssize_t>(n);
}
}  // namespace

int edu_vanish(const std::string& bdf) {
    hil_deadline(100, "the vanish case");
    const std::string rp = parent_bridge(bdf);
    CHECK(!rp.empty(), "%s is not behind a bridge", bdf.c_str());
    std::uint8_t bus[3];  // primary, secondary, subordinate
    CHECK(config_bytes(rp, 0x18, bus, 3, false), "reading the bus numbers of %s", rp.c_str());
    say("%s behind %s: primary %u, secondary %u, subordinate %u", bdf.c_str(), rp.c_str(), bus[0],
        bus[1], bus[2]);
    auto drv = make_driver({});
    attach(*drv, open_bus("vfio", bdf));
    run_factorials(*drv, 1, nullptr);
    stderr_capture cap;
    cap.start();
    std::uint8_t away[2] = {0x40, 0x40};  // a bus number nothing uses
    std::uint64_t t0 = now_ns();
    CHECK(config_bytes(rp, 0x19, away, 2, true), "moving the bus numbers of %s", rp.c_str());
    std::uint8_t cls[4];
    bool unreachable = config_bytes(bdf, 0x08, cls, 4, false) && cls[0] == 0xff && cls[1] == 0xff &&
                       cls[2] == 0xff && cls[3] == 0xff;
    bool released = drv->wait_released(1, 20s);
    std::uint64_t t_rel = now_ns();
    // Back before the device is closed: vfio-pci's release resets the function and waits for it
    // to answer again.
    bool restored = config_bytes(rp, 0x19, bus + 1, 2, true);
    std::string log = cap.stop();
    CHECK(restored, "restoring the bus numbers of %s", rp.c_str());
    CHECK(unreachable, "edu's config space still answered with its bus numbers moved");
    CHECK(released, "ReleaseHardware did not run: the vanished device was not noticed");
    auto a = drv->get_activity();
    print_activity("after the device vanished", a);
    CHECK(a.d0_exits == 1 && a.hardware_releases == 1, "D0 exits %llu, releases %llu",
          (unsigned long long)a.d0_exits, (unsigned long long)a.hardware_releases);
    CHECK(contains(log, "no longer answers") && contains(log, "surprise removal"),
          "the log does not report a surprise removal of a device that no longer answers");
    double ms = static_cast<double>(t_rel - t0) / 1e6;
    say("config space unreachable -> surprise removal, D0Exit and ReleaseHardware: %.1f ms", ms);
    figure("vanish", "unreachable_to_released_ms", ms);
    hil_figures_write();
    drv.reset();
    // The device answers again: a new driver instance runs factorials on it.
    auto again = make_driver({});
    attach(*again, open_bus("vfio", bdf));
    run_factorials(*again, 1, nullptr);
    again.reset();
    say("VANISH PASS");
    return 0;
}

// ---- unprivileged runs
// ------------------------------------------------------------------------------------------

int nonroot(const std::string& bdf, const std::string& mode) {
    rlimit rl{};
    ::getrlimit(RLIMIT_MEMLOCK, &rl);
    std::string caps = read_file("/proc/self/status");
    std::size_t at = caps.find("CapEff:");
    std::string capeff =
        at == std::string::npos ? "?" : caps.substr(at + 7, caps.find('\n', at) - at - 7);
    capeff.erase(0, capeff.find_first_not_of(" \t"));
    say("uid %d gid %d, RLIMIT_MEMLOCK %llu, CapEff %s", (int)::getuid(), (int)::getgid(),
        (unsigned long long)rl.rlim_cur, capeff.c_str());
    CHECK(::getuid() != 0 && ::geteuid() != 0, "running as root");
    CHECK(contains(capeff, "0000000000000000"), "the process has capabilities");
    if (mode == "ok") return edu_case("vfio", bdf, {});
    const std::string node = "/dev/vfio/" + iommu_group(bdf);
    if (mode == "noaccess") {
        CHECK(::access(node.c_str(), R_OK | W_OK) != 0, "this user can open %s", node.c_str());
        auto d = wdfx::vfio::open(bdf);
        CHECK(!d.ok(), "opened %s without access to %s", bdf.c_str(), node.c_str());
        std::string msg = d.err().describe();
        say("vfio::open: %s", msg.c_str());
        CHECK(contains(msg, node), "the message does not name %s", node.c_str());
        CHECK(contains(msg, "udev") && contains(msg, "wdfx"),
              "the message does not give the fix (the udev rule, group wdfx)");
        say("NO NODE ACCESS PASS");
        return 0;
    }
    if (mode == "memlock") {
        auto drv = make_driver({});
        stderr_capture cap;
        cap.start();
        wdfx::status st = drv->attach(open_bus("vfio", bdf));
        std::string msg = cap.stop();
        say("attach with RLIMIT_MEMLOCK %llu: %s", (unsigned long long)rl.rlim_cur,
            wdfx::status_name(st));
        CHECK(!wdfx::nt_success(st), "the driver started although the memlock limit is too low");
        CHECK(contains(msg, "RLIMIT_MEMLOCK"), "the message does not name RLIMIT_MEMLOCK");
        CHECK(contains(msg, "LimitMEMLOCK=") && contains(msg, "ulimit -l"),
              "the message does not give the fix (LimitMEMLOCK=, ulimit -l)");
        drv.reset();
        // A failed start leaves nothing held: the group opens again.
        auto again = wdfx::vfio::open(bdf);
        CHECK(again.ok(), "the group is still held after the failed start: %s",
              again.err().describe().c_str());
        say("MEMLOCK TOO LOW PASS");
        return 0;
    }
    CHECK(false, "unknown nonroot mode '%s'", mode.c_str());
}

}  // namespace hil
