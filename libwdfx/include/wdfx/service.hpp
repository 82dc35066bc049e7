// wdfx/service.hpp: running a driver as a systemd service.
//
// notify_ready() sends READY=1 (the unit is Type=notify) once the devices are in D0 with their
// interrupts enabled; notify_status() sends STATUS= lines. start_watchdog() feeds systemd's
// watchdog (WatchdogSec= in the unit, $WATCHDOG_USEC here) at half its period, but only while the
// runtime is healthy: no callback running longer than `callback_bound` and no interrupt eventfd
// left readable and undrained longer than `eventfd_bound`. A stuck driver stops feeding, and
// systemd restarts it (Restart=on-failure). All calls are no-ops outside systemd.
#pragma once

#include <chrono>
#include <string>

namespace wdfx::service {

struct watchdog_config {
    std::chrono::milliseconds callback_bound{5000};
    std::chrono::milliseconds eventfd_bound{5000};
};

void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping();
/// Start feeding the watchdog; false when the unit has no WatchdogSec=.
bool start_watchdog(const watchdog_config& config = {});
void stop_watchdog();
/// What the watchdog checks, now: empty when healthy.
std::string health_problem(const watchdog_config& config = {});

}  // namespace wdfx::service
