#include "os/log.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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
}  // namespace

void vlog(log_level level, const char* fmt, std::va_list ap) noexcept {
    if (level < threshold()) return;
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

void log(log_level level, const char* fmt, ...) noexcept {
    std::va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

}  // namespace wdfx::os
