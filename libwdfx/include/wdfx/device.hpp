// wdfx/device.hpp: WDFDEVICE and its PnP/power life cycle (wdf-semantics §8, §18.3, §21).
//
// The framework drives a device through WDF's sequence, on a PASSIVE thread, serialised per device:
//   add:    EvtDriverDeviceAdd (create the device, interrupts #1)
//   start:  match resources (§7.1) -> EvtDevicePrepareHardware (map BARs, interrupts #2)
//           -> EvtDeviceD0Entry -> connect + EvtInterruptEnable per interrupt, creation order
//           -> EvtDeviceD0EntryPostInterruptsEnabled -> EvtDeviceSelfManagedIoInit
//   stop:   EvtDeviceSelfManagedIoSuspend -> EvtDeviceD0ExitPreInterruptsDisabled
//           -> EvtInterruptDisable + flush DPC + flush work item + disconnect, reverse order
//           -> EvtDeviceD0Exit -> EvtDeviceReleaseHardware -> PrepareHardware-created interrupts
//           deleted
// with every failure path of §8.3: a failed connect/enable or post-enable callback disconnects
// everything (Disable for those enabled) and calls EvtDeviceD0Exit(D3Final); a failed Disable does
// not stop the teardown. Queued deferred work is flushed, never dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <wdfx/bus.hpp>
#include <wdfx/object.hpp>
#include <wdfx/queue.hpp>
#include <wdfx/registers.hpp>
#include <wdfx/resources.hpp>

namespace wdfx {

class device;
class driver;

/// WDF_POWER_DEVICE_STATE
enum class device_power_state : std::uint8_t {
    invalid = 0,
    d0 = 1,
    d1 = 2,
    d2 = 3,
    d3 = 4,
    d3_final = 5,
    prepare_for_hibernation = 6,
};
const char* power_state_name(device_power_state s) noexcept;

/// WDF_PNPPOWER_EVENT_CALLBACKS (the callbacks a PCI function driver uses).
struct pnp_power_callbacks {
    std::function<status(device, const resource_list& raw, const resource_list& translated)>
        on_prepare_hardware;
    std::function<status(device, const resource_list& translated)> on_release_hardware;
    std::function<status(device, device_power_state previous)> on_d0_entry;
    std::function<status(device, device_power_state previous)> on_d0_entry_post_interrupts_enabled;
    std::function<status(device, device_power_state target)> on_d0_exit_pre_interrupts_disabled;
    std::function<status(device, device_power_state target)> on_d0_exit;
    std::function<status(device)> on_self_managed_io_init;
    std::function<status(device)> on_self_managed_io_suspend;
    std::function<status(device)> on_self_managed_io_restart;
    std::function<void(device)> on_self_managed_io_cleanup;
    std::function<void(device)> on_surprise_removal;
};

/// Which interrupt resources a device is given (an INF's MSISupported / MessageNumberLimit).
enum class interrupt_type : std::uint8_t { automatic, msix, msi, intx };

/// Where the bus's AER error IRQ goes (the driver decides what to do; it is not a removal).
using device_error_callback = std::function<void(device)>;

/// WDFDEVICE_INIT: filled in by EvtDriverDeviceAdd, consumed by device::create.
struct device_init {
    pnp_power_callbacks pnp_power;
    bool power_pageable = true;  // WdfDeviceInitSetPowerNotPageable sets false
    interrupt_type interrupt_preference = interrupt_type::automatic;
    std::uint32_t message_limit = 0;  // 0: every vector the device reports
    /// Unclaimed-interrupt guard: this many consecutive ISR calls returning FALSE while the
    /// vector keeps firing mask the vector (INTx) or detach it (MSI/MSI-X) and report it.
    std::uint32_t unclaimed_limit = 100000;
    device_error_callback on_error_reported;
    /// WdfDeviceInitSetFileObjectConfig: the callbacks for clients opening the device interface.
    file_object_config file_config;

    // Set by the framework.
    std::shared_ptr<bus::device> bus_device;
    std::uint64_t driver_handle = 0;
    std::uint64_t device_handle = 0;  // the device WdfDeviceCreate made from this init
    bool consumed = false;
};

/// The PnP state of a device (for diagnostics and tests).
enum class device_state : std::uint8_t {
    added,         // after EvtDriverDeviceAdd
    started,       // D0, interrupts connected
    powered_down,  // Dx (hardware still prepared)
    stopped,       // hardware released; may start again
    failed,
    removed,
};
const char* device_state_name(device_state s) noexcept;

class device : public object {
  public:
    device() = default;
    explicit device(std::uint64_t h) : object(h) {}

    /// WdfDeviceCreate: in EvtDriverDeviceAdd only.
    static result<device> create(device_init& init, const object_attributes& attributes = {});

    // PnP manager operations (PASSIVE, never from the device's own callbacks).
    /// Start: resources, PrepareHardware, D0 entry, interrupts. Returns the failing status.
    status start() const;
    /// Stop to D3Final and release the hardware (the device can start again).
    status stop() const;
    /// Power down to Dx keeping the hardware prepared / power back up to D0.
    status power_down(device_power_state target = device_power_state::d3) const;
    status power_up() const;
    /// Reset the function (VFIO_DEVICE_RESET): D0 exit -> reset -> D0 entry, interrupts and
    /// queues stopped and restarted around it. STATUS_NOT_SUPPORTED, before anything is touched,
    /// when the device has no reset method.
    status reset() const;
    /// Stop if needed and delete the device and its children.
    void remove() const;
    /// The device vanished: no hardware access is expected to work; EvtDeviceSurpriseRemoval,
    /// then the D3Final sequence (its callbacks must tolerate hardware that is gone, §8.2).
    void surprise_remove() const;

    device_state state() const;
    std::shared_ptr<bus::device> bus_device() const;
    driver get_driver() const;
    /// Map a memory BAR for register access (valid until EvtDeviceReleaseHardware).
    result<register_block> map_registers(const resource& memory_resource) const;
    /// The name used in logs ("sim:edu0", "0000:00:04.0").
    std::string name() const;
};

}  // namespace wdfx
