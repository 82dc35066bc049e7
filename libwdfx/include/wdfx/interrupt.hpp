// wdfx/interrupt.hpp: WDFINTERRUPT (wdf-semantics §2-§14, §21).
//
// An interrupt object binds one vector (an MSI-X vector, an MSI message or the INTx line) to the
// driver's callbacks:
//   on_isr          DIRQL on the vector's own ISR thread, under the interrupt lock; or PASSIVE
//                   under the interrupt's wait lock for passive-level interrupts. It is told how
//                   many signals the wake-up coalesced (the eventfd counter).
//   on_dpc          DISPATCH on the DPC thread of the ISR's CPU, without the interrupt lock.
//   on_work_item    PASSIVE on the dispatcher pool, without the interrupt lock.
//   on_enable/disable  under the interrupt lock, after connect / before disconnect (§8).
// Exactly one DPC and one work item per interrupt, each queued at most once before it runs
// (§9.3). The driver cannot delete an interrupt (§8.7).
//
// Threads: every method checks the calling thread's level and reports misuse to the verifier.
// queue_dpc_for_isr, queue_work_item_for_isr and get_device are safe in the ISR.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <type_traits>

#include <wdfx/object.hpp>
#include <wdfx/resources.hpp>
#include <wdfx/sync.hpp>

namespace wdfx {

class device;
class interrupt;

/// WDF_TRI_STATE
enum class tri_state : std::uint8_t { false_value = 0, true_value = 1, use_default = 2 };

/// WDF_INTERRUPT_POLICY
enum class interrupt_policy : std::uint8_t {
    machine_default = 0,
    all_close_processors,
    one_close_processor,
    all_processors_in_machine,
    specified_processors,
    spread_messages_across_all_processors,
};

/// WDF_INTERRUPT_PRIORITY: mapped to the SCHED_FIFO priority of the ISR thread.
enum class interrupt_priority : std::uint8_t { undefined = 0, low, normal, high };

/// WDF_INTERRUPT_POLARITY (never written by WDF, §4: stays unknown).
enum class interrupt_polarity : std::uint8_t { unknown = 0, active_high, active_low };

/// How the ISR thread waits for its eventfd (a wdfx extension; WDF has no equivalent).
enum class wait_strategy : std::uint8_t {
    block,            // blocking read(): no CPU while idle (default)
    spin_then_block,  // poll the eventfd for spin_ns, then block
    busy_poll,        // never sleep; one polling thread serves every busy-poll vector of a CPU and
                      // priority. Needs a dedicated CPU.
};

/// What the ISR is told about the wake-up that called it.
struct isr_context {
    std::uint32_t message_id = 0;  // MessageID: the interrupt's creation index (§4)
    std::uint32_t signals = 0;     // how many signals this wake-up coalesced (>= 1)
};

/// WDF_INTERRUPT_CONFIG.
struct interrupt_config {
    std::function<bool(interrupt, const isr_context&)> on_isr;  // required
    std::function<void(interrupt, object associated_device)> on_dpc;
    std::function<void(interrupt, object associated_device)> on_work_item;
    std::function<status(interrupt, device)> on_enable;
    std::function<status(interrupt, device)> on_disable;
    spin_lock spin_lock_handle;  // DIRQL only: shared interrupt lock
    wait_lock wait_lock_handle;  // passive only: shared interrupt lock
    tri_state share_vector = tri_state::use_default;
    bool floating_save = false;  // accepted, no effect (userspace threads keep their FP state)
    bool automatic_serialization = false;
    /// Unset: the driver flavour decides (KMDF: DIRQL; UMDF 2: passive, §14.2).
    std::optional<bool> passive_handling;
    /// Creation in EvtDevicePrepareHardware: the descriptors handed to that callback.
    const resource* interrupt_raw = nullptr;
    const resource* interrupt_translated = nullptr;
    tri_state report_inactive_on_power_down = tri_state::use_default;
    bool can_wake_device = false;
    // wdfx extensions
    wait_strategy strategy = wait_strategy::block;
    std::uint32_t spin_ns = 20000;  // spin_then_block: how long to poll before sleeping
};

/// WDF_INTERRUPT_INFO.
struct interrupt_info {
    std::uint64_t reserved1 = 0;
    std::uint64_t target_processor_set = 0;
    std::uint32_t reserved2 = 0;
    std::uint32_t message_number = 0;
    std::uint32_t vector = 0;
    std::uint8_t irql = 0;
    interrupt_mode mode = interrupt_mode::level_sensitive;
    interrupt_polarity polarity = interrupt_polarity::unknown;
    bool message_signaled = false;
    std::uint8_t share_disposition = 0;
    std::uint16_t group = 0;
};

/// WDF_INTERRUPT_EXTENDED_POLICY (GROUP_AFFINITY flattened: one group on Linux).
struct interrupt_extended_policy {
    interrupt_policy policy = interrupt_policy::machine_default;
    interrupt_priority priority = interrupt_priority::undefined;  // §13: must be set explicitly
    std::uint64_t target_processors = 0;
    std::uint16_t group = 0;
};

/// Per-interrupt counters (what `wdfxctl stat` shows). Written by the ISR thread only.
struct interrupt_stats {
    std::uint64_t wakeups = 0;  // ISR calls
    std::uint64_t signals = 0;  // eventfd signals (>= wakeups: the rest coalesced)
    std::uint64_t claimed = 0;
    std::uint64_t unclaimed = 0;
    std::uint64_t dropped = 0;  // signals that arrived while not connected/active
    std::uint64_t dpcs_queued = 0;
    std::uint64_t work_items_queued = 0;
    std::uint64_t isr_ns_total = 0;
    std::uint64_t isr_ns_hist[16] = {};  // bucket i: [2^(i+7), 2^(i+8)) ns; 0: < 256 ns
    bool storm_masked = false;           // the unclaimed-interrupt guard masked the vector
};

/// Where an interrupt is connected (the substitute for WdfInterruptWdmGetInterrupt, §11).
struct interrupt_binding {
    bus::irq_kind kind = bus::irq_kind::intx;
    std::uint32_t bus_vector = 0;
    int eventfd = -1;
    bool connected = false;
    int cpu = -1;            // the ISR thread's CPU, -1 if not pinned
    int sched_priority = 0;  // SCHED_FIFO priority, 0 for SCHED_OTHER
};

class interrupt : public object {
  public:
    interrupt() = default;
    explicit interrupt(std::uint64_t h) : object(h) {}

    /// WdfInterruptCreate (§5): only in EvtDriverDeviceAdd or EvtDevicePrepareHardware.
    static result<interrupt> create(device dev, const interrupt_config& config,
                                    const object_attributes& attributes = {});

    /// WdfInterruptQueueDpcForIsr (§9.1): TRUE if inserted now, FALSE if already queued.
    bool queue_dpc_for_isr() const noexcept;
    /// WdfInterruptQueueWorkItemForIsr (§9.2): from a DIRQL ISR, through the DPC (its result).
    bool queue_work_item_for_isr() const noexcept;

    /// WdfInterruptSynchronize (§10.5): runs `callback` under the interrupt lock, returns its
    /// value.
    bool synchronize(bool (*callback)(interrupt, void*), void* context) const;
    template <class F>
    requires std::is_invocable_r_v<bool, F&, interrupt>
    bool synchronize(F&& f) const {
        return synchronize(
            [](interrupt i, void* c) -> bool {
                return (*static_cast<std::remove_reference_t<F>*>(c))(i);
            },
            static_cast<void*>(&f));
    }

    /// WdfInterruptAcquireLock / ReleaseLock (§10.1). Not re-entrant.
    void acquire_lock() const;
    void release_lock() const;
    /// WdfInterruptTryToAcquireLock (§10.3): PASSIVE interrupts only; FALSE whenever held.
    bool try_to_acquire_lock() const;

    /// WdfInterruptEnable / WdfInterruptDisable (§8.4): force reconnect / disconnect, sticky.
    void enable() const;
    void disable() const;

    /// WdfInterruptGetInfo (§4, §11).
    interrupt_info get_info() const;
    /// WdfInterruptGetDevice.
    device get_device() const noexcept;

    /// WdfInterruptSetPolicy / SetExtendedPolicy (§13).
    void set_policy(interrupt_policy policy, interrupt_priority priority,
                    std::uint64_t target_processors) const;
    void set_extended_policy(const interrupt_extended_policy& policy) const;

    /// WdfInterruptReportActive / ReportInactive (§12).
    void report_active() const;
    void report_inactive() const;

    /// wdfx: the eventfd, vector and thread behind the interrupt (WdmGetInterrupt substitute).
    interrupt_binding get_binding() const;
    /// wdfx: a snapshot of the counters.
    interrupt_stats get_stats() const;
};

}  // namespace wdfx
