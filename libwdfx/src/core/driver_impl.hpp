// WDFDRIVER internals.
#pragma once

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
    callback_lock* get_callback_lock() noexcept override { return &cb_lock; }

  protected:
    void dispose() override;
};

/// The process's driver object, or nullptr.
driver_impl* current_driver_impl() noexcept;

}  // namespace wdfx::detail
