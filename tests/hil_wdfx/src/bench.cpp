// The HIL benchmark: edu MSI round trips through the framework against raw VFIO, measured by the
// same program in the same boot, in alternating rounds (the guest's speed drifts while it runs:
// alternating keeps every loop under the same conditions).
//
//   vfio_msi         raw, one thread (tests/hil's edu_vfio_msi_dma loop): raise register write ->
//                    read() of the MSI eventfd returns, in the writing thread
//   vfio_msi_waiter  raw, shaped like the framework: a waiter thread blocked in read() of the MSI
//                    eventfd, on CPU X at SCHED_FIFO 50 with the host IRQ steered to X (as the
//                    framework places its ISR thread); the writer on the other CPU. Write -> the
//                    waiter's read() returns.
//   fw_msi_isr       the framework (wdfx DIRQL interrupt): write -> ISR entry, writer on the
//                    other CPU than the ISR thread
//   fw_msi_dpc       -> entry of the DPC the ISR queued
//   fw_msi_done      -> the writer, blocked in read() of an eventfd the DPC signals, wakes
// The goal (issue 4): framework/raw <= 1.15 at p50, for ISR entry.
//
// Under TCG the one-thread loop is special: the vCPU that writes the raise register takes the MSI
// synchronously in that MMIO exit when the IRQ is routed to it, so read() finds the counter set and
// never sleeps. No design with a separate interrupt thread can match that; the waiter loop is the
// like-for-like baseline, and both ratios are reported.
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include <wdfx/vfio.hpp>
#include <wdfx/wdfx.hpp>

#include "cases.hpp"
#include "common.hpp"

extern "C" {
#include "hil_vfio.h"
}

namespace hil {

namespace {

namespace regs = wdfx::sim::edu;
constexpr int kFifo = 50;  // the framework's ISR thread priority (runtime_config, normal)

struct bench_ctx {
    wdfx::register_block bar;
    std::atomic<std::uint64_t> t_isr{0}, t_dpc{0};
    int done_fd = -1;
};

std::uint64_t p50_of(std::vector<std::uint64_t> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

void pin_self(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (cpu >= 0) {
        CPU_SET(cpu, &s);
    } else {
        for (int c = 0; c < ::sysconf(_SC_NPROCESSORS_ONLN); ++c)
            CPU_SET(c, &s);
    }
    CHECK(::sched_setaffinity(0, sizeof s, &s) == 0, "sched_setaffinity: %s", std::strerror(errno));
}

/// The host IRQ of "vfio-msi[0](bdf)" to `cpu`.
void steer_msi(const std::string& bdf, int cpu) {
    std::ifstream in("/proc/interrupts");
    std::string line, tag = "vfio-msi[0](" + bdf + ")";
    while (std::getline(in, line))
        if (line.find(tag) != std::string::npos) {
            unsigned irq = static_cast<unsigned>(std::strtoul(line.c_str(), nullptr, 10));
            std::string path = "/proc/irq/" + std::to_string(irq) + "/smp_affinity_list";
            hil_sysfs_write(path.c_str(), std::to_string(cpu).c_str());
            return;
        }
    CHECK(false, "no %s in /proc/interrupts", tag.c_str());
}

struct raw_dev {
    hil_vfio v{};
    std::size_t sz = 0;
    volatile void* bar = nullptr;
    int fd = -1;
    explicit raw_dev(const std::string& bdf) {
        hil_vfio_open(&v, bdf.c_str());
        bar = hil_vfio_map_bar(&v, VFIO_PCI_BAR0_REGION_INDEX, &sz);
        hil_vfio_enable_bus_master(&v);
        hil_vfio_irq_enable(&v, VFIO_PCI_MSI_IRQ_INDEX, 1, &fd, 0);
        hil_wr32(bar, regs::reg_irq_ack, hil_rd32(bar, regs::reg_irq_status));
    }
    ~raw_dev() {
        hil_vfio_irq_disable(&v, VFIO_PCI_MSI_IRQ_INDEX);
        ::close(fd);
        ::munmap(const_cast<void*>(bar), sz);
        hil_vfio_close(&v);
    }
};

/// tests/hil's edu_vfio_msi_dma loop: the writer blocks in read() of the MSI eventfd.
void raw_one_thread(const std::string& bdf, unsigned warmup, unsigned n, stats& st,
                    std::vector<std::uint64_t>& round) {
    raw_dev d(bdf);
    for (unsigned i = 0; i < warmup + n; ++i) {
        std::uint64_t t0 = now_ns();
        hil_wr32(d.bar, regs::reg_irq_raise, 1);
        std::uint64_t c;
        CHECK(::read(d.fd, &c, sizeof c) == sizeof c, "read MSI eventfd");
        std::uint64_t t1 = now_ns();
        CHECK(hil_rd32(d.bar, regs::reg_irq_status) & 1, "raw round trip %u: no status", i);
        hil_wr32(d.bar, regs::reg_irq_ack, 1);
        if (i >= warmup) {
            st.add(t1 - t0);
            round.push_back(t1 - t0);
        }
    }
}

/// A waiter thread shaped like the framework's ISR thread; the writer on the other CPU.
void raw_waiter(const std::string& bdf, int isr_cpu, int writer_cpu, unsigned warmup, unsigned n,
                stats& st, std::vector<std::uint64_t>& round) {
    raw_dev d(bdf);
    steer_msi(bdf, isr_cpu);
    int back = ::eventfd(0, EFD_CLOEXEC);
    CHECK(back >= 0, "eventfd");
    std::atomic<std::uint64_t> t_wake{0};
    std::atomic<bool> stop{false};
    std::atomic<bool> ready{false};
    std::thread w([&] {
        pin_self(isr_cpu);
        sched_param sp{};
        sp.sched_priority = kFifo;
        (void)::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &sp);
        ready = true;
        for (;;) {
            std::uint64_t c;
            if (::read(d.fd, &c, sizeof c) != sizeof c) return;
            std::uint64_t t = now_ns();
            if (stop) return;
            std::uint32_t s = hil_rd32(d.bar, regs::reg_irq_status);
            hil_wr32(d.bar, regs::reg_irq_ack, s);
            t_wake = t;
            std::uint64_t one = 1;
            ssize_t r = ::write(back, &one, sizeof one);
            (void)r;
        }
    });
    while (!ready)
        std::this_thread::yield();
    pin_self(writer_cpu);
    for (unsigned i = 0; i < warmup + n; ++i) {
        std::uint64_t t0 = now_ns();
        hil_wr32(d.bar, regs::reg_irq_raise, 1);
        std::uint64_t c;
        CHECK(::read(back, &c, sizeof c) == sizeof c, "read the waiter's eventfd");
        if (i >= warmup) {
            st.add(t_wake - t0);
            round.push_back(t_wake - t0);
        }
    }
    pin_self(-1);
    stop = true;
    std::uint64_t one = 1;
    ssize_t r = ::write(d.fd, &one, sizeof one);  // wake the waiter so it sees stop
    (void)r;
    w.join();
    ::close(back);
}

double r3(double v) {
    return static_cast<double>(static_cast<long long>(v * 1000 + 0.5)) / 1000;
}

}  // namespace

int edu_bench(const std::string& bdf, unsigned rounds, unsigned n) {
    hil_deadline(200, "the benchmark (an interrupt was lost)");
    const int ncpu = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
    CHECK(ncpu >= 2, "the benchmark needs two CPUs");
    auto ctx = std::make_shared<bench_ctx>();
    ctx->done_fd = ::eventfd(0, EFD_CLOEXEC);
    CHECK(ctx->done_fd >= 0, "eventfd");
    // Every round adds a new device, and the default policy spreads devices over the CPUs (its
    // CPU is (device ordinal + MessageID) mod CPUs): round 1's ISR thread would land on the other
    // CPU than round 0's. The raw waiter and the writer are placed from the ISR's CPU, so the
    // ISR is pinned to the first allowed CPU by an explicit policy (§13: set in AddDevice;
    // Priority Normal, as Undefined makes the call a no-op, §21 rule 15).
    cpu_set_t allowed;
    CHECK(::sched_getaffinity(0, sizeof allowed, &allowed) == 0, "sched_getaffinity");
    int fixed_cpu = 0;
    while (fixed_cpu < CPU_SETSIZE && !CPU_ISSET(fixed_cpu, &allowed))
        ++fixed_cpu;
    CHECK(fixed_cpu < 64, "no usable CPU below 64");

    wdfx::driver_config cfg;
    cfg.name = "wdfx-hil-bench";
    wdfx::interrupt irqobj;
    cfg.on_device_add = [ctx, &irqobj, fixed_cpu](wdfx::driver,
                                                  wdfx::device_init& init) -> wdfx::status {
        init.interrupt_preference = wdfx::interrupt_type::msi;
        init.pnp_power.on_prepare_hardware = [ctx](wdfx::device dev, const wdfx::resource_list&,
                                                   const wdfx::resource_list& tr) {
            for (const auto& r : tr)
                if (r.type == wdfx::resource_type::memory && r.bar == 0) {
                    auto m = dev.map_registers(r);
                    if (!m) return m.code();
                    ctx->bar = *m;
                }
            return ctx->bar.valid() ? wdfx::status::success : wdfx::status::insufficient_resources;
        };
        init.pnp_power.on_release_hardware = [ctx](wdfx::device, const wdfx::resource_list&) {
            ctx->bar = wdfx::register_block();
            return wdfx::status::success;
        };
        init.pnp_power.on_d0_entry = [ctx](wdfx::device, wdfx::device_power_state) {
            ctx->bar.write32(regs::reg_irq_ack, ctx->bar.read32(regs::reg_irq_status));
            return wdfx::status::success;
        };
        auto dev = wdfx::device::create(init);
        if (!dev) return dev.code();
        wdfx::interrupt_config ic;
        ic.on_isr = [ctx](wdfx::interrupt irq, const wdfx::isr_context&) {
            std::uint64_t t = now_ns();  // first thing: the ISR entry
            std::uint32_t st = ctx->bar.read32(regs::reg_irq_status);
            if (st == 0) return false;
            ctx->bar.write32(regs::reg_irq_ack, st);
            ctx->t_isr.store(t, std::memory_order_relaxed);
            irq.queue_dpc_for_isr();
            return true;
        };
        ic.on_dpc = [ctx](wdfx::interrupt, wdfx::object) {
            ctx->t_dpc.store(now_ns(), std::memory_order_relaxed);
            std::uint64_t one = 1;
            ssize_t w = ::write(ctx->done_fd, &one, sizeof one);
            (void)w;
        };
        auto irq = wdfx::interrupt::create(*dev, ic);
        if (!irq) return irq.code();
        irq->set_policy(wdfx::interrupt_policy::specified_processors,
                        wdfx::interrupt_priority::normal, 1ull << fixed_cpu);
        irqobj = *irq;
        return wdfx::status::success;
    };
    auto drv = wdfx::driver::create(cfg);
    CHECK(drv.ok(), "WdfDriverCreate: %s", drv.err().describe().c_str());

    const unsigned warmup = 200;
    stats raw("vfio_msi", "raw, one thread: raise write -> MSI eventfd read() returns", rounds * n);
    stats waiter("vfio_msi_waiter",
                 "raw, waiter thread (CPU X, FIFO 50, IRQ steered to X), writer on the other CPU: "
                 "raise write -> read() returns",
                 rounds * n);
    stats isr("fw_msi_isr", "wdfx: raise write -> ISR entry (writer on the other CPU)", rounds * n);
    stats dpc("fw_msi_dpc", "wdfx: raise write -> DPC entry", rounds * n);
    stats done("fw_msi_done", "wdfx: raise write -> ISR -> DPC -> the writer's read() returns",
               rounds * n);
    for (auto* s : {&raw, &waiter, &isr, &dpc, &done})
        s->begin();
    const int isr_cpu = fixed_cpu, writer_cpu = (fixed_cpu + 1) % ncpu;
    // One framework block: open, start, warm up, measure, remove.
    auto run_framework = [&](unsigned r, std::vector<std::uint64_t>& ri) {
        auto bus = wdfx::vfio::open(bdf);
        CHECK(bus.ok(), "vfio::open: %s", bus.err().describe().c_str());
        auto d = drv->add_and_start(std::move(*bus));
        CHECK(d.ok(), "AddDevice + start: %s", d.err().describe().c_str());
        auto b = irqobj.get_binding();
        CHECK(b.kind == wdfx::bus::irq_kind::msi && b.connected && b.cpu == fixed_cpu,
              "round %u: not connected to MSI on an ISR thread pinned to CPU %d (CPU %d)", r,
              fixed_cpu, b.cpu);
        if (r == 0) {
            say("framework: MSI vector %u, ISR thread on CPU %d at SCHED_FIFO %d; writer on CPU %d",
                b.bus_vector, b.cpu, b.sched_priority, writer_cpu);
            figure("framework", "isr_fifo_priority", b.sched_priority);
        }
        pin_self(writer_cpu);
        for (unsigned i = 0; i < warmup + n; ++i) {
            std::uint64_t t0 = now_ns();
            ctx->bar.write32(regs::reg_irq_raise, 1);
            std::uint64_t c;
            CHECK(::read(ctx->done_fd, &c, sizeof c) == sizeof c, "read completion eventfd");
            std::uint64_t t1 = now_ns();
            CHECK(c == 1, "%llu completions for one raise", (unsigned long long)c);
            if (i < warmup) continue;
            std::uint64_t ti = ctx->t_isr.load(), td = ctx->t_dpc.load();
            isr.add(ti - t0);
            dpc.add(td - t0);
            done.add(t1 - t0);
            ri.push_back(ti - t0);
        }
        pin_self(-1);
        auto s = irqobj.get_stats();
        CHECK(s.claimed == warmup + n && s.unclaimed == 0,
              "round %u: claimed %llu unclaimed %llu (expected %u claimed)", r,
              (unsigned long long)s.claimed, (unsigned long long)s.unclaimed, warmup + n);
        d->remove();
    };
    for (unsigned r = 0; r < rounds; ++r) {
        std::vector<std::uint64_t> rr, rw, ri;
        // Alternating order (F W R, then W R F, ...): the guest's speed drifts while it runs, and
        // whichever side always went first took the drift. The raw waiter runs on the ISR's CPU.
        if (r % 2 == 0) {
            run_framework(r, ri);
            raw_waiter(bdf, isr_cpu, writer_cpu, warmup, n, waiter, rw);
            raw_one_thread(bdf, warmup, n, raw, rr);
        } else {
            raw_waiter(bdf, isr_cpu, writer_cpu, warmup, n, waiter, rw);
            raw_one_thread(bdf, warmup, n, raw, rr);
            run_framework(r, ri);
        }

        std::uint64_t p_raw = p50_of(rr), p_wait = p50_of(rw), p_isr = p50_of(ri);
        say("round %u (ISR CPU %d): p50 raw one-thread %llu ns, raw waiter %llu ns, framework ISR "
            "entry %llu ns: framework/waiter %.3f, framework/one-thread %.3f",
            r, isr_cpu, (unsigned long long)p_raw, (unsigned long long)p_wait,
            (unsigned long long)p_isr, static_cast<double>(p_isr) / static_cast<double>(p_wait),
            static_cast<double>(p_isr) / static_cast<double>(p_raw));
        char key[40];
        std::snprintf(key, sizeof key, "round%u_isr_vs_waiter", r);
        figure("ratio", key,
               r3(static_cast<double>(p_isr) /
                  static_cast<double>(std::max<std::uint64_t>(p_wait, 1))));
    }
    for (auto* s : {&raw, &waiter, &isr, &dpc, &done})
        s->end();
    double p_raw = static_cast<double>(raw.report());
    double p_wait = static_cast<double>(waiter.report());
    double p_isr = static_cast<double>(isr.report());
    double p_dpc = static_cast<double>(dpc.report());
    double p_done = static_cast<double>(done.report());
    double goal_ratio = p_isr / p_wait;
    figure("ratio", "isr_vs_waiter_p50", r3(goal_ratio));
    figure("ratio", "isr_vs_waiter_p99",
           r3(static_cast<double>(isr.p99()) / static_cast<double>(waiter.p99())));
    figure("ratio", "dpc_vs_waiter_p50", r3(p_dpc / p_wait));
    figure("ratio", "isr_vs_one_thread_p50", r3(p_isr / p_raw));
    figure("ratio", "done_vs_one_thread_p50", r3(p_done / p_raw));
    figure("ratio", "goal", 1.15);
    figure("ratio", "goal_met", goal_ratio <= 1.15 ? "yes" : "no");
    say("framework/raw at p50: ISR entry vs the raw waiter thread %.3f (goal <= 1.15: %s); DPC "
        "entry %.3f; ISR entry vs the one-thread loop %.3f; back in the caller vs the one-thread "
        "loop %.3f",
        goal_ratio, goal_ratio <= 1.15 ? "met" : "MISSED", p_dpc / p_wait, p_isr / p_raw,
        p_done / p_raw);
    drv->unload();
    figure("device", "bdf", bdf);
    hil_figures_write();
    say("BENCH DONE");
    return 0;
}

}  // namespace hil
