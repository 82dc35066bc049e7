// WDFQUEUE / WDFREQUEST / WDFFILEOBJECT internals.
//
// Threads: all queue lists, queue states and request states of a device are guarded by the
// device's io_lock (one mutex: the I/O path is not the interrupt fast path, and one lock makes
// forwarding, cancellation and purging between queues race-free). Driver callbacks always run with
// io_lock released.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <wdfx/queue.hpp>

#include "core/io.hpp"
#include "core/locks.hpp"
#include "core/object_impl.hpp"
#include "exec/work.hpp"
#include "os/sync.hpp"

namespace wdfx::detail {

class device_impl;
class io_queue_impl;

class file_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::file;
    file_impl(device_impl* d, const peer_credentials& c, std::shared_ptr<request_sink> s);
    ~file_impl() override;
    device_impl* dev;  // referenced: an interface may hold the file after the device is deleted
    peer_credentials who;
    std::shared_ptr<request_sink> sink;
    // io_lock
    std::size_t outstanding = 0;
    bool closing = false;
    bool opened = false;
    bool close_posted = false;

  protected:
    /// The device is deleted while the client still has the file open: close it as if the
    /// client had gone (its requests cancelled, EvtFileCleanup, EvtFileClose).
    void dispose() override;
};

class request_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::request;
    explicit request_impl(device_impl* d) : object_impl(kType), dev(d) {}
    enum class state : std::uint8_t { created, queued, driver_owned, completed };

    device_impl* dev;
    file_impl* file = nullptr;  // referenced while the request lives
    std::shared_ptr<request_sink> sink;
    std::uint64_t tag = 0;
    request_parameters params;
    std::vector<std::byte> in, out;
    std::size_t information = 0;
    // io_lock
    state st = state::created;
    io_queue_impl* queue = nullptr;  // the queue it is in, or was presented from
    bool cancelable = false;
    bool canceled = false;
    bool cancel_called = false;
    bool stop_acked = false;
    std::function<void(request)> cancel_cb;
};

class io_queue_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::queue;
    io_queue_impl(device_impl* d, const io_queue_config& c);
    ~io_queue_impl() override;

    device_impl* const dev;
    const io_queue_config cfg;
    bool power_managed = true;
    bool passive = false;
    callback_lock* cb_lock = nullptr;
    std::unique_ptr<callback_lock> own_lock;
    callback_lock* get_callback_lock() noexcept override { return own_lock.get(); }

    enum class qstate : std::uint8_t { started, stopped, purged };
    // io_lock
    qstate state = qstate::stopped;
    std::deque<request_impl*> pending;
    std::vector<request_impl*> owned;  // presented / retrieved, not yet completed
    os::waitable changed;              // notified when pending/owned/state change

    std::unique_ptr<deferred_item> presenter;
    static void present_thunk(void* self) noexcept;

    /// Add a request (io_lock NOT held). Completes it at once when the queue does not accept.
    void enqueue(request_impl* r, bool at_head = false);
    void kick() noexcept;
    /// Stop presenting; with `wait`, until every driver-owned request is completed or
    /// acknowledged (calling EvtIoStop for each).
    void stop(bool wait, std::uint32_t action);
    /// Stop accepting; cancel what waits; with `wait`, until the driver owns nothing.
    void purge(bool wait);
    void start();
    /// Invoke a driver callback under the queue's callback lock, at the queue's level.
    void invoke(const std::function<void()>& fn);

  protected:
    void dispose() override;
};

/// Complete a request the framework owns (not presented): status, no driver callback.
void complete_request(request_impl* r, status st, std::size_t information);

}  // namespace wdfx::detail
