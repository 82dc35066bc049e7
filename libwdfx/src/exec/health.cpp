#include "exec/health.hpp"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "exec/timer_service.hpp"

namespace wdfx::detail {

namespace {
std::mutex g_lock;
std::vector<busy_slot*> g_slots;
struct watched {
    const char* what;
    const busy_slot* drainer = nullptr;
    std::uint64_t readable_since_ns = 0;  // 0: not readable at the last look
    std::uint32_t entries_then = 0;       // the drainer's entries when it became readable
};
std::map<int, watched> g_fds;
}  // namespace

double tsc_ticks_per_ns() noexcept {
    static const double r = [] {
        timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        std::uint64_t t0 = __rdtsc();
        timespec d{0, 2000000};
        nanosleep(&d, nullptr);
        std::uint64_t t1 = __rdtsc();
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns =
            static_cast<double>((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec));
        double r0 = static_cast<double>(t1 - t0) / ns;
        return r0 > 0.01 ? r0 : 1.0;
    }();
    return r;
}

void register_busy_slot(busy_slot* s) {
    std::lock_guard g(g_lock);
    g_slots.push_back(s);
}

void unregister_busy_slot(busy_slot* s) {
    std::lock_guard g(g_lock);
    g_slots.erase(std::remove(g_slots.begin(), g_slots.end(), s), g_slots.end());
}

void register_watched_eventfd(int fd, const char* what, const busy_slot* drainer) {
    std::lock_guard g(g_lock);
    g_fds[fd] = watched{what, drainer, 0, 0};
}

void unregister_watched_eventfd(int fd) {
    std::lock_guard g(g_lock);
    g_fds.erase(fd);
}

std::string runtime_health(std::uint64_t callback_bound_ns, std::uint64_t eventfd_bound_ns) {
    std::lock_guard g(g_lock);
    const std::uint64_t now_tsc = __rdtsc();
    const double per_ns = tsc_ticks_per_ns();
    for (busy_slot* s : g_slots) {
        std::uint64_t since = s->since_tsc.load(std::memory_order_relaxed);
        if (since == 0 || since > now_tsc) continue;
        auto ns = static_cast<std::uint64_t>(static_cast<double>(now_tsc - since) / per_ns);
        if (ns > callback_bound_ns)
            return std::string(s->what) + ": a callback has been running for " +
                   std::to_string(ns / 1000000) + " ms";
    }
    const std::uint64_t now = timer_service::now_ns();
    for (auto& [fd, w] : g_fds) {
        pollfd p{fd, POLLIN, 0};
        bool readable = ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
        if (!readable) {
            w.readable_since_ns = 0;
            continue;
        }
        const std::uint32_t entries =
            w.drainer != nullptr ? w.drainer->entries.load(std::memory_order_relaxed) : 0;
        if (w.readable_since_ns == 0 || entries != w.entries_then) {
            // Newly readable, or drained and readable again since (busy, making progress).
            w.readable_since_ns = now;
            w.entries_then = entries;
        } else if (now - w.readable_since_ns > eventfd_bound_ns) {
            return std::string(w.what) + ": interrupt signals undrained for " +
                   std::to_string((now - w.readable_since_ns) / 1000000) + " ms";
        }
    }
    return {};
}

}  // namespace wdfx::detail
