// wdfx-bench: the interrupt path of wdfx against the raw mechanisms it is built from, measured in
// the same process, on threads with the same CPUs and scheduling class, interleaved in blocks
// (issue 2 point 9; design.md "Performance: how it is measured").
//
// What is measured, per configuration (wait strategy x where the ISR thread runs):
//   signal->ISR   the stamp just before the eventfd write -> the first instruction of the ISR
//   ISR->DPC      the ISR's stamp -> the DPC callback's (KMDF interrupt with EvtInterruptDpc)
//   ISR->WI       the ISR's stamp -> the work item callback's, on the dispatcher pool, for a DIRQL
//                 interrupt (through its DPC) and a passive-level one (UMDF model)
//   queue         the cost of the queue call inside the ISR (sleeping consumer; and, for the
//                 passive work item, an awake worker)
//   burst         the signaller writes the eventfd as fast as it can; drain rate and handler CPU
// and, against each, the bare mechanism: eventfd write -> blocking read() (or the same spin /
// busy-poll loop the framework runs), and the bare hand-off (a mutex-guarded intrusive FIFO plus a
// futex wake for a DPC-like thread, plus an eventfd doorbell for a worker that sleeps).
// Also: heap allocations while armed (malloc interposed), syscalls per event per thread
// (perf_event_open on raw_syscalls:sys_enter), handler CPU time, isolation of a fast interrupt
// from a slow one, and DPCs on the DPC thread versus WDFX_DPC=inline (this program spawns itself).
//
// Synchronisation: the signaller waits for each event's completion by spinning on a shared atomic
// (a futex in the isolation run where it shares a CPU with a real-time ISR) and, before firing
// the next event, until every thread that must be asleep is asleep (its /proc state); never sleeps.
#include <fcntl.h>
#include <liburing.h>
#include <linux/futex.h>
#include <poll.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <wdfx/wdfx.hpp>

#include "bench_util.hpp"
#include "exec/work.hpp"  // the framework's intrusive FIFO, reused by the raw hand-off

extern char** environ;

namespace {

using wb::now_ns;

// ==== options ====================================================================================

struct options {
    std::uint64_t events = 200000;  // measured events per configuration and side
    unsigned blocks = 10;           // raw and framework alternate in this many blocks
    std::uint64_t warm = 0;         // warm-up events per block (0: auto)
    std::string json = "bench-results.json";
    std::string plots = "bench-plots";
    bool no_plots = false;
    std::vector<std::string> only;     // experiments; empty: all
    std::vector<std::string> configs;  // configuration names; empty: all
    int signal_cpu = -1;
    int other_cpu = -1;
    std::uint64_t gap_ns = 5000;  // spin / busy-poll: pause after an event (inside the spin window)
    std::uint32_t spin_ns = 20000;
    std::uint64_t slow_ns = 100000;
    std::string kv;  // child mode: flat results file
    bool child = false;
    bool quiet = false;
};
options g_opt;

bool want(const char* experiment) {
    if (g_opt.only.empty()) return true;
    return std::find(g_opt.only.begin(), g_opt.only.end(), experiment) != g_opt.only.end();
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> v;
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, sep))
        if (!x.empty()) v.push_back(x);
    return v;
}

void usage() {
    std::puts(
        "usage: wdfx-bench [options]\n"
        "  Measures wdfx's interrupt path (eventfd -> ISR -> DPC -> work item) against the raw\n"
        "  mechanisms (bare eventfd read, busy-poll, queue hand-off) in the same process, on the\n"
        "  same CPUs and scheduling class, interleaved in blocks. Run as root for SCHED_FIFO\n"
        "  and syscall counting; see bench/README.md.\n"
        "  --events N      measured events per configuration and side (default 200000)\n"
        "  --blocks N      raw and framework alternate in N blocks (default 10)\n"
        "  --quick         smoke run: 5000 events, 2 blocks\n"
        "  --json FILE     results as JSON (default bench-results.json)\n"
        "  --plots DIR     latency distributions: data files and PNGs (default bench-plots)\n"
        "  --no-plots      no data files, no gnuplot\n"
        "  --only LIST     experiments, comma-separated: isr,dpc,wi,queue,burst,iso,inline\n"
        "  --configs LIST  configurations: block/same,block/other,spin/same,spin/other,busy/other\n"
        "  --signal-cpu C  the CPU of the signalling thread (default: the first allowed CPU)\n"
        "  --other-cpu C   the other CPU (default: the second allowed CPU)\n"
        "  --gap-ns N      spin and busy-poll: wait this long after an event (default 5000)\n"
        "  --spin-ns N     spin-then-block spin window (default 20000)\n"
        "  --slow-us N     isolation: the slow ISR's busy loop (default 100)\n"
        "  --quiet         fewer progress lines\n"
        "Environment: WDFX_REALTIME=0/1, WDFX_DPC=inline, WDFX_POOL_THREADS=N (see README.md).\n"
        "Exit status: 0 when every measurement ran (goals may still be missed), 1 otherwise.");
}

// ==== futex helpers ==============================================================================

void futex_wait(std::atomic<std::uint32_t>& w, std::uint32_t seen) noexcept {
    ::syscall(SYS_futex, static_cast<void*>(&w), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& w, int n = 1) noexcept {
    ::syscall(SYS_futex, static_cast<void*>(&w), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

inline void fire(int efd) noexcept {
    std::uint64_t one = 1;
    ssize_t r = ::write(efd, &one, sizeof one);
    (void)r;
}

// ==== what the handlers do =======================================================================

enum class strat : std::uint8_t { block, spin, busy };
wdfx::wait_strategy to_wdfx(strat s) {
    return s == strat::block  ? wdfx::wait_strategy::block
           : s == strat::spin ? wdfx::wait_strategy::spin_then_block
                              : wdfx::wait_strategy::busy_poll;
}

enum class kind : std::uint8_t {
    isr,          // the ISR only
    dpc,          // ISR queues its DPC
    wi,           // ISR queues its work item (DIRQL: through the DPC; passive: directly)
    queue_awake,  // ISR queues the work item while the worker is awake (spinning in the callback)
    burst,        // count signals until the target
    iso_fast,     // isolation: the measured interrupt
    iso_slow,     // isolation: the slow one (busy loop)
};

/// Shared by the signaller and the handlers of one block. Each field has one writer at a time.
struct probe {
    // first stage (ISR or raw handler)
    alignas(64) std::atomic<std::uint64_t> t_isr{0};
    std::atomic<std::uint64_t> q_ticks{0};
    std::atomic<std::uint64_t> isr_done{0};
    std::atomic<std::uint64_t> pushed{0};
    std::atomic<std::uint64_t> queue_false{0};
    std::atomic<std::uint64_t> burst_sum{0};
    std::atomic<std::uint64_t> burst_wakeups{0};
    std::atomic<std::uint64_t> t_done{0};
    std::atomic<int> isr_tid{0};
    // second stage (DPC or work item)
    alignas(64) std::atomic<std::uint64_t> t_next{0};
    std::atomic<std::uint64_t> next_runs{0};
    std::atomic<int> next_cpu{-1};
    // completion of an event
    alignas(64) std::atomic<std::uint64_t> ack{0};
    // control (signaller)
    alignas(64) std::atomic<std::uint64_t> burst_target{0};
    std::atomic<bool> release{false};
    // isolation (futex words: the signaller may sleep on them)
    alignas(64) std::atomic<std::uint32_t> a_started{0};
    std::atomic<std::uint32_t> a_done{0};
    std::atomic<int> a_tid{0};
    alignas(64) std::atomic<std::uint32_t> b_ack{0};
    std::atomic<bool> iso_futex{false};
    // queue_awake (futex words): runs the worker has entered; runs it may leave
    alignas(64) std::atomic<std::uint32_t> runs32{0};
    alignas(64) std::atomic<std::uint32_t> go32{0};

    void reset() {
        t_isr = 0;
        q_ticks = 0;
        isr_done = 0;
        pushed = 0;
        queue_false = 0;
        burst_sum = 0;
        burst_wakeups = 0;
        t_done = 0;
        isr_tid = 0;
        t_next = 0;
        next_runs = 0;
        next_cpu = -1;
        ack = 0;
        burst_target = 0;
        release = false;
        a_started = 0;
        a_done = 0;
        a_tid = 0;
        b_ack = 0;
        runs32 = 0;
        go32 = 0;
    }
};
probe g_probe;

struct handler_ctx {
    probe* p = &g_probe;
    kind k = kind::isr;
    std::uint64_t slow_ns = 100000;
};

template <class T>
inline void bump(std::atomic<T>& a, std::memory_order mo = std::memory_order_release) noexcept {
    a.store(a.load(std::memory_order_relaxed) + 1, mo);  // single writer
}

/// The first stage, identical for the raw handler and the framework's ISR; `queue` is the
/// hand-off under test (the framework's queue call, or the bare push).
template <class Queue>
inline void first_stage(const handler_ctx& h, std::uint64_t signals, Queue&& queue) noexcept {
    probe& p = *h.p;
    const std::uint64_t t = now_ns();
    if (h.k != kind::iso_slow && p.isr_tid.load(std::memory_order_relaxed) == 0)
        p.isr_tid.store(wb::this_tid());
    switch (h.k) {
        case kind::isr:
            p.t_isr.store(t, std::memory_order_relaxed);
            bump(p.ack);
            break;
        case kind::dpc:
        case kind::wi:
        case kind::queue_awake: {
            p.t_isr.store(t, std::memory_order_relaxed);
            const std::uint64_t t0 = wb::tsc();
            const bool ok = queue();
            const std::uint64_t t1 = wb::tsc();
            p.q_ticks.store(t1 - t0, std::memory_order_relaxed);
            if (!ok) bump(p.queue_false, std::memory_order_relaxed);
            if (h.k == kind::queue_awake) {
                bump(p.pushed);
                bump(p.ack);
            }
            break;
        }
        case kind::burst: {
            const std::uint64_t s = p.burst_sum.load(std::memory_order_relaxed) + signals;
            p.burst_sum.store(s, std::memory_order_relaxed);
            bump(p.burst_wakeups, std::memory_order_relaxed);
            if (s >= p.burst_target.load(std::memory_order_relaxed)) {
                p.t_done.store(now_ns(), std::memory_order_relaxed);
                bump(p.ack);
            }
            break;
        }
        case kind::iso_fast:
            p.t_isr.store(t, std::memory_order_relaxed);
            bump(p.b_ack);
            if (p.iso_futex.load(std::memory_order_relaxed)) futex_wake(p.b_ack);
            break;
        case kind::iso_slow: {
            if (p.a_tid.load(std::memory_order_relaxed) == 0) p.a_tid.store(wb::this_tid());
            const bool fx = p.iso_futex.load(std::memory_order_relaxed);
            bump(p.a_started);
            if (fx) futex_wake(p.a_started);
            wb::spin_until(t + h.slow_ns);
            bump(p.a_done);
            if (fx) futex_wake(p.a_done);
            break;
        }
    }
    bump(p.isr_done);
}

/// The second stage (DPC, work item, or the bare consumer).
inline void second_stage(const handler_ctx& h) noexcept {
    probe& p = *h.p;
    const std::uint64_t t = now_ns();
    const std::uint64_t run = p.next_runs.load(std::memory_order_relaxed) + 1;
    p.next_runs.store(run, std::memory_order_release);
    if (h.k == kind::queue_awake) {
        // Stay in this callback (busy, off the sleeper list: what a worker running a long work
        // item is) until the signaller says the ISR has queued the next run. Blocked on a futex
        // rather than spinning, so it never competes for a CPU with the signaller.
        p.next_cpu.store(sched_getcpu(), std::memory_order_relaxed);
        p.runs32.store(static_cast<std::uint32_t>(run), std::memory_order_release);
        futex_wake(p.runs32);
        for (;;) {
            const std::uint32_t go = p.go32.load(std::memory_order_acquire);
            if (go >= run + 1 || p.release.load(std::memory_order_acquire)) break;
            futex_wait(p.go32, go);
        }
        return;
    }
    p.t_next.store(t, std::memory_order_relaxed);
    p.next_cpu.store(sched_getcpu(), std::memory_order_relaxed);
    bump(p.ack);
}

// ==== the bare mechanisms ========================================================================

// The intrusive FIFO is the framework's own (exec/work.hpp): the raw side measures the hand-off
// mechanism around it, not a different list.
using raw_node = wdfx::detail::work_node;
using raw_fifo = wdfx::detail::work_fifo;

/// A bare hand-off to a consumer thread: a mutex-guarded FIFO; the producer wakes the consumer
/// only when it announced that it sleeps: through a futex (the DPC thread's way) or an eventfd
/// doorbell the consumer reads (the pool worker's way).
class raw_consumer {
  public:
    enum class bell { futex, eventfd, uring };
    raw_consumer(bell b, wb::sched_spec s, handler_ctx h) : bell_(b), h_(h) {
        efd_ = ::eventfd(0, EFD_CLOEXEC);
        t_ = std::thread([this, s] {
            pthread_setname_np(pthread_self(), bell_ == bell::futex     ? "raw-dpc"
                                               : bell_ == bell::eventfd ? "raw-worker"
                                                                        : "raw-uring-worker");
            wb::apply_sched(s);
            tid_.store(wb::this_tid());
            loop();
        });
        while (tid_.load() == 0)
            wb::cpu_relax();
    }
    ~raw_consumer() {
        m_.lock();
        stop_ = true;
        bool wake = sleeping_;
        sleeping_ = false;
        m_.unlock();
        if (wake) ring();
        t_.join();
        ::close(efd_);
    }
    /// Insert-once, like the framework's deferred item (a node already queued is not re-queued).
    bool push() noexcept {
        m_.lock();
        if (queued_) {
            m_.unlock();
            return false;
        }
        queued_ = true;
        q_.push(&node_);
        const bool wake = sleeping_;
        sleeping_ = false;
        m_.unlock();
        if (wake) ring();
        return true;
    }
    pid_t tid() const noexcept { return tid_.load(); }
    bool is_dpc() const noexcept { return bell_ == bell::futex; }
    /// Run what is queued on the calling thread (a busy-poll loop on the DPC thread's CPU, whose
    /// DPC thread never runs: what the framework's poll thread does between passes).
    void drain_inline() noexcept {
        m_.lock();
        raw_node* n = q_.pop();
        if (n == nullptr) {
            m_.unlock();
            return;
        }
        queued_ = false;
        m_.unlock();
        second_stage(h_);
    }

  private:
    void ring() noexcept {
        if (bell_ == bell::futex) {
            word_.fetch_add(1, std::memory_order_seq_cst);
            futex_wake(word_);
        } else {
            fire(efd_);
        }
    }
    void loop() {
        // bell::uring: the framework's way of sleeping (an io_uring, SINGLE_ISSUER |
        // DEFER_TASKRUN, reading the eventfd doorbell), bare; to tell its cost from the rest.
        io_uring ring{};
        const bool uring = bell_ == bell::uring && [&] {
            io_uring_params prm{};
            prm.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
            return io_uring_queue_init_params(4, &ring, &prm) == 0;
        }();
        std::uint64_t v = 0;
        for (;;) {
            m_.lock();
            raw_node* n = q_.pop();
            if (n == nullptr) {
                if (stop_) {
                    m_.unlock();
                    if (uring) io_uring_queue_exit(&ring);
                    return;
                }
                sleeping_ = true;
                const std::uint32_t seen = word_.load(std::memory_order_seq_cst);
                m_.unlock();
                if (bell_ == bell::futex) {
                    futex_wait(word_, seen);
                } else if (uring) {
                    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
                    io_uring_prep_read(sqe, efd_, &v, sizeof v, 0);
                    io_uring_submit(&ring);
                    io_uring_cqe* cqe = nullptr;
                    while (io_uring_wait_cqe(&ring, &cqe) != 0) {
                    }
                    io_uring_cqe_seen(&ring, cqe);
                } else {
                    ssize_t r = ::read(efd_, &v, sizeof v);
                    (void)r;
                }
                continue;
            }
            queued_ = false;  // cleared before the callback, as §9.3
            m_.unlock();
            second_stage(h_);
        }
    }
    bell bell_;
    handler_ctx h_;
    std::mutex m_;
    raw_fifo q_;
    raw_node node_;
    bool queued_ = false;
    bool sleeping_ = false;
    bool stop_ = false;
    std::atomic<std::uint32_t> word_{0};
    int efd_ = -1;
    std::atomic<pid_t> tid_{0};
    std::thread t_;
};

/// The bare first stage: a thread on the ISR thread's CPU and scheduling class, waiting on its
/// own eventfd the way the framework's ISR thread does (the same loop for each strategy).
class raw_handler {
  public:
    raw_handler(strat s, std::uint32_t spin_ns, wb::sched_spec sched, handler_ctx h,
                raw_consumer* next)
        : s_(s), spin_ns_(spin_ns), h_(h), next_(next) {
        efd_ = ::eventfd(0, EFD_CLOEXEC | (s == strat::block ? 0 : EFD_NONBLOCK));
        t_ = std::thread([this, sched] {
            pthread_setname_np(pthread_self(), "raw-handler");
            wb::apply_sched(sched);
            tid_.store(wb::this_tid());
            switch (s_) {
                case strat::block:
                    run_blocking();
                    break;
                case strat::spin:
                    run_spinning();
                    break;
                case strat::busy:
                    run_polling();
                    break;
            }
        });
        while (tid_.load() == 0)
            wb::cpu_relax();
    }
    ~raw_handler() {
        stop_.store(true, std::memory_order_seq_cst);
        fire(efd_);
        t_.join();
        ::close(efd_);
    }
    int eventfd() const noexcept { return efd_; }
    pid_t tid() const noexcept { return tid_.load(); }

  private:
    void handle(std::uint64_t count) noexcept {
        first_stage(h_, count, [this] { return next_ != nullptr ? next_->push() : true; });
    }
    bool poll_once() noexcept {
        std::uint64_t c = 0;
        if (::read(efd_, &c, sizeof c) != sizeof c) return false;
        if (stop_.load(std::memory_order_acquire)) return true;
        handle(c);
        return true;
    }
    void run_blocking() noexcept {
        for (;;) {
            std::uint64_t c = 0;
            ssize_t n = ::read(efd_, &c, sizeof c);
            if (n != sizeof c) {
                if (n < 0 && errno == EINTR) continue;
                return;
            }
            if (stop_.load(std::memory_order_acquire)) return;
            handle(c);
        }
    }
    void run_spinning() noexcept {
        for (;;) {
            if (stop_.load(std::memory_order_acquire)) return;
            if (poll_once()) continue;
            const std::uint64_t until = now_ns() + spin_ns_;
            bool got = false;
            while (now_ns() < until) {
                if (poll_once()) {
                    got = true;
                    break;
                }
                if (stop_.load(std::memory_order_acquire)) return;
            }
            if (got) continue;
            pollfd pfd{efd_, POLLIN, 0};
            ::poll(&pfd, 1, -1);
        }
    }
    void run_polling() noexcept {
        raw_consumer* dpc = next_ != nullptr && next_->is_dpc() ? next_ : nullptr;
        while (!stop_.load(std::memory_order_acquire)) {
            poll_once();
            if (dpc != nullptr) dpc->drain_inline();
        }
    }

    strat s_;
    std::uint32_t spin_ns_;
    handler_ctx h_;
    raw_consumer* next_;
    int efd_ = -1;
    std::atomic<bool> stop_{false};
    std::atomic<pid_t> tid_{0};
    std::thread t_;
};

// ==== the framework side =========================================================================

struct irq_spec {
    strat s = strat::block;
    int cpu = 0;
    wdfx::interrupt_priority prio = wdfx::interrupt_priority::normal;
    bool passive = false;
    bool with_dpc = false;
    bool with_wi = false;
    handler_ctx* h = nullptr;
};

struct fw_spec {
    std::vector<irq_spec> irqs;
    unsigned occupiers = 0;  // work items that hold pool workers (queue_awake)
};

// Occupiers: work items that block a pool worker until released, so the one worker left is the
// only one the measured work item can reach.
std::atomic<std::uint32_t> g_occ_release{0};
std::atomic<unsigned> g_occ_running{0};

struct fw_bound {
    wdfx::interrupt irq;
    int efd = -1;
    wb::sched_spec granted;
};

class fw_instance;
const fw_spec* g_pending_spec = nullptr;
fw_instance* g_pending_inst = nullptr;
wdfx::driver g_driver;
int g_device_no = 0;

class fw_instance {
  public:
    static std::unique_ptr<fw_instance> start(const fw_spec& spec, std::string* why) {
        std::unique_ptr<fw_instance> inst(new fw_instance);
        wdfx::sim::device_spec ds;
        ds.name = "bench" + std::to_string(g_device_no++);
        ds.id.vendor = 0x1af4;
        ds.id.device = 0x10f0;
        ds.bar_sizes = {4096};
        ds.msix_vectors = static_cast<std::uint32_t>(spec.irqs.size());
        ds.msi_vectors = 0;
        ds.intx = false;
        inst->sim_ = wdfx::sim::device::create(ds);
        g_pending_spec = &spec;
        g_pending_inst = inst.get();
        auto d = g_driver.add_and_start(inst->sim_);
        g_pending_spec = nullptr;
        g_pending_inst = nullptr;
        if (!d) {
            *why = d.err().describe();
            return nullptr;
        }
        inst->dev_ = *d;
        for (auto& b : inst->irqs) {
            auto bind = b.irq.get_binding();
            b.efd = bind.eventfd;
            b.granted.cpu = bind.cpu;
            b.granted.policy = bind.sched_priority > 0 ? SCHED_FIFO : SCHED_OTHER;
            b.granted.priority = bind.sched_priority;
            if (!bind.connected || b.efd < 0) {
                *why = "interrupt not connected after start";
                return nullptr;
            }
        }
        return inst;
    }
    ~fw_instance() {
        if (!occupiers.empty()) {
            g_occ_release.store(1);
            futex_wake(g_occ_release, 1 << 30);
        }
        if (dev_ && dev_.is_valid()) dev_.remove();
    }
    void occupy_workers() {
        g_occ_release.store(0);
        for (auto& w : occupiers)
            w.enqueue();
        while (g_occ_running.load() < occupiers.size())
            wb::cpu_relax();
    }

    std::vector<fw_bound> irqs;
    std::vector<wdfx::work_item> occupiers;

  private:
    friend wdfx::status on_device_add(wdfx::driver, wdfx::device_init&);
    std::shared_ptr<wdfx::sim::device> sim_;
    wdfx::device dev_;
};

bool fw_isr(const handler_ctx& h, wdfx::interrupt irq, const wdfx::isr_context& c) noexcept {
    first_stage(h, c.signals, [&] {
        return h.k == kind::dpc ? irq.queue_dpc_for_isr() : irq.queue_work_item_for_isr();
    });
    return true;
}

wdfx::status on_device_add(wdfx::driver, wdfx::device_init& init) {
    const fw_spec& spec = *g_pending_spec;
    fw_instance& inst = *g_pending_inst;
    init.interrupt_preference = wdfx::interrupt_type::msix;
    auto d = wdfx::device::create(init);
    if (!d) return d.code();
    for (const auto& is : spec.irqs) {
        wdfx::interrupt_config ic;
        handler_ctx* h = is.h;
        ic.on_isr = [h](wdfx::interrupt irq, const wdfx::isr_context& c) {
            return fw_isr(*h, irq, c);
        };
        if (is.with_dpc) ic.on_dpc = [h](wdfx::interrupt, wdfx::object) { second_stage(*h); };
        if (is.with_wi) ic.on_work_item = [h](wdfx::interrupt, wdfx::object) { second_stage(*h); };
        ic.passive_handling = is.passive;
        ic.strategy = to_wdfx(is.s);
        ic.spin_ns = g_opt.spin_ns;
        auto irq = wdfx::interrupt::create(*d, ic);
        if (!irq) {
            std::fprintf(stderr, "wdfx-bench: WdfInterruptCreate: %s\n",
                         irq.err().describe().c_str());
            return irq.code();
        }
        irq->set_policy(wdfx::interrupt_policy::specified_processors, is.prio, 1ull << is.cpu);
        fw_bound b;
        b.irq = *irq;
        inst.irqs.push_back(b);
    }
    for (unsigned i = 0; i < spec.occupiers; ++i) {
        wdfx::work_item_config wc;
        wc.automatic_serialization = false;
        wc.on_work_item = [](wdfx::work_item) {
            g_occ_running.fetch_add(1);
            while (g_occ_release.load() == 0)
                futex_wait(g_occ_release, 0);
            g_occ_running.fetch_sub(1);
        };
        wdfx::object_attributes a;
        a.parent = d->handle();
        auto w = wdfx::work_item::create(wc, a);
        if (!w) return w.code();
        inst.occupiers.push_back(*w);
    }
    return wdfx::status::success;
}

// ==== results ====================================================================================

/// One measured series: a (configuration, experiment, side).
struct series {
    std::vector<std::uint64_t> a;    // signal -> ISR (or the isolation's signal -> ISR)
    std::vector<std::uint64_t> b;    // ISR -> DPC / work item
    std::vector<std::uint64_t> q;    // queue call, TSC ticks
    std::vector<std::uint8_t> bcpu;  // the CPU the second stage ran on, per event of b
    std::vector<std::uint8_t> qcpu;  // queue_awake: the CPU of the (spinning) worker, per q
    int isr_cpu = -1;                // the CPU of the first stage (pinned)
    std::uint64_t events = 0;
    std::uint64_t cpu_handler = 0, cpu_next = 0;  // ns over the measured events
    std::uint64_t sc_handler = 0, sc_next = 0, sc_signaller = 0;
    bool syscalls_counted = false;
    std::uint64_t allocs = 0;
    std::vector<pid_t> alloc_threads;
    std::uint64_t queue_false = 0;
    std::uint64_t burst_time = 0, burst_wakeups = 0;
    std::array<std::uint64_t, 8> next_cpu{};
    unsigned stalls = 0;
    std::string threads;  // placement, for the report
    void reserve(std::uint64_t n) {
        a.reserve(n);
        b.reserve(n);
        q.reserve(n);
        bcpu.reserve(n);
        qcpu.reserve(n);
    }
};

std::map<std::string, series> g_series;  // "config|experiment|side"
std::vector<std::string> g_notes;
std::vector<std::string> g_failures;

series& S(const std::string& cfg, const std::string& exp, const std::string& side) {
    return g_series[cfg + "|" + exp + "|" + side];
}

void note(const std::string& s) {
    g_notes.push_back(s);
    if (!g_opt.quiet) std::printf("  note: %s\n", s.c_str());
}

// ==== running one block ==========================================================================

struct block_plan {
    kind k = kind::isr;
    int efd = -1;
    bool two_stage = false;
    bool handler_sleeps = true;       // wait for the handler thread to sleep before each event
    std::vector<pid_t> sleepers;      // other threads that must be asleep (DPC thread, workers)
    std::vector<pid_t> next_threads;  // whose CPU time and syscalls are the second stage's
    std::uint64_t gap_ns = 0;
    std::uint64_t warm = 0, n = 0;
    series* out = nullptr;
    wb::sched_spec signaller{};
};

constexpr std::uint64_t kHang = 5000000000ull;  // a hang guard, not a timing assertion

/// Spin until pred() or the hang guard; false on the guard.
template <class Pred>
bool spin_for(Pred pred) {
    std::uint64_t start = 0;
    for (unsigned i = 0;; ++i) {
        if (pred()) return true;
        wb::cpu_relax();
        if ((i & 1023) == 1023) {
            const std::uint64_t t = now_ns();
            if (start == 0)
                start = t;
            else if (t - start > kHang)
                return false;
        }
    }
}

bool asleep(char st) {
    return st == 'S' || st == 'D';
}

void run_on(const wb::sched_spec& s, const std::function<void()>& fn) {
    std::thread t([&] {
        wb::apply_sched(s);
        fn();
    });
    t.join();
}

void run_latency_block(block_plan& bp) {
    probe& p = g_probe;
    series& out = *bp.out;
    run_on(bp.signaller, [&] {
        // Event 0 wakes everything up and tells us the handler's thread.
        fire(bp.efd);
        if (!spin_for([&] { return p.ack.load() >= 1 && p.isr_done.load() >= 1; })) {
            ++out.stalls;
            return;
        }
        const pid_t htid = p.isr_tid.load();
        if (out.threads.empty()) {
            out.threads = wb::thread_name(htid) + " " + wb::describe(wb::read_sched(htid));
            for (pid_t t : bp.next_threads)
                out.threads += ", " + wb::thread_name(t) + " " + wb::describe(wb::read_sched(t));
        }
        std::vector<wb::state_probe> sl;
        if (bp.handler_sleeps) sl.emplace_back(htid);
        for (pid_t t : bp.sleepers)
            sl.emplace_back(t);
        wb::syscall_counter ch(htid), cs(wb::this_tid());
        std::vector<wb::syscall_counter> cn;
        for (pid_t t : bp.next_threads)
            cn.emplace_back(t);
        auto next_cpu = [&] {
            std::uint64_t s = 0;
            for (pid_t t : bp.next_threads)
                s += wb::thread_cpu_ns(t);
            return s;
        };
        auto next_sc = [&] {
            std::uint64_t s = 0;
            for (auto& c : cn)
                s += c.read();
            return s;
        };
        std::uint64_t cpu_h0 = 0, cpu_n0 = 0, sc_h0 = 0, sc_n0 = 0, sc_s0 = 0;
        std::uint64_t t_ack = now_ns();
        std::uint64_t measured = 0;
        const std::uint64_t total = bp.warm + bp.n;
        for (std::uint64_t i = 1; i < total; ++i) {
            if (i == bp.warm) {
                cpu_h0 = wb::thread_cpu_ns(htid);
                cpu_n0 = next_cpu();
                sc_h0 = ch.read();
                sc_n0 = next_sc();
                sc_s0 = cs.read();
                wb::alloc::arm();
            }
            if (bp.gap_ns != 0) wb::spin_until(t_ack + bp.gap_ns);
            for (auto& s : sl) {
                if (!spin_for([&] { return asleep(s.state()); })) {
                    ++out.stalls;
                    break;
                }
            }
            // queue_awake: the worker must be inside the callback of the last push (busy, off
            // the sleeper list, the item popped) before the ISR queues again.
            if (bp.k == kind::queue_awake) {
                bool ok = true;
                const std::uint64_t w0 = now_ns();
                for (;;) {
                    const std::uint32_t r = p.runs32.load(std::memory_order_acquire);
                    if (r >= i) break;
                    if (now_ns() - w0 > kHang) {
                        ok = false;
                        break;
                    }
                    futex_wait(p.runs32, r);
                }
                if (!ok) {
                    ++out.stalls;
                    break;
                }
            }
            const int worker_cpu = p.next_cpu.load(std::memory_order_relaxed);
            const std::uint64_t t0 = now_ns();
            fire(bp.efd);
            if (!spin_for([&] {
                    return p.ack.load(std::memory_order_acquire) >= i + 1 &&
                           p.isr_done.load(std::memory_order_acquire) >= i + 1;
                })) {
                ++out.stalls;
                std::fprintf(stderr, "wdfx-bench: event %" PRIu64 " never completed (hang)\n", i);
                break;
            }
            t_ack = now_ns();
            if (bp.k == kind::queue_awake) {
                // The ISR has queued run i+1: let the worker's run i return and pop it.
                p.go32.store(static_cast<std::uint32_t>(i + 1), std::memory_order_release);
                futex_wake(p.go32);
            }
            if (i >= bp.warm) {
                const std::uint64_t ti = p.t_isr.load(std::memory_order_relaxed);
                out.a.push_back(ti - t0);
                if (bp.two_stage) {
                    out.b.push_back(p.t_next.load(std::memory_order_relaxed) - ti);
                    const int c = p.next_cpu.load(std::memory_order_relaxed);
                    if (c >= 0 && c < 8) ++out.next_cpu[static_cast<std::size_t>(c)];
                    out.bcpu.push_back(static_cast<std::uint8_t>(c < 0 ? 255 : c));
                }
                if (bp.k == kind::dpc || bp.k == kind::wi || bp.k == kind::queue_awake)
                    out.q.push_back(p.q_ticks.load(std::memory_order_relaxed));
                if (bp.k == kind::queue_awake)
                    out.qcpu.push_back(
                        static_cast<std::uint8_t>(worker_cpu < 0 ? 255 : worker_cpu));
                ++measured;
            }
        }
        if (bp.k == kind::queue_awake) {
            p.release.store(true);
            futex_wake(p.go32);
        }
        const std::uint64_t allocs = wb::alloc::disarm();
        if (measured == 0) return;
        out.allocs += allocs;
        if (allocs != 0)
            for (pid_t t : wb::alloc::culprits())
                out.alloc_threads.push_back(t);
        out.events += measured;
        out.cpu_handler += wb::thread_cpu_ns(htid) - cpu_h0;
        out.cpu_next += next_cpu() - cpu_n0;
        out.sc_handler += ch.read() - sc_h0;
        out.sc_next += next_sc() - sc_n0;
        out.sc_signaller += cs.read() - sc_s0;
        out.syscalls_counted = ch.ok();
        out.queue_false += p.queue_false.load();
        if (std::getenv("WDFX_BENCH_DEBUG") != nullptr)
            std::fprintf(stderr,
                         "debug: kind %d measured %" PRIu64 " queue_false %" PRIu64
                         " pushed %" PRIu64 " next_runs %" PRIu64 " ack %" PRIu64 "\n",
                         static_cast<int>(bp.k), measured, p.queue_false.load(), p.pushed.load(),
                         p.next_runs.load(), p.ack.load());
    });
}

void run_burst_block(block_plan& bp) {
    probe& p = g_probe;
    series& out = *bp.out;
    run_on(bp.signaller, [&] {
        auto burst = [&](std::uint64_t n, std::uint64_t& t_start) {
            p.burst_sum.store(0);
            p.burst_wakeups.store(0);
            p.burst_target.store(n);
            const std::uint64_t acks = p.ack.load();
            t_start = now_ns();
            for (std::uint64_t i = 0; i < n; ++i)
                fire(bp.efd);
            return spin_for([&] { return p.ack.load(std::memory_order_acquire) > acks; });
        };
        std::uint64_t t0 = 0;
        if (!burst(std::max<std::uint64_t>(bp.warm, 100), t0)) {
            ++out.stalls;
            return;
        }
        const pid_t htid = p.isr_tid.load();
        std::vector<wb::state_probe> sl;
        if (bp.handler_sleeps) sl.emplace_back(htid);
        wb::syscall_counter ch(htid), cs(wb::this_tid());
        spin_for([&] { return p.isr_done.load() >= p.burst_wakeups.load(); });
        for (auto& s : sl)
            spin_for([&] { return asleep(s.state()); });
        const std::uint64_t cpu0 = wb::thread_cpu_ns(htid);
        const std::uint64_t sc0 = ch.read(), ss0 = cs.read();
        wb::alloc::arm();
        if (!burst(bp.n, t0)) {
            ++out.stalls;
            wb::alloc::disarm();
            return;
        }
        const std::uint64_t allocs = wb::alloc::disarm();
        out.burst_time += p.t_done.load() - t0;
        out.burst_wakeups += p.burst_wakeups.load();
        out.events += bp.n;
        out.allocs += allocs;
        out.cpu_handler += wb::thread_cpu_ns(htid) - cpu0;
        out.sc_handler += ch.read() - sc0;
        out.sc_signaller += cs.read() - ss0;
        out.syscalls_counted = ch.ok();
    });
}

// ==== configurations and experiments =============================================================

struct config {
    std::string name;  // "block/other"
    strat s;
    bool same_cpu;
    int isr_cpu;
};

int g_sig_cpu = 0, g_other_cpu = 1;
std::vector<config> g_configs;
unsigned g_pool_size = 0;

wb::sched_spec signaller_sched() {
    return wb::sched_spec{g_sig_cpu, SCHED_OTHER, 0};
}

/// What the framework's threads got, learned once per configuration from a running instance.
struct placement {
    wb::sched_spec isr, dpc, pool;
    pid_t dpc_tid = 0;
    std::vector<pid_t> pool_tids;
};

pid_t dpc_thread_of(int cpu) {
    const std::string want_name = "wdfx-dpc/" + std::to_string(cpu);
    for (pid_t t : wb::find_threads("wdfx-dpc/"))
        if (wb::thread_name(t) == want_name) return t;
    return 0;
}

/// Starts a framework instance; on failure records "what: why" and counts a stall.
std::unique_ptr<fw_instance> start_instance(const fw_spec& fs, const std::string& what,
                                            unsigned* stalls) {
    std::string why;
    auto inst = fw_instance::start(fs, &why);
    if (!inst) {
        g_failures.push_back(what + ": " + why);
        if (stalls != nullptr) ++*stalls;
    }
    return inst;
}

/// One normal-priority DIRQL interrupt with a DPC on the configuration's ISR CPU.
fw_spec one_isr_spec(const config& c, handler_ctx& h) {
    fw_spec fs;
    fs.irqs.push_back(
        irq_spec{c.s, c.isr_cpu, wdfx::interrupt_priority::normal, false, true, false, &h});
    return fs;
}

bool learn_placement(const config& c, placement& pl) {
    handler_ctx h;
    h.k = kind::isr;
    auto inst = start_instance(one_isr_spec(c, h), c.name + ": framework instance", nullptr);
    if (!inst) return false;
    // The ISR thread applies its policy when it starts: one event, and it has.
    g_probe.reset();
    fire(inst->irqs[0].efd);
    if (!spin_for([] { return g_probe.ack.load() >= 1; })) {
        g_failures.push_back(c.name + ": the framework's ISR never ran");
        return false;
    }
    pl.isr = wb::read_sched(g_probe.isr_tid.load());
    pl.dpc_tid = dpc_thread_of(c.isr_cpu);
    // The DPC threads pin themselves when they start (with the runtime): wait for it.
    spin_for([&] {
        auto d = wb::read_sched(pl.dpc_tid);
        return d.cpu == c.isr_cpu && (d.policy == SCHED_FIFO || pl.isr.policy != SCHED_FIFO);
    });
    pl.dpc = wb::read_sched(pl.dpc_tid);
    pl.pool_tids = wb::find_threads("wdfx-pool/");
    if (!pl.pool_tids.empty()) pl.pool = wb::read_sched(pl.pool_tids[0]);
    g_pool_size = static_cast<unsigned>(pl.pool_tids.size());
    return true;
}

std::uint64_t warm_for(std::uint64_t n) {
    if (g_opt.warm != 0) return g_opt.warm;
    return std::clamp<std::uint64_t>(n / 20, 20, 1000);
}

/// The per-block share of `total` for block b.
std::uint64_t share(std::uint64_t total, unsigned b, unsigned blocks) {
    return total / blocks + (b < total % blocks ? 1 : 0);
}

enum class side { raw, raw_uring, fw, fw_passive };

const char* side_name(side sd) {
    switch (sd) {
        case side::raw:
            return "raw";
        case side::raw_uring:
            return "raw-uring";
        case side::fw:
            return "fw";
        case side::fw_passive:
            return "fw-passive";
    }
    return "?";
}

/// One block of one side of a latency experiment (isr, dpc, wi, queue).
void latency_side(const config& c, const placement& pl, const std::string& exp, side sd, kind k,
                  std::uint64_t n) {
    const std::string sname = side_name(sd);
    series& out = S(c.name, exp, sname);
    if (out.a.capacity() == 0) out.reserve(g_opt.events);
    out.isr_cpu = c.isr_cpu;
    g_probe.reset();
    handler_ctx h;
    h.k = k;
    block_plan bp;
    bp.k = k;
    bp.two_stage = k == kind::dpc || k == kind::wi;
    bp.handler_sleeps = c.s == strat::block;
    bp.gap_ns = c.s == strat::block ? 0 : g_opt.gap_ns;
    bp.warm = warm_for(n);
    bp.n = n;
    bp.out = &out;
    bp.signaller = signaller_sched();
    if (sd == side::raw || sd == side::raw_uring) {
        std::unique_ptr<raw_consumer> next;
        if (k == kind::dpc) {
            next = std::make_unique<raw_consumer>(raw_consumer::bell::futex, pl.dpc, h);
        } else if (k == kind::wi || k == kind::queue_awake) {
            next = std::make_unique<raw_consumer>(
                sd == side::raw ? raw_consumer::bell::eventfd : raw_consumer::bell::uring, pl.pool,
                h);
        }
        raw_handler rh(c.s, g_opt.spin_ns, pl.isr, h, next.get());
        bp.efd = rh.eventfd();
        // Under busy-poll the DPC-like thread never runs: the poll loop drains it (as the
        // framework's poll thread does), so it is neither waited for nor accounted.
        const bool dpc_polled = k == kind::dpc && c.s == strat::busy;
        if (next && !dpc_polled) {
            bp.next_threads.push_back(next->tid());
            if (k != kind::queue_awake) bp.sleepers.push_back(next->tid());
        }
        run_latency_block(bp);
        return;
    }
    fw_spec fs;
    irq_spec is{c.s,
                c.isr_cpu,
                wdfx::interrupt_priority::normal,
                sd == side::fw_passive,
                k == kind::dpc || k == kind::isr,
                k == kind::wi || k == kind::queue_awake,
                &h};
    fs.irqs.push_back(is);
    if (k == kind::queue_awake) fs.occupiers = g_pool_size > 0 ? g_pool_size - 1 : 0;
    auto inst = start_instance(fs, c.name + " " + exp, &out.stalls);
    if (!inst) return;
    bp.efd = inst->irqs[0].efd;
    const pid_t dtid = dpc_thread_of(c.isr_cpu);
    const bool dirql = sd == side::fw;
    if ((k == kind::dpc || (k == kind::wi && dirql)) && c.s != strat::busy) {
        // (a busy-poll thread runs its CPU's DPCs itself: the DPC thread stays starved)
        bp.sleepers.push_back(dtid);
        bp.next_threads.push_back(dtid);
    }
    if (k == kind::wi || k == kind::queue_awake) {
        for (pid_t t : wb::find_threads("wdfx-pool/")) {
            if (k == kind::wi) bp.sleepers.push_back(t);
            bp.next_threads.push_back(t);
        }
    }
    if (k == kind::queue_awake) inst->occupy_workers();
    run_latency_block(bp);
}

void burst_side(const config& c, const placement& pl, side sd, std::uint64_t n) {
    series& out = S(c.name, "burst", sd == side::raw ? "raw" : "fw");
    g_probe.reset();
    handler_ctx h;
    h.k = kind::burst;
    block_plan bp;
    bp.k = kind::burst;
    bp.handler_sleeps = c.s == strat::block;
    bp.warm = warm_for(n);
    bp.n = n;
    bp.out = &out;
    bp.signaller = signaller_sched();
    if (sd == side::raw) {
        raw_handler rh(c.s, g_opt.spin_ns, pl.isr, h, nullptr);
        bp.efd = rh.eventfd();
        run_burst_block(bp);
        return;
    }
    auto inst = start_instance(one_isr_spec(c, h), c.name + " burst", &out.stalls);
    if (!inst) return;
    bp.efd = inst->irqs[0].efd;
    run_burst_block(bp);
}

void progress(const char* fmt_what, const std::string& a, const std::string& b) {
    if (g_opt.quiet) return;
    std::printf("  %s %s %s\n", fmt_what, a.c_str(), b.c_str());
    std::fflush(stdout);
}

void run_config(const config& c) {
    if (!want("isr") && !want("dpc") && !want("wi") && !want("queue") && !want("burst")) return;
    placement pl;
    if (!learn_placement(c, pl)) return;
    if (!g_opt.quiet)
        std::printf("[%s] ISR thread %s; DPC thread %s; pool %zu x %s; signaller %s\n",
                    c.name.c_str(), wb::describe(pl.isr).c_str(), wb::describe(pl.dpc).c_str(),
                    pl.pool_tids.size(), wb::describe(pl.pool).c_str(),
                    wb::describe(signaller_sched()).c_str());
    const unsigned B = g_opt.blocks;
    struct exp_def {
        const char* name;
        kind k;
        std::vector<side> sides;
    };
    std::vector<exp_def> exps;
    if (want("isr")) exps.push_back({"isr", kind::isr, {side::raw, side::fw}});
    if (want("dpc")) exps.push_back({"dpc", kind::dpc, {side::raw, side::fw}});
    if (want("wi"))
        exps.push_back({"wi", kind::wi, {side::raw, side::fw, side::fw_passive, side::raw_uring}});
    if (want("queue") && c.s == strat::block && !c.same_cpu)
        exps.push_back({"queue", kind::queue_awake, {side::raw, side::fw_passive}});
    for (const auto& e : exps) {
        progress("running", c.name, e.name);
        for (unsigned b = 0; b < B; ++b) {
            const std::uint64_t n = share(g_opt.events, b, B);
            std::vector<side> order = e.sides;
            if (b % 2 == 1) std::reverse(order.begin(), order.end());  // ABBA against drift
            for (side sd : order)
                latency_side(c, pl, e.name, sd, e.k, n);
        }
    }
    if (want("burst")) {
        progress("running", c.name, "burst");
        for (unsigned b = 0; b < B; ++b) {
            const std::uint64_t n = share(g_opt.events, b, B);
            if (b % 2 == 0) {
                burst_side(c, pl, side::raw, n);
                burst_side(c, pl, side::fw, n);
            } else {
                burst_side(c, pl, side::fw, n);
                burst_side(c, pl, side::raw, n);
            }
        }
    }
}

// ==== isolation ==================================================================================

/// One block of the isolation experiment. variant "cpus": the slow interrupt A runs on the
/// signalling CPU, the measured one B on the other CPU, both at the same priority; the signaller
/// is SCHED_FIFO above A there and sleeps on futexes while it waits, so A really runs while B's
/// wake-up crosses CPUs. variant "prio": A (low) and B (high) share the other CPU; the signaller
/// spins on its own CPU. mode: 0 B alone (A idle; B's events paced as with A), 1 with A busy
/// (B fired while A's ISR runs), 2 control (a bare thread at A's CPU and priority does A's busy
/// loop instead of the framework's ISR: what the machine itself does to B).
void iso_block(const std::string& variant, int mode, std::uint64_t n) {
    const bool cpus = variant == "cpus";
    const char* mname = mode == 0 ? "alone" : mode == 1 ? "with-slow" : "control";
    series& out = S("iso-" + variant, "iso", mname);
    if (out.a.capacity() == 0) out.reserve(g_opt.events);
    probe& p = g_probe;
    p.reset();
    p.iso_futex.store(cpus);
    handler_ctx hb, ha;
    hb.k = kind::iso_fast;
    ha.k = kind::iso_slow;
    ha.slow_ns = g_opt.slow_ns;
    fw_spec fs;
    const int a_cpu = cpus ? g_sig_cpu : g_other_cpu;
    const auto b_prio = cpus ? wdfx::interrupt_priority::normal : wdfx::interrupt_priority::high;
    const auto a_prio = cpus ? wdfx::interrupt_priority::normal : wdfx::interrupt_priority::low;
    fs.irqs.push_back(irq_spec{strat::block, g_other_cpu, b_prio, false, true, false, &hb});
    fs.irqs.push_back(irq_spec{strat::block, a_cpu, a_prio, false, true, false, &ha});
    auto inst = start_instance(fs, "isolation", &out.stalls);
    if (!inst) return;
    // One event on each, so both ISR threads have applied their policy; then the control
    // thread (mode 2) copies A's.
    fire(inst->irqs[0].efd);
    fire(inst->irqs[1].efd);
    if (!spin_for([&] { return p.b_ack.load() >= 1 && p.a_done.load() >= 1; })) {
        g_failures.push_back("isolation: an ISR never ran");
        ++out.stalls;
        return;
    }
    const wb::sched_spec a_sched = wb::read_sched(p.a_tid.load());
    if (out.threads.empty())
        out.threads = "B " + wb::describe(wb::read_sched(p.isr_tid.load())) + ", A " +
                      wb::describe(a_sched) + (cpus ? ", signaller FIFO 90" : "");
    p.reset();
    p.iso_futex.store(cpus);
    std::unique_ptr<raw_handler> control;
    int a_efd = inst->irqs[1].efd;
    if (mode == 2) {
        control = std::make_unique<raw_handler>(strat::block, 0, a_sched, ha, nullptr);
        a_efd = control->eventfd();
    }
    const int b_efd = inst->irqs[0].efd;
    wb::sched_spec sig = signaller_sched();
    if (cpus) {
        sig.policy = SCHED_FIFO;
        sig.priority = 90;
    }
    auto wait_word = [&](std::atomic<std::uint32_t>& w, std::uint32_t target) {
        if (!cpus) return spin_for([&] { return w.load(std::memory_order_acquire) >= target; });
        const std::uint64_t start = now_ns();
        for (;;) {
            const std::uint32_t v = w.load(std::memory_order_acquire);
            if (v >= target) return true;
            if (now_ns() - start > kHang) return false;
            futex_wait(w, v);
        }
    };
    const bool with_a = mode != 0;
    run_on(sig, [&] {
        // Bootstrap: B (and A) once, to learn their threads.
        fire(b_efd);
        if (!wait_word(p.b_ack, 1)) {
            ++out.stalls;
            return;
        }
        fire(a_efd);
        if (!wait_word(p.a_done, 1)) {
            ++out.stalls;
            return;
        }
        std::uint32_t a_seq = 1;
        const pid_t btid = p.isr_tid.load();
        const pid_t atid = p.a_tid.load();
        wb::state_probe bs(btid), as(atid);
        const std::uint64_t warm = warm_for(n);
        std::uint64_t measured = 0;
        for (std::uint64_t i = 1; i < warm + n; ++i) {
            if (i == warm) wb::alloc::arm();
            // (cpus: A shares the signaller's CPU below it; waiting here for A to reach its
            // read() would starve it. A has finished its ISR (a_done) and that is enough.)
            if (!spin_for([&] { return asleep(bs.state()) && (cpus || asleep(as.state())); })) {
                ++out.stalls;
                break;
            }
            if (!cpus)
                wb::spin_until(now_ns() + 30000);  // keeps A's duty cycle below RT throttling
            if (with_a) {
                fire(a_efd);
                ++a_seq;
                if (!wait_word(p.a_started, a_seq)) {
                    ++out.stalls;
                    break;
                }
            }
            if (!cpus) wb::spin_until(now_ns() + 10000);  // B lands inside A's busy loop
            const std::uint64_t t0 = now_ns();
            fire(b_efd);
            if (!wait_word(p.b_ack, static_cast<std::uint32_t>(i + 1))) {
                ++out.stalls;
                break;
            }
            if (i >= warm) {
                out.a.push_back(p.t_isr.load() - t0);
                ++measured;
            }
            if (with_a && !wait_word(p.a_done, a_seq)) {
                ++out.stalls;
                break;
            }
            // Alone: the same pace (B's CPU idles as long between events as with A), since how
            // long a vCPU has been halted changes how fast it wakes.
            if (!with_a) wb::spin_until(t0 + g_opt.slow_ns);
        }
        const std::uint64_t allocs = wb::alloc::disarm();
        if (mode != 2) out.allocs += allocs;
        out.events += measured;
    });
}

void run_isolation() {
    if (g_other_cpu < 0) {
        note("isolation skipped: needs two CPUs");
        return;
    }
    const unsigned B = g_opt.blocks;
    for (const char* variant : {"cpus", "prio"}) {
        progress("running", "isolation", variant);
        const std::vector<int> modes = {0, 1, 2};
        for (unsigned b = 0; b < B; ++b) {
            const std::uint64_t n = share(g_opt.events, b, B);
            std::vector<int> order = modes;
            if (b % 2 == 1) std::reverse(order.begin(), order.end());
            for (int m : order)
                iso_block(variant, m, n);
        }
    }
}

// ==== summaries ==================================================================================

struct summary {
    wb::pct a, b, q;          // q in ns (timer overhead subtracted)
    wb::pct b_here, b_there;  // b split by where the second stage ran: the ISR's CPU, another
    double share_here = -1;   // fraction of b on the ISR's CPU (-1: not recorded)
    wb::pct q_here, q_there;  // queue_awake: q split by where the awake worker spun
    double q_share_here = -1;
    double cpu_handler = 0, cpu_next = 0;                     // ns per event
    double sc_handler = -1, sc_next = -1, sc_signaller = -1;  // per event, -1: not counted
    double burst_rate = 0, burst_coalesce = 0;                // events/s, signals per wake-up
    double cpu_per_wake = 0;
    std::uint64_t events = 0, allocs = 0;
    unsigned stalls = 0;
};

std::uint64_t g_tsc_overhead = 0;  // ticks of an empty tsc() pair
double g_tsc_per_ns = 1;

std::map<std::string, summary> g_sum;

summary summarize(series& s) {
    summary r;
    if (!s.bcpu.empty() && s.bcpu.size() == s.b.size() && s.isr_cpu >= 0) {
        std::vector<std::uint64_t> here, there;
        for (std::size_t i = 0; i < s.b.size(); ++i)
            (s.bcpu[i] == s.isr_cpu ? here : there).push_back(s.b[i]);
        r.share_here = static_cast<double>(here.size()) / static_cast<double>(s.b.size());
        r.b_here = wb::percentiles(here);
        r.b_there = wb::percentiles(there);
    }
    r.a = wb::percentiles(s.a);
    r.b = wb::percentiles(s.b);
    std::vector<std::uint64_t> qn;
    qn.reserve(s.q.size());
    for (auto t : s.q) {
        const std::uint64_t net = t > g_tsc_overhead ? t - g_tsc_overhead : 0;
        qn.push_back(static_cast<std::uint64_t>(static_cast<double>(net) / g_tsc_per_ns));
    }
    if (!s.qcpu.empty() && s.qcpu.size() == qn.size() && s.isr_cpu >= 0) {
        std::vector<std::uint64_t> here, there;
        for (std::size_t i = 0; i < qn.size(); ++i)
            (s.qcpu[i] == s.isr_cpu ? here : there).push_back(qn[i]);
        r.q_share_here = static_cast<double>(here.size()) / static_cast<double>(qn.size());
        r.q_here = wb::percentiles(here);
        r.q_there = wb::percentiles(there);
    }
    r.q = wb::percentiles(qn);
    r.events = s.events;
    r.allocs = s.allocs;
    r.stalls = s.stalls;
    if (s.events != 0) {
        const double ev = static_cast<double>(s.events);
        r.cpu_handler = static_cast<double>(s.cpu_handler) / ev;
        r.cpu_next = static_cast<double>(s.cpu_next) / ev;
        if (s.syscalls_counted) {
            r.sc_handler = static_cast<double>(s.sc_handler) / ev;
            r.sc_next = static_cast<double>(s.sc_next) / ev;
            r.sc_signaller = static_cast<double>(s.sc_signaller) / ev;
        }
        if (s.burst_time != 0) {
            r.burst_rate = ev * 1e9 / static_cast<double>(s.burst_time);
            r.burst_coalesce =
                ev / static_cast<double>(std::max<std::uint64_t>(1, s.burst_wakeups));
            r.cpu_per_wake = static_cast<double>(s.cpu_handler) /
                             static_cast<double>(std::max<std::uint64_t>(1, s.burst_wakeups));
        }
    }
    return r;
}

const summary* find_sum(const std::string& cfg, const std::string& exp, const std::string& side) {
    auto it = g_sum.find(cfg + "|" + exp + "|" + side);
    if (it == g_sum.end() || it->second.events == 0) return nullptr;
    return &it->second;
}

double ratio(double f, double r) {
    return r > 0 ? f / r : NAN;
}

// ==== output =====================================================================================

std::string cell_ns(double v) {
    return v > 0 ? wb::fmt_ns(v) : std::string("-");
}
std::string cell_ratio(double v) {
    if (std::isnan(v)) return "-";
    char b[16];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}
std::string cell_num(double v, int prec = 2) {
    if (v < 0) return "-";
    char b[24];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
}

void print_row(const std::string& cfg, const std::string& what, const wb::pct& r, const wb::pct& f,
               double sc_r, double sc_f, double cpu_r, double cpu_f) {
    std::printf("%-12s %-22s %8s %8s %5s | %8s %8s %5s | %8s %8s | %5s %5s | %7s %7s\n",
                cfg.c_str(), what.c_str(), cell_ns(static_cast<double>(r.p50)).c_str(),
                cell_ns(static_cast<double>(f.p50)).c_str(),
                cell_ratio(ratio(static_cast<double>(f.p50), static_cast<double>(r.p50))).c_str(),
                cell_ns(static_cast<double>(r.p99)).c_str(),
                cell_ns(static_cast<double>(f.p99)).c_str(),
                cell_ratio(ratio(static_cast<double>(f.p99), static_cast<double>(r.p99))).c_str(),
                cell_ns(static_cast<double>(f.p999)).c_str(),
                cell_ns(static_cast<double>(f.max)).c_str(), cell_num(sc_r).c_str(),
                cell_num(sc_f).c_str(), cell_ns(cpu_r).c_str(), cell_ns(cpu_f).c_str());
}

struct goal {
    std::string name;
    std::string measured;
    double value = NAN;
    double limit = NAN;
    bool le = true;  // value <= limit passes (else >=)
    bool pass() const {
        if (std::isnan(value)) return false;
        return le ? value <= limit : value >= limit;
    }
};
std::vector<goal> g_goals;

void add_goal(const std::string& name, double value, double limit, bool le,
              const std::string& measured) {
    goal g;
    g.name = name;
    g.value = value;
    g.limit = limit;
    g.le = le;
    g.measured = measured;
    g_goals.push_back(g);
}

/// Results of the run with the other DPC mode (the child), flat key -> value.
std::map<std::string, double> g_child;
bool g_child_inline = false;  // the child ran with WDFX_DPC=inline (else the parent did)
bool g_self_inline = false;

void json_pct(std::FILE* f, const char* key, const wb::pct& p) {
    std::fprintf(f,
                 "\"%s\": {\"n\": %" PRIu64 ", \"p50\": %" PRIu64 ", \"p90\": %" PRIu64
                 ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64 ", \"max\": %" PRIu64
                 ", \"mean\": %.1f}",
                 key, p.n, p.p50, p.p90, p.p99, p.p999, p.max, p.mean);
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            o += '\\';
            o += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            o += ' ';
        } else {
            o += ch;
        }
    }
    return o + "\"";
}

std::string json_num(double v) {
    if (std::isnan(v) || std::isinf(v)) return "null";
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v);
    return b;
}

void write_kv(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return;
    for (auto& [k, s] : g_sum) {
        auto put = [&](const char* what, const wb::pct& p) {
            if (p.n == 0) return;
            std::fprintf(f, "%s|%s.p50 %" PRIu64 "\n", k.c_str(), what, p.p50);
            std::fprintf(f, "%s|%s.p99 %" PRIu64 "\n", k.c_str(), what, p.p99);
            std::fprintf(f, "%s|%s.p999 %" PRIu64 "\n", k.c_str(), what, p.p999);
            std::fprintf(f, "%s|%s.max %" PRIu64 "\n", k.c_str(), what, p.max);
        };
        put("a", s.a);
        put("b", s.b);
        put("q", s.q);
        std::fprintf(f, "%s|cpu_handler %.1f\n", k.c_str(), s.cpu_handler);
        std::fprintf(f, "%s|cpu_next %.1f\n", k.c_str(), s.cpu_next);
        std::fprintf(f, "%s|sc_handler %.3f\n", k.c_str(), s.sc_handler);
        std::fprintf(f, "%s|sc_next %.3f\n", k.c_str(), s.sc_next);
        std::fprintf(f, "%s|events %" PRIu64 "\n", k.c_str(), s.events);
        std::fprintf(f, "%s|allocs %" PRIu64 "\n", k.c_str(), s.allocs);
    }
    std::fclose(f);
}

bool read_kv(const std::string& path, std::map<std::string, double>& out) {
    std::ifstream f(path);
    if (!f) return false;
    std::string k;
    double v;
    while (f >> k >> v)
        out[k] = v;
    return !out.empty();
}

double child(const std::string& key) {
    auto it = g_child.find(key);
    return it == g_child.end() ? NAN : it->second;
}

/// Runs this program again with the other DPC mode (WDFX_DPC=inline or not) for isr, dpc, wi.
void run_inline_child() {
    char exe[4096];
    ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        note("inline-DPC comparison skipped: /proc/self/exe unreadable");
        return;
    }
    exe[len] = '\0';
    const std::string kv = g_opt.json + ".child.kv";
    const std::string log = g_opt.json + ".child.log";
    std::vector<std::string> args = {exe,
                                     "--child",
                                     "--kv",
                                     kv,
                                     "--events",
                                     std::to_string(g_opt.events),
                                     "--blocks",
                                     std::to_string(g_opt.blocks),
                                     "--only",
                                     "isr,dpc,wi",
                                     "--gap-ns",
                                     std::to_string(g_opt.gap_ns),
                                     "--spin-ns",
                                     std::to_string(g_opt.spin_ns),
                                     "--signal-cpu",
                                     std::to_string(g_sig_cpu),
                                     "--other-cpu",
                                     std::to_string(g_other_cpu),
                                     "--quiet"};
    if (!g_opt.configs.empty()) {
        std::string cl;
        for (auto& c : g_opt.configs)
            cl += (cl.empty() ? "" : ",") + c;
        args.push_back("--configs");
        args.push_back(cl);
    }
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "WDFX_DPC=", 9) != 0) envs.push_back(*e);
    g_child_inline = !g_self_inline;
    if (g_child_inline) envs.push_back("WDFX_DPC=inline");
    std::vector<char*> argv, envp;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    progress("running", "DPC mode comparison:",
             g_child_inline ? "child with WDFX_DPC=inline" : "child with DPC threads");
    int rc = posix_spawn(&pid, exe, &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        note(std::string("inline-DPC child: posix_spawn: ") + std::strerror(rc));
        return;
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || !read_kv(kv, g_child)) {
        note("inline-DPC child failed; see " + log);
        return;
    }
    ::unlink(kv.c_str());
}

// ---- plots
// ---------------------------------------------------------------------------------------

bool have_gnuplot() {
    const char* path = std::getenv("PATH");
    if (path == nullptr) return false;
    for (auto& d : split(path, ':')) {
        std::string f = d + "/gnuplot";
        if (::access(f.c_str(), X_OK) == 0) return true;
    }
    return false;
}

/// Writes the CCDF of `v` (sorted): value, fraction of samples >= value. Dense in the tail.
bool write_ccdf(const std::string& path, const std::vector<std::uint64_t>& v) {
    if (v.empty()) return false;
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return false;
    const std::size_t n = v.size();
    std::size_t step = std::max<std::size_t>(1, n / 2000);
    for (std::size_t i = 0; i < n; ++i) {
        const bool tail = i + 2000 >= n;
        if (!tail && i % step != 0) continue;
        std::fprintf(f, "%" PRIu64 " %.9g\n", v[i],
                     static_cast<double>(n - i) / static_cast<double>(n));
    }
    std::fclose(f);
    return true;
}

std::string safe(std::string s) {
    for (char& ch : s)
        if (ch == '/' || ch == '|') ch = '_';
    return s;
}

std::vector<std::string> g_pngs;

void make_plots() {
    if (g_opt.no_plots) return;
    ::mkdir(g_opt.plots.c_str(), 0755);
    struct panel {
        std::string title;
        std::vector<std::pair<std::string, std::string>> lines;  // file, label
    };
    // One PNG per measurement; one panel per configuration (raw vs framework).
    struct measure {
        std::string file, title, exp;
        char which;
        std::vector<std::pair<std::string, std::string>> sides;
    };
    const std::vector<measure> ms = {
        {"isr_entry", "eventfd signal -> ISR entry", "isr", 'a', {{"raw", "raw"}, {"fw", "wdfx"}}},
        {"isr_to_dpc", "ISR -> DPC entry", "dpc", 'b', {{"raw", "raw"}, {"fw", "wdfx"}}},
        {"isr_to_workitem",
         "ISR -> work item entry (sleeping worker)",
         "wi",
         'b',
         {{"raw", "raw"},
          {"raw-uring", "raw, worker in io_uring"},
          {"fw", "wdfx DIRQL"},
          {"fw-passive", "wdfx passive"}}},
    };
    bool gp = have_gnuplot();
    for (const auto& m : ms) {
        std::vector<panel> panels;
        for (const auto& c : g_configs) {
            panel pn;
            pn.title = c.name;
            for (const auto& [sd, label] : m.sides) {
                auto it = g_series.find(c.name + "|" + m.exp + "|" + sd);
                if (it == g_series.end()) continue;
                auto& v = m.which == 'a' ? it->second.a : it->second.b;
                std::string df =
                    g_opt.plots + "/" + m.file + "_" + safe(c.name) + "_" + sd + ".dat";
                if (write_ccdf(df, v)) pn.lines.push_back({df, label});
            }
            if (!pn.lines.empty()) panels.push_back(pn);
        }
        if (panels.empty()) continue;
        const std::string gpf = g_opt.plots + "/" + m.file + ".gp";
        const std::string png = g_opt.plots + "/" + m.file + ".png";
        std::FILE* f = std::fopen(gpf.c_str(), "w");
        if (f == nullptr) continue;
        const std::size_t cols = panels.size() > 3 ? 3 : panels.size();
        const std::size_t rows = (panels.size() + cols - 1) / cols;
        std::fprintf(f, "set terminal pngcairo size %zu,%zu font ',9'\n", 520 * cols, 400 * rows);
        std::fprintf(f, "set output '%s'\n", png.c_str());
        std::fprintf(f, "set multiplot layout %zu,%zu title '%s (CCDF: fraction of events >= x)'\n",
                     rows, cols, m.title.c_str());
        std::fprintf(f,
                     "set logscale xy\nset format y '10^{%%L}'\nset xlabel 'ns'\n"
                     "set key top right\nset grid\nset yrange [1e-6:1.1]\n");
        for (const auto& pn : panels) {
            std::fprintf(f, "set title '%s'\nplot ", pn.title.c_str());
            for (std::size_t i = 0; i < pn.lines.size(); ++i)
                std::fprintf(f, "%s'%s' using 1:2 with steps lw 2 title '%s'", i == 0 ? "" : ", ",
                             pn.lines[i].first.c_str(), pn.lines[i].second.c_str());
            std::fprintf(f, "\n");
        }
        std::fprintf(f, "unset multiplot\n");
        std::fclose(f);
        if (gp) {
            std::string cmd = "gnuplot '" + gpf + "' 2>&1";
            int rc = std::system(cmd.c_str());
            if (rc == 0)
                g_pngs.push_back(png);
            else
                note("gnuplot failed on " + gpf);
        }
    }
    // Isolation: B's latency alone / with the slow interrupt / control.
    for (const char* variant : {"cpus", "prio"}) {
        std::vector<std::pair<std::string, std::string>> lines;
        for (const char* mode : {"alone", "with-slow", "control"}) {
            auto it = g_series.find(std::string("iso-") + variant + "|iso|" + mode);
            if (it == g_series.end()) continue;
            std::string df = g_opt.plots + "/isolation_" + variant + "_" + mode + ".dat";
            if (write_ccdf(df, it->second.a)) lines.push_back({df, mode});
        }
        if (lines.empty()) continue;
        const std::string gpf = g_opt.plots + "/isolation_" + variant + ".gp";
        const std::string png = g_opt.plots + "/isolation_" + variant + ".png";
        std::FILE* f = std::fopen(gpf.c_str(), "w");
        if (f == nullptr) continue;
        std::fprintf(f,
                     "set terminal pngcairo size 640,440 font ',9'\nset output '%s'\n"
                     "set title 'isolation (%s): signal -> ISR of the fast interrupt (CCDF)'\n"
                     "set logscale xy\nset format y '10^{%%L}'\nset xlabel 'ns'\nset grid\n"
                     "set yrange [1e-6:1.1]\nplot ",
                     png.c_str(), variant);
        for (std::size_t i = 0; i < lines.size(); ++i)
            std::fprintf(f, "%s'%s' using 1:2 with steps lw 2 title '%s'", i == 0 ? "" : ", ",
                         lines[i].first.c_str(), lines[i].second.c_str());
        std::fprintf(f, "\n");
        std::fclose(f);
        if (gp) {
            std::string cmd = "gnuplot '" + gpf + "' 2>&1";
            if (std::system(cmd.c_str()) == 0) g_pngs.push_back(png);
        }
    }
    if (!gp)
        note("gnuplot not found: no PNGs; the data files and .gp scripts are in " + g_opt.plots +
             "/ (install gnuplot-nox: tools/install-deps.sh)");
}

// ---- report
// --------------------------------------------------------------------------------------

std::string pct_str(const wb::pct& p) {
    return "p50 " + wb::fmt_ns(static_cast<double>(p.p50)) + " p99 " +
           wb::fmt_ns(static_cast<double>(p.p99)) + " p99.9 " +
           wb::fmt_ns(static_cast<double>(p.p999)) + " max " +
           wb::fmt_ns(static_cast<double>(p.max));
}

void report() {
    for (auto& [k, s] : g_series)
        g_sum[k] = summarize(s);
    if (g_opt.child) {
        if (!g_opt.kv.empty()) write_kv(g_opt.kv);
    }

    std::printf(
        "\n== latency (ns; ratio = wdfx / raw; sc = syscalls per event on the handler "
        "thread; cpu = handler thread CPU per event)\n");
    std::printf("%-12s %-22s %8s %8s %5s | %8s %8s %5s | %8s %8s | %5s %5s | %7s %7s\n", "config",
                "measure", "raw p50", "fw p50", "ratio", "raw p99", "fw p99", "ratio", "fw p99.9",
                "fw max", "sc rw", "sc fw", "cpu rw", "cpu fw");
    for (const auto& c : g_configs) {
        auto row = [&](const char* exp, const char* fside, const char* label, char which) {
            const summary* r = find_sum(c.name, exp, "raw");
            const summary* f = find_sum(c.name, exp, fside);
            if (r == nullptr || f == nullptr) return;
            const wb::pct& rp = which == 'a' ? r->a : which == 'b' ? r->b : r->q;
            const wb::pct& fp = which == 'a' ? f->a : which == 'b' ? f->b : f->q;
            const bool handler = which != 'b';  // the queue rows: the ISR thread's
            print_row(c.name, label, rp, fp, handler ? r->sc_handler : r->sc_next,
                      handler ? f->sc_handler : f->sc_next, handler ? r->cpu_handler : r->cpu_next,
                      handler ? f->cpu_handler : f->cpu_next);
        };
        row("isr", "fw", "signal->ISR", 'a');
        row("dpc", "fw", "ISR->DPC", 'b');
        row("wi", "fw", "ISR->WI DIRQL", 'b');
        row("wi", "fw-passive", "ISR->WI passive", 'b');
        row("wi", "raw-uring", "ISR->WI bare io_uring", 'b');
        row("dpc", "fw", "queue DPC (ISR)", 'q');
        row("wi", "fw", "queue WI DIRQL (ISR)", 'q');
        row("wi", "fw-passive", "queue WI passive (ISR)", 'q');
        row("queue", "fw-passive", "queue WI awake (ISR)", 'q');
    }
    std::printf(
        "   (ISR->DPC / ISR->WI rows: sc and cpu are the consumer side's: the DPC thread, or "
        "the pool workers summed;\n    queue rows: the call inside the ISR, TSC, timer "
        "overhead of %s subtracted; sc/cpu there are the ISR thread's)\n",
        wb::fmt_ns(static_cast<double>(g_tsc_overhead) / g_tsc_per_ns).c_str());

    // Work-item placement: the workers are unpinned SCHED_OTHER threads (raw and framework
    // alike), so the kernel picks their CPU at each wake-up; a wake-up on the other, halted vCPU
    // costs several microseconds more than one on the ISR's CPU. Compare like with like.
    bool any_place = false;
    for (const auto& c : g_configs) {
        const summary* r = find_sum(c.name, "wi", "raw");
        if (r == nullptr || r->share_here < 0) continue;
        for (const char* fs : {"fw", "fw-passive", "raw-uring"}) {
            const summary* f = find_sum(c.name, "wi", fs);
            if (f == nullptr || f->share_here < 0) continue;
            if (!any_place)
                std::printf(
                    "\n== ISR->WI by where the worker ran (ISR CPU / other CPU): share, "
                    "p50, and the placement-matched ratio\n%-12s %-16s %6s %9s %9s | "
                    "%6s %9s %9s | %6s %6s\n",
                    "config", "measure", "raw %", "raw here", "raw other", "fw %", "fw here",
                    "fw other", "here", "other");
            any_place = true;
            auto m = [](const wb::pct& fp, const wb::pct& rp) {
                if (fp.n < 100 || rp.n < 100) return std::string("-");
                return cell_ratio(ratio(static_cast<double>(fp.p50), static_cast<double>(rp.p50)));
            };
            std::printf("%-12s %-16s %5.0f%% %9s %9s | %5.0f%% %9s %9s | %6s %6s\n", c.name.c_str(),
                        std::string(fs) == "fw"           ? "ISR->WI DIRQL"
                        : std::string(fs) == "fw-passive" ? "ISR->WI passive"
                                                          : "bare io_uring",
                        100 * r->share_here, cell_ns(static_cast<double>(r->b_here.p50)).c_str(),
                        cell_ns(static_cast<double>(r->b_there.p50)).c_str(), 100 * f->share_here,
                        cell_ns(static_cast<double>(f->b_here.p50)).c_str(),
                        cell_ns(static_cast<double>(f->b_there.p50)).c_str(),
                        m(f->b_here, r->b_here).c_str(), m(f->b_there, r->b_there).c_str());
        }
    }

    // Queueing to an awake worker, by where that worker spins: on the ISR's CPU the queue's
    // cache lines are local; on the other CPU each call pays their transfer.
    for (const auto& c : g_configs) {
        const summary* r = find_sum(c.name, "queue", "raw");
        const summary* f = find_sum(c.name, "queue", "fw-passive");
        if (r == nullptr || f == nullptr || r->q_share_here < 0 || f->q_share_here < 0) continue;
        auto m = [](const wb::pct& fp, const wb::pct& rp) {
            if (fp.n < 100 || rp.n < 100) return std::string("-");
            return cell_ratio(ratio(static_cast<double>(fp.p50), static_cast<double>(rp.p50)));
        };
        std::printf(
            "\n== queue from the ISR to an awake worker (%s; passive interrupt, the worker "
            "busy in its callback): p50 of the call by where the worker last ran\n",
            c.name.c_str());
        std::printf("   worker on the ISR's CPU:  raw %5.0f%% %7s  fw %5.0f%% %7s  ratio %s\n",
                    100 * r->q_share_here, cell_ns(static_cast<double>(r->q_here.p50)).c_str(),
                    100 * f->q_share_here, cell_ns(static_cast<double>(f->q_here.p50)).c_str(),
                    m(f->q_here, r->q_here).c_str());
        std::printf(
            "   worker on the other CPU:  raw %5.0f%% %7s  fw %5.0f%% %7s  ratio %s\n",
            100 * (1 - r->q_share_here), cell_ns(static_cast<double>(r->q_there.p50)).c_str(),
            100 * (1 - f->q_share_here), cell_ns(static_cast<double>(f->q_there.p50)).c_str(),
            m(f->q_there, r->q_there).c_str());
    }

    // Burst.
    bool any_burst = false;
    for (const auto& c : g_configs) {
        const summary* r = find_sum(c.name, "burst", "raw");
        const summary* f = find_sum(c.name, "burst", "fw");
        if (r == nullptr || f == nullptr) continue;
        if (!any_burst)
            std::printf(
                "\n== burst drain (signaller writes as fast as it can; coalescing "
                "allowed)\n%-12s %12s %12s %6s | %9s %9s | %10s %10s | %10s %10s\n",
                "config", "raw ev/s", "fw ev/s", "ratio", "raw sig/wk", "fw sig/wk", "raw cpu/ev",
                "fw cpu/ev", "raw cpu/wk", "fw cpu/wk");
        any_burst = true;
        std::printf("%-12s %12.0f %12.0f %6s | %9.1f %9.1f | %10s %10s | %10s %10s\n",
                    c.name.c_str(), r->burst_rate, f->burst_rate,
                    cell_ratio(ratio(f->burst_rate, r->burst_rate)).c_str(), r->burst_coalesce,
                    f->burst_coalesce, cell_ns(r->cpu_handler).c_str(),
                    cell_ns(f->cpu_handler).c_str(), cell_ns(r->cpu_per_wake).c_str(),
                    cell_ns(f->cpu_per_wake).c_str());
    }

    // Isolation.
    for (const char* variant : {"cpus", "prio"}) {
        const std::string cfg = std::string("iso-") + variant;
        const summary* al = find_sum(cfg, "iso", "alone");
        const summary* ws = find_sum(cfg, "iso", "with-slow");
        const summary* ct = find_sum(cfg, "iso", "control");
        if (al == nullptr || ws == nullptr) continue;
        std::printf("\n== isolation (%s): %s\n", variant,
                    std::string(variant) == "cpus"
                        ? "slow ISR (busy loop) on the signalling CPU, fast ISR on the other CPU"
                        : "slow ISR (low priority) and fast ISR (high priority) on the other CPU");
        std::printf("   %s\n", g_series[cfg + "|iso|with-slow"].threads.c_str());
        std::printf("   fast ISR alone:      %s\n", pct_str(al->a).c_str());
        std::printf("   with the slow ISR:   %s   (p50 x%.2f, p99 x%.2f vs alone)\n",
                    pct_str(ws->a).c_str(),
                    ratio(static_cast<double>(ws->a.p50), static_cast<double>(al->a.p50)),
                    ratio(static_cast<double>(ws->a.p99), static_cast<double>(al->a.p99)));
        if (ct != nullptr)
            std::printf(
                "   control (bare busy thread instead of the slow ISR): %s   (with/control "
                "p50 x%.2f)\n",
                pct_str(ct->a).c_str(),
                ratio(static_cast<double>(ws->a.p50), static_cast<double>(ct->a.p50)));
    }

    // DPC mode comparison.
    if (!g_child.empty()) {
        const char* th = g_child_inline ? "this run" : "child";
        const char* in = g_child_inline ? "child" : "this run";
        std::printf("\n== DPC on the DPC thread (%s) vs WDFX_DPC=inline (%s)\n", th, in);
        std::printf("%-12s %-10s %9s %9s %9s | %10s %10s %10s | %9s %9s\n", "config", "mode",
                    "ISR->DPC", "p99", "p99.9", "ISR cpu/ev", "DPC cpu/ev", "sc ISR+DPC", "ISR->WI",
                    "isr-only");
        for (const auto& c : g_configs) {
            auto own = [&](const std::string& exp, const char* what) -> double {
                const summary* s = find_sum(c.name, exp, "fw");
                if (s == nullptr) return NAN;
                std::string w = what;
                if (w == "b.p50") return static_cast<double>(s->b.p50);
                if (w == "b.p99") return static_cast<double>(s->b.p99);
                if (w == "b.p999") return static_cast<double>(s->b.p999);
                if (w == "cpu_handler") return s->cpu_handler;
                if (w == "cpu_next") return s->cpu_next;
                if (w == "sc") return s->sc_handler + s->sc_next;
                return NAN;
            };
            auto kid = [&](const std::string& exp, const std::string& what) -> double {
                if (what == "sc")
                    return child(c.name + "|" + exp + "|fw|sc_handler") +
                           child(c.name + "|" + exp + "|fw|sc_next");
                return child(c.name + "|" + exp + "|fw|" + what);
            };
            for (int m = 0; m < 2; ++m) {
                const bool is_child = m == 1;
                auto get = [&](const std::string& exp, const char* what) {
                    return is_child ? kid(exp, what) : own(exp, what);
                };
                const bool inl = is_child == g_child_inline;
                std::printf("%-12s %-10s %9s %9s %9s | %10s %10s %10s | %9s %9s\n",
                            m == 0 ? c.name.c_str() : "", inl ? "inline" : "DPC thread",
                            cell_ns(get("dpc", "b.p50")).c_str(),
                            cell_ns(get("dpc", "b.p99")).c_str(),
                            cell_ns(get("dpc", "b.p999")).c_str(),
                            cell_ns(get("dpc", "cpu_handler")).c_str(),
                            cell_ns(get("dpc", "cpu_next")).c_str(),
                            cell_num(get("dpc", "sc")).c_str(), cell_ns(get("wi", "b.p50")).c_str(),
                            cell_ns(get("isr", "cpu_handler")).c_str());
            }
        }
        std::printf(
            "   (ISR cpu/ev: ISR thread CPU per event with a DPC queued each time, the inline "
            "DPC included; isr-only: ISR thread CPU per event without a DPC)\n");
    }

    // Allocations.
    std::uint64_t fw_allocs = 0, raw_allocs = 0;
    std::vector<pid_t> culprits;
    for (auto& [k, s] : g_series) {
        if (k.find("|raw") != std::string::npos || k.find("|control") != std::string::npos)
            raw_allocs += s.allocs;
        else
            fw_allocs += s.allocs;
        for (pid_t t : s.alloc_threads)
            culprits.push_back(t);
    }
    std::printf("\n== heap allocations while measuring: framework phases %" PRIu64
                ", raw phases %" PRIu64 " (interposer saw %" PRIu64 " allocations in total)\n",
                fw_allocs, raw_allocs, wb::alloc::total());
    if (!culprits.empty()) {
        std::printf("   allocating threads:");
        for (pid_t t : culprits)
            std::printf(" %d(%s)", t, wb::thread_name(t).c_str());
        std::printf("\n");
    }
    if (!wb::syscall_counter::available())
        std::printf("== syscall counts unavailable: %s\n",
                    wb::syscall_counter::why_unavailable().c_str());

    // Goals.
    auto p50r = [&](const std::string& cfg, const std::string& exp, const char* fs,
                    char which) -> std::pair<double, std::string> {
        const summary* r = find_sum(cfg, exp, "raw");
        const summary* f = find_sum(cfg, exp, fs);
        if (r == nullptr || f == nullptr) return {NAN, "not measured"};
        const wb::pct& rp = which == 'a' ? r->a : which == 'b' ? r->b : r->q;
        const wb::pct& fp = which == 'a' ? f->a : which == 'b' ? f->b : f->q;
        double v = ratio(static_cast<double>(fp.p50), static_cast<double>(rp.p50));
        return {v, "fw " + wb::fmt_ns(static_cast<double>(fp.p50)) + " / raw " +
                       wb::fmt_ns(static_cast<double>(rp.p50)) + " = " + cell_ratio(v)};
    };
    for (const auto& c : g_configs) {
        const bool strict = c.s == strat::block && !c.same_cpu;
        auto [v, m] = p50r(c.name, "isr", "fw", 'a');
        add_goal("ISR entry p50 ratio, " + c.name, v, strict ? 1.10 : 1.25, true, m);
    }
    // Placement-matched judgement: the workers (raw and framework) are unpinned, the kernel
    // picks the CPU of each wake-up, and a wake-up on the other (halted) vCPU costs several
    // microseconds more. Compare the classes both sides have (>= 100 samples each) and take the
    // worst; the overall ratio and the shares are in the text.
    auto matched = [&](const summary& f, const summary& r, bool q, std::string& text) -> double {
        const wb::pct& fh = q ? f.q_here : f.b_here;
        const wb::pct& ft = q ? f.q_there : f.b_there;
        const wb::pct& rh = q ? r.q_here : r.b_here;
        const wb::pct& rt = q ? r.q_there : r.b_there;
        const double fs = q ? f.q_share_here : f.share_here;
        const double rs = q ? r.q_share_here : r.share_here;
        double worst = NAN;
        auto cls = [&](const char* name, const wb::pct& fp, const wb::pct& rp) {
            if (fp.n < 100 || rp.n < 100) return;
            const double v = ratio(static_cast<double>(fp.p50), static_cast<double>(rp.p50));
            worst = std::isnan(worst) ? v : std::max(worst, v);
            text += std::string(", ") + name + " " + wb::fmt_ns(static_cast<double>(fp.p50)) + "/" +
                    wb::fmt_ns(static_cast<double>(rp.p50)) + " = " + cell_ratio(v);
        };
        char b[96];
        std::snprintf(b, sizeof b, " [on the ISR's CPU: fw %.0f%%, raw %.0f%%]", 100 * fs,
                      100 * rs);
        text += b;
        cls("ISR CPU", fh, rh);
        cls("other CPU", ft, rt);
        return worst;
    };
    for (const auto& c : g_configs) {
        const summary* r = find_sum(c.name, "wi", "raw");
        for (const char* fs : {"fw-passive", "fw"}) {
            const summary* f = find_sum(c.name, "wi", fs);
            const bool passive = std::string(fs) == "fw-passive";
            const std::string name = std::string("ISR->work item p50 (sleeping worker), ") +
                                     (passive ? "passive, " : "DIRQL, ") + c.name;
            auto [v, m] = p50r(c.name, "wi", fs, 'b');
            if (r == nullptr || f == nullptr) {
                add_goal(name, v, passive ? 1.10 : 1.25, true, m);
                continue;
            }
            std::string text = "overall " + m;
            const double mv = matched(*f, *r, false, text);
            add_goal(name, std::isnan(mv) ? v : mv, passive ? 1.10 : 1.25, true,
                     (std::isnan(mv) ? "" : "matched ") + text);
        }
    }
    for (const auto& c : g_configs) {
        const summary* f = find_sum(c.name, "queue", "fw-passive");
        const summary* r = find_sum(c.name, "queue", "raw");
        if (f == nullptr || r == nullptr) continue;
        // The ISR thread's own syscalls per event: 1 is its eventfd read; more means the queue
        // call entered the kernel.
        const double extra = f->sc_handler < 0 ? NAN : f->sc_handler - 1.0;
        add_goal("queue from ISR to an awake worker: syscalls per queue call, " + c.name, extra,
                 0.0, true,
                 "ISR thread " + cell_num(f->sc_handler, 3) + " syscalls/event (1 = its read)");
        auto [vq, mq] = p50r(c.name, "queue", "fw-passive", 'q');
        std::string text = "overall " + mq;
        const double mv = matched(*f, *r, true, text);
        add_goal("queue from ISR to an awake worker: cost vs bare push, " + c.name,
                 std::isnan(mv) ? vq : mv, 2.0, true, (std::isnan(mv) ? "" : "matched ") + text);
    }
    {
        add_goal("heap allocations on the hot path (framework phases)",
                 static_cast<double>(fw_allocs), 0, true, std::to_string(fw_allocs));
    }
    for (const auto& c : g_configs) {
        const summary* r = find_sum(c.name, "burst", "raw");
        const summary* f = find_sum(c.name, "burst", "fw");
        if (r == nullptr || f == nullptr) continue;
        double v = ratio(f->burst_rate, r->burst_rate);
        char m[160];
        std::snprintf(m, sizeof m, "fw %.2fM/s / raw %.2fM/s = %.2f", f->burst_rate / 1e6,
                      r->burst_rate / 1e6, v);
        add_goal("burst drain rate ratio, " + c.name, v, 0.9, false, m);
    }
    for (const auto& c : g_configs) {
        if (c.s == strat::busy) continue;  // a polling thread's CPU is 100% either way
        const summary* r = find_sum(c.name, "isr", "raw");
        const summary* f = find_sum(c.name, "isr", "fw");
        if (r == nullptr || f == nullptr) continue;
        double v = ratio(f->cpu_handler, r->cpu_handler);
        add_goal("handler CPU per interrupt ratio, " + c.name, v, 1.10, true,
                 "fw " + wb::fmt_ns(f->cpu_handler) + " / raw " + wb::fmt_ns(r->cpu_handler) +
                     " = " + cell_ratio(v));
    }
    for (const char* variant : {"cpus", "prio"}) {
        const std::string cfg = std::string("iso-") + variant;
        const summary* al = find_sum(cfg, "iso", "alone");
        const summary* ws = find_sum(cfg, "iso", "with-slow");
        const summary* ct = find_sum(cfg, "iso", "control");
        if (al == nullptr || ws == nullptr) continue;
        double v = ratio(static_cast<double>(ws->a.p50), static_cast<double>(al->a.p50));
        add_goal(std::string("isolation p50, with slow ISR / alone, ") + variant, v, 1.10, true,
                 wb::fmt_ns(static_cast<double>(ws->a.p50)) + " / " +
                     wb::fmt_ns(static_cast<double>(al->a.p50)) + " = " + cell_ratio(v));
        if (ct != nullptr) {
            double vc = ratio(static_cast<double>(ws->a.p50), static_cast<double>(ct->a.p50));
            add_goal(std::string("isolation p50, with slow ISR / control, ") + variant, vc, 1.10,
                     true,
                     wb::fmt_ns(static_cast<double>(ws->a.p50)) + " / " +
                         wb::fmt_ns(static_cast<double>(ct->a.p50)) + " = " + cell_ratio(vc));
        }
    }
    std::printf("\n== goals (issue 2, point 9)\n");
    for (const auto& g : g_goals) {
        if (g.measured == "not measured") continue;
        std::printf("  %-4s %-72s %s %s %s\n", g.pass() ? "PASS" : "MISS", g.name.c_str(),
                    g.le ? "<=" : ">=", cell_num(g.limit).c_str(), g.measured.c_str());
    }

    unsigned stalls = 0;
    for (auto& [k, s] : g_series)
        if (s.stalls != 0) {
            std::printf("  stalled blocks in %s: %u\n", k.c_str(), s.stalls);
            stalls += s.stalls;
        }
    for (const auto& f : g_failures)
        std::printf("  failure: %s\n", f.c_str());
    if (!g_pngs.empty()) {
        std::printf("\nplots:");
        for (auto& p : g_pngs)
            std::printf(" %s", p.c_str());
        std::printf("\n");
    }
}

void write_json(const std::string& path, double seconds) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
        std::fprintf(stderr, "wdfx-bench: cannot write %s: %s\n", path.c_str(),
                     std::strerror(errno));
        return;
    }
    std::fprintf(f,
                 "{\n  \"meta\": {\"events\": %" PRIu64
                 ", \"blocks\": %u, \"signal_cpu\": %d, \"other_cpu\": %d, "
                 "\"gap_ns\": %" PRIu64 ", \"spin_ns\": %u, \"slow_ns\": %" PRIu64
                 ", \"dpc_inline\": %s, \"realtime_env\": %s, \"pool_threads\": %u, "
                 "\"tsc_overhead_ns\": %.1f, \"seconds\": %.1f, \"syscalls_counted\": %s},\n",
                 g_opt.events, g_opt.blocks, g_sig_cpu, g_other_cpu, g_opt.gap_ns, g_opt.spin_ns,
                 g_opt.slow_ns, g_self_inline ? "true" : "false",
                 json_str(std::getenv("WDFX_REALTIME") ? std::getenv("WDFX_REALTIME") : "").c_str(),
                 g_pool_size, static_cast<double>(g_tsc_overhead) / g_tsc_per_ns, seconds,
                 wb::syscall_counter::available() ? "true" : "false");
    std::fprintf(f, "  \"series\": {\n");
    bool first = true;
    for (auto& [k, s] : g_sum) {
        std::fprintf(f, "%s    %s: {", first ? "" : ",\n", json_str(k).c_str());
        first = false;
        json_pct(f, "signal_to_isr", s.a);
        std::fprintf(f, ", ");
        json_pct(f, "isr_to_next", s.b);
        std::fprintf(f, ", ");
        json_pct(f, "queue_call_ns", s.q);
        std::fprintf(f, ", ");
        json_pct(f, "isr_to_next_consumer_on_isr_cpu", s.b_here);
        std::fprintf(f, ", ");
        json_pct(f, "isr_to_next_consumer_on_other_cpu", s.b_there);
        std::fprintf(f, ", \"share_consumer_on_isr_cpu\": %s, ", json_num(s.share_here).c_str());
        json_pct(f, "queue_call_ns_worker_on_isr_cpu", s.q_here);
        std::fprintf(f, ", ");
        json_pct(f, "queue_call_ns_worker_on_other_cpu", s.q_there);
        std::fprintf(f,
                     ", \"events\": %" PRIu64
                     ", \"cpu_handler_ns_per_event\": %s, \"cpu_next_ns_per_event\": %s, "
                     "\"syscalls_handler_per_event\": %s, \"syscalls_next_per_event\": %s, "
                     "\"syscalls_signaller_per_event\": %s, \"allocs\": %" PRIu64
                     ", \"burst_events_per_s\": %s, \"burst_signals_per_wakeup\": %s, "
                     "\"burst_cpu_per_wakeup_ns\": %s, \"stalled_blocks\": %u, \"threads\": %s}",
                     s.events, json_num(s.cpu_handler).c_str(), json_num(s.cpu_next).c_str(),
                     json_num(s.sc_handler).c_str(), json_num(s.sc_next).c_str(),
                     json_num(s.sc_signaller).c_str(), s.allocs, json_num(s.burst_rate).c_str(),
                     json_num(s.burst_coalesce).c_str(), json_num(s.cpu_per_wake).c_str(), s.stalls,
                     json_str(g_series[k].threads).c_str());
    }
    std::fprintf(f, "\n  },\n  \"goals\": [\n");
    std::vector<goal> measured;
    for (const auto& g : g_goals)
        if (g.measured != "not measured") measured.push_back(g);
    for (std::size_t i = 0; i < measured.size(); ++i) {
        const auto& g = measured[i];
        std::fprintf(f,
                     "    {\"goal\": %s, \"value\": %s, \"limit\": %s, \"op\": \"%s\", \"pass\": "
                     "%s, \"measured\": %s}%s\n",
                     json_str(g.name).c_str(), json_num(g.value).c_str(), json_num(g.limit).c_str(),
                     g.le ? "<=" : ">=", g.pass() ? "true" : "false", json_str(g.measured).c_str(),
                     i + 1 < measured.size() ? "," : "");
    }
    std::fprintf(f, "  ],\n  \"other_dpc_mode\": {\"mode\": \"%s\", \"values\": {",
                 g_child_inline ? "inline" : "dpc-thread");
    first = true;
    for (auto& [k, v] : g_child) {
        std::fprintf(f, "%s\n    %s: %s", first ? "" : ",", json_str(k).c_str(),
                     json_num(v).c_str());
        first = false;
    }
    std::fprintf(f, "}},\n  \"plots\": [");
    for (std::size_t i = 0; i < g_pngs.size(); ++i)
        std::fprintf(f, "%s%s", i ? ", " : "", json_str(g_pngs[i]).c_str());
    std::fprintf(f, "],\n  \"notes\": [");
    for (std::size_t i = 0; i < g_notes.size(); ++i)
        std::fprintf(f, "%s%s", i ? ", " : "", json_str(g_notes[i]).c_str());
    std::fprintf(f, "]\n}\n");
    std::fclose(f);
}

bool parse_args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "wdfx-bench: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--events")
            g_opt.events = std::strtoull(next().c_str(), nullptr, 0);
        else if (a == "--blocks")
            g_opt.blocks = static_cast<unsigned>(std::strtoul(next().c_str(), nullptr, 0));
        else if (a == "--warm")
            g_opt.warm = std::strtoull(next().c_str(), nullptr, 0);
        else if (a == "--quick") {
            g_opt.events = 5000;
            g_opt.blocks = 2;
        } else if (a == "--json")
            g_opt.json = next();
        else if (a == "--plots")
            g_opt.plots = next();
        else if (a == "--no-plots")
            g_opt.no_plots = true;
        else if (a == "--only")
            g_opt.only = split(next(), ',');
        else if (a == "--configs")
            g_opt.configs = split(next(), ',');
        else if (a == "--signal-cpu")
            g_opt.signal_cpu = std::atoi(next().c_str());
        else if (a == "--other-cpu")
            g_opt.other_cpu = std::atoi(next().c_str());
        else if (a == "--gap-ns")
            g_opt.gap_ns = std::strtoull(next().c_str(), nullptr, 0);
        else if (a == "--spin-ns")
            g_opt.spin_ns = static_cast<std::uint32_t>(std::strtoul(next().c_str(), nullptr, 0));
        else if (a == "--slow-us")
            g_opt.slow_ns = 1000 * std::strtoull(next().c_str(), nullptr, 0);
        else if (a == "--kv")
            g_opt.kv = next();
        else if (a == "--child")
            g_opt.child = true;
        else if (a == "--quiet")
            g_opt.quiet = true;
        else if (a == "--help" || a == "-h") {
            usage();
            std::exit(0);
        } else {
            std::fprintf(stderr, "wdfx-bench: unknown option %s\n", a.c_str());
            usage();
            return false;
        }
    }
    if (g_opt.blocks == 0) g_opt.blocks = 1;
    if (g_opt.events < g_opt.blocks) g_opt.events = g_opt.blocks;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (!parse_args(argc, argv)) return 2;
    const std::uint64_t t_start = now_ns();
    const char* dpc_env = std::getenv("WDFX_DPC");
    g_self_inline = dpc_env != nullptr && std::strcmp(dpc_env, "inline") == 0;

    // The driver first: the runtime starts its threads from this (unpinned) thread.
    wdfx::driver_config dc;
    dc.name = "wdfx-bench";
    dc.on_device_add = on_device_add;
    auto drv = wdfx::driver::create(dc);
    if (!drv) {
        std::fprintf(stderr, "wdfx-bench: WdfDriverCreate: %s\n", drv.err().describe().c_str());
        return 1;
    }
    g_driver = *drv;

    std::vector<int> cpus;
    {
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof set, &set);
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
    g_sig_cpu = g_opt.signal_cpu >= 0 ? g_opt.signal_cpu : cpus.at(0);
    g_other_cpu = g_opt.other_cpu >= 0 ? g_opt.other_cpu : -1;
    if (g_other_cpu < 0)
        for (int c : cpus)
            if (c != g_sig_cpu) {
                g_other_cpu = c;
                break;
            }
    struct cdef {
        const char* name;
        strat s;
        bool same;
    };
    for (const cdef& d :
         {cdef{"block/same", strat::block, true}, cdef{"block/other", strat::block, false},
          cdef{"spin/same", strat::spin, true}, cdef{"spin/other", strat::spin, false},
          cdef{"busy/other", strat::busy, false}}) {
        if (!g_opt.configs.empty() &&
            std::find(g_opt.configs.begin(), g_opt.configs.end(), d.name) == g_opt.configs.end())
            continue;
        if (!d.same && g_other_cpu < 0) continue;
        g_configs.push_back(config{d.name, d.s, d.same, d.same ? g_sig_cpu : g_other_cpu});
    }

    g_tsc_per_ns = wb::tsc_per_ns();
    {
        std::vector<std::uint64_t> e;
        for (int i = 0; i < 10001; ++i) {
            std::uint64_t t0 = wb::tsc(), t1 = wb::tsc();
            e.push_back(t1 - t0);
        }
        g_tsc_overhead = wb::percentiles(e).p50;
    }
    if (::mlockall(MCL_CURRENT) != 0 && !g_opt.quiet)
        std::printf("note: mlockall refused (%s); page faults may add noise\n",
                    std::strerror(errno));

    if (!g_opt.quiet) {
        std::printf("wdfx-bench: %" PRIu64
                    " events per configuration and side in %u blocks; signaller on CPU %d "
                    "(SCHED_OTHER), other CPU %d; DPCs %s; WDFX_REALTIME=%s\n",
                    g_opt.events, g_opt.blocks, g_sig_cpu, g_other_cpu,
                    g_self_inline ? "inline (WDFX_DPC=inline)" : "on DPC threads",
                    std::getenv("WDFX_REALTIME") ? std::getenv("WDFX_REALTIME") : "(unset: 1)");
        std::printf("syscall counting: %s\n",
                    wb::syscall_counter::available()
                        ? "perf_event_open raw_syscalls:sys_enter per thread"
                        : wb::syscall_counter::why_unavailable().c_str());
        std::fflush(stdout);
    }

    for (const auto& c : g_configs)
        run_config(c);
    if (want("iso") && !g_opt.child) run_isolation();
    if (want("inline") && !g_opt.child) run_inline_child();

    const double seconds = static_cast<double>(now_ns() - t_start) / 1e9;
    report();
    if (!g_opt.child) {
        make_plots();
        write_json(g_opt.json, seconds);
        std::printf("results: %s (%.0f s)\n", g_opt.json.c_str(), seconds);
    }
    g_driver.unload();
    return g_failures.empty() ? 0 : 1;
}
