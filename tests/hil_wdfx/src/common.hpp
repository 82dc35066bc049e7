// Shared helpers of the wdfx HIL guest program (wdfx_hil): failing loudly, figures and latency
// statistics (the C helpers of tests/hil), child processes, threads of this process.
#pragma once

#include <sys/types.h>

#include <cstdarg>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include "hil_util.h"
}

namespace hil {

/// Prints "FAIL <file>:<line>: <message>" and leaves with status 1 at once (_exit: the framework's
/// threads may be in any state; a hung teardown must not turn a finding into a timeout).
[[noreturn]] void fail_at(const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) ::hil::fail_at(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

/// printf to stdout, line-buffered (the console).
void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

std::uint64_t now_ns();

/// Latency samples with percentiles, written to the case's figures (hil_stats of tests/hil).
class stats {
  public:
    stats(const char* name, const char* what, std::size_t cap);
    ~stats();
    stats(const stats&) = delete;
    stats& operator=(const stats&) = delete;
    void begin() { s_.t_begin = now_ns(); }
    void end() { s_.t_end = now_ns(); }
    void add(std::uint64_t ns) { hil_stats_add(&s_, ns); }
    std::size_t count() const { return s_.n; }
    /// Sorts, prints, adds the figures; returns the p50 (same rule as the figures).
    std::uint64_t report();
    std::uint64_t p50() const { return pct(500); }
    std::uint64_t p99() const { return pct(990); }

  private:
    std::uint64_t pct(unsigned permille) const;
    hil_stats s_{};
    bool sorted_ = false;
};

void figure(const char* name, const char* key, double value);
void figure(const char* name, const char* key, const std::string& value);

/// Runs a shell command line, returns its exit status and (in `out`) what it printed on stdout and
/// stderr. The output is echoed to the console, indented.
int run(const std::string& cmdline, std::string* out = nullptr);

/// The names of this process's threads (/proc/self/task/*/comm), with their TIDs.
struct thread_info {
    pid_t tid;
    std::string name;
    std::vector<int> allowed_cpus;  // sched_getaffinity
};
std::vector<thread_info> threads();

/// Reads a sysfs/procfs file (trailing newline stripped); empty on error.
std::string read_file(const std::string& path);
/// The name of the driver bound to a PCI function ("" if none).
std::string pci_driver(const std::string& bdf);
std::string iommu_group(const std::string& bdf);

/// Captures what this process writes to stderr (fd 2) between start() and stop(): the messages
/// the framework and drivers log. stop() echoes it to the real stderr and returns it.
class stderr_capture {
  public:
    void start();
    std::string stop();

  private:
    int saved_ = -1;
    int file_ = -1;
};

bool contains(const std::string& s, const std::string& what);

}  // namespace hil
