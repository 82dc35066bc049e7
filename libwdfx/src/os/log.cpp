#include "os/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "os/systemd.hpp"

namespace wdfx::os {

namespace {
log_level threshold() noexcept {
    static const log_level t = [] {
        const char* e = std::getenv("WDFX_LOG");
        if (e == nullptr) return log_level::info;
        if (std::strcmp(e, "debug") == 0) return log_level::debug;
        if (std::strcmp(e, "warning") == 0) return log_level::warning;
        if (std::strcmp(e, "error") == 0) return log_level::error;
        return log_level::info;
    }();
    return t;
}

const char* prefix(log_level l) noexcept {
    switch (l) {
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warning:
            return "warning";
        case log_level::error:
            return "error";
    }
    return "?";
}

int syslog_priority(log_level l) noexcept {
    switch (l) {
        case log_level::debug:
            return 7;
        case log_level::info:
            return 6;
        case log_level::warning:
            return 4;
        case log_level::error:
            return 3;
    }
    return 6;
}

void vlog_to(log_level level, const char* device, int interrupt, const char* fmt,
             std::va_list ap) noexcept {
    if (level < threshold()) return;
    if (stderr_is_journal()) {
        // Under systemd: the native journal protocol keeps the device and interrupt as fields.
        char msg[1024];
        std::va_list copy;
        va_copy(copy, ap);
        std::vsnprintf(msg, sizeof msg, fmt, copy);
        va_end(copy);
        std::vector<std::pair<std::string, std::string>> f;
        if (device != nullptr) f.emplace_back("WDFX_DEVICE", device);
        if (interrupt >= 0) f.emplace_back("WDFX_INTERRUPT", std::to_string(interrupt));
        if (journal_send(syslog_priority(level), msg, f)) return;
    }
    char buf[1024];
    int n = std::snprintf(buf, sizeof buf, "wdfx %s: ", prefix(level));
    if (n < 0) return;
    int m = std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n) - 1, fmt, ap);
    if (m < 0) return;
    size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    buf[len++] = '\n';
    // One write(): lines from different threads do not interleave.
    ssize_t w = ::write(STDERR_FILENO, buf, len);
    (void)w;
}
}  // namespace

void vlog(log_level level, const char* fmt, std::va_list ap) noexcept {
    vlog_to(level, nullptr, -1, fmt, ap);
}

void log(log_level level, const char* fmt, ...) noexcept {
    std::va_list ap;
    va_start(ap, fmt);
    vlog_to(level, nullptr, -1, fmt, ap);
    va_end(ap);
}

void log_fields(log_level level, const char* device, int interrupt, const char* fmt, ...) noexcept {
    std::va_list ap;
    va_start(ap, fmt);
    vlog_to(level, device, interrupt, fmt, ap);
    va_end(ap);
}

}  // namespace wdfx::os
