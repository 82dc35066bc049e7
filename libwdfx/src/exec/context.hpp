// The calling thread's execution context: its emulated IRQL and what it is (design.md).
//
// Thread-local, so reading it is a TLS load. Framework threads set their role once; the level
// changes as locks are taken (a DIRQL interrupt lock raises to DIRQL, a spin lock to DISPATCH)
// and as callbacks run.
#pragma once

#include <cstdint>

#include <wdfx/execution.hpp>

namespace wdfx::detail {

class interrupt_impl;
class object_impl;

enum class thread_role : std::uint8_t { application, isr, dpc, pool, timer, pnp, sim };

struct thread_state {
    level lvl = level::passive;
    thread_role role = thread_role::application;
    char name[24] = "application";
    int cpu = -1;                        // the CPU a framework thread is pinned to
    interrupt_impl* isr_of = nullptr;    // the interrupt whose ISR this thread is running
    const void* running_item = nullptr;  // the deferred_item whose callback runs
    object_impl* pnp_device = nullptr;   // the device whose PnP callback this thread runs
    int pnp_phase = 0;                   // what that callback is (device_impl::phase)
    // An ISR thread that runs its CPU's DPC queue itself right after each ISR: busy-poll and
    // spin-then-block threads (a SCHED_FIFO thread that does not sleep starves the DPC thread
    // below it on its CPU) and every ISR thread under WDFX_DPC=inline.
    bool drains_dpcs = false;
    // Set by dpc_executor::push() when it left an internal DPC (work_node::internal) queued on
    // an idle executor of this CPU for this ISR thread to run right after the ISR.
    bool internal_dpc_pending = false;
};

thread_state& tls() noexcept;

/// Raise (or lower) the calling thread's level for a scope.
class level_scope {
  public:
    explicit level_scope(level l) noexcept : saved_(tls().lvl) { tls().lvl = l; }
    ~level_scope() { tls().lvl = saved_; }
    level_scope(const level_scope&) = delete;
    level_scope& operator=(const level_scope&) = delete;

  private:
    level saved_;
};

void set_thread_identity(thread_role role, const char* name, int cpu) noexcept;

}  // namespace wdfx::detail
