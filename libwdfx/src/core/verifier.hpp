// The verifier's report path (wdf-semantics §17). Every misuse goes through report(): it logs
// the API, the object, the rule and the calling context in one line, counts it, and aborts unless
// the process runs with WDFX_VERIFIER=report, in which case it returns and the caller returns an
// error or does nothing, as WDF does when verifier breaks are off.
#pragma once

#include <cstdint>

#include <wdfx/execution.hpp>

namespace wdfx::detail {

[[gnu::format(printf, 4, 5)]] void verifier_report(const char* api, std::uint64_t handle,
                                                   const char* rule, const char* fmt, ...);

/// The calling thread's level must be <= max; reports and returns false otherwise.
bool verify_level_max(level max, const char* api, std::uint64_t handle);

}  // namespace wdfx::detail
