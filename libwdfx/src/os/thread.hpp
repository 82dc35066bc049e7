// Threads: named, joined on destruction (never detached), optionally pinned and SCHED_FIFO.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace wdfx::os {

struct sched_request {
    int cpu = -1;           // -1: not pinned
    int fifo_priority = 0;  // 0: SCHED_OTHER; 1..99: SCHED_FIFO
};

/// What the kernel granted: a request the process may not satisfy (no CAP_SYS_NICE, RLIMIT_RTPRIO
/// 0, a cpuset without that CPU) is logged once and the thread runs without it.
struct sched_result {
    int cpu = -1;
    int fifo_priority = 0;
};

/// Apply `req` to the calling thread.
sched_result apply_sched(const sched_request& req) noexcept;

/// Set the calling thread's name (15 characters at most are kept by the kernel).
void set_thread_name(const char* name) noexcept;

int cpu_count() noexcept;
/// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus();

class thread {
  public:
    thread() = default;
    thread(std::string name, std::function<void()> body);
    thread(thread&&) noexcept = default;
    thread& operator=(thread&& o) noexcept {
        join();
        t_ = std::move(o.t_);
        return *this;
    }
    ~thread() { join(); }
    void join() {
        if (t_.joinable()) t_.join();
    }
    bool joinable() const noexcept { return t_.joinable(); }
    std::thread::id id() const noexcept { return t_.get_id(); }

  private:
    std::thread t_;
};

}  // namespace wdfx::os
