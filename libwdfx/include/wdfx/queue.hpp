// wdfx/queue.hpp: I/O queues (WDFQUEUE), requests (WDFREQUEST) and file objects
// (wdf-semantics §18.4).
//
// Applications reach a driver through a device interface (wdfx/interface.hpp: a Unix socket under
// /run/wdfx, or a CUSE character device). Each open is a file object; each read, write or device
// control is a request, dispatched to the queue configured for its type or to the default queue:
//   sequential  one request presented at a time; the next after the driver completes, forwards or
//               requeues it;
//   parallel    as many as the driver takes (or number_of_presented_requests);
//   manual      none presented: the driver retrieves them (retrieve_next_request).
// Presentation runs on the dispatcher pool at PASSIVE (or DISPATCH for dispatch-level queues with
// automatic serialization), under the queue's callback lock when automatic serialization applies.
// Power-managed queues stop before the interrupts are disabled at D0 exit and start after they
// are enabled at D0 entry (§8); all queues are purged at removal. A client that goes away has its
// requests cancelled: queued ones complete with STATUS_CANCELLED, presented cancelable ones get
// EvtRequestCancel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include <wdfx/interrupt.hpp>
#include <wdfx/object.hpp>

namespace wdfx {

class device;
class io_queue;
class request;
class file_object;

/// WDF_IO_QUEUE_DISPATCH_TYPE
enum class dispatch_type : std::uint8_t { sequential = 1, parallel = 2, manual = 3 };

/// WDF_REQUEST_TYPE (the ones a device interface produces).
enum class request_type : std::uint8_t {
    create = 0,
    close = 2,
    read = 3,
    write = 4,
    device_control = 14,
    other = 0xff
};
const char* request_type_name(request_type t) noexcept;

/// WDF_REQUEST_STOP_ACTION_FLAGS
enum stop_action : std::uint32_t {
    stop_action_suspend = 0x01,  // the device is powering down; the request may be resumed
    stop_action_purge = 0x02,    // the queue is being purged (removal): cancel or complete it
    stop_action_request_cancelable = 0x10000000,
};

/// WDF_IO_QUEUE_CONFIG. WDF_IO_QUEUE_CONFIG_INIT(_DEFAULT_QUEUE) = the defaults plus dispatch (and
/// default_queue).
struct io_queue_config {
    dispatch_type dispatch = dispatch_type::sequential;
    tri_state power_managed = tri_state::use_default;  // default: power-managed
    bool allow_zero_length_requests = false;
    bool default_queue = false;
    std::uint32_t number_of_presented_requests = 0;  // parallel: 0 = unlimited
    std::function<void(io_queue, request)> on_io_default;
    std::function<void(io_queue, request, std::size_t length)> on_io_read;
    std::function<void(io_queue, request, std::size_t length)> on_io_write;
    std::function<void(io_queue, request, std::size_t output_length, std::size_t input_length,
                       std::uint32_t io_control_code)>
        on_io_device_control;
    std::function<void(io_queue, request, std::uint32_t action_flags)> on_io_stop;
    std::function<void(io_queue, request)> on_io_resume;
    std::function<void(io_queue, request)> on_io_canceled_on_queue;
};

/// WDF_REQUEST_PARAMETERS (flattened).
struct request_parameters {
    request_type type = request_type::other;
    std::size_t length = 0;         // read/write length
    std::uint64_t offset = 0;       // read/write byte offset
    std::size_t output_length = 0;  // device control
    std::size_t input_length = 0;   // device control
    std::uint32_t io_control_code = 0;
};

class io_queue : public object {
  public:
    io_queue() = default;
    explicit io_queue(std::uint64_t h) : object(h) {}
    /// WdfIoQueueCreate: PASSIVE; in EvtDriverDeviceAdd or later. The parent is the device.
    /// A second default queue is STATUS_WDF_... invalid (STATUS_INVALID_DEVICE_REQUEST).
    static result<io_queue> create(device dev, const io_queue_config& config,
                                   const object_attributes& attributes = {});
    /// WdfIoQueueRetrieveNextRequest (manual queues): STATUS_NO_MORE_ENTRIES when empty.
    result<request> retrieve_next_request() const;
    /// WdfIoQueueStart / Stop / StopSynchronously / Purge / PurgeSynchronously / Drain.
    void start() const;
    void stop() const;
    void stop_synchronously() const;
    void purge() const;
    void purge_synchronously() const;
    void drain_synchronously() const;
    device get_device() const;
    /// WdfIoQueueGetState, reduced: how many requests wait, how many the driver owns.
    std::size_t queued_count() const;
    std::size_t driver_owned_count() const;
};

class request : public object {
  public:
    request() = default;
    explicit request(std::uint64_t h) : object(h) {}

    /// WdfRequestComplete / CompleteWithInformation / SetInformation: exactly once, <= DISPATCH.
    void complete(status s) const;
    void complete_with_information(status s, std::size_t information) const;
    void set_information(std::size_t information) const;
    std::size_t get_information() const;

    request_parameters get_parameters() const;
    /// WdfRequestRetrieveOutputBuffer / RetrieveInputBuffer: STATUS_BUFFER_TOO_SMALL below
    /// `minimum`; a read has an output buffer, a write an input buffer, a device control both.
    result<std::span<std::byte>> retrieve_output_buffer(std::size_t minimum = 0) const;
    result<std::span<const std::byte>> retrieve_input_buffer(std::size_t minimum = 0) const;

    /// WdfRequestForwardToIoQueue: to another queue of the same device. STATUS_WDF_BUSY when the
    /// destination does not accept requests (purged): the driver keeps the request.
    status forward_to_io_queue(io_queue destination) const;
    /// WdfRequestRequeue: back to the head of the (manual) queue it came from.
    status requeue() const;
    /// WdfRequestMarkCancelableEx: STATUS_CANCELLED if the request was already cancelled.
    status mark_cancelable(std::function<void(request)> on_cancel) const;
    /// WdfRequestUnmarkCancelable: STATUS_CANCELLED when the cancel routine has been or will be
    /// called (it completes the request then).
    status unmark_cancelable() const;
    /// WdfRequestIsCanceled.
    bool is_canceled() const;
    /// WdfRequestStopAcknowledge (from EvtIoStop): requeue = true puts it back in its queue.
    void stop_acknowledge(bool requeue) const;
    /// WdfRequestGetFileObject.
    file_object get_file_object() const;
    io_queue get_io_queue() const;
};

/// WDFFILEOBJECT: one client's open of the device interface.
class file_object : public object {
  public:
    file_object() = default;
    explicit file_object(std::uint64_t h) : object(h) {}
    device get_device() const;
    /// The client's credentials (SO_PEERCRED / the CUSE caller).
    std::uint32_t uid() const;
    std::uint32_t gid() const;
    std::int32_t pid() const;
};

/// WDF_FILEOBJECT_CONFIG: EvtDeviceFileCreate completes the create request (STATUS_SUCCESS to
/// accept the open); EvtFileCleanup runs when the client is gone (its requests are cancelled by
/// then); EvtFileClose last.
struct file_object_config {
    std::function<void(device, request, file_object)> on_create;
    std::function<void(file_object)> on_cleanup;
    std::function<void(file_object)> on_close;
};

/// WdfDeviceConfigureRequestDispatching: requests of `type` go to `queue`.
status configure_request_dispatching(device dev, io_queue queue, request_type type);
/// WdfDeviceGetDefaultQueue.
io_queue get_default_queue(device dev);

}  // namespace wdfx
