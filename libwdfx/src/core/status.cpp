#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <wdfx/bus.hpp>
#include <wdfx/status.hpp>

namespace wdfx {

const char* status_name(status s) noexcept {
    switch (s) {
#define WDFX_S(n, str) \
    case status::n:    \
        return str;
        WDFX_S(success, "STATUS_SUCCESS")
        WDFX_S(timeout, "STATUS_TIMEOUT")
        WDFX_S(pending, "STATUS_PENDING")
        WDFX_S(device_busy, "STATUS_DEVICE_BUSY")
        WDFX_S(no_more_entries, "STATUS_NO_MORE_ENTRIES")
        WDFX_S(unsuccessful, "STATUS_UNSUCCESSFUL")
        WDFX_S(not_implemented, "STATUS_NOT_IMPLEMENTED")
        WDFX_S(info_length_mismatch, "STATUS_INFO_LENGTH_MISMATCH")
        WDFX_S(invalid_handle, "STATUS_INVALID_HANDLE")
        WDFX_S(invalid_parameter, "STATUS_INVALID_PARAMETER")
        WDFX_S(no_such_device, "STATUS_NO_SUCH_DEVICE")
        WDFX_S(invalid_device_request, "STATUS_INVALID_DEVICE_REQUEST")
        WDFX_S(end_of_file, "STATUS_END_OF_FILE")
        WDFX_S(no_memory, "STATUS_NO_MEMORY")
        WDFX_S(access_denied, "STATUS_ACCESS_DENIED")
        WDFX_S(buffer_too_small, "STATUS_BUFFER_TOO_SMALL")
        WDFX_S(delete_pending, "STATUS_DELETE_PENDING")
        WDFX_S(privilege_not_held, "STATUS_PRIVILEGE_NOT_HELD")
        WDFX_S(insufficient_resources, "STATUS_INSUFFICIENT_RESOURCES")
        WDFX_S(device_not_connected, "STATUS_DEVICE_NOT_CONNECTED")
        WDFX_S(not_supported, "STATUS_NOT_SUPPORTED")
        WDFX_S(cancelled, "STATUS_CANCELLED")
        WDFX_S(cannot_delete, "STATUS_CANNOT_DELETE")
        WDFX_S(invalid_device_state, "STATUS_INVALID_DEVICE_STATE")
        WDFX_S(io_device_error, "STATUS_IO_DEVICE_ERROR")
        WDFX_S(invalid_buffer_size, "STATUS_INVALID_BUFFER_SIZE")
        WDFX_S(device_removed, "STATUS_DEVICE_REMOVED")
        WDFX_S(wdf_internal_error, "STATUS_WDF_INTERNAL_ERROR")
        WDFX_S(wdf_paused, "STATUS_WDF_PAUSED")
        WDFX_S(wdf_busy, "STATUS_WDF_BUSY")
        WDFX_S(wdf_object_attributes_invalid, "STATUS_WDF_OBJECT_ATTRIBUTES_INVALID")
        WDFX_S(wdf_no_callback, "STATUS_WDF_NO_CALLBACK")
        WDFX_S(wdf_incompatible_execution_level, "STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL")
        WDFX_S(wdf_parent_already_assigned, "STATUS_WDF_PARENT_ALREADY_ASSIGNED")
        WDFX_S(wdf_parent_is_self, "STATUS_WDF_PARENT_IS_SELF")
        WDFX_S(wdf_parent_assignment_not_allowed, "STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED")
        WDFX_S(wdf_synchronization_scope_invalid, "STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID")
        WDFX_S(wdf_execution_level_invalid, "STATUS_WDF_EXECUTION_LEVEL_INVALID")
        WDFX_S(wdf_parent_not_specified, "STATUS_WDF_PARENT_NOT_SPECIFIED")
#undef WDFX_S
    }
    static thread_local char buf[32];
    std::snprintf(buf, sizeof buf, "STATUS_0x%08X", static_cast<unsigned>(s));
    return buf;
}

namespace {
class category final : public std::error_category {
  public:
    const char* name() const noexcept override { return "ntstatus"; }
    std::string message(int v) const override { return status_name(static_cast<status>(v)); }
};
}  // namespace

const std::error_category& status_category() noexcept {
    static const category c;
    return c;
}

status status_from_errno(int err) noexcept {
    switch (err) {
        case 0:
            return status::success;
        case ENODEV:
        case ENXIO:
            return status::no_such_device;
        case ENOENT:
            return status::no_such_device;
        case EIO:
            return status::io_device_error;
        case EPERM:
        case EACCES:
            return status::access_denied;
        case ENOMEM:
            return status::insufficient_resources;
        case EBUSY:
            return status::device_busy;
        case EINVAL:
            return status::invalid_parameter;
        case ENOSYS:
        case EOPNOTSUPP:
            return status::not_supported;
        case ETIMEDOUT:
            return status::timeout;
        case ENOSPC:
            return status::insufficient_resources;
        default:
            return status::unsuccessful;
    }
}

status to_status(const std::error_code& ec) noexcept {
    if (!ec) return status::success;
    if (ec.category() == status_category()) return static_cast<status>(ec.value());
    if (ec.category() == std::system_category() || ec.category() == std::generic_category())
        return status_from_errno(ec.value());
    return status::unsuccessful;
}

std::string error::describe() const {
    if (message.empty()) return code.message();
    return message + ": " + code.message();
}

namespace bus {
const char* irq_kind_name(irq_kind k) noexcept {
    switch (k) {
        case irq_kind::intx:
            return "INTx";
        case irq_kind::msi:
            return "MSI";
        case irq_kind::msix:
            return "MSI-X";
        case irq_kind::err:
            return "ERR";
        case irq_kind::req:
            return "REQ";
    }
    return "?";
}
const char* event_kind_name(event_kind k) noexcept {
    switch (k) {
        case event_kind::removal_requested:
            return "removal-requested";
        case event_kind::error_reported:
            return "error-reported";
        case event_kind::device_gone:
            return "device-gone";
    }
    return "?";
}
}  // namespace bus

}  // namespace wdfx
