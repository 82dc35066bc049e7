// WDFINTERRUPT: creation (§5), resources (§7), connect/disconnect (§8), deferred work (§9),
// locks (§10), info (§11), report active/inactive (§12), policy (§13) and ISR dispatch (§14).
#include <x86intrin.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <wdfx/device.hpp>
#include <wdfx/interrupt.hpp>

#include "core/device_impl.hpp"
#include "core/driver_impl.hpp"
#include "core/interrupt_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"
#include "exec/runtime.hpp"
#include "os/log.hpp"

namespace wdfx {
namespace detail {

namespace {
/// TSC ticks per nanosecond, calibrated once (ISR duration histogram; rdtsc costs ~20 ns where
/// clock_gettime costs ~27 ns, and the pair runs on every ISR).
double tsc_per_ns() {
    static const double r = [] {
        timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        std::uint64_t t0 = __rdtsc();
        timespec d{0, 2000000};
        nanosleep(&d, nullptr);
        std::uint64_t t1 = __rdtsc();
        clock_gettime(CLOCK_MONOTONIC, &b);
        double ns =
            static_cast<double>((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec));
        double r0 = static_cast<double>(t1 - t0) / ns;
        return r0 > 0.01 ? r0 : 1.0;
    }();
    return r;
}

unsigned hist_bucket(std::uint64_t ns) noexcept {
    unsigned b = 0;
    ns >>= 8;
    while (ns != 0 && b < 15) {
        ns >>= 1;
        ++b;
    }
    return b;
}

std::uint8_t dirql_for(interrupt_priority p) noexcept {
    switch (p) {
        case interrupt_priority::low:
            return 5;
        case interrupt_priority::high:
            return 7;
        default:
            return 6;
    }
}
}  // namespace

// ---- construction -------------------------------------------------------------------------------

interrupt_impl::interrupt_impl(device_impl* d, const interrupt_config& c, bool p)
    : object_impl(kType), dev(d), cfg(c), passive(p) {
    no_delete_ddi = true;  // §8.7: MarkNoDeleteDDI
}

interrupt_impl::~interrupt_impl() {
    if (shared_spin != nullptr) shared_spin->release();
    if (wlock != nullptr) wlock->release();
    dev->release();
}

void interrupt_impl::dispose() {
    // §8.6 FlushAndRundown: flush DPCs, run the work item down, drop the private lock; then the
    // device list entry and the resources. The interrupt is disconnected by now (the device
    // stopped first); a connected one is disconnected here without Disable (the hardware is
    // being torn down).
    {
        connect_scope g(*this);
        if (connected || attached)
            (void)disconnect(notify_force_disconnect | notify_surprise_removed);
    }
    if (dpc) dpc->run_down();
    if (wi) wi->run_down();
    revoke_resources();
    dev->remove_interrupt(this);
}

// ---- resources (§7.1)
// --------------------------------------------------------------------------------

void interrupt_impl::reset_resources() noexcept {
    // FxInterrupt::Reset: clear everything but MessageNumber.
    std::uint32_t msg = info.message_number;
    info = interrupt_info{};
    info.message_number = msg;
    info.mode = interrupt_mode::level_sensitive;
    has_resource = false;
    res = resource{};
    sync_irql = 0;
}

void interrupt_impl::assign_resource(const resource& r, std::uint32_t offset) {
    res = r;
    res.first_vector = r.first_vector + offset;
    res.vector = r.vector + offset;  // multi-message MSI: base + message (§4)
    res.message_count = 1;
    has_resource = true;
    info.vector = res.vector;
    info.mode = r.mode;
    info.message_signaled = r.message_signaled;
    info.share_disposition = static_cast<std::uint8_t>(r.share);
    info.polarity = interrupt_polarity::unknown;  // never written by WDF (§4)
    info.irql =
        passive ? 0 : dirql_for(policy_set ? policy.priority : interrupt_priority::undefined);
    info.group = 0;
}

bool interrupt_impl::start_vector(std::string* why) {
    if (!has_resource || vec) return true;
    const auto& rc = runtime::get().config();
    auto cpus = os::allowed_cpus();
    const std::size_t n = cpus.size();
    std::uint64_t all = 0;
    for (int c : cpus)
        if (c < 64) all |= 1ull << c;
    // §13, §19.2: a policy set on an interrupt created in EvtDevicePrepareHardware comes after its
    // resources were assigned: stored (and reported), never applied.
    const bool use_policy = policy_set && !created_in_prepare_hardware;
    interrupt_policy pol = use_policy ? policy.policy : interrupt_policy::machine_default;
    interrupt_priority prio = use_policy ? policy.priority : interrupt_priority::undefined;
    int cpu = -1;
    switch (pol) {
        case interrupt_policy::machine_default:
        case interrupt_policy::one_close_processor:
            cpu = cpus[(static_cast<std::size_t>(dev->index) + message_number) % n];
            break;
        case interrupt_policy::spread_messages_across_all_processors:
            cpu = cpus[message_number % n];
            break;
        case interrupt_policy::specified_processors: {
            std::uint64_t m = policy.target_processors & all;
            if (m != 0) cpu = __builtin_ctzll(m);
            break;
        }
        case interrupt_policy::all_close_processors:
        case interrupt_policy::all_processors_in_machine:
            cpu = -1;
            break;
    }
    isr_vector::params p;
    char name[32];
    std::snprintf(name, sizeof name, "wdfx-isr/%d.%u", dev->index, message_number);
    p.thread_name = name;
    p.sched.cpu = cpu;
    p.sched.fifo_priority = rc.realtime ? rc.isr_fifo_priority[static_cast<int>(prio)] : 0;
    p.strategy = cfg.strategy;
    p.spin_ns = cfg.spin_ns;
    p.dirql = !passive;
    if (cfg.strategy == wait_strategy::busy_poll && cpu < 0) p.sched.cpu = cpus[message_number % n];
    vec = isr_vector::create(p, why);
    if (!vec) return false;
    info.target_processor_set = cpu >= 0 && cpu < 64 ? (1ull << cpu) : all;
    return true;
}

void interrupt_impl::revoke_resources() {
    // RevokeResources: the vector thread goes; MessageNumber stays.
    vec.reset();
    reset_resources();
}

// ---- locks (§10)
// ---------------------------------------------------------------------------------------

bool interrupt_impl::lock_for_isr() noexcept {
    if (passive)
        ilock->lock();
    else
        ilock->lock_spin();
    return true;
}

void interrupt_impl::unlock_for_isr() noexcept {
    ilock->unlock();
}

status interrupt_impl::run_enable_disable(bool enable) {
    const auto& fn = enable ? cfg.on_enable : cfg.on_disable;
    if (!fn) return status::success;
    // Under the interrupt lock, at the interrupt's level (§6): it cannot overlap the ISR.
    lock_for_isr();
    status st;
    {
        level_scope lv(passive ? level::passive : level::dirql);
        st = fn(interrupt(handle()), device(dev->handle()));
    }
    unlock_for_isr();
    return st;
}

// ---- connect / disconnect (§8.1, §8.2)
// ----------------------------------------------------------------

namespace {
result<void> attach(interrupt_impl& irq, int fd) {
    int fds[1] = {fd};
    return irq.dev->bus->set_irq_eventfds(irq.res.irq_kind, irq.res.first_vector, fds);
}
}  // namespace

status interrupt_impl::connect(unsigned flags) {
    if ((flags & notify_explicit_powerup) && use_soft_disconnect && connected) {
        report_active(true);  // soft reconnect, then Enable
    } else {
        if (force_disconnected) return status::success;  // sticky WdfInterruptDisable (§8.4)
        if (!has_resource) return status::success;       // Vector == 0: inert (§7.1)
        if (!(flags & notify_np) || !connected) {
            // ConnectInternal: publish the target before the trigger is attached, so a signal
            // that arrives at once is dispatched (§19.2).
            storm_masked.store(false, std::memory_order_relaxed);
            consecutive_unclaimed = 0;
            vec->set_target(this);
            auto r = attach(*this, vec->eventfd());
            if (!r) {
                vec->set_target(nullptr);
                vec->quiesce();
                os::log_fields(os::log_level::error, dev->name.c_str(),
                               static_cast<int>(message_number),
                               "%s: connecting interrupt %u (%s vector %u) failed: %s",
                               dev->name.c_str(), message_number, bus::irq_kind_name(res.irq_kind),
                               res.first_vector, r.err().describe().c_str());
                return r.code() == status::success ? status::unsuccessful : r.code();
            }
            attached = true;
            connected = true;
            active = true;
            // Steer the host IRQ to the ISR thread's CPU where permitted (the interrupt lands
            // where its handler runs: a same-CPU wake-up costs a fifth of a cross-CPU one).
            (void)dev->bus->set_irq_affinity(res.irq_kind, res.first_vector, vec->granted().cpu);
            if (res.irq_kind == bus::irq_kind::intx) {
                // A level-triggered line can be left masked by the last connection: by the
                // unclaimed-interrupt guard, or by an automask whose signal arrived after the
                // target was withdrawn (nobody unmasked it). Start unmasked; a line still
                // asserted fires again at once (§19.2).
                int ufd = dev->bus->intx_unmask_eventfd();
                if (ufd >= 0) {
                    std::uint64_t one = 1;
                    ssize_t w = ::write(ufd, &one, sizeof one);
                    (void)w;
                } else {
                    (void)dev->bus->unmask_intx();
                }
            }
        }
    }
    // Enable: under the interrupt lock. On failure m_Enabled stays FALSE, so no Disable later.
    status st = run_enable_disable(true);
    if (!nt_success(st)) return st;
    enabled = true;
    return status::success;
}

status interrupt_impl::disconnect(unsigned flags) {
    if (!has_resource) return status::success;
    if ((flags & notify_disconnect_inactive) && !use_soft_disconnect) return status::success;
    status final_status = status::success;
    bool do_disconnect = false;
    if (!connected) {
        if (!(attached && (flags & notify_force_disconnect))) return status::success;
        do_disconnect = true;  // after WdfInterruptDisable on a non-pageable device
    }
    if (!do_disconnect) {
        if (enabled && !(flags & notify_surprise_removed)) {
            status st = run_enable_disable(false);
            enabled = false;
            if (!nt_success(st)) {
                // Logged and remembered; the disconnect continues (§8.2).
                os::log_fields(os::log_level::warning, dev->name.c_str(),
                               static_cast<int>(message_number),
                               "%s: EvtInterruptDisable of interrupt %u failed: %s",
                               dev->name.c_str(), message_number, status_name(st));
                final_status = st;
            }
        }
        enabled = false;
        flush_deferred();
        if (use_soft_disconnect && (flags & notify_explicit_powerdown)) {
            (void)report_inactive(true);  // stays connected
            return final_status;
        }
        if (flags & notify_np) return final_status;  // disabled but left connected
    }
    // DisconnectInternal: detach the trigger, withdraw the target, wait for an ISR in flight,
    // then flush again: a late ISR may have queued work (UMDF's second flush, §8.2).
    if (attached) {
        auto r = attach(*this, -1);
        if (!r && !dev->surprise_removed.load())
            os::log_fields(os::log_level::warning, dev->name.c_str(),
                           static_cast<int>(message_number), "%s: detaching interrupt %u: %s",
                           dev->name.c_str(), message_number, r.err().describe().c_str());
        attached = false;
    }
    if (vec) {
        vec->set_target(nullptr);
        vec->quiesce();
    }
    flush_deferred();
    connected = false;
    active = false;
    return final_status;
}

status interrupt_impl::report_inactive(bool internal) {
    (void)internal;
    if (!active) return status::success;  // idempotent (§12)
    if (attached) {
        auto r = attach(*this, -1);
        if (!r) return r.code();
        attached = false;
    }
    active = false;
    return status::success;
}

void interrupt_impl::report_active(bool internal) {
    (void)internal;
    if (active) return;
    if (!attached && vec) {
        vec->set_target(this);
        auto r = attach(*this, vec->eventfd());
        if (!r) {
            os::log_fields(os::log_level::error, dev->name.c_str(),
                           static_cast<int>(message_number), "%s: re-attaching interrupt %u: %s",
                           dev->name.c_str(), message_number, r.err().describe().c_str());
            return;
        }
        attached = true;
    }
    active = true;
}

void interrupt_impl::force_disconnect() {
    connect_scope g(*this);
    force_disconnected = true;
    (void)disconnect(dev->power_pageable ? notify_none : notify_np);
}

void interrupt_impl::force_reconnect() {
    connect_scope g(*this);
    if (connected && dev->power_pageable) {
        verifier_report("WdfInterruptEnable", handle(), "interrupt already connected",
                        "multiple interrupt connection attempts (wdf-semantics §8.4)");
        return;
    }
    force_disconnected = false;
    // In Dx or before start, clearing the sticky flag is all: the next D0 entry connects.
    if (dev->power != device_power_state::d0) return;
    status st = connect(dev->power_pageable ? notify_none : notify_np);
    if (!nt_success(st))
        os::log_fields(os::log_level::warning, dev->name.c_str(), static_cast<int>(message_number),
                       "%s: WdfInterruptEnable of interrupt %u failed: %s", dev->name.c_str(),
                       message_number, status_name(st));
}

// ---- deferred work (§9)
// -----------------------------------------------------------------------------------

void interrupt_impl::flush_deferred() noexcept {
    if (dpc) dpc->flush();
    if (wi) wi->flush();
}

bool interrupt_impl::queue_dpc() noexcept {
    bool r = dpc->try_queue(current_cpu());
    // From the ISR (the usual caller) a plain store; from elsewhere a locked add.
    if (r) stats_ptr.load(std::memory_order_relaxed)->dpcs.add_from(tls().isr_of == this, 1);
    return r;
}

bool interrupt_impl::queue_work_item() noexcept {
    bool r = wi->try_queue();
    if (r) stats_ptr.load(std::memory_order_relaxed)->work_items.add_from(tls().isr_of == this, 1);
    return r;
}

void interrupt_impl::dpc_thunk(void* p) noexcept {
    auto* self = static_cast<interrupt_impl*>(p);
    // _InterruptDpcThunk: with a work item, the DPC only queues it (the DIRQL work-item chain).
    if (self->wi) {
        (void)self->queue_work_item();
        return;
    }
    if (!self->cfg.on_dpc) return;
    bool locked =
        self->cb_lock != nullptr && self->cb_lock->acquire("EvtInterruptDpc", self->handle());
    self->cfg.on_dpc(interrupt(self->handle()), object(self->dev->handle()));
    if (locked) self->cb_lock->release();
}

void interrupt_impl::work_item_thunk(void* p) noexcept {
    auto* self = static_cast<interrupt_impl*>(p);
    bool locked =
        self->cb_lock != nullptr && self->cb_lock->acquire("EvtInterruptWorkItem", self->handle());
    // UMDF: EvtInterruptDpc runs here, at PASSIVE (§9.1, §21 rule 8).
    const auto& fn = self->cfg.on_work_item ? self->cfg.on_work_item : self->cfg.on_dpc;
    if (fn) fn(interrupt(self->handle()), object(self->dev->handle()));
    if (locked) self->cb_lock->release();
}

// ---- ISR dispatch (§14)
// --------------------------------------------------------------------------------------

void interrupt_impl::dispatch(std::uint64_t signals) noexcept {
    // The fast path: no allocation, no syscall but the INTx unmask, one call into the driver.
    auto& t = tls();
    std::uint64_t t0 = __rdtsc();
    lock_for_isr();
    t.isr_of = this;
    isr_context ctx;
    ctx.message_id = message_number;  // MessageID = creation index (§4)
    ctx.signals = signals > 0xffffffffull ? 0xffffffffu : static_cast<std::uint32_t>(signals);
    bool claimed = cfg.on_isr(interrupt(handle()), ctx);
    t.isr_of = nullptr;
    unlock_for_isr();
    std::uint64_t dt = __rdtsc() - t0;

    irq_stats& c = *stats_ptr.load(std::memory_order_relaxed);
    c.wakeups.add(1);
    c.signals.add(signals);
    auto ns = static_cast<std::uint64_t>(static_cast<double>(dt) / tsc_per_ns());
    c.isr_ns_total.add(ns);
    c.hist[hist_bucket(ns)].add(1);
    if (claimed) {
        c.claimed.add(1);
        consecutive_unclaimed = 0;
    } else {
        c.unclaimed.add(1);
        if (++consecutive_unclaimed >= dev->unclaimed_limit) unclaimed_guard_trip();
    }
    if (res.irq_kind == bus::irq_kind::intx && !storm_masked.load(std::memory_order_relaxed)) {
        // Level-triggered: the bus masked the line when it fired; unmask after every ISR,
        // claimed or not (§19.2).
        int ufd = dev->bus->intx_unmask_eventfd();
        if (ufd >= 0) {
            std::uint64_t one = 1;
            ssize_t w = ::write(ufd, &one, sizeof one);
            (void)w;
        } else {
            (void)dev->bus->unmask_intx();
        }
    }
}

void interrupt_impl::unclaimed_guard_trip() noexcept {
    // The vector keeps firing and the ISR keeps saying "not mine" (an INTx line stuck asserted,
    // a device in a bad state): mask it instead of spinning forever. INTx stays masked (we do not
    // unmask); MSI/MSI-X is detached. Cleared at the next connect (WdfInterruptEnable, D0 entry).
    if (storm_masked.exchange(true)) return;
    if (res.irq_kind != bus::irq_kind::intx) {
        int fds[1] = {-1};
        (void)dev->bus->set_irq_eventfds(res.irq_kind, res.first_vector, fds);
    }
    os::log_fields(
        os::log_level::error, dev->name.c_str(), static_cast<int>(message_number),
        "%s: interrupt %u (%s vector %u) fired %u times in a row without its ISR claiming it: "
        "masked. Check the ISR's 'is it mine' test and the device's interrupt status; "
        "WdfInterruptDisable + WdfInterruptEnable or the next D0 entry unmasks it",
        dev->name.c_str(), message_number, bus::irq_kind_name(res.irq_kind), res.first_vector,
        consecutive_unclaimed);
}

void isr_dispatch(interrupt_impl* irq, std::uint64_t signals) noexcept {
    irq->dispatch(signals);
}

}  // namespace detail

// ======== public API
// ===========================================================================================

using namespace detail;

namespace {
bool valid_attr_type_info(const object_attributes& a) {
    return a.context == nullptr || (a.context->size != 0 && a.context->name != nullptr);
}

/// _GetEffectiveLock (§9.4).
status effective_callback_lock(object_impl* parent, bool automatic_serialization,
                               bool passive_callbacks, callback_lock** out) {
    *out = nullptr;
    if (!automatic_serialization) return status::success;
    synchronization_scope scope = synchronization_scope::none;
    if (parent->type() == object_type::device)
        scope = static_cast<device_impl*>(parent)->effective_scope();
    else
        scope = parent->sync_scope;
    if (scope == synchronization_scope::inherit_from_parent || scope == synchronization_scope::none)
        return status::success;  // silently no lock
    if (passive_callbacks != parent->passive_callbacks) {
        os::log(os::log_level::warning,
                "automatic serialization: the parent's execution level (%s) does not match the "
                "callback's (%s): STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL (wdf-semantics §9.4)",
                parent->passive_callbacks ? "passive" : "dispatch",
                passive_callbacks ? "passive" : "dispatch");
        return status::wdf_incompatible_execution_level;
    }
    *out = parent->get_callback_lock();
    return status::success;
}
}  // namespace

result<interrupt> interrupt::create(device d, const interrupt_config& config,
                                    const object_attributes& attributes) {
    constexpr const char* api = "WdfInterruptCreate";
    auto fail = [](status s, const char* why) -> result<interrupt> {
        return error::from_status(s, std::string("WdfInterruptCreate: ") + why);
    };
    auto* dev = resolve<device_impl>(d.handle(), api);
    if (dev == nullptr) return fail(status::invalid_handle, "invalid WDFDEVICE");
    if (!verify_level_max(level::dispatch, api, d.handle()))
        return fail(status::invalid_device_state, "called above DISPATCH_LEVEL");
    const bool umdf = dev->drv->config.flavour == driver_flavour::umdf2;
    const bool passive = config.passive_handling.value_or(umdf);
    // 3. UMDF: PassiveHandling must be TRUE (FX_VERIFY).
    if (umdf && !passive) {
        verifier_report(api, d.handle(), "UMDF interrupts are passive",
                        "PassiveHandling = FALSE in a UMDF 2 driver (wdf-semantics §1, §5 step 3)");
        return fail(status::invalid_parameter, "UMDF requires PassiveHandling");
    }
    // 4. ISR required.
    if (!config.on_isr) return fail(status::invalid_parameter, "EvtInterruptIsr is required");
    // 5. Attributes: a parent only with AutomaticSerialization; no level; scope inherit/none.
    if (attributes.parent != 0 && !config.automatic_serialization)
        return fail(status::wdf_parent_assignment_not_allowed,
                    "a ParentObject may be given only with AutomaticSerialization");
    // FxValidateObjectAttributes checks the scope before the level.
    if (attributes.scope != synchronization_scope::inherit_from_parent &&
        attributes.scope != synchronization_scope::none)
        return fail(status::wdf_synchronization_scope_invalid,
                    "SynchronizationScope must be InheritFromParent or None");
    if (attributes.level != execution_level::inherit_from_parent)
        return fail(status::wdf_execution_level_invalid,
                    "ExecutionLevel must be InheritFromParent");
    if (!valid_attr_type_info(attributes))
        return fail(status::wdf_object_attributes_invalid, "bad context type information");
    // 6. Creation window: EvtDriverDeviceAdd (PnP state Init) or EvtDevicePrepareHardware.
    const bool in_prepare = dev->in_prepare_hardware.load();
    const bool in_add = dev->state.load() == device_state::added && !dev->hardware_prepared;
    if (!in_prepare && !in_add)
        return fail(status::invalid_device_state,
                    "only in EvtDriverDeviceAdd or EvtDevicePrepareHardware (§5)");
    if (!in_prepare) {
        // 7. AddDevice: no resources, no wake.
        if (config.interrupt_raw != nullptr || config.interrupt_translated != nullptr)
            return fail(status::invalid_parameter,
                        "InterruptRaw/Translated must be NULL in AddDevice");
        if (config.can_wake_device)
            return fail(status::invalid_parameter, "CanWakeDevice in AddDevice");
    } else {
        // 8. PrepareHardware: both descriptors, default ShareVector.
        if (config.interrupt_raw == nullptr || config.interrupt_translated == nullptr)
            return fail(status::invalid_device_state,
                        "InterruptRaw and InterruptTranslated are required in PrepareHardware");
        if (config.share_vector != tri_state::use_default)
            return fail(status::invalid_device_state,
                        "ShareVector must be WdfUseDefault in PrepareHardware");
    }
    // 9. CanWakeDevice: Linux offers no wake-hinted interrupt resources (documented substitute).
    if (config.can_wake_device)
        return fail(status::invalid_parameter,
                    "CanWakeDevice: no interrupt resource carries a wake hint on Linux");
    // 10. DPC xor work item.
    if (config.on_dpc && config.on_work_item)
        return fail(status::invalid_parameter,
                    "EvtInterruptDpc and EvtInterruptWorkItem are exclusive");
    // 11. DIRQL forbids a wait lock; passive forbids a spin lock.
    if (!passive && config.wait_lock_handle)
        return fail(status::invalid_parameter, "WaitLock is for passive-level interrupts");
    if (passive && config.spin_lock_handle)
        return fail(status::invalid_parameter, "SpinLock is for DIRQL interrupts");
    // 12. The descriptors must be the ones handed to EvtDevicePrepareHardware.
    if (in_prepare) {
        auto inside = [](const resource* r, const resource_list& l) {
            return !l.empty() && r >= l.data() && r < l.data() + l.size();
        };
        if (!inside(config.interrupt_raw, dev->raw) ||
            !inside(config.interrupt_translated, dev->translated) ||
            config.interrupt_translated->type != resource_type::interrupt)
            return fail(
                status::invalid_parameter,
                "InterruptRaw/Translated are not interrupt descriptors of this device's lists");
    }
    spin_lock_impl* spin = nullptr;
    wait_lock_impl* wl = nullptr;
    if (config.spin_lock_handle) {
        spin = resolve<spin_lock_impl>(config.spin_lock_handle.handle(), api);
        if (spin == nullptr) return fail(status::invalid_handle, "bad SpinLock handle");
    }
    if (config.wait_lock_handle) {
        wl = resolve<wait_lock_impl>(config.wait_lock_handle.handle(), api);
        if (wl == nullptr) return fail(status::invalid_handle, "bad WaitLock handle");
    }
    // InitializeWorker: the parent is the device, or (with AutomaticSerialization) a device or
    // queue of this device.
    object_impl* parent = dev;
    if (attributes.parent != 0) {
        parent = resolve_any(attributes.parent, object_type::none, api);
        if (parent == nullptr) return fail(status::invalid_handle, "bad ParentObject");
        object_impl* owner = parent->type() == object_type::queue
                                 ? parent->find_ancestor(object_type::device)
                                 : parent;
        if ((parent->type() != object_type::device && parent->type() != object_type::queue) ||
            owner != dev)
            return fail(status::invalid_parameter,
                        "the parent must be this device or one of its queues");
    }
    const bool has_wi_cb = static_cast<bool>(config.on_work_item);
    const bool has_dpc_cb = static_cast<bool>(config.on_dpc);
    // passiveCallbacks: a work item is passive; a DPC is DISPATCH in KMDF but runs as a work item
    // at PASSIVE in UMDF; with neither, the interrupt's own mode.
    bool passive_callbacks = has_wi_cb ? true : has_dpc_cb ? umdf : passive;
    callback_lock* cbl = nullptr;
    status st =
        effective_callback_lock(parent, config.automatic_serialization, passive_callbacks, &cbl);
    if (!nt_success(st)) return fail(st, "automatic serialization: incompatible execution level");

    // 13. Create and commit.
    (void)tsc_per_ns();  // calibrate here (it sleeps 2 ms), never on an ISR thread
    auto* irq = new interrupt_impl(dev, config, passive);
    dev->add_ref();
    irq->umdf = umdf;
    irq->cb_lock = cbl;
    if (spin != nullptr) {
        spin->add_ref();
        spin->is_interrupt_lock.store(true);  // WdfSpinLockAcquire on it is now a verifier report
        irq->shared_spin = spin;
        irq->ilock = &spin->lk;
    } else if (wl != nullptr) {
        wl->add_ref();
        irq->wlock = wl;
        irq->ilock = &wl->lk;
    } else {
        irq->ilock = &irq->builtin_lock;  // built-in spin lock, or the private wait lock
    }
    irq->use_soft_disconnect = config.report_inactive_on_power_down == tri_state::true_value;
    if (!umdf) {
        irq->dpc = std::make_unique<deferred_item>(deferred_item::target::dpc,
                                                   &interrupt_impl::dpc_thunk, irq);
    }
    if (has_wi_cb || (umdf && has_dpc_cb)) {
        irq->wi = std::make_unique<deferred_item>(deferred_item::target::pool,
                                                  &interrupt_impl::work_item_thunk, irq);
        // With a work item, the DPC only forwards to it (dpc_thunk): framework code only.
        if (irq->dpc) irq->dpc->set_internal();
    }
    std::lock_guard g(dev->pnp_lock);
    irq->message_number = dev->interrupt_object_count;
    irq->info.message_number = irq->message_number;
    irq->commit(attributes, parent);
    if (in_prepare) {
        irq->created_in_prepare_hardware = true;
        const resource& r = *config.interrupt_translated;
        std::uint32_t offset = 0;
        // The n-th object created for one multi-message descriptor takes message n.
        for (interrupt_impl* other : dev->interrupts)
            if (other->created_in_prepare_hardware && other->has_resource &&
                other->res.vector - other->res.first_vector == r.vector - r.first_vector &&
                other->res.irq_kind == r.irq_kind)
                ++offset;
        irq->assign_resource(r, r.message_count > 1 ? std::min(offset, r.message_count - 1) : 0);
    }
    dev->add_interrupt(irq);
    return interrupt(irq->handle());
}

bool interrupt::queue_dpc_for_isr() const noexcept {
    auto* irq = resolve<interrupt_impl>(h_, "WdfInterruptQueueDpcForIsr");
    if (irq == nullptr) return false;
    if (irq->umdf) {
        // UMDF: QueueDeferredRoutineForIsr -> QueueWorkItemForIsr; the DPC is the work item (§9.1).
        if (!irq->wi) {
            verifier_report("WdfInterruptQueueDpcForIsr", h_, "no EvtInterruptDpc",
                            "this interrupt has neither EvtInterruptDpc nor EvtInterruptWorkItem");
            return false;
        }
        return irq->queue_work_item();
    }
    if (!irq->cfg.on_dpc) {
        // SRC: ASSERT(m_EvtInterruptDpc != NULL); free builds fall back to the work item or crash.
        verifier_report("WdfInterruptQueueDpcForIsr", h_, "no EvtInterruptDpc",
                        "the interrupt was created without EvtInterruptDpc (wdf-semantics §9.1)");
        if (!irq->wi) return false;
    }
    return irq->queue_dpc();
}

bool interrupt::queue_work_item_for_isr() const noexcept {
    constexpr const char* api = "WdfInterruptQueueWorkItemForIsr";
    auto* irq = resolve<interrupt_impl>(h_, api);
    if (irq == nullptr) return false;
    if (!irq->wi) {
        verifier_report(api, h_, "no EvtInterruptWorkItem",
                        "the interrupt was created without EvtInterruptWorkItem (bug check, §9.2)");
        return false;
    }
    if (current_level() > level::dispatch) {
        if (irq->umdf) {
            verifier_report(api, h_, "not expected", "UMDF interrupts never run at DIRQL (§9.2)");
            return false;
        }
        // From a DIRQL ISR: queue the internal DPC, which queues the work item. The return value
        // is the DPC's; the work item's is lost (§9.2, §21 rule 8).
        return irq->queue_dpc();
    }
    if (irq->wi->is_running_down()) {
        verifier_report(api, h_, "work item running down", "the interrupt is being deleted");
        return false;
    }
    return irq->queue_work_item();
}

bool interrupt::synchronize(bool (*callback)(interrupt, void*), void* context) const {
    constexpr const char* api = "WdfInterruptSynchronize";
    auto* irq = resolve<interrupt_impl>(h_, api);
    if (irq == nullptr) return false;
    if (callback == nullptr) {
        verifier_report(api, h_, "required parameter is NULL",
                        "Callback (WDF_REQUIRED_PARAMETER_IS_NULL)");
        return false;
    }
    if (!verify_level_max(irq->passive ? level::passive : level::dispatch, api, h_)) return false;
    if (!irq->umdf && !irq->connected) {
        // KM: ASSERTMSG(kinterrupt != NULL). UMDF works unconnected (§10.5).
        verifier_report(api, h_, "interrupt not connected",
                        "WdfInterruptSynchronize needs a connected interrupt (wdf-semantics §10.5, "
                        "§21 rule 14)");
        return false;
    }
    if (irq->ilock->held_by_me()) {
        verifier_report(api, h_, "recursive interrupt lock acquire",
                        "this thread already holds the interrupt lock (ISR, Enable/Disable, "
                        "Synchronize or AcquireLock section): a nested Synchronize self-deadlocks "
                        "(§10.1)");
        return false;
    }
    irq->lock_for_isr();
    bool r;
    {
        level_scope lv(irq->passive ? level::passive : level::dirql);
        r = callback(*this, context);
    }
    irq->unlock_for_isr();
    return r;
}

void interrupt::acquire_lock() const {
    constexpr const char* api = "WdfInterruptAcquireLock";
    auto* irq = resolve<interrupt_impl>(h_, api);
    if (irq == nullptr) return;
    if (irq->passive) {
        if (!verify_level_max(level::passive, api, h_)) return;
    } else if (!irq->connected) {
        // §10.1: a verifier break; WDF then returns WITHOUT the lock.
        verifier_report(
            api, h_, "interrupt not connected",
            "Can't synchronize when the WDFINTERRUPT isn't connected (§10.1, §21 rule 14)");
        irq->saved_level = current_level();
        return;
    }
    if (irq->ilock->held_by_me()) {
        verifier_report(api, h_, "recursive interrupt lock acquire",
                        "this thread already holds the interrupt lock (not re-entrant, §10.1)");
        return;
    }
    if (irq->passive) {
        irq->ilock->lock();
    } else {
        irq->ilock->lock_spin();
        irq->saved_level = tls().lvl;
        tls().lvl = level::dirql;
    }
}

void interrupt::release_lock() const {
    constexpr const char* api = "WdfInterruptReleaseLock";
    auto* irq = resolve<interrupt_impl>(h_, api);
    if (irq == nullptr) return;
    if (!irq->passive && !irq->connected && !irq->ilock->held_by_me()) {
        verifier_report(api, h_, "interrupt not connected",
                        "release without a connected interrupt");
        return;
    }
    if (!irq->ilock->held_by_me()) {
        verifier_report(api, h_, "lock not held", "this thread does not hold the interrupt lock");
        return;
    }
    if (!irq->passive) tls().lvl = irq->saved_level;
    irq->ilock->unlock();
}

bool interrupt::try_to_acquire_lock() const {
    constexpr const char* api = "WdfInterruptTryToAcquireLock";
    auto* irq = resolve<interrupt_impl>(h_, api);
    if (irq == nullptr) return false;
    if (!irq->passive) {
        WDFX_LOG_ONCE(os::log_level::warning,
                      "WdfInterruptTryToAcquireLock on a DIRQL interrupt always returns FALSE "
                      "(wdf-semantics §10.3)");
        return false;
    }
    if (!verify_level_max(level::passive, api, h_)) return false;
    // A zero-timeout acquire: FALSE whenever held, by another thread or by this one (§10.3).
    return irq->ilock->try_lock();
}

void interrupt::enable() const {
    constexpr const char* api = "WdfInterruptEnable";
    auto* irq = resolve<interrupt_impl>(h_, api);
    if (irq == nullptr) return;
    if (!verify_level_max(level::passive, api, h_)) return;
    if (irq->ilock->held_by_me() || irq->connect_owner.load() == &tls()) {
        verifier_report(api, h_, "called under the interrupt lock",
                        "WdfInterruptEnable takes the interrupt lock; calling it from an ISR, "
                        "Enable/Disable or Synchronize callback or a locked section deadlocks");
        return;
    }
    irq->force_reconnect();
}

void interrupt::disable() const {
    constexpr const char* api = "WdfInterruptDisable";
    auto* irq = resolve<interrupt_impl>(h_, api);
    if (irq == nullptr) return;
    if (!verify_level_max(level::passive, api, h_)) return;
    if (irq->ilock->held_by_me() || irq->connect_owner.load() == &tls()) {
        verifier_report(
            api, h_, "called under the interrupt lock",
            "WdfInterruptDisable takes the interrupt lock and flushes; calling it from "
            "an ISR, Enable/Disable or Synchronize callback or a locked section deadlocks");
        return;
    }
    if (irq->wi && irq->wi->running_on_this_thread()) {
        verifier_report(api, h_, "called from the interrupt's own work item",
                        "WdfInterruptDisable flushes the work item it runs in (§8.4)");
        return;
    }
    irq->force_disconnect();
}

interrupt_info interrupt::get_info() const {
    auto* irq = resolve<interrupt_impl>(h_, "WdfInterruptGetInfo");
    if (irq == nullptr) return {};
    if (!verify_level_max(level::dispatch, "WdfInterruptGetInfo", h_)) return {};
    return irq->info;
}

device interrupt::get_device() const noexcept {
    auto* irq = resolve<interrupt_impl>(h_, "WdfInterruptGetDevice");
    return irq != nullptr ? device(irq->dev->handle()) : device();
}

void interrupt::set_policy(interrupt_policy p, interrupt_priority pr, std::uint64_t cpus) const {
    interrupt_extended_policy e;
    e.policy = p;
    e.priority = pr;
    e.target_processors = cpus;
    auto* irq = resolve<interrupt_impl>(h_, "WdfInterruptSetPolicy");
    if (irq == nullptr) return;
    if (!verify_level_max(level::dispatch, "WdfInterruptSetPolicy", h_)) return;
    if (static_cast<unsigned>(p) >
            static_cast<unsigned>(interrupt_policy::spread_messages_across_all_processors) ||
        pr < interrupt_priority::low || pr > interrupt_priority::high) {
        verifier_report("WdfInterruptSetPolicy", h_, "policy out of range",
                        "Policy %u / Priority %u (Priority must be Low, Normal or High; §13)",
                        static_cast<unsigned>(p), static_cast<unsigned>(pr));
        return;
    }
    if (irq->created_in_prepare_hardware)
        verifier_report("WdfInterruptSetPolicy", h_, "policy too late",
                        "You cannot apply policy at this stage: the interrupt was created in "
                        "EvtDevicePrepareHardware (§13); the values are stored but unused");
    detail::interrupt_impl::connect_scope g(*irq);
    irq->policy = e;
    irq->policy_set = true;
}

void interrupt::set_extended_policy(const interrupt_extended_policy& e) const {
    auto* irq = resolve<interrupt_impl>(h_, "WdfInterruptSetExtendedPolicy");
    if (irq == nullptr) return;
    if (!verify_level_max(level::dispatch, "WdfInterruptSetExtendedPolicy", h_)) return;
    if (static_cast<unsigned>(e.policy) >
            static_cast<unsigned>(interrupt_policy::spread_messages_across_all_processors) ||
        e.priority < interrupt_priority::low || e.priority > interrupt_priority::high) {
        verifier_report(
            "WdfInterruptSetExtendedPolicy", h_, "policy out of range",
            "Policy %u / Priority %u: WDF_INTERRUPT_EXTENDED_POLICY_INIT leaves Priority "
            "Undefined, which is rejected; set it explicitly (§13, §20)",
            static_cast<unsigned>(e.policy), static_cast<unsigned>(e.priority));
        return;
    }
    if (irq->created_in_prepare_hardware)
        verifier_report("WdfInterruptSetExtendedPolicy", h_, "policy too late",
                        "You cannot apply policy at this stage (§13)");
    detail::interrupt_impl::connect_scope g(*irq);
    irq->policy = e;
    irq->policy_set = true;
}

void interrupt::report_active() const {
    auto* irq = resolve<interrupt_impl>(h_, "WdfInterruptReportActive");
    if (irq == nullptr) return;
    if (!verify_level_max(level::dispatch, "WdfInterruptReportActive", h_)) return;
    if (irq->umdf) return;  // KM only; a no-op in UMDF (§12)
    detail::interrupt_impl::connect_scope g(*irq);
    if (!irq->connected) {
        verifier_report("WdfInterruptReportActive", h_, "interrupt not connected",
                        "reporting an interrupt active even though it is not connected (§12)");
        return;
    }
    irq->report_active(false);
}

void interrupt::report_inactive() const {
    auto* irq = resolve<interrupt_impl>(h_, "WdfInterruptReportInactive");
    if (irq == nullptr) return;
    if (!verify_level_max(level::dispatch, "WdfInterruptReportInactive", h_)) return;
    if (irq->umdf) return;
    detail::interrupt_impl::connect_scope g(*irq);
    if (!irq->connected) {
        verifier_report("WdfInterruptReportInactive", h_, "interrupt not connected",
                        "reporting an interrupt inactive even though it is not connected (§12)");
        return;
    }
    (void)irq->report_inactive(false);
}

interrupt_binding interrupt::get_binding() const {
    interrupt_binding b;
    auto* irq = resolve<interrupt_impl>(h_, "wdfx::interrupt::get_binding");
    if (irq == nullptr) return b;
    detail::interrupt_impl::connect_scope g(*irq);
    b.kind = irq->res.irq_kind;
    b.bus_vector = irq->res.first_vector;
    b.connected = irq->connected;
    if (irq->vec) {
        b.eventfd = irq->vec->eventfd();
        auto got = irq->vec->granted();
        b.cpu = got.cpu;
        b.sched_priority = got.fifo_priority;
    }
    return b;
}

interrupt_stats interrupt::get_stats() const {
    interrupt_stats s;
    auto* irq = resolve<interrupt_impl>(h_, "wdfx::interrupt::get_stats");
    if (irq == nullptr) return s;
    const irq_stats& c = *irq->stats_ptr.load();
    s.wakeups = c.wakeups.get();
    s.signals = c.signals.get();
    s.claimed = c.claimed.get();
    s.unclaimed = c.unclaimed.get();
    s.dpcs_queued = c.dpcs.get();
    s.work_items_queued = c.work_items.get();
    s.isr_ns_total = c.isr_ns_total.get();
    for (int i = 0; i < 16; ++i)
        s.isr_ns_hist[i] = c.hist[i].get();
    s.storm_masked = irq->storm_masked.load();
    if (irq->vec) s.dropped = irq->vec->dropped();
    return s;
}

}  // namespace wdfx
