// QEMU's NVMe controller through the framework: a small test driver with several MSI-X vectors,
// each with its own interrupt object and ISR thread. The admin queue completes on vector 0, an
// I/O queue on the last of them; software triggers on every vector must reach only that vector's
// ISR. Modes: msix (bindings, threads, steering, I/O, triggers), reset (FLR through
// device::reset, the driver keeps working), tools (wdfxctl stat, affinity and info while the
// driver runs).
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <wdfx/vfio.hpp>
#include <wdfx/wdfx.hpp>

#include "cases.hpp"
#include "common.hpp"

namespace hil {

namespace {

using namespace std::chrono_literals;

constexpr unsigned kVectors = 4;              // interrupt objects (MSI-X vectors 0..3)
constexpr unsigned kIoVector = kVectors - 1;  // the I/O completion queue's vector
constexpr std::uint32_t kQSize = 64;
enum : std::uint32_t {
    CAP = 0x00,
    VS = 0x08,
    CC = 0x14,
    CSTS = 0x1c,
    AQA = 0x24,
    ASQ = 0x28,
    ACQ = 0x30,
    DBS = 0x1000
};
enum : std::uint32_t {
    OFF_ASQ = 0x0000,
    OFF_ACQ = 0x1000,
    OFF_IOSQ = 0x2000,
    OFF_IOCQ = 0x3000,
    OFF_ID = 0x4000,
    OFF_DATA = 0x5000,
    DMA_SIZE = 0x10000
};
const char kSeed[] = "HIL-NVME-LBA0";  // at offset 0 of the backing file (DISKS)

struct queue {
    std::uint16_t qid = 0, sq_tail = 0, cq_head = 0;
    std::uint32_t phase = 1;
    std::uint32_t sq_off = 0, cq_off = 0;
};

struct completion {
    bool valid = false;
    std::uint16_t cid = 0;
    std::uint16_t status = 0;
};

struct vector_record {
    std::atomic<std::uint64_t> calls{0}, claimed{0};
    std::atomic<int> cpu{-1};
    char thread[16] = {};
};

/// What the callbacks and the test share.
struct nvme_ctx {
    wdfx::register_block bar;
    unsigned dstrd = 0;
    std::uint8_t* mem = nullptr;
    std::uint64_t iova = 0;
    queue aq, ioq;
    std::atomic<bool> io_ready{false};
    std::array<wdfx::interrupt, kVectors> irqs;
    std::array<vector_record, kVectors> rec;
    std::array<completion, kVectors> pending;  // ISR -> DPC, under the interrupt lock
    int notify_fd = -1;                        // the ISR writes 1 on every call (test only)
    std::mutex m;
    std::condition_variable cv;
    std::array<completion, kVectors> done;  // DPC -> waiter, under m
    std::atomic<unsigned> d0_entries{0}, d0_exits{0}, releases{0};
    std::uint16_t next_cid = 1;
};

void doorbell(nvme_ctx& c, unsigned idx, std::uint32_t v) {
    c.bar.write32(DBS + idx * (4u << c.dstrd), v);
}

bool wait_ready(nvme_ctx& c, unsigned want) {
    // The controller's documented protocol: poll CSTS.RDY within CAP.TO (500 ms units).
    std::uint64_t cap = c.bar.read64(CAP);
    std::uint64_t limit = ((cap >> 24) & 0xff) * 500000000ull + 1000000000ull;
    std::uint64_t t0 = now_ns();
    while ((c.bar.read32(CSTS) & 1) != want) {
        if (now_ns() - t0 > limit) return false;
        ::usleep(100);
    }
    return true;
}

/// The ISR's part: consume one new completion of q, if any.
bool reap(nvme_ctx& c, queue& q, completion& out) {
    auto* e = reinterpret_cast<volatile std::uint32_t*>(c.mem + q.cq_off + q.cq_head * 16u);
    std::uint32_t dw3 = e[3];
    if (((dw3 >> 16) & 1) != q.phase) return false;
    out.valid = true;
    out.cid = static_cast<std::uint16_t>(dw3 & 0xffff);
    out.status = static_cast<std::uint16_t>(dw3 >> 17);
    if (++q.cq_head == kQSize) {
        q.cq_head = 0;
        q.phase ^= 1;
    }
    doorbell(c, 2u * q.qid + 1, q.cq_head);
    return true;
}

class nvme_driver {
  public:
    explicit nvme_driver(std::shared_ptr<nvme_ctx> c) : c_(std::move(c)) {
        wdfx::driver_config cfg;
        cfg.name = "wdfx-hil-nvme";
        auto ctx = c_;
        cfg.on_device_add = [ctx, this](wdfx::driver, wdfx::device_init& init) -> wdfx::status {
            init.interrupt_preference = wdfx::interrupt_type::msix;
            init.message_limit = kVectors;
            init.pnp_power.on_prepare_hardware = [ctx](wdfx::device dev, const wdfx::resource_list&,
                                                       const wdfx::resource_list& tr) {
                for (const auto& r : tr)
                    if (r.type == wdfx::resource_type::memory && r.bar == 0) {
                        auto m = dev.map_registers(r);
                        if (!m) return m.code();
                        ctx->bar = *m;
                    }
                if (!ctx->bar.valid()) return wdfx::status::insufficient_resources;
                ctx->dstrd = static_cast<unsigned>((ctx->bar.read64(CAP) >> 32) & 0xf);
                return wdfx::status::success;
            };
            init.pnp_power.on_release_hardware = [ctx](wdfx::device, const wdfx::resource_list&) {
                ctx->bar = wdfx::register_block();
                ctx->releases.fetch_add(1);
                return wdfx::status::success;
            };
            init.pnp_power.on_d0_entry = [ctx](wdfx::device, wdfx::device_power_state) {
                // Controller reset and admin queue setup (the queues start empty, phase 1).
                ctx->d0_entries.fetch_add(1);
                ctx->io_ready = false;
                ctx->bar.write32(CC, 0);
                if (!wait_ready(*ctx, 0)) return wdfx::status::io_device_error;
                std::memset(ctx->mem, 0, DMA_SIZE);
                ctx->aq = queue{};
                ctx->aq.sq_off = OFF_ASQ;
                ctx->aq.cq_off = OFF_ACQ;
                ctx->bar.write32(AQA, ((kQSize - 1) << 16) | (kQSize - 1));
                ctx->bar.write64(ASQ, ctx->iova + OFF_ASQ);
                ctx->bar.write64(ACQ, ctx->iova + OFF_ACQ);
                wdfx::register_block::write_barrier();
                ctx->bar.write32(CC, (6u << 16) | (4u << 20) | 1u);  // IOSQES, IOCQES, 4 KiB, EN
                return wait_ready(*ctx, 1) ? wdfx::status::success : wdfx::status::io_device_error;
            };
            init.pnp_power.on_d0_exit = [ctx](wdfx::device, wdfx::device_power_state) {
                ctx->d0_exits.fetch_add(1);
                ctx->io_ready = false;
                ctx->bar.write32(CC, 0);
                return wait_ready(*ctx, 0) ? wdfx::status::success : wdfx::status::io_device_error;
            };
            auto dev = wdfx::device::create(init);
            if (!dev) return dev.code();
            dev_ = *dev;
            wdfx::dma_enabler_config dc;
            dc.address_bits = 64;
            auto en = wdfx::dma_enabler::create(*dev, dc);
            if (!en) return en.code();
            auto cb = wdfx::common_buffer::create(*en, DMA_SIZE);
            if (!cb) {
                std::fprintf(stderr, "nvme: common buffer: %s\n", cb.err().describe().c_str());
                return cb.code();
            }
            ctx->mem = static_cast<std::uint8_t*>(cb->virtual_address());
            ctx->iova = cb->logical_address();
            for (unsigned i = 0; i < kVectors; ++i) {
                wdfx::interrupt_config ic;
                ic.on_isr = [ctx, i](wdfx::interrupt irq, const wdfx::isr_context& ictx) {
                    (void)irq;
                    auto& r = ctx->rec[i];
                    ::prctl(PR_GET_NAME, r.thread);  // test bookkeeping: which thread, which CPU
                    r.cpu.store(::sched_getcpu(), std::memory_order_relaxed);
                    bool claimed = false;
                    if (ictx.message_id == i) {
                        queue* q = i == 0                                     ? &ctx->aq
                                   : (i == kIoVector && ctx->io_ready.load()) ? &ctx->ioq
                                                                              : nullptr;
                        completion got;
                        if (q != nullptr && reap(*ctx, *q, got)) {
                            ctx->pending[i] = got;  // under the interrupt lock
                            claimed = true;
                            irq.queue_dpc_for_isr();
                        }
                    }
                    if (claimed) r.claimed.fetch_add(1, std::memory_order_relaxed);
                    r.calls.fetch_add(1, std::memory_order_release);
                    std::uint64_t one = 1;
                    ssize_t w = ::write(ctx->notify_fd, &one, sizeof one);
                    (void)w;
                    return claimed;
                };
                ic.on_dpc = [ctx, i](wdfx::interrupt irq, wdfx::object) {
                    irq.acquire_lock();
                    completion got = ctx->pending[i];
                    ctx->pending[i] = completion{};
                    irq.release_lock();
                    if (!got.valid) return;
                    std::lock_guard g(ctx->m);
                    ctx->done[i] = got;
                    ctx->cv.notify_all();
                };
                auto irq = wdfx::interrupt::create(*dev, ic);
                if (!irq) {
                    std::fprintf(stderr, "nvme: WdfInterruptCreate: %s\n",
                                 irq.err().describe().c_str());
                    return irq.code();
                }
                ctx->irqs[i] = *irq;
            }
            return wdfx::status::success;
        };
        auto d = wdfx::driver::create(cfg);
        CHECK(d.ok(), "WdfDriverCreate: %s", d.err().describe().c_str());
        drv_ = *d;
    }
    ~nvme_driver() {
        if (dev_ && dev_.is_valid()) dev_.remove();
        drv_.unload();
    }
    void start(std::shared_ptr<wdfx::bus::device> bus) {
        auto d = drv_.add_and_start(std::move(bus));
        CHECK(d.ok(), "AddDevice + start: %s", d.err().describe().c_str());
    }
    void stop() {
        dev_.remove();
        dev_ = wdfx::device();
    }
    wdfx::device device() const { return dev_; }

  private:
    std::shared_ptr<nvme_ctx> c_;
    wdfx::driver drv_;
    wdfx::device dev_;
};

/// Submit one command on q and wait for its completion through the vector's ISR and DPC.
std::uint16_t submit(nvme_ctx& c, queue& q, unsigned vector, std::array<std::uint32_t, 16> cmd,
                     const char* what) {
    std::uint16_t cid = c.next_cid++;
    if (c.next_cid == 0) c.next_cid = 1;
    cmd[0] |= static_cast<std::uint32_t>(cid) << 16;
    {
        std::lock_guard g(c.m);
        c.done[vector] = completion{};
    }
    std::memcpy(c.mem + q.sq_off + q.sq_tail * 64u, cmd.data(), 64);
    q.sq_tail = static_cast<std::uint16_t>((q.sq_tail + 1) % kQSize);
    wdfx::register_block::write_barrier();  // the entry before the doorbell
    doorbell(c, 2u * q.qid, q.sq_tail);
    std::unique_lock lk(c.m);
    bool ok = c.cv.wait_for(lk, 5s, [&] { return c.done[vector].valid; });
    CHECK(ok, "%s: no completion through vector %u within 5 s", what, vector);
    CHECK(c.done[vector].cid == cid, "%s: completion for cid %u, expected %u", what,
          c.done[vector].cid, cid);
    CHECK(c.done[vector].status == 0, "%s: status 0x%x", what, c.done[vector].status);
    return c.done[vector].status;
}

std::array<std::uint64_t, kVectors> snapshot(nvme_ctx& c) {
    std::array<std::uint64_t, kVectors> s{};
    for (unsigned i = 0; i < kVectors; ++i)
        s[i] = c.rec[i].calls.load(std::memory_order_acquire);
    return s;
}

/// Only `vector` had ISR calls since `before` (exactly `n` of them, or at least one if n == 0).
void expect_only(nvme_ctx& c, const std::array<std::uint64_t, kVectors>& before, unsigned vector,
                 std::uint64_t n, const char* what) {
    auto after = snapshot(c);
    for (unsigned i = 0; i < kVectors; ++i) {
        std::uint64_t d = after[i] - before[i];
        if (i == vector)
            CHECK(n == 0 ? d >= 1 : d == n, "%s: vector %u's ISR ran %llu times, expected %llu",
                  what, i, (unsigned long long)d, (unsigned long long)n);
        else
            CHECK(d == 0, "%s: vector %u's ISR ran %llu times (only vector %u should)", what, i,
                  (unsigned long long)d, vector);
    }
}

void identify(nvme_ctx& c) {
    std::array<std::uint32_t, 16> cmd{};
    cmd[0] = 0x06;
    cmd[6] = static_cast<std::uint32_t>(c.iova + OFF_ID);
    cmd[7] = static_cast<std::uint32_t>((c.iova + OFF_ID) >> 32);
    cmd[10] = 1;  // CNS 1: the controller
    auto before = snapshot(c);
    submit(c, c.aq, 0, cmd, "Identify Controller");
    expect_only(c, before, 0, 1, "Identify Controller");
    char mn[41] = {};
    std::memcpy(mn, c.mem + OFF_ID + 24, 40);
    say("Identify Controller (admin queue, vector 0): MN '%.20s'", mn);
    CHECK(std::strncmp(mn, "QEMU NVMe Ctrl", 14) == 0, "not QEMU's NVMe controller");
}

void create_io_queues(nvme_ctx& c) {
    std::memset(c.mem + OFF_IOSQ, 0, 0x2000);  // old completions must not look new
    c.ioq = queue{};
    c.ioq.qid = 1;
    c.ioq.sq_off = OFF_IOSQ;
    c.ioq.cq_off = OFF_IOCQ;
    std::array<std::uint32_t, 16> cmd{};
    cmd[0] = 0x05;  // Create I/O Completion Queue 1 on kIoVector
    cmd[6] = static_cast<std::uint32_t>(c.iova + OFF_IOCQ);
    cmd[7] = static_cast<std::uint32_t>((c.iova + OFF_IOCQ) >> 32);
    cmd[10] = ((kQSize - 1) << 16) | 1;
    cmd[11] = (kIoVector << 16) | 2u | 1u;  // IV, IEN, PC
    submit(c, c.aq, 0, cmd, "Create I/O CQ");
    cmd = {};
    cmd[0] = 0x01;  // Create I/O Submission Queue 1 -> CQ 1
    cmd[6] = static_cast<std::uint32_t>(c.iova + OFF_IOSQ);
    cmd[7] = static_cast<std::uint32_t>((c.iova + OFF_IOSQ) >> 32);
    cmd[10] = ((kQSize - 1) << 16) | 1;
    cmd[11] = (1u << 16) | 1u;
    submit(c, c.aq, 0, cmd, "Create I/O SQ");
    c.io_ready = true;
    say("I/O queue pair 1 created, completions on MSI-X vector %u", kIoVector);
}

void read_lba0(nvme_ctx& c, unsigned count, stats* st) {
    for (unsigned k = 0; k < count; ++k) {
        std::memset(c.mem + OFF_DATA, 0, 512);
        std::array<std::uint32_t, 16> cmd{};
        cmd[0] = 0x02;
        cmd[1] = 1;
        cmd[6] = static_cast<std::uint32_t>(c.iova + OFF_DATA);
        cmd[7] = static_cast<std::uint32_t>((c.iova + OFF_DATA) >> 32);
        auto before = snapshot(c);
        std::uint64_t t0 = now_ns();
        submit(c, c.ioq, kIoVector, cmd, "Read LBA 0");
        if (st != nullptr) st->add(now_ns() - t0);
        expect_only(c, before, kIoVector, 1, "Read LBA 0");
        CHECK(std::memcmp(c.mem + OFF_DATA, kSeed, sizeof kSeed - 1) == 0,
              "LBA 0 does not hold the host's seed '%s'", kSeed);
    }
}

/// Software triggers on every vector: each reaches its own ISR, on its own thread and CPU.
void trigger_each(nvme_ctx& c, wdfx::device dev, unsigned rounds) {
    auto bus = dev.bus_device();
    for (unsigned r = 0; r < rounds; ++r)
        for (unsigned v = 0; v < kVectors; ++v) {
            auto b = c.irqs[v].get_binding();
            std::uint64_t stale;
            while (::read(c.notify_fd, &stale, sizeof stale) == sizeof stale) {
            }  // calls before this trigger (commands' completions)
            auto before = snapshot(c);
            auto t = bus->trigger(wdfx::bus::irq_kind::msix, b.bus_vector);
            CHECK(t.ok(), "trigger MSI-X vector %u: %s", b.bus_vector, t.err().describe().c_str());
            pollfd p{c.notify_fd, POLLIN, 0};
            CHECK(::poll(&p, 1, 5000) == 1, "the trigger of vector %u reached no ISR", v);
            std::uint64_t cnt;
            CHECK(::read(c.notify_fd, &cnt, sizeof cnt) == sizeof cnt, "read notify eventfd");
            CHECK(cnt == 1, "%llu ISR calls for one trigger", (unsigned long long)cnt);
            expect_only(c, before, v, 1, "software trigger");
            std::string name = c.rec[v].thread;
            std::string want = "wdfx-isr/";
            CHECK(name.rfind(want, 0) == 0 && name.size() > 2 &&
                      name.substr(name.rfind('.') + 1) == std::to_string(v),
                  "vector %u's ISR ran on thread '%s'", v, name.c_str());
            if (b.cpu >= 0)
                CHECK(c.rec[v].cpu.load() == b.cpu, "vector %u's ISR ran on CPU %d, bound to %d", v,
                      c.rec[v].cpu.load(), b.cpu);
        }
    say("software triggers: %u rounds over %u vectors, each reached only its own ISR", rounds,
        kVectors);
}

/// /proc/interrupts: the host IRQ of "vfio-msix[v](bdf)".
std::map<unsigned, unsigned> host_irqs(const std::string& bdf) {
    std::map<unsigned, unsigned> m;
    std::ifstream in("/proc/interrupts");
    std::string line;
    std::string tag = "(" + bdf + ")";
    while (std::getline(in, line)) {
        std::size_t at = line.find("vfio-msix[");
        if (at == std::string::npos || line.find(tag) == std::string::npos) continue;
        unsigned irq = static_cast<unsigned>(std::strtoul(line.c_str(), nullptr, 10));
        unsigned v = static_cast<unsigned>(std::strtoul(line.c_str() + at + 10, nullptr, 10));
        m[v] = irq;
    }
    return m;
}

std::string affinity_of(unsigned irq) {
    return read_file("/proc/irq/" + std::to_string(irq) + "/smp_affinity_list");
}

void check_steering(nvme_ctx& c, const std::string& bdf, const char* who) {
    auto irqs = host_irqs(bdf);
    CHECK(irqs.size() == kVectors,
          "/proc/interrupts lists %zu vfio-msix vectors of %s, expected %u", irqs.size(),
          bdf.c_str(), kVectors);
    for (unsigned v = 0; v < kVectors; ++v) {
        auto b = c.irqs[v].get_binding();
        CHECK(irqs.count(b.bus_vector) == 1, "no host IRQ for MSI-X vector %u", b.bus_vector);
        std::string aff = affinity_of(irqs[b.bus_vector]);
        say("  vector %u: host IRQ %u -> CPU(s) %s, ISR thread on CPU %d", v, irqs[b.bus_vector],
            aff.c_str(), b.cpu);
        if (b.cpu >= 0)
            CHECK(aff == std::to_string(b.cpu), "%s: host IRQ %u of vector %u goes to %s, not %d",
                  who, irqs[b.bus_vector], v, aff.c_str(), b.cpu);
    }
}

void check_bindings(nvme_ctx& c, bool record = true) {
    auto ts = threads();
    std::map<int, unsigned> per_cpu;
    for (unsigned v = 0; v < kVectors; ++v) {
        auto b = c.irqs[v].get_binding();
        auto info = c.irqs[v].get_info();
        CHECK(b.kind == wdfx::bus::irq_kind::msix && b.bus_vector == v && b.connected,
              "interrupt %u: %s vector %u, %s", v, wdfx::bus::irq_kind_name(b.kind), b.bus_vector,
              b.connected ? "connected" : "not connected");
        CHECK(info.message_signaled && info.message_number == v,
              "interrupt %u: WdfInterruptGetInfo MessageNumber %u", v, info.message_number);
        std::string suffix = "." + std::to_string(v);
        const thread_info* t = nullptr;
        for (const auto& x : ts)
            if (x.name.rfind("wdfx-isr/", 0) == 0 && x.name.size() > suffix.size() &&
                x.name.compare(x.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
                CHECK(t == nullptr, "two ISR threads for interrupt %u", v);
                t = &x;
            }
        CHECK(t != nullptr, "no ISR thread for interrupt %u in /proc/self/task", v);
        say("  interrupt %u: MSI-X vector %u, eventfd %d, thread %s (tid %d), CPU %d, SCHED_FIFO "
            "%d",
            v, b.bus_vector, b.eventfd, t->name.c_str(), t->tid, b.cpu, b.sched_priority);
        if (b.cpu >= 0) {
            CHECK(t->allowed_cpus.size() == 1 && t->allowed_cpus[0] == b.cpu,
                  "the ISR thread of interrupt %u is not pinned to CPU %d", v, b.cpu);
            ++per_cpu[b.cpu];
        }
        if (record) figure("isr_cpus", ("vector" + std::to_string(v)).c_str(), b.cpu);
    }
    unsigned isr_threads = 0;
    for (const auto& x : ts)
        if (x.name.rfind("wdfx-isr/", 0) == 0) ++isr_threads;
    CHECK(isr_threads == kVectors, "%u ISR threads for %u interrupt objects", isr_threads,
          kVectors);
    if (::sysconf(_SC_NPROCESSORS_ONLN) > 1)
        CHECK(per_cpu.size() > 1,
              "every ISR thread is on the same CPU (the default policy spreads "
              "the vectors)");
}

/// The rows of `wdfxctl stat` for this process's device: vector -> (cpu, wakeups, kind).
struct stat_row {
    unsigned msg = 0, vec = 0;
    std::string kind;
    int cpu = -1;
    unsigned long long wakeups = 0, signals = 0, claimed = 0, unclaimed = 0, dpcs = 0;
};

std::vector<stat_row> parse_stat(const std::string& out, const std::string& bdf, pid_t pid) {
    std::vector<stat_row> rows;
    std::istringstream in(out);
    std::string line;
    bool mine = false;
    std::string head = bdf + " (pid " + std::to_string(pid) + ", driver wdfx-hil-nvme)";
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] != ' ') {
            mine = line.rfind(head, 0) == 0;
            continue;
        }
        if (!mine || line.find("MSG") != std::string::npos) continue;
        stat_row r;
        char kind[16] = {};
        int prio = 0;
        if (std::sscanf(line.c_str(), " %u %15s %u %d %d %llu %llu %llu %llu %llu", &r.msg, kind,
                        &r.vec, &r.cpu, &prio, &r.wakeups, &r.signals, &r.claimed, &r.unclaimed,
                        &r.dpcs) == 10) {
            r.kind = kind;
            rows.push_back(r);
        }
    }
    return rows;
}

}  // namespace

int nvme_case(const std::string& bdf, const std::string& mode) {
    hil_deadline(110, "the NVMe framework case (a completion or an interrupt was lost)");
    auto ctx = std::make_shared<nvme_ctx>();
    ctx->notify_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(ctx->notify_fd >= 0, "eventfd");
    nvme_driver drv(ctx);
    auto bus = wdfx::vfio::open(bdf);
    CHECK(bus.ok(), "vfio::open %s: %s", bdf.c_str(), bus.err().describe().c_str());
    say("%s: MSI-X %u vectors reported; the driver asks for %u (message_limit)", bdf.c_str(),
        (*bus)->irq(wdfx::bus::irq_kind::msix).count, kVectors);
    drv.start(std::move(*bus));
    auto dev = drv.device();
    say("started: %u interrupt objects", kVectors);
    check_bindings(*ctx);
    check_steering(*ctx, bdf, "the framework (set_irq_affinity at connect)");
    identify(*ctx);
    create_io_queues(*ctx);

    if (mode == "msix") {
        stats rd("fw_nvme_read",
                 "512 B Read LBA 0: SQ doorbell -> ISR (vector 3) -> DPC -> waiter wakes", 200);
        rd.begin();
        read_lba0(*ctx, 200, &rd);
        rd.end();
        rd.report();
        trigger_each(*ctx, dev, 3);
    } else if (mode == "reset") {
        read_lba0(*ctx, 5, nullptr);
        trigger_each(*ctx, dev, 1);
        CHECK(dev.bus_device()->can_reset(), "the NVMe controller reports no reset method");
        say("reset_method: '%s'",
            read_file("/sys/bus/pci/devices/" + bdf + "/reset_method").c_str());
        std::uint64_t t0 = now_ns();
        wdfx::status st = dev.reset();
        double ms = static_cast<double>(now_ns() - t0) / 1e6;
        say("device::reset() (D0 exit, VFIO_DEVICE_RESET, D0 entry): %s in %.1f ms",
            wdfx::status_name(st), ms);
        CHECK(wdfx::nt_success(st), "device::reset: %s", wdfx::status_name(st));
        CHECK(ctx->d0_exits == 1 && ctx->d0_entries == 2,
              "reset: D0 exits %u, D0 entries %u (expected 1 and 2)", ctx->d0_exits.load(),
              ctx->d0_entries.load());
        CHECK(dev.state() == wdfx::device_state::started, "the device is %s after reset",
              wdfx::device_state_name(dev.state()));
        figure("reset", "reset_ms", ms);
        check_bindings(*ctx, false);
        // The controller lost its I/O queues: the driver sets them up again and keeps working.
        identify(*ctx);
        create_io_queues(*ctx);
        read_lba0(*ctx, 5, nullptr);
        trigger_each(*ctx, dev, 1);
        say("the driver works after the reset");
    } else if (mode == "tools") {
        trigger_each(*ctx, dev, 2);
        read_lba0(*ctx, 3, nullptr);
        // wdfxctl stat while the driver runs.
        std::string out;
        CHECK(run("wdfxctl stat", &out) == 0, "wdfxctl stat failed");
        auto rows = parse_stat(out, bdf, ::getpid());
        CHECK(rows.size() == kVectors,
              "wdfxctl stat shows %zu interrupts of this driver, expected %u", rows.size(),
              kVectors);
        for (const auto& r : rows) {
            CHECK(r.msg < kVectors, "stat row for message %u", r.msg);
            auto b = ctx->irqs[r.msg].get_binding();
            std::uint64_t seen = ctx->rec[r.msg].calls.load();
            CHECK(r.kind == "MSI-X" && r.vec == b.bus_vector && r.cpu == b.cpu,
                  "stat row %u: %s vector %u CPU %d; the binding is msix vector %u CPU %d", r.msg,
                  r.kind.c_str(), r.vec, r.cpu, b.bus_vector, b.cpu);
            // The ISR counts its call before the framework does (after it returns): at most one
            // call in flight per vector, and none is in flight here.
            CHECK(
                r.wakeups == seen && r.signals >= r.wakeups && r.claimed + r.unclaimed == r.wakeups,
                "stat row %u: wakeups %llu signals %llu claimed %llu unclaimed %llu; the ISR ran "
                "%llu times",
                r.msg, r.wakeups, r.signals, r.claimed, r.unclaimed, (unsigned long long)seen);
            CHECK(r.claimed == ctx->rec[r.msg].claimed.load() && r.dpcs == r.claimed,
                  "stat row %u: claimed %llu, DPCs %llu", r.msg, r.claimed, r.dpcs);
        }
        // wdfxctl affinity: scramble the host IRQs, then steer them back to the ISR threads.
        long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
        auto irqs = host_irqs(bdf);
        for (auto [v, irq] : irqs) {
            int cpu = ctx->irqs[v].get_binding().cpu;
            std::string other = std::to_string(ncpu > 1 ? (cpu + 1) % ncpu : 0);
            hil_sysfs_write(("/proc/irq/" + std::to_string(irq) + "/smp_affinity_list").c_str(),
                            other.c_str());
        }
        say("host IRQs moved away from the ISR CPUs:");
        for (auto [v, irq] : irqs)
            say("  vector %u: IRQ %u -> %s", v, irq, affinity_of(irq).c_str());
        CHECK(run("wdfxctl affinity " + bdf, &out) == 0, "wdfxctl affinity failed");
        check_steering(*ctx, bdf, "wdfxctl affinity");
        trigger_each(*ctx, dev, 1);
        // wdfxctl info while the group is held: the IRQ counts come from VFIO only when the
        // group is free; here it says who holds it.
        CHECK(run("wdfxctl info " + bdf, &out) == 0, "wdfxctl info failed");
        CHECK(contains(out, "MSI-X") && contains(out, "pid " + std::to_string(::getpid())),
              "wdfxctl info: no MSI-X capability or no holder pid");
    } else {
        CHECK(false, "unknown mode '%s'", mode.c_str());
    }

    drv.stop();
    CHECK(ctx->releases == 1, "ReleaseHardware ran %u times", ctx->releases.load());
    auto left = host_irqs(bdf);
    CHECK(left.empty(), "%zu vfio-msix vectors of %s remain after the device stopped", left.size(),
          bdf.c_str());
    figure("device", "bdf", bdf);
    figure("device", "vectors", kVectors);
    hil_figures_write();
    say("NVME FRAMEWORK %s PASS", mode.c_str());
    return 0;
}

}  // namespace hil
