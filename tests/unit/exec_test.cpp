// The execution contexts of design.md: WDF's IRQLs mapped onto named threads, the DPC on the
// ISR's CPU, the context check of every API (the verifier, wdf-semantics §17), the passive pool,
// and the ISR threads' wait strategies. Unit tests run with WDFX_REALTIME=0 (main.cpp), so the
// threads are pinned but not SCHED_FIFO.
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exec/health.hpp"
#include "os/sync.hpp"
#include "test_support.hpp"

extern char** environ;

using namespace wdfx;
using wdfx_test::counter;
using wdfx_test::gate;
using wdfx_test::sim_harness;
using wdfx_test::verifier_reports;

namespace {

constexpr auto kGuard = std::chrono::seconds(30);

std::vector<std::string> thread_names() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream f(e.path() / "comm");
        std::string n;
        std::getline(f, n);
        names.push_back(n);
    }
    return names;
}

bool has_thread(const std::string& name) {
    for (const auto& n : thread_names())
        if (n == name) return true;
    return false;
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) cpus.push_back(i);
    return cpus;
}

/// Redirects this process's stderr (where the verifier logs) into a file for a scope.
class stderr_capture {
  public:
    stderr_capture() {
        char tmpl[] = "/tmp/wdfx-exec-XXXXXX";
        fd_ = mkstemp(tmpl);
        REQUIRE(fd_ >= 0);
        path_ = tmpl;
        std::fflush(stderr);
        saved_ = dup(STDERR_FILENO);
        REQUIRE(dup2(fd_, STDERR_FILENO) == STDERR_FILENO);
    }
    ~stderr_capture() {
        (void)finish();
        close(fd_);
        unlink(path_.c_str());
    }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;
    /// Restore stderr and return what was written meanwhile.
    std::string finish() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            dup2(saved_, STDERR_FILENO);
            close(saved_);
            saved_ = -1;
        }
        std::ifstream f(path_);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }

  private:
    int fd_ = -1;
    int saved_ = -1;
    std::string path_;
};

/// The line of `text` that contains `needle`, or "".
std::string line_with(const std::string& text, const std::string& needle) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.find(needle) != std::string::npos) return line;
    return {};
}

std::string hex_handle(object o) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(o.handle()));
    return buf;
}

/// What a callback saw of its thread.
struct seen_context {
    std::mutex m;
    std::string role;
    level lvl = level::passive;
    int cpu = -1;
    void record() {
        std::lock_guard g(m);
        role = current_thread_role();
        lvl = current_level();
        cpu = sched_getcpu();
    }
};

}  // namespace

TEST_CASE(
    "exec design.md: framework threads are named wdfx-isr/D.M, wdfx-dpc/N and wdfx-pool/N "
    "and know their level") {
    counter isrs, dpcs, work_items;
    seen_context isr_seen, dpc_seen, wi_seen;
    std::vector<interrupt> irqs;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config dpc_cfg;
        dpc_cfg.on_isr = [&](interrupt i, const isr_context&) {
            isr_seen.record();
            (void)i.queue_dpc_for_isr();
            isrs.add();
            return true;
        };
        dpc_cfg.on_dpc = [&](interrupt, object) {
            dpc_seen.record();
            dpcs.add();
        };
        interrupt_config wi_cfg;
        wi_cfg.on_isr = [&](interrupt i, const isr_context&) {
            (void)i.queue_work_item_for_isr();
            return true;
        };
        wi_cfg.on_work_item = [&](interrupt, object) {
            wi_seen.record();
            work_items.add();
        };
        for (const auto* c : {&dpc_cfg, &wi_cfg}) {
            auto r = interrupt::create(d, *c);
            if (!r) return r.code();
            irqs.push_back(*r);
        }
        return status::success;
    });
    REQUIRE(nt_success(h.start()));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 1).ok());
    REQUIRE(dpcs.wait_for_at_least(1, kGuard));
    REQUIRE(work_items.wait_for_at_least(1, kGuard));

    std::lock_guard g1(isr_seen.m), g2(dpc_seen.m), g3(wi_seen.m);
    // ISR: DIRQL on its vector's thread, named after the device index and message number.
    CHECK(isr_seen.role.rfind("wdfx-isr/", 0) == 0);
    CHECK(isr_seen.role.find(".0") != std::string::npos);
    CHECK(isr_seen.lvl == level::dirql);
    CHECK(has_thread(isr_seen.role));
    // DPC: DISPATCH on the DPC thread of the CPU the ISR ran on.
    CHECK(dpc_seen.role == "wdfx-dpc/" + std::to_string(dpc_seen.cpu));
    CHECK(dpc_seen.lvl == level::dispatch);
    CHECK(has_thread(dpc_seen.role));
    // Work item (queued from the ISR through the DPC, §9.2): PASSIVE on the pool.
    CHECK(wi_seen.role.rfind("wdfx-pool/", 0) == 0);
    CHECK(wi_seen.lvl == level::passive);
    CHECK(has_thread(wi_seen.role));
    // The application's own thread.
    CHECK(std::string(current_thread_role()) == "application");
    CHECK(current_level() == level::passive);

    // One DPC thread per allowed CPU, a pool of at least two, one ISR thread per connected vector.
    unsigned isr_threads = 0, pool = 0;
    std::vector<std::string> dpc_names;
    for (const auto& n : thread_names()) {
        if (n.rfind("wdfx-isr/", 0) == 0) ++isr_threads;
        if (n.rfind("wdfx-pool/", 0) == 0) ++pool;
        if (n.rfind("wdfx-dpc/", 0) == 0) dpc_names.push_back(n);
    }
    CHECK(isr_threads == 2);
    CHECK(pool >= 2);
    for (int cpu : allowed_cpus())
        CHECK(std::find(dpc_names.begin(), dpc_names.end(), "wdfx-dpc/" + std::to_string(cpu)) !=
              dpc_names.end());
    h.remove();
    unsigned left = 0;
    for (const auto& n : thread_names())
        if (n.rfind("wdfx-isr/", 0) == 0) ++left;
    CHECK(left == 0);  // the ISR threads go with the interrupts' resources
}

TEST_CASE(
    "exec design.md §9.1: the DPC runs on the CPU of the ISR thread (SetPolicy "
    "SpecifiedProcessors)") {
    std::vector<int> cpus = allowed_cpus();
    REQUIRE_FALSE(cpus.empty());
    if (cpus.size() > 4) cpus.resize(4);  // the default sim device has 4 MSI-X vectors
    struct per_irq {
        std::atomic<int> isr_cpu{-1};
        std::atomic<int> dpc_cpu{-1};
        std::atomic<int> mismatches{0};
        counter dpcs;
        std::mutex m;
        std::string dpc_role;
    };
    std::array<per_irq, 4> seen;
    std::vector<interrupt> irqs;
    sim_harness h({}, {}, [&](device d) -> status {
        for (std::size_t i = 0; i < cpus.size(); ++i) {
            interrupt_config c;
            per_irq* p = &seen[i];
            c.on_isr = [p](interrupt irq, const isr_context&) {
                p->isr_cpu = sched_getcpu();
                (void)irq.queue_dpc_for_isr();
                return true;
            };
            c.on_dpc = [p](interrupt, object) {
                int cpu = sched_getcpu();
                if (cpu != p->isr_cpu.load()) p->mismatches.fetch_add(1);
                p->dpc_cpu = cpu;
                {
                    std::lock_guard g(p->m);
                    p->dpc_role = current_thread_role();
                }
                p->dpcs.add();
            };
            auto r = interrupt::create(d, c);
            if (!r) return r.code();
            r->set_policy(interrupt_policy::specified_processors, interrupt_priority::normal,
                          1ull << cpus[i]);
            irqs.push_back(*r);
        }
        return status::success;
    });
    REQUIRE(nt_success(h.start()));
    for (int round = 1; round <= 3; ++round) {
        for (std::size_t i = 0; i < cpus.size(); ++i) {
            REQUIRE(h.sim->trigger(bus::irq_kind::msix, static_cast<std::uint32_t>(i)).ok());
            REQUIRE(seen[i].dpcs.wait_for_at_least(static_cast<std::uint64_t>(round), kGuard));
        }
    }
    for (std::size_t i = 0; i < cpus.size(); ++i) {
        CAPTURE(cpus[i]);
        CHECK(irqs[i].get_binding().cpu == cpus[i]);
        CHECK(irqs[i].get_info().target_processor_set == (1ull << cpus[i]));
        CHECK(seen[i].isr_cpu.load() == cpus[i]);
        CHECK(seen[i].dpc_cpu.load() == cpus[i]);
        CHECK(seen[i].mismatches.load() == 0);
        std::lock_guard g(seen[i].m);
        CHECK(seen[i].dpc_role == "wdfx-dpc/" + std::to_string(cpus[i]));
    }
}

TEST_CASE(
    "exec §17 design.md: every API checks the calling context - flush from a DPC, a wait "
    "lock from an ISR and device removal from a DPC are verifier reports naming the API, "
    "the object and the rule") {
    counter isrs, dpcs;
    work_item w;
    wait_lock wl;
    std::atomic<int> acquire_status{0};
    std::vector<interrupt> irqs;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config dpc_cfg;
        dpc_cfg.on_isr = [&](interrupt i, const isr_context&) {
            (void)i.queue_dpc_for_isr();
            return true;
        };
        dpc_cfg.on_dpc = [&](interrupt, object dev) {
            w.flush();                      // PASSIVE only
            device(dev.handle()).remove();  // PASSIVE only
            dpcs.add();
        };
        interrupt_config isr_cfg;
        isr_cfg.on_isr = [&](interrupt, const isr_context&) {
            acquire_status = static_cast<int>(wl.acquire());  // PASSIVE only
            isrs.add();
            return true;
        };
        for (const auto* c : {&dpc_cfg, &isr_cfg}) {
            auto r = interrupt::create(d, *c);
            if (!r) return r.code();
            irqs.push_back(*r);
        }
        return status::success;
    });
    REQUIRE(nt_success(h.add()));
    work_item_config wc;
    wc.on_work_item = [](work_item) {};
    object_attributes wa;
    wa.parent = h.dev.handle();
    auto wr = work_item::create(wc, wa);
    REQUIRE(wr.ok());
    w = *wr;
    auto wlr = wait_lock::create();
    REQUIRE(wlr.ok());
    wl = *wlr;
    REQUIRE(nt_success(h.start()));

    std::string text;
    {
        verifier_reports v;
        stderr_capture cap;
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, 1).ok());
        REQUIRE(dpcs.wait_for_at_least(1, kGuard));
        REQUIRE(isrs.wait_for_at_least(1, kGuard));
        text = cap.finish();
        CHECK(v.count() == 3);
    }
    INFO("verifier output:\n" << text);
    // "verifier: API(TYPE handle): rule: details [thread NAME at LEVEL]"
    std::string flush = line_with(text, "verifier: WdfWorkItemFlush(WDFWORKITEM " + hex_handle(w));
    CHECK(flush.find("wrong execution level") != std::string::npos);
    CHECK(flush.find("PASSIVE_LEVEL") != std::string::npos);
    CHECK(flush.find("[thread wdfx-dpc/") != std::string::npos);
    CHECK(flush.find("DISPATCH_LEVEL]") != std::string::npos);
    std::string acquire =
        line_with(text, "verifier: WdfWaitLockAcquire(WDFWAITLOCK " + hex_handle(wl));
    CHECK(acquire.find("wrong execution level") != std::string::npos);
    CHECK(acquire.find("[thread wdfx-isr/") != std::string::npos);
    CHECK(acquire.find("at DIRQL]") != std::string::npos);
    std::string remove =
        line_with(text, "verifier: wdfx::device::remove(WDFDEVICE " + hex_handle(h.dev));
    CHECK(remove.find("wrong execution level") != std::string::npos);
    CHECK(remove.find("[thread wdfx-dpc/") != std::string::npos);
    // Report mode: each call returned without acting.
    CHECK(acquire_status.load() != static_cast<int>(status::success));
    CHECK(h.dev.state() == device_state::started);
    CHECK(w.is_valid());
    CHECK(wl.acquire() == status::success);  // the ISR did not take it
    wl.release();
}

TEST_CASE("exec §17: a context violation aborts by default with the API in the report") {
    work_item w;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.on_isr = [](interrupt i, const isr_context&) {
            (void)i.queue_dpc_for_isr();
            return true;
        };
        c.on_dpc = [&](interrupt, object) { w.flush(); };
        auto r = interrupt::create(d, c);
        return r ? status::success : r.code();
    });
    REQUIRE(nt_success(h.add()));
    work_item_config wc;
    wc.on_work_item = [](work_item) {};
    object_attributes wa;
    wa.parent = h.dev.handle();
    auto wr = work_item::create(wc, wa);
    REQUIRE(wr.ok());
    w = *wr;
    REQUIRE(nt_success(h.start()));
    wdfx_test::expect_verifier_abort("flush-from-dpc", "WdfWorkItemFlush(WDFWORKITEM", [&] {
        (void)h.sim->trigger(bus::irq_kind::msix, 0);
        counter never;
        (void)never.wait_for_at_least(1, kGuard);  // the DPC thread aborts the process first
    });
}

TEST_CASE(
    "exec §17: WDFX_VERIFIER=report in the environment makes misuse return instead of "
    "aborting") {
    if (std::getenv("WDFX_EXEC_REPORT_CHILD") != nullptr) {
        // The child: the mode comes from the environment alone.
        REQUIRE(get_verifier_mode() == verifier_mode::report_only);
        sim_harness h({});
        REQUIRE(nt_success(h.add()));
        std::uint64_t before = verifier_report_count();
        auto o = create_object(object_attributes{});
        REQUIRE(o.ok());
        CHECK(o->delete_object() == status::success);
        CHECK(o->delete_object() == status::invalid_handle);  // stale: reported, returns
        auto l = wait_lock::create();
        REQUIRE(l.ok());
        CHECK(l->acquire() == status::success);
        CHECK(l->acquire() != status::success);  // recursive: reported, returns
        l->release();
        CHECK(verifier_report_count() - before == 2);
        std::printf("report-mode child done\n");
        std::fflush(stdout);
        return;
    }
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    REQUIRE(n > 0);
    path[n] = '\0';
    char tmpl[] = "/tmp/wdfx-exec-child-XXXXXX";
    int out = mkstemp(tmpl);
    REQUIRE(out >= 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out, STDERR_FILENO);
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "WDFX_VERIFIER=", 14) != 0 && std::strncmp(*e, "WDFX_DEATH=", 11) != 0)
            envs.emplace_back(*e);
    envs.emplace_back("WDFX_VERIFIER=report");
    envs.emplace_back("WDFX_EXEC_REPORT_CHILD=1");
    std::vector<char*> envp;
    for (auto& s : envs)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string filter = "--test-case=";
    for (const char* c = doctest::getContextOptions()->currentTest->m_name; *c != '\0'; ++c) {
        if (*c == ',' || *c == '\\') filter += '\\';  // doctest filters split on commas
        filter += *c;
    }
    std::string arg0 = path, arg2 = "--no-breaks";
    char* argv[] = {arg0.data(), filter.data(), arg2.data(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    int st = 0;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    close(out);
    std::ifstream f(tmpl);
    std::stringstream ss;
    ss << f.rdbuf();
    unlink(tmpl);
    std::string text = ss.str();
    INFO("child output:\n" << text);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(text.find("report-mode child done") != std::string::npos);
    CHECK(text.find("verifier: WdfObjectDelete(") != std::string::npos);
    CHECK(text.find("verifier: WdfWaitLockAcquire(WDFWAITLOCK") != std::string::npos);
    CHECK(text.find("aborting") == std::string::npos);
}

TEST_CASE(
    "exec design.md: the passive pool - any idle worker takes the next item, so two "
    "blocked items run concurrently on two workers") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    gate a_started, b_started;
    counter done;
    std::atomic<bool> a_saw_b{false}, b_saw_a{false};
    std::mutex m;
    std::vector<std::string> roles;
    auto make = [&](gate& mine, gate& other, std::atomic<bool>& saw) {
        work_item_config c;
        c.on_work_item = [&](work_item) {
            {
                std::lock_guard g(m);
                roles.emplace_back(current_thread_role());
            }
            mine.open();
            saw = other.wait(kGuard);  // blocks this worker until the other item runs
            done.add();
        };
        c.automatic_serialization = false;
        object_attributes a;
        a.parent = h.dev.handle();
        auto w = work_item::create(c, a);
        REQUIRE(w.ok());
        return *w;
    };
    work_item a = make(a_started, b_started, a_saw_b);
    work_item b = make(b_started, a_started, b_saw_a);
    a.enqueue();
    b.enqueue();
    REQUIRE(done.wait_for_at_least(2, kGuard));
    a.flush();
    b.flush();
    CHECK(a_saw_b.load());
    CHECK(b_saw_a.load());
    std::lock_guard g(m);
    REQUIRE(roles.size() == 2);
    CHECK(roles[0] != roles[1]);
    CHECK(roles[0].rfind("wdfx-pool/", 0) == 0);
    CHECK(roles[1].rfind("wdfx-pool/", 0) == 0);
}

TEST_CASE(
    "exec design.md §19.2: every ISR wait strategy delivers every signal - coalesced "
    "counts sum to the raises") {
    wait_strategy strategy = wait_strategy::block;
    SUBCASE("block") {
        strategy = wait_strategy::block;
    }
    SUBCASE("spin_then_block") {
        strategy = wait_strategy::spin_then_block;
    }
    SUBCASE("busy_poll") {
        strategy = wait_strategy::busy_poll;
    }
    CAPTURE(static_cast<int>(strategy));
    constexpr std::uint64_t kRaises = 2000;
    counter signals, wakeups;
    std::atomic<int> wrong_level{0};
    interrupt irq;
    sim_harness h({}, {}, [&](device d) -> status {
        interrupt_config c;
        c.strategy = strategy;
        c.spin_ns = 50000;
        c.on_isr = [&](interrupt, const isr_context& ctx) {
            if (current_level() != level::dirql) wrong_level.fetch_add(1);
            wakeups.add();
            signals.add(ctx.signals);
            return true;
        };
        auto r = interrupt::create(d, c);
        if (!r) return r.code();
        irq = *r;
        return status::success;
    });
    REQUIRE(nt_success(h.start()));
    for (std::uint64_t i = 0; i < kRaises; ++i)
        h.sim->raise(bus::irq_kind::msix, 0);
    REQUIRE(signals.wait_for_at_least(kRaises, kGuard));
    CHECK(signals.get() == kRaises);
    CHECK(wakeups.get() >= 1);
    CHECK(wakeups.get() <= kRaises);
    CHECK(wrong_level.load() == 0);
    // The ISR thread adds to its statistics after the ISR returns: poll until they caught up.
    interrupt_stats st = irq.get_stats();
    for (auto guard = std::chrono::steady_clock::now() + kGuard;
         st.signals < kRaises && std::chrono::steady_clock::now() < guard; st = irq.get_stats())
        std::this_thread::yield();
    CHECK(st.signals == kRaises);
    CHECK(st.wakeups == wakeups.get());
    CHECK(st.claimed == st.wakeups);
    CHECK(h.sim->get_counters().delivered == kRaises);
    if (strategy == wait_strategy::busy_poll) {
        // One polling thread per (CPU, priority) serves the vector instead of its own thread.
        bool poller = false;
        for (const auto& n : thread_names())
            if (n.rfind("wdfx-poll/", 0) == 0) poller = true;
        CHECK(poller);
    }
}

TEST_CASE(
    "exec §9.3: a flush whose item runs to completion between its look and its sleep still "
    "returns (running_count: no lost wake-up)") {
    // The race, made deterministic through the predicate: wait_idle() reads "count 0", then asks
    // also() ("not queued?"), and right after that look a whole run goes by unseen: enter(),
    // the queued bit cleared, leave() (no waiter announced yet, so no wake). The waiter must
    // notice the word changed instead of sleeping on it for good.
    wdfx::os::running_count rc;
    std::atomic<bool> queued{true};
    std::atomic<int> looks{0};
    std::atomic<bool> returned{false};
    gate done;
    std::thread flusher([&] {
        rc.wait_idle([&] {
            bool idle = !queued.load();
            if (looks.fetch_add(1) == 0) {  // the run slips in after the first look
                rc.enter();
                queued.store(false);
                rc.leave();
            }
            return idle;
        });
        returned = true;
        done.open();
    });
    const bool ok = done.wait(kGuard);
    if (!ok) {
        rc.enter();  // a hung waiter announced itself: this leave() wakes it, so it can be joined
        rc.leave();
    }
    flusher.join();
    CHECK(ok);
    CHECK(returned.load());
    CHECK(looks.load() == 2);  // it looked again and found the item idle
    CHECK(rc.count() == 0);
}

TEST_CASE(
    "exec service watchdog: an interrupt eventfd readable at every look is stuck only while its "
    "ISR thread makes no progress") {
    // A device that interrupts faster than its ISR thread drains finds the eventfd readable at
    // each of the watchdog's looks: busy, not stuck, as long as ISR calls keep happening.
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE(fd >= 0);
    std::uint64_t one = 1;
    REQUIRE(::write(fd, &one, sizeof one) == sizeof one);  // readable from now on
    wdfx::detail::busy_slot drainer;
    drainer.what = "wdfx-isr/test";
    wdfx::detail::register_watched_eventfd(fd, "wdfx-isr/test", &drainer);
    constexpr std::uint64_t kNever = ~0ull;
    // Bound 0: any two looks at a readable, unprogressing eventfd are "undrained".
    CHECK(wdfx::detail::runtime_health(kNever, 0).empty());  // first look: readable since now
    drainer.enter();                                         // an ISR call in between
    drainer.leave();
    CHECK(wdfx::detail::runtime_health(kNever, 0).empty());  // progress: not stuck
    drainer.enter();
    drainer.leave();
    CHECK(wdfx::detail::runtime_health(kNever, 0).empty());
    std::string stuck = wdfx::detail::runtime_health(kNever, 0);  // no ISR call since
    CHECK(stuck.find("wdfx-isr/test: interrupt signals undrained") != std::string::npos);
    // Drained: healthy again, whatever came before.
    std::uint64_t v;
    REQUIRE(::read(fd, &v, sizeof v) == sizeof v);
    CHECK(wdfx::detail::runtime_health(kNever, 0).empty());
    wdfx::detail::unregister_watched_eventfd(fd);
    ::close(fd);
}
