#include "core/verifier.hpp"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <wdfx/object.hpp>
#include <wdfx/verifier.hpp>

#include "exec/context.hpp"
#include "os/log.hpp"

namespace wdfx {

namespace {
std::atomic<verifier_mode> g_mode{[] {
    const char* e = std::getenv("WDFX_VERIFIER");
    return (e != nullptr && std::strcmp(e, "report") == 0) ? verifier_mode::report_only
                                                           : verifier_mode::abort_on_report;
}()};
std::atomic<std::uint64_t> g_reports{0};
}  // namespace

verifier_mode get_verifier_mode() noexcept {
    return g_mode.load(std::memory_order_relaxed);
}
void set_verifier_mode(verifier_mode m) noexcept {
    g_mode.store(m, std::memory_order_relaxed);
}
std::uint64_t verifier_report_count() noexcept {
    return g_reports.load(std::memory_order_relaxed);
}

namespace detail {

void verifier_report(const char* api, std::uint64_t handle, const char* rule, const char* fmt,
                     ...) {
    char details[512];
    std::va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(details, sizeof details, fmt, ap);
    va_end(ap);
    const auto& t = tls();
    const char* type = object_type_name(static_cast<object_type>(handle & 0xff));
    os::log(os::log_level::error, "verifier: %s(%s 0x%llx): %s: %s [thread %s at %s]", api,
            handle ? type : "no object", static_cast<unsigned long long>(handle), rule, details,
            t.name, level_name(t.lvl));
    g_reports.fetch_add(1, std::memory_order_relaxed);
    if (get_verifier_mode() == verifier_mode::abort_on_report) {
        os::log(os::log_level::error,
                "verifier: aborting (set WDFX_VERIFIER=report to log and continue)");
        std::abort();
    }
}

bool verify_level_max(level max, const char* api, std::uint64_t handle) {
    level cur = tls().lvl;
    if (cur <= max) return true;
    verifier_report(api, handle, "wrong execution level", "requires %s or lower, called at %s",
                    level_name(max), level_name(cur));
    return false;
}

}  // namespace detail
}  // namespace wdfx
