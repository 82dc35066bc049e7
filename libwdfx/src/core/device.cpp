// WDFDEVICE: the PnP/power sequence of wdf-semantics §8.3 with its failure paths (§21 rules 4-5).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <system_error>

#include <wdfx/device.hpp>
#include <wdfx/driver.hpp>

#include "core/device_impl.hpp"
#include "core/driver_impl.hpp"
#include "core/interrupt_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"
#include "exec/pnp_thread.hpp"
#include "exec/runtime.hpp"
#include "exec/timer_service.hpp"
#include "os/log.hpp"

namespace wdfx {

const char* power_state_name(device_power_state s) noexcept {
    switch (s) {
        case device_power_state::invalid:
            return "WdfPowerDeviceInvalid";
        case device_power_state::d0:
            return "WdfPowerDeviceD0";
        case device_power_state::d1:
            return "WdfPowerDeviceD1";
        case device_power_state::d2:
            return "WdfPowerDeviceD2";
        case device_power_state::d3:
            return "WdfPowerDeviceD3";
        case device_power_state::d3_final:
            return "WdfPowerDeviceD3Final";
        case device_power_state::prepare_for_hibernation:
            return "WdfPowerDevicePrepareForHibernation";
    }
    return "?";
}

const char* device_state_name(device_state s) noexcept {
    switch (s) {
        case device_state::added:
            return "added";
        case device_state::started:
            return "started";
        case device_state::powered_down:
            return "powered-down";
        case device_state::stopped:
            return "stopped";
        case device_state::failed:
            return "failed";
        case device_state::removed:
            return "removed";
    }
    return "?";
}

namespace detail {

namespace {
std::atomic<int> g_device_index{0};

/// Marks the calling thread as running a PnP callback of `dev` for a scope.
class pnp_scope {
  public:
    explicit pnp_scope(device_impl* d) noexcept
        : saved_dev_(tls().pnp_device), saved_lvl_(tls().lvl) {
        tls().pnp_device = d;
        tls().lvl = level::passive;
    }
    ~pnp_scope() {
        tls().pnp_device = saved_dev_;
        tls().lvl = saved_lvl_;
    }
    pnp_scope(const pnp_scope&) = delete;
    pnp_scope& operator=(const pnp_scope&) = delete;

  private:
    object_impl* saved_dev_;
    level saved_lvl_;
};
}  // namespace

device_impl::live_token::live_token(driver_impl* drv) : d(drv) {
    if (d != nullptr) d->device_born();
}

device_impl::live_token::~live_token() {
    if (d != nullptr) d->device_gone();
}

device_impl::device_impl(driver_impl* d, device_init& init, bool passive_level)
    : object_impl(kType),
      live(d),
      drv(d),
      cb(init.pnp_power),
      power_pageable(init.power_pageable),
      interrupt_preference(init.interrupt_preference),
      message_limit(init.message_limit),
      unclaimed_limit(init.unclaimed_limit == 0 ? 1 : init.unclaimed_limit),
      on_error_reported(init.on_error_reported),
      bus(init.bus_device),
      name(init.bus_device ? init.bus_device->name() : std::string("device")),
      index(g_device_index.fetch_add(1)),
      cb_lock(std::make_unique<callback_lock>(passive_level)) {
    no_delete_ddi = true;  // only the framework deletes a (non-control) device (§18.3)
    file_config = init.file_config;
}

/// The presence probe: one periodic timer for the process (armed once: arming allocates in the
/// timer service), over the started devices registered with it. It expires on the timer thread
/// (DISPATCH) and reads each device's config space there: one pread on VFIO, no allocation. Only
/// a device that no longer answers goes on to the PnP event thread, which checks again under the
/// PnP lock. A device leaves the registry (under its lock) before it goes, so an expiry never
/// sees a dead one.
class device_impl::presence_probe final : public timer_service::client {
  public:
    static presence_probe& get() {
        runtime::get();  // constructed first, so destroyed after this
        static presence_probe p;
        return p;
    }
    void add(device_impl* d, unsigned period_ms) {
        std::lock_guard g(lock_);
        if (std::find(devices_.begin(), devices_.end(), d) == devices_.end()) devices_.push_back(d);
        if (armed_) return;
        armed_ = true;
        const std::uint64_t period = std::uint64_t{period_ms} * 1000000ull;
        runtime::get().timers().arm(this, timer_service::now_ns() + period, period);
    }
    void remove(device_impl* d) {
        std::lock_guard g(lock_);
        devices_.erase(std::remove(devices_.begin(), devices_.end(), d), devices_.end());
    }
    void expired() noexcept override {
        std::lock_guard g(lock_);
        for (device_impl* d : devices_) {
            if (d->state.load() != device_state::started || d->hardware_present()) continue;
            if (d->presence_check_queued.exchange(true)) continue;
            std::uint64_t h = d->handle();
            post_pnp_event([h] {
                if (auto* dev = static_cast<device_impl*>(handle_lookup(h, object_type::device))) {
                    dev->presence_check_queued = false;
                    dev->check_presence();
                }
            });
        }
    }

  private:
    presence_probe() = default;
    ~presence_probe() {
        if (!armed_) return;
        auto& t = runtime::get().timers();
        t.cancel(this);
        t.sync();
    }
    std::mutex lock_;
    std::vector<device_impl*> devices_;
    bool armed_ = false;
};

device_impl::~device_impl() {
    stop_presence_probe();
}

bool device_impl::hardware_present() {
    if (!bus) return true;
    // The revision/class dword: vfio-pci virtualises the vendor and device IDs (they read back
    // even from a device that is gone) but passes this one through to the hardware, and no
    // function that answers has class 0xffffff. A read that fails with ENODEV/EIO/ENXIO says
    // the same.
    std::byte b[4];
    auto r = bus->config_read(0x08, b);
    if (!r) {
        const int e = r.err().code.value();
        return !(r.err().code.category() == std::system_category() &&
                 (e == ENODEV || e == EIO || e == ENXIO));
    }
    if (*r != sizeof b) return true;
    for (std::byte x : b)
        if (x != std::byte{0xff}) return true;
    return false;
}

void device_impl::check_presence() {
    {
        std::lock_guard g(pnp_lock);
        if (state.load() != device_state::started || removing) return;
        if (hardware_present()) return;
    }
    os::log_fields(os::log_level::warning, name.c_str(), -1,
                   "%s: the device no longer answers (config space reads all ones): it is gone, "
                   "handled as a surprise removal",
                   name.c_str());
    remove(true);
}

void device_impl::arm_presence_probe() {
    const unsigned ms = runtime::get().config().presence_ms;
    if (!bus || ms == 0 || presence_registered) return;
    presence_registered = true;
    presence_probe::get().add(this, ms);
}

void device_impl::stop_presence_probe() {
    if (!presence_registered) return;
    presence_probe::get().remove(this);
    presence_registered = false;
}

synchronization_scope device_impl::effective_scope() const noexcept {
    if (sync_scope != synchronization_scope::inherit_from_parent) return sync_scope;
    synchronization_scope d = drv->sync_scope;
    return d == synchronization_scope::inherit_from_parent ? synchronization_scope::none : d;
}

void device_impl::add_interrupt(interrupt_impl* irq) {
    // pnp_lock held by the caller (interrupt::create). The list keeps creation order.
    interrupts.push_back(irq);
    ++interrupt_object_count;
}

void device_impl::remove_interrupt(interrupt_impl* irq) {
    // RemoveInterruptObject counts down (§4: MessageNumber is the count at creation): interrupts
    // re-created in every EvtDevicePrepareHardware get the same MessageID at every start.
    std::lock_guard g(pnp_lock);
    auto it = std::find(interrupts.begin(), interrupts.end(), irq);
    if (it != interrupts.end()) {
        interrupts.erase(it);
        --interrupt_object_count;
    }
}

status device_impl::call(const char* what, const std::function<status()>& fn) {
    status st = fn();
    if (!nt_success(st))
        os::log_fields(os::log_level::warning, name.c_str(), -1, "%s: %s failed: %s", name.c_str(),
                       what, status_name(st));
    return st;
}

// ---- resources (§7.1)
// -------------------------------------------------------------------------------

status device_impl::build_resources() {
    raw.clear();
    translated.clear();
    if (!bus) return status::success;
    // Memory and port BARs (regions 0-5).
    for (std::uint32_t i = 0; i < std::min<std::uint32_t>(6, bus->num_regions()); ++i) {
        auto r = bus->region(i);
        if (!r || r->size == 0) continue;
        resource m;
        m.type = r->io_port ? resource_type::port : resource_type::memory;
        m.bar = i;
        m.start = 0;
        m.length = r->size;
        raw.push_back(m);
    }
    // Interrupts: MSI-X, else MSI, else INTx, unless the driver asked for one kind.
    bus::irq_kind kind = bus::irq_kind::intx;
    std::uint32_t count = 0;
    auto pick = [&](bus::irq_kind k) {
        std::uint32_t c = bus->irq(k).count;
        if (c != 0 && count == 0) {
            kind = k;
            count = c;
        }
    };
    switch (interrupt_preference) {
        case interrupt_type::automatic:
            pick(bus::irq_kind::msix);
            pick(bus::irq_kind::msi);
            pick(bus::irq_kind::intx);
            break;
        case interrupt_type::msix:
            pick(bus::irq_kind::msix);
            break;
        case interrupt_type::msi:
            pick(bus::irq_kind::msi);
            break;
        case interrupt_type::intx:
            pick(bus::irq_kind::intx);
            break;
    }
    if (count == 0 && interrupt_preference != interrupt_type::automatic)
        os::log_fields(os::log_level::warning, name.c_str(), -1,
                       "%s: the device offers no %s interrupt; it gets none", name.c_str(),
                       interrupt_preference == interrupt_type::msix  ? "MSI-X"
                       : interrupt_preference == interrupt_type::msi ? "MSI"
                                                                     : "INTx");
    if (message_limit != 0) count = std::min(count, message_limit);
    const std::uint32_t base = (static_cast<std::uint32_t>(kind) << 16) + 1;  // never 0 (§4)
    auto make = [&](std::uint32_t first, std::uint32_t messages) {
        resource r;
        r.type = resource_type::interrupt;
        r.irq_kind = kind;
        r.first_vector = first;
        r.vector = base + first;
        r.message_count = messages;
        r.irql = 6;
        r.mode =
            kind == bus::irq_kind::intx ? interrupt_mode::level_sensitive : interrupt_mode::latched;
        r.message_signaled = kind != bus::irq_kind::intx;
        r.share = kind == bus::irq_kind::intx ? share_disposition::shared
                                              : share_disposition::device_exclusive;
        raw.push_back(r);
    };
    if (kind == bus::irq_kind::msix) {
        for (std::uint32_t i = 0; i < count; ++i)
            make(i, 1);
    } else if (kind == bus::irq_kind::msi && count > 0) {
        make(0, count);  // one descriptor, MessageCount = N
    } else if (count > 0) {
        make(0, 1);
    }
    translated = raw;
    return status::success;
}

void device_impl::match_resources() {
    // PnpMatchResources: Reset() every interrupt, then hand descriptors to objects in creation
    // order; a multi-message MSI descriptor goes to the next MessageCount objects.
    for (interrupt_impl* irq : interrupts)
        irq->reset_resources();
    std::size_t next = 0;
    std::size_t unmatched = 0;
    for (const resource& r : translated) {
        if (r.type != resource_type::interrupt) continue;
        std::uint32_t n = std::max<std::uint32_t>(1, r.message_count);
        for (std::uint32_t m = 0; m < n; ++m) {
            if (next < interrupts.size()) {
                interrupts[next++]->assign_resource(r, m);
            } else {
                ++unmatched;
            }
        }
    }
    if (unmatched != 0 && !interrupts.empty())
        os::log(os::log_level::debug,
                "%s: not enough interrupt objects created: %zu vectors unused", name.c_str(),
                unmatched);
}

// ---- power sequences (§8.3)
// -----------------------------------------------------------------------------

void device_impl::connect_failed_teardown(unsigned flags) {
    // PowerConnectInterruptFailed: NotifyResourceObjectsDx(ForceDisconnect) - the enabled ones
    // get EvtInterruptDisable - then EvtDeviceD0Exit(D3Final).
    for (auto it = interrupts.rbegin(); it != interrupts.rend(); ++it) {
        interrupt_impl::connect_scope g(**it);
        (void)(*it)->disconnect(flags | notify_force_disconnect);
    }
    if (cb.on_d0_exit)
        (void)call("EvtDeviceD0Exit",
                   [&] { return cb.on_d0_exit(device(handle()), device_power_state::d3_final); });
}

status device_impl::power_up_sequence(device_power_state previous, unsigned flags) {
    pnp_scope ps(this);
    if (cb.on_d0_entry) {
        status st =
            call("EvtDeviceD0Entry", [&] { return cb.on_d0_entry(device(handle()), previous); });
        if (!nt_success(st)) return st;  // the device fails; D0Exit is not called
    }
    power = device_power_state::d0;
    for (interrupt_impl* irq : interrupts) {  // creation order
        status st;
        {
            interrupt_impl::connect_scope g(*irq);
            st = irq->connect(flags);
        }
        if (!nt_success(st)) {
            os::log(os::log_level::error, "%s: interrupt %u failed to connect/enable: %s",
                    name.c_str(), irq->message_number, status_name(st));
            connect_failed_teardown(flags & notify_np);
            power = device_power_state::d3_final;
            return st;
        }
    }
    if (cb.on_d0_entry_post_interrupts_enabled) {
        status st = call("EvtDeviceD0EntryPostInterruptsEnabled", [&] {
            return cb.on_d0_entry_post_interrupts_enabled(device(handle()), previous);
        });
        if (!nt_success(st)) {
            connect_failed_teardown(flags & notify_np);
            power = device_power_state::d3_final;
            return st;
        }
    }
    // Power-managed queues start after the interrupts are enabled (§8.3).
    start_queues();
    const auto& io = previous == device_power_state::d3_final ? cb.on_self_managed_io_init
                                                              : cb.on_self_managed_io_restart;
    if (io) {
        status st =
            call("EvtDeviceSelfManagedIo(Init|Restart)", [&] { return io(device(handle())); });
        if (!nt_success(st)) {
            (void)power_down_sequence(device_power_state::d3_final, notify_force_disconnect);
            return st;
        }
    }
    return status::success;
}

status device_impl::power_down_sequence(device_power_state target, unsigned flags) {
    pnp_scope ps(this);
    status result_status = status::success;
    if (cb.on_self_managed_io_suspend)
        (void)call("EvtDeviceSelfManagedIoSuspend",
                   [&] { return cb.on_self_managed_io_suspend(device(handle())); });
    // Power-managed queues stop (or, at removal, every queue is purged) before the interrupts are
    // disabled (§8.3): requests the driver owns are completed or acknowledged through EvtIoStop.
    stop_queues(removing);
    if (cb.on_d0_exit_pre_interrupts_disabled) {
        status st = call("EvtDeviceD0ExitPreInterruptsDisabled", [&] {
            return cb.on_d0_exit_pre_interrupts_disabled(device(handle()), target);
        });
        if (!nt_success(st)) result_status = st;
    }
    // NotifyResourceObjectsDx: reverse creation order, continuing past errors.
    for (auto it = interrupts.rbegin(); it != interrupts.rend(); ++it) {
        interrupt_impl::connect_scope g(**it);
        status st = (*it)->disconnect(flags);
        if (!nt_success(st)) result_status = st;
    }
    if (cb.on_d0_exit) {
        status st =
            call("EvtDeviceD0Exit", [&] { return cb.on_d0_exit(device(handle()), target); });
        if (!nt_success(st)) result_status = st;
    }
    power = target;
    return result_status;
}

void device_impl::release_hardware() {
    pnp_scope ps(this);
    if (cb.on_release_hardware)
        (void)call("EvtDeviceReleaseHardware",
                   [&] { return cb.on_release_hardware(device(handle()), translated); });
    // Interrupts created in PrepareHardware die after ReleaseHardware (§7.2), reverse order.
    std::vector<interrupt_impl*> doomed;
    for (auto it = interrupts.rbegin(); it != interrupts.rend(); ++it)
        if ((*it)->created_in_prepare_hardware) doomed.push_back(*it);
    for (interrupt_impl* irq : doomed)
        irq->delete_tree();
    for (interrupt_impl* irq : interrupts)
        irq->revoke_resources();
    if (bus) {
        for (bus::irq_kind k : enabled_irq_kinds)
            (void)bus->disable_irqs(k);
        for (std::uint32_t b : mapped_bars)
            bus->unmap_region(b);
    }
    enabled_irq_kinds.clear();
    mapped_bars.clear();
    hardware_prepared = false;
}

// ---- statistics ------------------------------------------------------------------------------

void device_impl::publish_stats() {
    // Before the ISR threads see any signal (the vectors are not attached yet).
    if (!stats.open(drv->config.name, name, static_cast<std::uint32_t>(interrupts.size()))) return;
    for (std::uint32_t i = 0; i < interrupts.size(); ++i) {
        interrupt_impl* irq = interrupts[i];
        irq_stats* s = stats.slot(i);
        std::snprintf(s->name, sizeof s->name, "%s#%u", name.c_str(), irq->message_number);
        s->message_number = irq->message_number;
        s->kind = static_cast<std::uint32_t>(irq->res.irq_kind);
        s->bus_vector = irq->res.first_vector;
        s->passive = irq->passive ? 1 : 0;
        if (irq->vec) {
            auto g = irq->vec->granted();
            s->cpu = g.cpu;
            s->fifo_priority = g.fifo_priority;
        }
        s->in_use.store(irq->has_resource ? 1 : 0);
        irq->stats_ptr.store(s, std::memory_order_release);
    }
}

void device_impl::unpublish_stats() {
    // The ISR threads are gone: fold the published counts back into the private ones.
    for (interrupt_impl* irq : interrupts) {
        irq_stats* s = irq->stats_ptr.load();
        if (s == &irq->local_stats) continue;
        irq_stats& l = irq->local_stats;
        l.wakeups.add(s->wakeups.get());
        l.signals.add(s->signals.get());
        l.claimed.add(s->claimed.get());
        l.unclaimed.add(s->unclaimed.get());
        l.dpcs.add(s->dpcs.get());
        l.work_items.add(s->work_items.get());
        l.isr_ns_total.add(s->isr_ns_total.get());
        for (int b = 0; b < 16; ++b)
            l.hist[b].add(s->hist[b].get());
        irq->stats_ptr.store(&irq->local_stats, std::memory_order_release);
    }
    stats.close();
}

// ---- PnP operations
// ---------------------------------------------------------------------------------------

status device_impl::start() {
    std::lock_guard g(pnp_lock);
    device_state s = state.load();
    if (s == device_state::started) return status::success;
    if (s == device_state::removed || s == device_state::powered_down)
        return status::invalid_device_state;
    (void)build_resources();
    match_resources();
    // EvtDevicePrepareHardware: interrupts may be created for the descriptors of the lists.
    status st = status::success;
    hardware_prepared = true;
    if (cb.on_prepare_hardware) {
        pnp_scope ps(this);
        in_prepare_hardware = true;
        st = call("EvtDevicePrepareHardware",
                  [&] { return cb.on_prepare_hardware(device(handle()), raw, translated); });
        in_prepare_hardware = false;
    }
    if (!nt_success(st)) {
        release_hardware();  // the framework calls ReleaseHardware when PrepareHardware fails
        state = device_state::failed;
        return st;
    }
    // PnpAssignInterruptsSyncIrql (§7.3): a shared spin lock's set syncs at its maximum DIRQL.
    for (interrupt_impl* irq : interrupts) {
        irq->sync_irql = irq->has_resource && !irq->passive ? irq->info.irql : 0;
        if (irq->shared_spin != nullptr && irq->has_resource)
            for (interrupt_impl* other : interrupts)
                if (other->shared_spin == irq->shared_spin && other->has_resource)
                    irq->sync_irql = std::max(irq->sync_irql, other->info.irql);
    }
    // ISR threads, bus mastering (MSI writes are DMA: dropped without it), vector blocks.
    std::string why;
    for (interrupt_impl* irq : interrupts) {
        if (!irq->start_vector(&why)) {
            os::log(os::log_level::error, "%s: cannot start the ISR thread of interrupt %u: %s",
                    name.c_str(), irq->message_number, why.c_str());
            release_hardware();
            state = device_state::failed;
            return status::insufficient_resources;
        }
    }
    publish_stats();
    if (bus) {
        auto bm = bus->set_bus_master(true);
        if (!bm)
            os::log(os::log_level::warning, "%s: bus mastering: %s", name.c_str(),
                    bm.err().describe().c_str());
        for (const resource& r : translated) {
            if (r.type != resource_type::interrupt) continue;
            if (std::find(enabled_irq_kinds.begin(), enabled_irq_kinds.end(), r.irq_kind) !=
                enabled_irq_kinds.end())
                continue;
            std::uint32_t n = 0;
            for (const resource& q : translated)
                if (q.type == resource_type::interrupt && q.irq_kind == r.irq_kind)
                    n += std::max<std::uint32_t>(1, q.message_count);
            // NORESIZE (6.1): enable the whole block up front, eventfds attached per object later.
            auto e = bus->enable_irqs(r.irq_kind, n);
            if (!e) {
                os::log(os::log_level::error, "%s: enabling %u %s vectors: %s", name.c_str(), n,
                        bus::irq_kind_name(r.irq_kind), e.err().describe().c_str());
                release_hardware();
                state = device_state::failed;
                return e.code();
            }
            enabled_irq_kinds.push_back(r.irq_kind);
        }
    }
    st =
        power_up_sequence(device_power_state::d3_final, power_pageable ? notify_none : notify_none);
    if (!nt_success(st)) {
        if (bus) (void)bus->set_bus_master(false);
        release_hardware();
        state = device_state::failed;
        return st;
    }
    state = device_state::started;
    arm_presence_probe();
    return status::success;
}

status device_impl::stop(bool surprise) {
    std::lock_guard g(pnp_lock);
    device_state s = state.load();
    status st = status::success;
    if (s == device_state::started) {
        st = power_down_sequence(device_power_state::d3_final, notify_force_disconnect);
    } else if (s == device_state::powered_down) {
        // In Dx: a non-pageable device left its interrupts connected; disconnect them without
        // touching the hardware (PowerGotoDxStoppedDisableInterruptNP, §8.2).
        for (auto it = interrupts.rbegin(); it != interrupts.rend(); ++it) {
            interrupt_impl::connect_scope cg(**it);
            (void)(*it)->disconnect(notify_force_disconnect | notify_surprise_removed);
        }
    } else {
        return status::success;
    }
    // Before DMA mappings go away; a device that is gone is not touched.
    if (bus && !surprise) (void)bus->set_bus_master(false);
    release_hardware();
    state = device_state::stopped;
    return st;
}

status device_impl::power_down(device_power_state target) {
    std::lock_guard g(pnp_lock);
    if (state.load() != device_state::started) return status::invalid_device_state;
    unsigned flags = power_pageable ? notify_explicit_powerdown : notify_np;
    status st = power_down_sequence(target, flags);
    state = device_state::powered_down;
    return st;
}

status device_impl::power_up() {
    std::lock_guard g(pnp_lock);
    if (state.load() != device_state::powered_down) return status::invalid_device_state;
    unsigned flags =
        notify_explicit_powerup | (power_pageable ? 0u : static_cast<unsigned>(notify_np));
    status st = power_up_sequence(power.load(), flags);
    if (!nt_success(st)) {
        if (bus) (void)bus->set_bus_master(false);
        release_hardware();
        state = device_state::failed;
        return st;
    }
    state = device_state::started;
    return status::success;
}

status device_impl::reset() {
    std::lock_guard g(pnp_lock);
    if (state.load() != device_state::started) return status::invalid_device_state;
    if (!bus || !bus->can_reset()) {
        os::log(os::log_level::error,
                "%s: reset requested but the device has no reset method (no FLR, no PM reset, not "
                "alone "
                "behind a bridge)",
                name.c_str());
        return status::not_supported;
    }
    // D0 exit (queues, interrupts: Disable, flush, disconnect), reset, D0 entry.
    unsigned down = power_pageable ? notify_explicit_powerdown : notify_np;
    status st = power_down_sequence(device_power_state::d3, down);
    auto r = bus->reset();
    // The reset clears the command register: bus mastering and the vector blocks come back.
    if (r) {
        (void)bus->set_bus_master(true);
        for (bus::irq_kind k : enabled_irq_kinds) {
            std::uint32_t n = 0;
            for (const resource& q : translated)
                if (q.type == resource_type::interrupt && q.irq_kind == k)
                    n += std::max<std::uint32_t>(1, q.message_count);
            (void)bus->enable_irqs(k, n);
        }
    } else {
        os::log(os::log_level::error, "%s: reset failed: %s", name.c_str(),
                r.err().describe().c_str());
    }
    unsigned up =
        notify_explicit_powerup | (power_pageable ? 0u : static_cast<unsigned>(notify_np));
    status st2 = power_up_sequence(device_power_state::d3, up);
    if (!nt_success(st2)) {
        (void)bus->set_bus_master(false);
        release_hardware();
        state = device_state::failed;
        return st2;
    }
    if (!r) return r.code();
    return st;
}

void device_impl::remove(bool surprise) {
    {
        std::lock_guard g(pnp_lock);
        if (state.load() == device_state::removed) return;
        removing = true;
        if (surprise) {
            surprise_removed = true;
            if (cb.on_surprise_removal) {
                pnp_scope ps(this);
                cb.on_surprise_removal(device(handle()));
            }
        }
        (void)stop(surprise);
        if (cb.on_self_managed_io_cleanup) {
            pnp_scope ps(this);
            cb.on_self_managed_io_cleanup(device(handle()));
        }
        state = device_state::removed;
    }
    stop_presence_probe();
    if (bus) bus->set_event_handler({});
    delete_tree();
}

void device_impl::dispose() {
    // Children (interrupts, work items, timers) are gone by now.
}

void device_impl::on_bus_event(bus::event_kind k) {
    switch (k) {
        case bus::event_kind::removal_requested:
            // vfio-pci relays the kernel's remove, orderly (an unbind, a hot-unplug through the
            // slot) or not (a surprise hot-removal: the kernel removes a device that is gone
            // the same way). Only the hardware can tell: a device that no longer answers is not
            // touched again (§8.2: the surprise-removal path).
            if (!hardware_present()) {
                os::log(os::log_level::warning,
                        "%s: removal requested by the bus, and the device no longer answers "
                        "(config space reads all ones): surprise removal",
                        name.c_str());
                remove(true);
                break;
            }
            os::log(os::log_level::info, "%s: removal requested by the bus: stopping the device",
                    name.c_str());
            remove(false);
            break;
        case bus::event_kind::device_gone:
            os::log(os::log_level::warning, "%s: the device is gone (surprise removal)",
                    name.c_str());
            remove(true);
            break;
        case bus::event_kind::error_reported:
            os::log(os::log_level::warning, "%s: the bus reported an error (AER)", name.c_str());
            if (on_error_reported) {
                pnp_scope ps(this);
                on_error_reported(device(handle()));
            }
            break;
    }
}

}  // namespace detail

// ======== public API
// =============================================================================================

using namespace detail;

result<device> device::create(device_init& init, const object_attributes& attributes) {
    constexpr const char* api = "WdfDeviceCreate";
    if (!verify_level_max(level::passive, api, 0))
        return error::from_status(status::invalid_device_state,
                                  "WdfDeviceCreate above PASSIVE_LEVEL");
    auto* drv = resolve<driver_impl>(init.driver_handle, api);
    if (drv == nullptr || tls().pnp_phase != 1)
        return error::from_status(
            status::invalid_device_state,
            "WdfDeviceCreate: only inside EvtDriverDeviceAdd, with its WDFDEVICE_INIT");
    if (init.consumed)
        return error::from_status(status::invalid_device_state,
                                  "WdfDeviceCreate: this WDFDEVICE_INIT was already used");
    if (attributes.level == execution_level::invalid ||
        attributes.scope == synchronization_scope::invalid)
        return error::from_status(status::wdf_object_attributes_invalid,
                                  "WdfDeviceCreate: ExecutionLevel/SynchronizationScope Invalid");
    if (attributes.context != nullptr && attributes.context->size == 0)
        return error::from_status(status::wdf_object_attributes_invalid,
                                  "WdfDeviceCreate: bad context type");
    // Constraints (§18.3): the attributes override, InheritFromParent takes the driver's.
    execution_level effective = attributes.level == execution_level::inherit_from_parent
                                    ? drv->exec_level
                                    : attributes.level;
    auto* dev = new device_impl(drv, init, effective == execution_level::passive);
    dev->exec_level = effective;
    dev->sync_scope = attributes.scope;
    dev->passive_callbacks = attributes.level == execution_level::passive;  // explicit only
    init.consumed = true;
    dev->commit(attributes, drv);
    init.device_handle = dev->handle();
    // Bus events go to the PnP event thread, by handle: a stale one (device gone) is ignored.
    if (dev->bus) {
        std::uint64_t h = dev->handle();
        dev->bus->set_event_handler([h](bus::event_kind k) {
            post_pnp_event([h, k] {
                if (auto* d = static_cast<device_impl*>(handle_lookup(h, object_type::device)))
                    d->on_bus_event(k);
            });
        });
    }
    return device(dev->handle());
}

status device::start() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::start");
    if (d == nullptr) return status::invalid_handle;
    if (!verify_level_max(level::passive, "wdfx::device::start", h_))
        return status::invalid_device_state;
    return d->start();
}

status device::stop() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::stop");
    if (d == nullptr) return status::invalid_handle;
    if (!verify_level_max(level::passive, "wdfx::device::stop", h_))
        return status::invalid_device_state;
    return d->stop(false);
}

status device::power_down(device_power_state target) const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::power_down");
    if (d == nullptr) return status::invalid_handle;
    if (target < device_power_state::d1 || target > device_power_state::d3)
        return status::invalid_parameter;
    return d->power_down(target);
}

status device::power_up() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::power_up");
    if (d == nullptr) return status::invalid_handle;
    return d->power_up();
}

void device::remove() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::remove");
    if (d == nullptr) return;
    if (!verify_level_max(level::passive, "wdfx::device::remove", h_)) return;
    d->remove(false);
}

void device::surprise_remove() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::surprise_remove");
    if (d == nullptr) return;
    d->remove(true);
}

status device::reset() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::reset");
    if (d == nullptr) return status::invalid_handle;
    if (!verify_level_max(level::passive, "wdfx::device::reset", h_))
        return status::invalid_device_state;
    return d->reset();
}

device_state device::state() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::state");
    return d != nullptr ? d->state.load() : device_state::removed;
}

std::shared_ptr<bus::device> device::bus_device() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::bus_device");
    return d != nullptr ? d->bus : nullptr;
}

driver device::get_driver() const {
    auto* d = resolve<device_impl>(h_, "WdfDeviceGetDriver");
    return d != nullptr ? driver(d->drv->handle()) : driver();
}

std::string device::name() const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::name");
    return d != nullptr ? d->name : std::string();
}

result<register_block> device::map_registers(const resource& r) const {
    auto* d = resolve<device_impl>(h_, "wdfx::device::map_registers");
    if (d == nullptr) return error::from_status(status::invalid_handle, "bad WDFDEVICE");
    if (r.type != resource_type::memory)
        return error::from_status(status::invalid_parameter,
                                  "map_registers: not a memory resource");
    if (!d->bus) return error::from_status(status::no_such_device, "map_registers: no bus device");
    auto m = d->bus->map_region(r.bar);
    if (!m) return m.err();
    std::lock_guard g(d->pnp_lock);
    if (std::find(d->mapped_bars.begin(), d->mapped_bars.end(), r.bar) == d->mapped_bars.end())
        d->mapped_bars.push_back(r.bar);
    return m;
}

}  // namespace wdfx
