// wdfx/execution.hpp: the execution contexts, WDF's IRQLs mapped onto threads (design.md).
//
//   DIRQL    -> `isr` threads: one per interrupt vector, pinned and prioritised by the interrupt's
//               policy, blocked in read() of the vector's eventfd (or spinning, or busy-polling);
//   DISPATCH -> DPC threads (wdfx-dpc/N), one per CPU, below every ISR's priority; dispatch-level
//               timers and spin-lock holders run here too;
//   PASSIVE  -> the dispatcher pool (wdfx-pool/N): work items, passive timers, PnP/power callbacks;
//               any thread the application owns is PASSIVE.
//
// Every thread knows its level; every API checks it, like WDF's verifier
// (FxVerifierCheckIrqlLevel).
#pragma once

#include <cstdint>

namespace wdfx {

/// The emulated IRQL. The numeric values follow Windows' ordering (PASSIVE 0 < DISPATCH 2 < DIRQL).
enum class level : std::uint8_t {
    passive = 0,
    dispatch = 2,
    dirql = 3,
};
const char* level_name(level l) noexcept;

/// The level of the calling thread (KeGetCurrentIrql).
level current_level() noexcept;

/// What the calling thread is, for diagnostics: "application", "wdfx-isr/...", "wdfx-dpc/0", ...
const char* current_thread_role() noexcept;

}  // namespace wdfx
