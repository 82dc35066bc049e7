// WDFDRIVER internals.
#pragma once

#include <condition_variable>
#include <mutex>

#include <wdfx/driver.hpp>

#include "core/locks.hpp"
#include "core/object_impl.hpp"

namespace wdfx::detail {

class driver_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::driver;
    explicit driver_impl(driver_config c) : object_impl(kType), config(std::move(c)) {}
    ~driver_impl() override;

    driver_config config;
    callback_lock cb_lock{true};  // always a mutex (FxDriver::ConfigureConstraints)

    /// Devices of this driver not yet destroyed (their bus devices, with the VFIO/UIO file
    /// descriptors, are closed when they are). unload() waits for zero: a removal may still be
    /// running on the PnP thread (a removal request, a surprise removal) after the device left
    /// the driver's children, and "unloaded" must mean every IOMMU group is free again.
    std::mutex live_lock;
    std::condition_variable live_cv;
    unsigned live_devices = 0;
    void device_born() {
        std::lock_guard g(live_lock);
        ++live_devices;
    }
    void device_gone() {
        // Notified under the lock: the waiter (unload) deletes this driver as soon as it sees
        // zero, so nothing here may touch it after the unlock.
        std::lock_guard g(live_lock);
        --live_devices;
        live_cv.notify_all();
    }
    callback_lock* get_callback_lock() noexcept override { return &cb_lock; }

  protected:
    void dispose() override;
};

/// The process's driver object, or nullptr.
driver_impl* current_driver_impl() noexcept;

}  // namespace wdfx::detail
