// WDFDRIVER and AddDevice (wdf-semantics §18.2).
#include <atomic>

#include <wdfx/driver.hpp>

#include "core/device_impl.hpp"
#include "core/driver_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"
#include "exec/pnp_thread.hpp"
#include "os/log.hpp"

namespace wdfx {
namespace detail {

namespace {
std::atomic<driver_impl*> g_driver{nullptr};
}

driver_impl* current_driver_impl() noexcept {
    return g_driver.load(std::memory_order_acquire);
}

driver_impl::~driver_impl() {
    driver_impl* self = this;
    g_driver.compare_exchange_strong(self, nullptr);
}

void driver_impl::dispose() {
    if (config.on_unload) config.on_unload(driver(handle()));
}

}  // namespace detail

using namespace detail;

result<driver> driver::create(const driver_config& config, const object_attributes& attributes) {
    if (!verify_level_max(level::passive, "WdfDriverCreate", 0))
        return error::from_status(status::invalid_device_state,
                                  "WdfDriverCreate above PASSIVE_LEVEL");
    if (current_driver_impl() != nullptr)
        return error::from_status(status::invalid_device_state,
                                  "WdfDriverCreate: this process already has a driver object");
    if (attributes.level == execution_level::invalid ||
        attributes.scope == synchronization_scope::invalid)
        return error::from_status(status::wdf_object_attributes_invalid,
                                  "WdfDriverCreate: bad attributes");
    auto* d = new driver_impl(config);
    // The driver's constraints are its devices' defaults: Dispatch, scope None (§18.2).
    d->exec_level = attributes.level == execution_level::inherit_from_parent
                        ? execution_level::dispatch
                        : attributes.level;
    d->sync_scope = attributes.scope == synchronization_scope::inherit_from_parent
                        ? synchronization_scope::none
                        : attributes.scope;
    d->passive_callbacks = attributes.level == execution_level::passive;
    driver_impl* expected = nullptr;
    if (!g_driver.compare_exchange_strong(expected, d)) {
        delete d;
        return error::from_status(status::invalid_device_state,
                                  "WdfDriverCreate: this process already has a driver object");
    }
    d->commit(attributes, nullptr);
    return driver(d->handle());
}

driver driver::current() noexcept {
    driver_impl* d = current_driver_impl();
    return d != nullptr ? driver(d->handle()) : driver();
}

result<device> driver::add_device(std::shared_ptr<bus::device> bus_device) const {
    constexpr const char* api = "EvtDriverDeviceAdd";
    auto* d = resolve<driver_impl>(h_, api);
    if (d == nullptr) return error::from_status(status::invalid_handle, "bad WDFDRIVER");
    if (!verify_level_max(level::passive, api, h_))
        return error::from_status(status::invalid_device_state, "AddDevice above PASSIVE_LEVEL");
    if (!d->config.on_device_add)
        return error::from_status(status::wdf_no_callback, "the driver has no EvtDriverDeviceAdd");
    device_init init;
    init.bus_device = std::move(bus_device);
    init.driver_handle = h_;
    int saved_phase = tls().pnp_phase;
    tls().pnp_phase = 1;  // WdfDeviceCreate is allowed while this is set
    status st = d->config.on_device_add(*this, init);
    tls().pnp_phase = saved_phase;
    auto* dev = static_cast<device_impl*>(handle_lookup(init.device_handle, object_type::device));
    if (!nt_success(st)) {
        if (dev != nullptr) dev->remove(false);  // a failed AddDevice deletes its device
        return error::from_status(st, "EvtDriverDeviceAdd failed");
    }
    if (dev == nullptr)
        return error::from_status(
            status::invalid_device_state,
            "EvtDriverDeviceAdd returned success without calling WdfDeviceCreate");
    return device(dev->handle());
}

result<device> driver::add_and_start(std::shared_ptr<bus::device> bus_device) const {
    auto r = add_device(std::move(bus_device));
    if (!r) return r;
    status st = r->start();
    if (!nt_success(st)) {
        std::string name = r->name();
        r->remove();
        return error::from_status(st, "starting " + name + " failed");
    }
    return r;
}

driver_flavour driver::flavour() const {
    auto* d = resolve<driver_impl>(h_, "wdfx::driver::flavour");
    return d != nullptr ? d->config.flavour : driver_flavour::kmdf;
}

std::string driver::name() const {
    auto* d = resolve<driver_impl>(h_, "wdfx::driver::name");
    return d != nullptr ? d->config.name : std::string();
}

void driver::unload() const {
    auto* d = resolve<driver_impl>(h_, "wdfx::driver::unload");
    if (d == nullptr) return;
    if (!verify_level_max(level::passive, "wdfx::driver::unload", h_)) return;
    // Remove every device first (PnP removal), then delete the driver (EvtDriverUnload in dispose).
    for (;;) {
        device_impl* dev = nullptr;
        tree_lock();
        for (object_impl* c : d->children_snapshot())
            if (c->type() == object_type::device &&
                static_cast<device_impl*>(c)->state.load() != device_state::removed) {
                c->add_ref();  // through the base: GCC 12 + ASan mis-sizes it via the cast
                dev = static_cast<device_impl*>(c);
                break;
            }
        tree_unlock();
        if (dev == nullptr) break;
        dev->remove(false);
        dev->release();
    }
    // Removals that other threads run (the PnP thread's, after a removal request or a surprise
    // removal) end with the device destroyed and its bus device closed: wait for them.
    {
        std::unique_lock g(d->live_lock);
        d->live_cv.wait(g, [&] { return d->live_devices == 0; });
    }
    d->delete_tree();
}

}  // namespace wdfx
