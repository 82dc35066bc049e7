// wdfx-bench helpers: clocks, thread placement and introspection, per-thread syscall counters,
// thread CPU clocks, the allocation counter, percentiles.
//
// Nothing here allocates once a measured phase is armed: probes and counters are opened before,
// and their reads are plain syscalls into buffers the caller owns.
#pragma once

#include <sched.h>
#include <sys/types.h>
#include <time.h>
#include <x86intrin.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace wb {

/// CLOCK_MONOTONIC in ns (vDSO, the tsc clocksource here): the stamps of every latency, taken
/// the same way on every thread and CPU.
inline std::uint64_t now_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

/// A serialised TSC read, for timing a few instructions (the queue push).
inline std::uint64_t tsc() noexcept {
    _mm_lfence();
    std::uint64_t t = __rdtsc();
    _mm_lfence();
    return t;
}

/// TSC ticks per ns, calibrated by spinning (no sleep) against CLOCK_MONOTONIC.
double tsc_per_ns();

inline void cpu_relax() noexcept {
    _mm_pause();
}

pid_t this_tid() noexcept;

/// Spin until now_ns() >= deadline.
inline void spin_until(std::uint64_t deadline) noexcept {
    while (now_ns() < deadline)
        cpu_relax();
}

// ---- placement ---------------------------------------------------------------------------------

struct sched_spec {
    int cpu = -1;  // -1: every CPU of the process
    int policy = SCHED_OTHER;
    int priority = 0;
};
/// Apply to the calling thread; returns false (and says why on stderr once) when refused.
bool apply_sched(const sched_spec& s);
/// What the kernel says about a thread: policy, priority and, when pinned to one CPU, that CPU.
sched_spec read_sched(pid_t tid);
std::string describe(const sched_spec& s);

/// Threads of this process whose name starts with `prefix`, by TID.
std::vector<pid_t> find_threads(const char* prefix);
std::string thread_name(pid_t tid);

/// The run state of one thread ('R', 'S', 'D' ...), read from /proc with one pread().
class state_probe {
  public:
    state_probe() = default;
    explicit state_probe(pid_t tid);
    state_probe(state_probe&& o) noexcept : fd_(o.fd_), tid_(o.tid_) { o.fd_ = -1; }
    state_probe& operator=(state_probe&& o) noexcept;
    ~state_probe();
    char state() const noexcept;
    pid_t tid() const noexcept { return tid_; }

  private:
    int fd_ = -1;
    pid_t tid_ = 0;
};

/// CPU time a thread of this process has used (its CPUCLOCK_SCHED clock), ns.
std::uint64_t thread_cpu_ns(pid_t tid) noexcept;

// ---- syscall counting --------------------------------------------------------------------------

/// Counts the syscalls one thread enters, with perf_event_open on the raw_syscalls:sys_enter
/// tracepoint. available() is false without tracefs or permission (the counts then read 0).
class syscall_counter {
  public:
    static bool available();
    static const std::string& why_unavailable();
    syscall_counter() = default;
    explicit syscall_counter(pid_t tid);
    syscall_counter(syscall_counter&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    syscall_counter& operator=(syscall_counter&& o) noexcept;
    ~syscall_counter();
    std::uint64_t read() const noexcept;
    bool ok() const noexcept { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

// ---- allocation counter (alloc_count.cpp interposes malloc and friends) -------------------------

namespace alloc {
/// Count allocations from now on (any thread).
void arm() noexcept;
/// Stop counting; returns the number counted since arm().
std::uint64_t disarm() noexcept;
/// Threads that allocated while armed (first few), for the report.
std::vector<pid_t> culprits();
std::uint64_t total() noexcept;  // every allocation since start (sanity: the interposer works)
}  // namespace alloc

// ---- statistics --------------------------------------------------------------------------------

struct pct {
    std::uint64_t n = 0;
    double mean = 0;
    std::uint64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, min = 0;
};
/// Sorts `v` in place.
pct percentiles(std::vector<std::uint64_t>& v);

/// "12.3us", "812ns", "3.40ms".
std::string fmt_ns(double ns);

}  // namespace wb
