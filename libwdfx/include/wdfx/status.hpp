// wdfx/status.hpp: status codes and result values.
//
// wdfx reports two kinds of outcome:
//  - WDF-style calls return a `status` whose numeric values are Windows' own NTSTATUS values
//    (ntstatus.h, wdfstatus.h), so the C API of wdfx/wdf.h passes them through unchanged;
//  - failures of the world (EPERM on /dev/vfio/N, a device gone, a memlock limit) come back as a
//    `result<T>`: a value or an `error` with a std::error_code and a message that says what to do.
// Nothing throws across the API.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace wdfx {

/// NTSTATUS values, numerically identical to Windows'.
enum class status : std::int32_t {
    success = 0x00000000,
    timeout =
        0x00000102,  // a success code in NT (NT_SUCCESS is true), as WdfWaitLockAcquire returns it
    pending = 0x00000103,
    device_busy = static_cast<std::int32_t>(0x80000011),
    no_more_entries = static_cast<std::int32_t>(0x8000001A),
    unsuccessful = static_cast<std::int32_t>(0xC0000001),
    not_implemented = static_cast<std::int32_t>(0xC0000002),
    info_length_mismatch = static_cast<std::int32_t>(0xC0000004),
    invalid_handle = static_cast<std::int32_t>(0xC0000008),
    invalid_parameter = static_cast<std::int32_t>(0xC000000D),
    no_such_device = static_cast<std::int32_t>(0xC000000E),
    invalid_device_request = static_cast<std::int32_t>(0xC0000010),
    end_of_file = static_cast<std::int32_t>(0xC0000011),
    no_memory = static_cast<std::int32_t>(0xC0000017),
    access_denied = static_cast<std::int32_t>(0xC0000022),
    buffer_too_small = static_cast<std::int32_t>(0xC0000023),
    delete_pending = static_cast<std::int32_t>(0xC0000056),
    privilege_not_held = static_cast<std::int32_t>(0xC0000061),
    insufficient_resources = static_cast<std::int32_t>(0xC000009A),
    device_not_connected = static_cast<std::int32_t>(0xC000009D),
    not_supported = static_cast<std::int32_t>(0xC00000BB),
    cancelled = static_cast<std::int32_t>(0xC0000120),
    cannot_delete = static_cast<std::int32_t>(0xC0000121),
    invalid_device_state = static_cast<std::int32_t>(0xC0000184),
    io_device_error = static_cast<std::int32_t>(0xC0000185),
    invalid_buffer_size = static_cast<std::int32_t>(0xC0000206),
    device_removed = static_cast<std::int32_t>(0xC00002B6),
    // wdfstatus.h (FACILITY_DRIVER_FRAMEWORK 0x20)
    wdf_internal_error = static_cast<std::int32_t>(0xC0200201),
    wdf_paused = static_cast<std::int32_t>(0xC0200203),
    wdf_busy = static_cast<std::int32_t>(0xC0200204),
    wdf_object_attributes_invalid = static_cast<std::int32_t>(0xC0200209),
    wdf_no_callback = static_cast<std::int32_t>(0xC020020B),
    wdf_incompatible_execution_level = static_cast<std::int32_t>(0xC020020C),
    wdf_parent_already_assigned = static_cast<std::int32_t>(0xC020020D),
    wdf_parent_is_self = static_cast<std::int32_t>(0xC020020E),
    wdf_parent_assignment_not_allowed = static_cast<std::int32_t>(0xC020020F),
    wdf_synchronization_scope_invalid = static_cast<std::int32_t>(0xC0200210),
    wdf_execution_level_invalid = static_cast<std::int32_t>(0xC0200211),
    wdf_parent_not_specified = static_cast<std::int32_t>(0xC0200212),
};

/// NT_SUCCESS: severity "success" or "informational" (the top bit clear).
constexpr bool nt_success(status s) noexcept {
    return static_cast<std::int32_t>(s) >= 0;
}

/// The symbolic name ("STATUS_INVALID_PARAMETER"), or "STATUS_0x…" for an unknown value.
const char* status_name(status s) noexcept;

/// The error category whose values are NTSTATUS codes.
const std::error_category& status_category() noexcept;
inline std::error_code make_error_code(status s) noexcept {
    return {static_cast<int>(s), status_category()};
}

/// The NTSTATUS that best describes an errno value (ENODEV -> STATUS_NO_SUCH_DEVICE, ...).
status status_from_errno(int err) noexcept;
/// The NTSTATUS of an error code: itself for status_category, mapped for system errors.
status to_status(const std::error_code& ec) noexcept;

/// A failure of the world: what went wrong (code) and what to do about it (message).
struct error {
    std::error_code code;
    std::string message;

    static error from_errno(int err, std::string msg) {
        return {std::error_code(err, std::system_category()), std::move(msg)};
    }
    static error from_status(status s, std::string msg) {
        return {make_error_code(s), std::move(msg)};
    }
    /// "message: strerror" in one line.
    std::string describe() const;
};

/// A value or an error. A small stand-in for std::expected (C++23), which g++ 12 lacks.
template <class T>
class [[nodiscard]] result {
  public:
    result(T value)
        : v_(std::in_place_index<0>, std::move(value)) {}          // NOLINT: implicit on purpose
    result(error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT
    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const error& err() const& { return std::get<1>(v_); }
    status code() const noexcept { return ok() ? status::success : to_status(err().code); }

  private:
    std::variant<T, error> v_;
};

template <>
class [[nodiscard]] result<void> {
  public:
    result() = default;
    result(error e) : e_(std::move(e)), failed_(true) {}  // NOLINT
    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const error& err() const& { return e_; }
    status code() const noexcept { return ok() ? status::success : to_status(e_.code); }

  private:
    error e_{};
    bool failed_ = false;
};

}  // namespace wdfx

template <>
struct std::is_error_code_enum<wdfx::status> : std::true_type {};
