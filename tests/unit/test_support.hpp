// Helpers shared by the unit tests: a driver + sim device harness, event waits (never sleeps),
// and death tests for the verifier's abort path.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <wdfx/wdfx.hpp>

namespace wdfx_test {

/// A counter that tests wait on. wait_for_at_least() blocks until the count reaches n; the
/// deadline only turns a hang into a failure (it is not a timing assertion).
class counter {
  public:
    void add(std::uint64_t n = 1) {
        {
            std::lock_guard g(m_);
            v_ += n;
        }
        cv_.notify_all();
    }
    std::uint64_t get() const {
        std::lock_guard g(m_);
        return v_;
    }
    [[nodiscard]] bool wait_for_at_least(
        std::uint64_t n, std::chrono::seconds hang_guard = std::chrono::seconds(60)) {
        std::unique_lock g(m_);
        return cv_.wait_for(g, hang_guard, [&] { return v_ >= n; });
    }

  private:
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::uint64_t v_ = 0;
};

/// A one-way gate: threads block in wait() until open() (a barrier for concurrency clauses).
class gate {
  public:
    void open() {
        {
            std::lock_guard g(m_);
            open_ = true;
        }
        cv_.notify_all();
    }
    [[nodiscard]] bool wait(std::chrono::seconds hang_guard = std::chrono::seconds(60)) {
        std::unique_lock g(m_);
        return cv_.wait_for(g, hang_guard, [&] { return open_; });
    }
    bool is_open() const {
        std::lock_guard g(m_);
        return open_;
    }

  private:
    mutable std::mutex m_;
    std::condition_variable cv_;
    bool open_ = false;
};

/// Puts the verifier in report-only mode for a scope and counts the reports made in it.
class verifier_reports {
  public:
    verifier_reports() : saved_(wdfx::get_verifier_mode()), start_(wdfx::verifier_report_count()) {
        wdfx::set_verifier_mode(wdfx::verifier_mode::report_only);
    }
    ~verifier_reports() { wdfx::set_verifier_mode(saved_); }
    std::uint64_t count() const { return wdfx::verifier_report_count() - start_; }

  private:
    wdfx::verifier_mode saved_;
    std::uint64_t start_;
};

/// A driver with one sim device. `on_add` runs inside EvtDriverDeviceAdd before WdfDeviceCreate
/// (set PnP callbacks on the init); `after_create` runs inside it after (create interrupts...).
class sim_harness {
  public:
    using init_fn = std::function<void(wdfx::device_init&)>;
    using create_fn = std::function<wdfx::status(wdfx::device)>;

    struct options {
        wdfx::sim::device_spec spec = default_spec();
        wdfx::driver_flavour flavour = wdfx::driver_flavour::kmdf;
        wdfx::object_attributes device_attributes{};
        wdfx::object_attributes driver_attributes{};
        std::shared_ptr<wdfx::sim::model> model;
        std::shared_ptr<wdfx::sim::device> device;  // use this device instead of building one
    };
    static wdfx::sim::device_spec default_spec();

    explicit sim_harness(options o, init_fn on_add = {}, create_fn after_create = {});
    ~sim_harness();
    sim_harness(const sim_harness&) = delete;
    sim_harness& operator=(const sim_harness&) = delete;

    /// EvtDriverDeviceAdd; returns its status.
    wdfx::status add();
    /// add() if needed, then start.
    wdfx::status start();
    void remove();

    wdfx::driver drv;
    wdfx::device dev;
    std::shared_ptr<wdfx::sim::device> sim;

  private:
    options o_;
    init_fn on_add_;
    create_fn after_create_;
};

/// Death test: runs `body` in a child process (re-executing this test binary for the current
/// test case) with the verifier in abort mode, and checks that it aborted with a report whose
/// text contains `expect`. `name` must be unique in the binary.
void expect_verifier_abort(const char* name, const std::string& expect,
                           const std::function<void()>& body);

/// An interrupt config whose ISR counts and claims every call.
wdfx::interrupt_config counting_isr(counter& calls, bool claim = true);

}  // namespace wdfx_test
