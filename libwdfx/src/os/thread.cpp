#include "os/thread.hpp"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "os/log.hpp"

namespace wdfx::os {

sched_result apply_sched(const sched_request& req) noexcept {
    sched_result r;
    if (req.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(req.cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0) {
            r.cpu = req.cpu;
        } else {
            WDFX_LOG_ONCE(log_level::warning,
                          "cannot pin threads to CPU %d (%s): running unpinned; check the cpuset "
                          "or CPUAffinity= of the service",
                          req.cpu, std::strerror(errno));
        }
    }
    if (req.fifo_priority > 0) {
        sched_param p{};
        p.sched_priority = req.fifo_priority;
        int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
        if (e == 0) {
            r.fifo_priority = req.fifo_priority;
        } else {
            WDFX_LOG_ONCE(
                log_level::warning,
                "SCHED_FIFO not permitted (%s): interrupt threads run with normal "
                "scheduling; grant CAP_SYS_NICE or LimitRTPRIO= (ulimit -r) to the driver",
                std::strerror(e));
        }
    }
    return r;
}

void set_thread_name(const char* name) noexcept {
    char buf[16];
    std::strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    pthread_setname_np(pthread_self(), buf);
}

int cpu_count() noexcept {
    static const int n = [] {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        return c > 0 ? static_cast<int>(c) : 1;
    }();
    return n;
}

std::vector<int> allowed_cpus() {
    static const std::vector<int> cached = [] {
        std::vector<int> cpus;
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            for (int i = 0; i < CPU_SETSIZE; ++i)
                if (CPU_ISSET(i, &set)) cpus.push_back(i);
        }
        if (cpus.empty()) cpus.push_back(0);
        return cpus;
    }();
    return cached;
}

thread::thread(std::string name, std::function<void()> body)
    : t_([name = std::move(name), body = std::move(body)] {
          set_thread_name(name.c_str());
          body();
      }) {}

}  // namespace wdfx::os
