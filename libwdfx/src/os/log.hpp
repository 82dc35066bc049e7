// Logging: one line per message on stderr (and the journal once issue 7 wires it). Never called
// on the hot path: ISR threads only count; reports are made by the threads that notice them.
#pragma once

#include <atomic>
#include <cstdarg>

namespace wdfx::os {

enum class log_level : unsigned char { debug, info, warning, error };

[[gnu::format(printf, 2, 3)]] void log(log_level level, const char* fmt, ...) noexcept;
/// The same with structured journal fields (e.g. {"WDFX_DEVICE", "0000:00:04.0"}); on a terminal
/// the fields are dropped, in the journal they are kept.
[[gnu::format(printf, 4, 5)]] void log_fields(log_level level, const char* device, int interrupt,
                                              const char* fmt, ...) noexcept;
void vlog(log_level level, const char* fmt, std::va_list ap) noexcept;

/// Log `fmt` only the first time `once_flag` is seen false (thread-safe).
#define WDFX_LOG_ONCE(level, ...)                                                   \
    do {                                                                            \
        static std::atomic<bool> wdfx_logged_once_{false};                          \
        if (!wdfx_logged_once_.exchange(true)) ::wdfx::os::log(level, __VA_ARGS__); \
    } while (0)

}  // namespace wdfx::os
