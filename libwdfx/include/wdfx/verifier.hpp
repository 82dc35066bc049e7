// wdfx/verifier.hpp: the one report path for every misuse (WDF's verifier, wdf-semantics §17).
//
// Misuse (wrong execution context, a stale or wrong-type handle, a recursive lock, a call in the
// wrong state) is logged with the API, the object and the rule broken, then the process aborts:
// a driver bug must be loud. With WDFX_VERIFIER=report in the environment (or set_verifier_mode),
// the report is logged and the API returns an error (or does nothing) instead, as WDF does with
// verifier breaks off.
#pragma once

#include <cstdint>

namespace wdfx {

enum class verifier_mode : std::uint8_t {
    abort_on_report,  // default
    report_only,      // WDFX_VERIFIER=report
};

verifier_mode get_verifier_mode() noexcept;
void set_verifier_mode(verifier_mode m) noexcept;
/// How many reports this process has made (tests use it to observe report-only misuse).
std::uint64_t verifier_report_count() noexcept;

}  // namespace wdfx
