// wdfx/driver.hpp: WDFDRIVER (wdf-semantics §18.2) and the flavour of the driver.
//
// A process holds one driver object. KMDF flavour (default): DIRQL ISRs, DPCs at DISPATCH.
// UMDF 2 flavour: interrupts default to passive handling and a DPC runs as the interrupt's work
// item at PASSIVE (§14.2, §21 rule 8).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <wdfx/device.hpp>
#include <wdfx/object.hpp>

namespace wdfx {

enum class driver_flavour : std::uint8_t { kmdf, umdf2 };

/// WDF_DRIVER_CONFIG.
struct driver_config {
    std::string name = "wdfx-driver";
    driver_flavour flavour = driver_flavour::kmdf;
    std::function<status(class driver, device_init&)> on_device_add;  // EvtDriverDeviceAdd
    std::function<void(class driver)> on_unload;                      // EvtDriverUnload
};

class driver : public object {
  public:
    driver() = default;
    explicit driver(std::uint64_t h) : object(h) {}

    /// WdfDriverCreate. Constraints: ExecutionLevel Dispatch, Scope None by default (§18.2).
    static result<driver> create(const driver_config& config,
                                 const object_attributes& attributes = {});
    /// The driver of this process, or a null handle.
    static driver current() noexcept;

    /// AddDevice: run EvtDriverDeviceAdd for a bus device. Returns the created device (added, not
    /// started), or the callback's failure.
    result<device> add_device(std::shared_ptr<bus::device> bus_device) const;
    /// AddDevice then start; a device that fails to start is removed.
    result<device> add_and_start(std::shared_ptr<bus::device> bus_device) const;

    driver_flavour flavour() const;
    std::string name() const;
    /// Remove every device, run EvtDriverUnload and delete the driver.
    void unload() const;
};

}  // namespace wdfx
