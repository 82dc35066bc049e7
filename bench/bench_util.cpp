#include "bench_util.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>

namespace wb {

double tsc_per_ns() {
    static const double r = [] {
        // Spin ~20 ms: long enough for 4 significant digits, no sleep.
        std::uint64_t n0 = now_ns(), t0 = tsc();
        while (now_ns() - n0 < 20000000ull)
            cpu_relax();
        std::uint64_t n1 = now_ns(), t1 = tsc();
        return static_cast<double>(t1 - t0) / static_cast<double>(n1 - n0);
    }();
    return r;
}

pid_t this_tid() noexcept {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

bool apply_sched(const sched_spec& s) {
    bool ok = true;
    if (s.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(s.cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) ok = false;
    }
    sched_param p{};
    p.sched_priority = s.policy == SCHED_FIFO || s.policy == SCHED_RR ? s.priority : 0;
    int e = pthread_setschedparam(pthread_self(), s.policy, &p);
    if (e != 0) {
        static std::once_flag once;
        std::call_once(once, [&] {
            std::fprintf(stderr, "wdfx-bench: cannot set %s for bench threads: %s\n",
                         describe(s).c_str(), std::strerror(e));
        });
        ok = false;
    }
    return ok;
}

sched_spec read_sched(pid_t tid) {
    sched_spec s;
    int pol = sched_getscheduler(tid);
    if (pol >= 0) s.policy = pol & ~SCHED_RESET_ON_FORK;
    sched_param p{};
    if (sched_getparam(tid, &p) == 0) s.priority = p.sched_priority;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1) {
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) s.cpu = i;
    }
    return s;
}

std::string describe(const sched_spec& s) {
    std::string r = s.policy == SCHED_FIFO ? "FIFO " + std::to_string(s.priority)
                    : s.policy == SCHED_RR ? "RR " + std::to_string(s.priority)
                                           : std::string("OTHER");
    r += s.cpu >= 0 ? " cpu" + std::to_string(s.cpu) : std::string(" any cpu");
    return r;
}

std::string thread_name(pid_t tid) {
    std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/comm");
    std::string n;
    std::getline(f, n);
    return n;
}

std::vector<pid_t> find_threads(const char* prefix) {
    std::vector<pid_t> out;
    DIR* d = opendir("/proc/self/task");
    if (d == nullptr) return out;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        pid_t tid = static_cast<pid_t>(std::atoi(e->d_name));
        if (thread_name(tid).rfind(prefix, 0) == 0) out.push_back(tid);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

state_probe::state_probe(pid_t tid) : tid_(tid) {
    std::string path = "/proc/self/task/" + std::to_string(tid) + "/stat";
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

state_probe& state_probe::operator=(state_probe&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        tid_ = o.tid_;
        o.fd_ = -1;
    }
    return *this;
}

state_probe::~state_probe() {
    if (fd_ >= 0) ::close(fd_);
}

char state_probe::state() const noexcept {
    if (fd_ < 0) return '?';
    char buf[256];
    ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return '?';
    buf[n] = '\0';
    // "tid (comm) S ...": the comm may hold spaces and parentheses; the state follows the last ')'.
    const char* p = std::strrchr(buf, ')');
    if (p == nullptr || p[1] == '\0' || p[2] == '\0') return '?';
    return p[2];
}

std::uint64_t thread_cpu_ns(pid_t tid) noexcept {
    // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED), as pthread_getcpuclockid() builds it.
    clockid_t c = static_cast<clockid_t>((~static_cast<unsigned>(tid)) << 3) | 6;
    timespec ts{};
    if (clock_gettime(c, &ts) != 0) return 0;
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// ---- syscall counter ---------------------------------------------------------------------------

namespace {
struct tracepoint {
    long id = -1;
    std::string why;
    tracepoint() {
        const char* paths[] = {"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
                               "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id"};
        for (const char* p : paths) {
            std::ifstream f(p);
            if (f >> id) break;
            id = -1;
        }
        if (id < 0) {
            why = "no raw_syscalls:sys_enter tracepoint (tracefs not mounted?)";
            return;
        }
        // Probe once on ourselves.
        perf_event_attr a{};
        a.type = PERF_TYPE_TRACEPOINT;
        a.size = sizeof a;
        a.config = static_cast<std::uint64_t>(id);
        int fd =
            static_cast<int>(::syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
        if (fd < 0) {
            why = std::string("perf_event_open(raw_syscalls:sys_enter): ") + std::strerror(errno);
            id = -1;
            return;
        }
        ::close(fd);
    }
};
const tracepoint& tp() {
    static const tracepoint t;
    return t;
}
}  // namespace

bool syscall_counter::available() {
    return tp().id >= 0;
}
const std::string& syscall_counter::why_unavailable() {
    return tp().why;
}

syscall_counter::syscall_counter(pid_t tid) {
    if (!available()) return;
    perf_event_attr a{};
    a.type = PERF_TYPE_TRACEPOINT;
    a.size = sizeof a;
    a.config = static_cast<std::uint64_t>(tp().id);
    fd_ = static_cast<int>(::syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

syscall_counter& syscall_counter::operator=(syscall_counter&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

syscall_counter::~syscall_counter() {
    if (fd_ >= 0) ::close(fd_);
}

std::uint64_t syscall_counter::read() const noexcept {
    if (fd_ < 0) return 0;
    std::uint64_t v = 0;
    if (::read(fd_, &v, sizeof v) != sizeof v) return 0;
    return v;
}

// ---- statistics --------------------------------------------------------------------------------

pct percentiles(std::vector<std::uint64_t>& v) {
    pct r;
    if (v.empty()) return r;
    std::sort(v.begin(), v.end());
    r.n = v.size();
    auto at = [&](double q) {
        auto i = static_cast<std::size_t>(q * static_cast<double>(v.size()));
        return v[std::min(i, v.size() - 1)];
    };
    r.p50 = at(0.50);
    r.p90 = at(0.90);
    r.p99 = at(0.99);
    r.p999 = at(0.999);
    r.max = v.back();
    r.min = v.front();
    long double s = 0;
    for (auto x : v)
        s += x;
    r.mean = static_cast<double>(s / static_cast<long double>(v.size()));
    return r;
}

std::string fmt_ns(double ns) {
    char b[32];
    if (ns < 10000)
        std::snprintf(b, sizeof b, "%.0fns", ns);
    else if (ns < 10000000)
        std::snprintf(b, sizeof b, "%.1fus", ns / 1000);
    else
        std::snprintf(b, sizeof b, "%.2fms", ns / 1000000);
    return b;
}

}  // namespace wb
