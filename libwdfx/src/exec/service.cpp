#include <wdfx/service.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "exec/health.hpp"
#include "os/log.hpp"
#include "os/systemd.hpp"
#include "os/thread.hpp"

namespace wdfx::service {

namespace {
class feeder {
  public:
    feeder(watchdog_config c, unsigned long long usec)
        : cfg_(c), period_(std::chrono::microseconds(usec / 2)) {
        t_ = os::thread("wdfx-watchdog", [this] { loop(); });
    }
    ~feeder() {
        {
            std::lock_guard g(m_);
            stop_ = true;
        }
        cv_.notify_all();
        t_.join();
    }

  private:
    void loop() {
        std::string last;
        std::unique_lock g(m_);
        while (!stop_) {
            g.unlock();
            std::string p = detail::runtime_health(
                static_cast<std::uint64_t>(std::chrono::nanoseconds(cfg_.callback_bound).count()),
                static_cast<std::uint64_t>(std::chrono::nanoseconds(cfg_.eventfd_bound).count()));
            if (p.empty()) {
                os::sd_notify("WATCHDOG=1");
            } else if (p != last) {
                os::log(os::log_level::error, "watchdog: not feeding systemd: %s", p.c_str());
                os::sd_notify("STATUS=stuck: " + p);
            }
            last = p;
            g.lock();
            cv_.wait_for(g, period_, [&] { return stop_; });
        }
    }
    watchdog_config cfg_;
    std::chrono::microseconds period_;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false;
    os::thread t_;
};

std::mutex g_lock;
std::unique_ptr<feeder> g_feeder;
}  // namespace

void notify_ready(const std::string& status) {
    os::sd_notify("READY=1\nSTATUS=" + status);
}
void notify_status(const std::string& status) {
    os::sd_notify("STATUS=" + status);
}
void notify_stopping() {
    os::sd_notify("STOPPING=1");
}

bool start_watchdog(const watchdog_config& config) {
    unsigned long long usec = os::watchdog_usec();
    if (usec == 0) return false;
    std::lock_guard g(g_lock);
    g_feeder = std::make_unique<feeder>(config, usec);
    return true;
}

void stop_watchdog() {
    std::lock_guard g(g_lock);
    g_feeder.reset();
}

std::string health_problem(const watchdog_config& c) {
    return detail::runtime_health(
        static_cast<std::uint64_t>(std::chrono::nanoseconds(c.callback_bound).count()),
        static_cast<std::uint64_t>(std::chrono::nanoseconds(c.eventfd_bound).count()));
}

}  // namespace wdfx::service
