// WDFQUEUE, WDFREQUEST and WDFFILEOBJECT (wdf-semantics §18.4), and the request source side used
// by the device interfaces (core/io.hpp).
#include <algorithm>
#include <cstring>

#include <wdfx/device.hpp>
#include <wdfx/queue.hpp>

#include "core/device_impl.hpp"
#include "core/driver_impl.hpp"
#include "core/queue_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"
#include "exec/runtime.hpp"
#include "os/log.hpp"

namespace wdfx {

const char* request_type_name(request_type t) noexcept {
    switch (t) {
        case request_type::create:
            return "WdfRequestTypeCreate";
        case request_type::close:
            return "WdfRequestTypeClose";
        case request_type::read:
            return "WdfRequestTypeRead";
        case request_type::write:
            return "WdfRequestTypeWrite";
        case request_type::device_control:
            return "WdfRequestTypeDeviceControl";
        case request_type::other:
            return "WdfRequestTypeOther";
    }
    return "?";
}

namespace detail {

// ---- completion ---------------------------------------------------------------------------------

namespace {
void maybe_close_file(file_impl* f, bool inline_close = false);

/// The common tail of every completion: detach from queue and file, report, free.
void finish(request_impl* r, status st, std::size_t info) {
    device_impl* dev = r->dev;
    io_queue_impl* q;
    file_impl* f;
    {
        std::lock_guard g(dev->io_lock);
        r->st = request_impl::state::completed;
        q = r->queue;
        r->queue = nullptr;
        if (q != nullptr) {
            auto it = std::find(q->owned.begin(), q->owned.end(), r);
            if (it != q->owned.end()) q->owned.erase(it);
        }
        f = r->file;
        if (f != nullptr && f->outstanding > 0) --f->outstanding;
    }
    if (q != nullptr) {
        q->changed.notify_all();
        q->kick();  // a sequential queue can present the next one
    }
    std::span<const std::byte> out;
    if (r->params.type == request_type::read || r->params.type == request_type::device_control)
        out = std::span<const std::byte>(r->out.data(), std::min(info, r->out.size()));
    if (r->sink) r->sink->on_complete(r->tag, st, info, out);
    if (f != nullptr) {
        maybe_close_file(f);
        f->release();
    }
    // The handle becomes invalid unless the driver took a reference (§18.4).
    r->release();
}
}  // namespace

void complete_request(request_impl* r, status st, std::size_t information) {
    finish(r, st, information);
}

// ---- io_queue_impl
// ---------------------------------------------------------------------------------

io_queue_impl::io_queue_impl(device_impl* d, const io_queue_config& c)
    : object_impl(kType), dev(d), cfg(c) {
    presenter = std::make_unique<deferred_item>(deferred_item::target::pool,
                                                &io_queue_impl::present_thunk, this);
}

io_queue_impl::~io_queue_impl() = default;

void io_queue_impl::invoke(const std::function<void()>& fn) {
    bool locked = cb_lock != nullptr && cb_lock->acquire("EvtIo", handle());
    fn();
    if (locked) cb_lock->release();
}

void io_queue_impl::kick() noexcept {
    if (cfg.dispatch == dispatch_type::manual) return;
    (void)presenter->try_queue();  // coalesces; runs on the pool
}

void io_queue_impl::present_thunk(void* p) noexcept {
    auto* q = static_cast<io_queue_impl*>(p);
    for (;;) {
        request_impl* r = nullptr;
        {
            std::lock_guard g(q->dev->io_lock);
            if (q->state != qstate::started || q->pending.empty()) return;
            if (q->cfg.dispatch == dispatch_type::sequential && !q->owned.empty()) return;
            if (q->cfg.dispatch == dispatch_type::parallel &&
                q->cfg.number_of_presented_requests != 0 &&
                q->owned.size() >= q->cfg.number_of_presented_requests)
                return;
            r = q->pending.front();
            q->pending.pop_front();
            r->st = request_impl::state::driver_owned;
            q->owned.push_back(r);
        }
        q->changed.notify_all();
        io_queue queue(q->handle());
        request req(r->handle());
        const auto& prm = r->params;
        const auto& c = q->cfg;
        if (prm.type == request_type::read && c.on_io_read) {
            q->invoke([&] { c.on_io_read(queue, req, prm.length); });
        } else if (prm.type == request_type::write && c.on_io_write) {
            q->invoke([&] { c.on_io_write(queue, req, prm.length); });
        } else if (prm.type == request_type::device_control && c.on_io_device_control) {
            q->invoke([&] {
                c.on_io_device_control(queue, req, prm.output_length, prm.input_length,
                                       prm.io_control_code);
            });
        } else if (c.on_io_default) {
            q->invoke([&] { c.on_io_default(queue, req); });
        } else {
            // No callback for this type: the framework fails it (WDF:
            // STATUS_INVALID_DEVICE_REQUEST).
            finish(r, status::invalid_device_request, 0);
        }
    }
}

void io_queue_impl::enqueue(request_impl* r, bool at_head) {
    bool reject = false;
    {
        std::lock_guard g(dev->io_lock);
        if (state == qstate::purged || is_deleting()) {
            reject = true;
        } else {
            r->st = request_impl::state::queued;
            r->queue = this;
            if (at_head)
                pending.push_front(r);
            else
                pending.push_back(r);
        }
    }
    if (reject) {
        finish(r, status::cancelled, 0);
        return;
    }
    changed.notify_all();
    kick();
}

void io_queue_impl::start() {
    std::vector<request_impl*> resume;
    {
        std::lock_guard g(dev->io_lock);
        if (state == qstate::purged) return;  // a purged queue stays closed until restarted by PnP
        state = qstate::started;
        for (request_impl* r : owned)
            if (r->stop_acked) {
                r->stop_acked = false;
                resume.push_back(r);
            }
    }
    changed.notify_all();
    for (request_impl* r : resume)
        if (cfg.on_io_resume)
            invoke([&] { cfg.on_io_resume(io_queue(handle()), request(r->handle())); });
    kick();
}

void io_queue_impl::stop(bool wait, std::uint32_t action) {
    std::vector<request_impl*> in_driver;
    {
        std::lock_guard g(dev->io_lock);
        if (state == qstate::started) state = qstate::stopped;
        for (request_impl* r : owned)
            if (!r->stop_acked) in_driver.push_back(r);
        for (request_impl* r : in_driver)
            r->add_ref();
    }
    changed.notify_all();
    // EvtIoStop for each request the driver owns: it completes, cancels or acknowledges it.
    for (request_impl* r : in_driver) {
        if (cfg.on_io_stop) {
            std::uint32_t a =
                action |
                (r->cancelable ? static_cast<std::uint32_t>(stop_action_request_cancelable) : 0u);
            invoke([&] { cfg.on_io_stop(io_queue(handle()), request(r->handle()), a); });
        }
        r->release();
    }
    if (!wait) return;
    if (cfg.on_io_stop == nullptr && !in_driver.empty())
        os::log(os::log_level::debug, "%s: waiting for %zu requests the driver owns (no EvtIoStop)",
                dev->name.c_str(), in_driver.size());
    for (;;) {
        std::uint32_t s = changed.snapshot();
        {
            std::lock_guard g(dev->io_lock);
            bool busy = std::any_of(owned.begin(), owned.end(),
                                    [](request_impl* r) { return !r->stop_acked; });
            if (!busy) return;
        }
        changed.wait(s);
    }
}

void io_queue_impl::purge(bool wait) {
    std::vector<request_impl*> waiting, cancel_in_driver;
    {
        std::lock_guard g(dev->io_lock);
        state = qstate::purged;
        waiting.assign(pending.begin(), pending.end());
        pending.clear();
        for (request_impl* r : waiting) {
            r->canceled = true;
            if (cfg.on_io_canceled_on_queue) {
                r->st = request_impl::state::driver_owned;
                owned.push_back(r);
            }
        }
        for (request_impl* r : owned) {
            if (r->cancelable && !r->cancel_called) {
                r->cancelable = false;
                r->cancel_called = true;
                r->canceled = true;
                r->add_ref();
                cancel_in_driver.push_back(r);
            }
        }
    }
    changed.notify_all();
    for (request_impl* r : waiting) {
        if (cfg.on_io_canceled_on_queue)
            invoke([&] { cfg.on_io_canceled_on_queue(io_queue(handle()), request(r->handle())); });
        else
            finish(r, status::cancelled, 0);
    }
    for (request_impl* r : cancel_in_driver) {
        auto cb = r->cancel_cb;
        if (cb) invoke([&] { cb(request(r->handle())); });
        r->release();
    }
    stop(wait, stop_action_purge);
}

void io_queue_impl::dispose() {
    purge(true);
    presenter->run_down();
    std::lock_guard g(dev->io_lock);
    dev->queues.erase(std::remove(dev->queues.begin(), dev->queues.end(), this), dev->queues.end());
    if (dev->default_queue == this) dev->default_queue = nullptr;
    auto& t = dev->dispatch_table;
    t.erase(std::remove_if(t.begin(), t.end(), [this](const auto& e) { return e.second == this; }),
            t.end());
}

// ---- files
// -----------------------------------------------------------------------------------------

file_impl::file_impl(device_impl* d, const peer_credentials& c, std::shared_ptr<request_sink> s)
    : object_impl(kType), dev(d), who(c), sink(std::move(s)) {
    dev->add_ref();
}

file_impl::~file_impl() {
    dev->release();
}

namespace {
void close_impl(file_impl* f, bool from_dispose);

void maybe_close_file(file_impl* f, bool inline_close) {
    bool do_close = false;
    {
        std::lock_guard g(f->dev->io_lock);
        if (f->closing && f->outstanding == 0 && !f->close_posted) {
            f->close_posted = true;
            do_close = true;
        }
    }
    if (!do_close) return;
    if (inline_close) {
        // From dispose (the device's deletion, PASSIVE): the tree deletes the file itself.
        if (f->opened && f->dev->file_config.on_close)
            f->dev->file_config.on_close(file_object(f->handle()));
        return;
    }
    // EvtFileClose after the last request of the file completed, at PASSIVE on the pool.
    f->add_ref();
    runtime::get().post([f] {
        if (f->opened && f->dev->file_config.on_close)
            f->dev->file_config.on_close(file_object(f->handle()));
        f->delete_tree();
        f->release();
    });
}
}  // namespace

void file_impl::dispose() {
    close_impl(this, true);
}

}  // namespace detail

// ======== public API
// ============================================================================================

using namespace detail;

result<io_queue> io_queue::create(device d, const io_queue_config& config,
                                  const object_attributes& attributes) {
    constexpr const char* api = "WdfIoQueueCreate";
    auto* dev = resolve<device_impl>(d.handle(), api);
    if (dev == nullptr)
        return error::from_status(status::invalid_handle, "WdfIoQueueCreate: bad WDFDEVICE");
    if (!verify_level_max(level::passive, api, d.handle()))
        return error::from_status(status::invalid_device_state,
                                  "WdfIoQueueCreate above PASSIVE_LEVEL");
    if (config.dispatch != dispatch_type::sequential &&
        config.dispatch != dispatch_type::parallel && config.dispatch != dispatch_type::manual)
        return error::from_status(status::invalid_parameter, "WdfIoQueueCreate: bad DispatchType");
    if (config.dispatch == dispatch_type::manual &&
        (config.on_io_read || config.on_io_write || config.on_io_device_control ||
         config.on_io_default))
        return error::from_status(
            status::invalid_parameter,
            "WdfIoQueueCreate: a manual queue has no EvtIoRead/Write/DeviceControl/Default");
    // FxIoQueue::Initialize: at least one of EvtIoDefault/Read/Write/DeviceControl (a default
    // queue with only EvtIoRead is fine: other request types fail when presented, see above).
    if (config.dispatch != dispatch_type::manual && config.default_queue && !config.on_io_default &&
        !config.on_io_read && !config.on_io_write && !config.on_io_device_control)
        return error::from_status(status::invalid_parameter,
                                  "WdfIoQueueCreate: a queue needs EvtIoDefault, EvtIoRead, "
                                  "EvtIoWrite or EvtIoDeviceControl");
    if (attributes.parent != 0 && attributes.parent != d.handle())
        return error::from_status(status::wdf_parent_assignment_not_allowed,
                                  "WdfIoQueueCreate: the parent is the device");
    auto* q = new io_queue_impl(dev, config);
    q->power_managed = config.power_managed != tri_state::false_value;
    // Constraints (§18.4): inherited from the device.
    execution_level lvl = attributes.level == execution_level::inherit_from_parent
                              ? dev->exec_level
                              : attributes.level;
    synchronization_scope scope = attributes.scope == synchronization_scope::inherit_from_parent
                                      ? dev->effective_scope()
                                      : attributes.scope;
    q->passive = lvl == execution_level::passive;
    q->exec_level = lvl;
    q->sync_scope = scope;
    q->passive_callbacks = q->passive;
    q->own_lock = std::make_unique<callback_lock>(q->passive);
    if (scope == synchronization_scope::queue)
        q->cb_lock = q->own_lock.get();
    else if (scope == synchronization_scope::device)
        q->cb_lock = dev->get_callback_lock();
    {
        std::lock_guard g(dev->io_lock);
        if (config.default_queue && dev->default_queue != nullptr) {
            delete q;
            return error::from_status(status::invalid_device_request,
                                      "WdfIoQueueCreate: the device already has a default queue");
        }
        // A power-managed queue starts with the device's D0; the others at once.
        q->state = (!q->power_managed || dev->power.load() == device_power_state::d0)
                       ? io_queue_impl::qstate::started
                       : io_queue_impl::qstate::stopped;
    }
    object_attributes a = attributes;
    a.parent = 0;
    q->commit(a, dev);
    std::lock_guard g(dev->io_lock);
    dev->queues.push_back(q);
    if (config.default_queue) dev->default_queue = q;
    return io_queue(q->handle());
}

result<request> io_queue::retrieve_next_request() const {
    constexpr const char* api = "WdfIoQueueRetrieveNextRequest";
    auto* q = resolve<io_queue_impl>(h_, api);
    if (q == nullptr) return error::from_status(status::invalid_handle, "bad WDFQUEUE");
    if (!verify_level_max(level::dispatch, api, h_))
        return error::from_status(status::invalid_device_state, "level");
    request_impl* r = nullptr;
    {
        std::lock_guard g(q->dev->io_lock);
        if (q->cfg.dispatch != dispatch_type::manual)
            return error::from_status(status::invalid_device_request,
                                      "WdfIoQueueRetrieveNextRequest: not a manual queue");
        if (q->state == io_queue_impl::qstate::stopped)
            return error::from_status(status::wdf_paused, "the queue is stopped");
        if (q->pending.empty())
            return error::from_status(status::no_more_entries, "the queue is empty");
        r = q->pending.front();
        q->pending.pop_front();
        r->st = request_impl::state::driver_owned;
        q->owned.push_back(r);
    }
    q->changed.notify_all();
    return request(r->handle());
}

void io_queue::start() const {
    if (auto* q = resolve<io_queue_impl>(h_, "WdfIoQueueStart")) q->start();
}
void io_queue::stop() const {
    if (auto* q = resolve<io_queue_impl>(h_, "WdfIoQueueStop")) q->stop(false, stop_action_suspend);
}
void io_queue::stop_synchronously() const {
    auto* q = resolve<io_queue_impl>(h_, "WdfIoQueueStopSynchronously");
    if (q == nullptr || !verify_level_max(level::passive, "WdfIoQueueStopSynchronously", h_))
        return;
    q->stop(true, stop_action_suspend);
}
void io_queue::purge() const {
    if (auto* q = resolve<io_queue_impl>(h_, "WdfIoQueuePurge")) q->purge(false);
}
void io_queue::purge_synchronously() const {
    auto* q = resolve<io_queue_impl>(h_, "WdfIoQueuePurgeSynchronously");
    if (q == nullptr || !verify_level_max(level::passive, "WdfIoQueuePurgeSynchronously", h_))
        return;
    q->purge(true);
}
void io_queue::drain_synchronously() const {
    auto* q = resolve<io_queue_impl>(h_, "WdfIoQueueDrainSynchronously");
    if (q == nullptr || !verify_level_max(level::passive, "WdfIoQueueDrainSynchronously", h_))
        return;
    // Drain: stop accepting new requests, let the queued and owned ones finish.
    for (;;) {
        std::uint32_t s = q->changed.snapshot();
        {
            std::lock_guard g(q->dev->io_lock);
            if (q->pending.empty() && q->owned.empty()) return;
        }
        q->changed.wait(s);
    }
}
device io_queue::get_device() const {
    auto* q = resolve<io_queue_impl>(h_, "WdfIoQueueGetDevice");
    return q != nullptr ? device(q->dev->handle()) : device();
}
std::size_t io_queue::queued_count() const {
    auto* q = resolve<io_queue_impl>(h_, "WdfIoQueueGetState");
    if (q == nullptr) return 0;
    std::lock_guard g(q->dev->io_lock);
    return q->pending.size();
}
std::size_t io_queue::driver_owned_count() const {
    auto* q = resolve<io_queue_impl>(h_, "WdfIoQueueGetState");
    if (q == nullptr) return 0;
    std::lock_guard g(q->dev->io_lock);
    return q->owned.size();
}

namespace {
request_impl* owned_request(std::uint64_t h, const char* api) {
    auto* r = resolve<request_impl>(h, api);
    if (r == nullptr) return nullptr;
    std::lock_guard g(r->dev->io_lock);
    if (r->st == request_impl::state::completed) {
        verifier_report(api, h, "request already completed",
                        "a request completes exactly once (§18.4)");
        return nullptr;
    }
    if (r->st != request_impl::state::driver_owned) {
        verifier_report(api, h, "request not owned by the driver",
                        "the request is still in a queue");
        return nullptr;
    }
    return r;
}
}  // namespace

void request::complete(status s) const {
    complete_with_information(s, get_information());
}

void request::complete_with_information(status s, std::size_t information) const {
    constexpr const char* api = "WdfRequestCompleteWithInformation";
    if (!verify_level_max(level::dispatch, api, h_)) return;
    request_impl* r = owned_request(h_, api);
    if (r == nullptr) return;
    {
        std::lock_guard g(r->dev->io_lock);
        r->st = request_impl::state::completed;  // a second complete is now a verifier report
    }
    std::size_t max = r->params.type == request_type::read             ? r->params.length
                      : r->params.type == request_type::device_control ? r->params.output_length
                      : r->params.type == request_type::write          ? r->params.length
                                                                       : information;
    finish(r, s, std::min(information, max));
}

void request::set_information(std::size_t information) const {
    if (auto* r = resolve<request_impl>(h_, "WdfRequestSetInformation"))
        r->information = information;
}

std::size_t request::get_information() const {
    auto* r = resolve<request_impl>(h_, "WdfRequestGetInformation");
    return r != nullptr ? r->information : 0;
}

request_parameters request::get_parameters() const {
    auto* r = resolve<request_impl>(h_, "WdfRequestGetParameters");
    return r != nullptr ? r->params : request_parameters{};
}

result<std::span<std::byte>> request::retrieve_output_buffer(std::size_t minimum) const {
    auto* r = resolve<request_impl>(h_, "WdfRequestRetrieveOutputBuffer");
    if (r == nullptr) return error::from_status(status::invalid_handle, "bad WDFREQUEST");
    if (r->params.type != request_type::read && r->params.type != request_type::device_control)
        return error::from_status(status::invalid_device_request,
                                  "WdfRequestRetrieveOutputBuffer: no output buffer");
    if (r->out.empty() && r->params.type == request_type::device_control)
        return error::from_status(status::buffer_too_small,
                                  "WdfRequestRetrieveOutputBuffer: zero-length output");
    if (r->out.size() < minimum)
        return error::from_status(
            status::buffer_too_small,
            "WdfRequestRetrieveOutputBuffer: buffer smaller than the minimum");
    return std::span<std::byte>(r->out);
}

result<std::span<const std::byte>> request::retrieve_input_buffer(std::size_t minimum) const {
    auto* r = resolve<request_impl>(h_, "WdfRequestRetrieveInputBuffer");
    if (r == nullptr) return error::from_status(status::invalid_handle, "bad WDFREQUEST");
    if (r->params.type != request_type::write && r->params.type != request_type::device_control)
        return error::from_status(status::invalid_device_request,
                                  "WdfRequestRetrieveInputBuffer: no input buffer");
    if (r->in.size() < minimum || (r->in.empty() && r->params.type == request_type::device_control))
        return error::from_status(status::buffer_too_small,
                                  "WdfRequestRetrieveInputBuffer: buffer smaller than the minimum");
    return std::span<const std::byte>(r->in);
}

namespace {
/// Move a driver-owned request from the queue it came from into `dst` in one step under io_lock,
/// so that neither a cancel nor the source queue's next presentation sees it in between (the
/// source is kicked only once the request is in its destination: a sequential queue forwarding
/// to a manual one keeps its order). False when `dst` does not accept requests.
bool move_to_queue_locked(request_impl* r, io_queue_impl* dst, bool at_head) {
    if (dst->state == io_queue_impl::qstate::purged || dst->is_deleting()) return false;
    io_queue_impl* src = r->queue;
    if (src != nullptr)
        src->owned.erase(std::remove(src->owned.begin(), src->owned.end(), r), src->owned.end());
    r->cancelable = false;
    r->st = request_impl::state::queued;
    r->queue = dst;
    if (at_head)
        dst->pending.push_front(r);
    else
        dst->pending.push_back(r);
    return true;
}
}  // namespace

status request::forward_to_io_queue(io_queue destination) const {
    constexpr const char* api = "WdfRequestForwardToIoQueue";
    auto* dst = resolve<io_queue_impl>(destination.handle(), api);
    if (dst == nullptr) return status::invalid_handle;
    request_impl* r = owned_request(h_, api);
    if (r == nullptr) return status::invalid_device_request;
    if (dst->dev != r->dev) return status::invalid_device_request;
    io_queue_impl* src;
    {
        std::lock_guard g(r->dev->io_lock);
        src = r->queue;
        if (src == dst) return status::invalid_device_request;
        // WDF: a destination that is not accepting fails the call; the driver keeps the request.
        if (!move_to_queue_locked(r, dst, false)) return status::wdf_busy;
    }
    dst->changed.notify_all();
    dst->kick();
    if (src != nullptr) {
        src->changed.notify_all();
        src->kick();
    }
    return status::success;
}

status request::requeue() const {
    constexpr const char* api = "WdfRequestRequeue";
    request_impl* r = owned_request(h_, api);
    if (r == nullptr) return status::invalid_device_request;
    io_queue_impl* q;
    {
        std::lock_guard g(r->dev->io_lock);
        q = r->queue;
        if (q == nullptr || q->cfg.dispatch != dispatch_type::manual) {
            verifier_report(api, h_, "not from a manual queue",
                            "WdfRequestRequeue is for requests of manual queues");
            return status::invalid_device_request;
        }
        if (!move_to_queue_locked(r, q, true)) return status::wdf_busy;  // back to the head (§18.4)
    }
    q->changed.notify_all();
    return status::success;
}

status request::mark_cancelable(std::function<void(request)> on_cancel) const {
    constexpr const char* api = "WdfRequestMarkCancelableEx";
    request_impl* r = owned_request(h_, api);
    if (r == nullptr) return status::invalid_device_request;
    std::lock_guard g(r->dev->io_lock);
    if (r->canceled) return status::cancelled;  // already cancelled: the driver completes it
    r->cancelable = true;
    r->cancel_cb = std::move(on_cancel);
    return status::success;
}

status request::unmark_cancelable() const {
    constexpr const char* api = "WdfRequestUnmarkCancelable";
    auto* r = resolve<request_impl>(h_, api);
    if (r == nullptr) return status::invalid_handle;
    std::lock_guard g(r->dev->io_lock);
    if (r->cancel_called)
        return status::cancelled;  // EvtRequestCancel runs or ran: it completes it
    r->cancelable = false;
    return status::success;
}

bool request::is_canceled() const {
    auto* r = resolve<request_impl>(h_, "WdfRequestIsCanceled");
    if (r == nullptr) return false;
    std::lock_guard g(r->dev->io_lock);
    return r->canceled;
}

void request::stop_acknowledge(bool requeue_it) const {
    constexpr const char* api = "WdfRequestStopAcknowledge";
    request_impl* r = owned_request(h_, api);
    if (r == nullptr) return;
    io_queue_impl* q;
    {
        std::lock_guard g(r->dev->io_lock);
        q = r->queue;
        if (q == nullptr) return;
        if (requeue_it) {
            q->owned.erase(std::remove(q->owned.begin(), q->owned.end(), r), q->owned.end());
            r->st = request_impl::state::queued;
            r->cancelable = false;
            q->pending.push_front(r);
        } else {
            r->stop_acked = true;
        }
    }
    q->changed.notify_all();
}

file_object request::get_file_object() const {
    auto* r = resolve<request_impl>(h_, "WdfRequestGetFileObject");
    return r != nullptr && r->file != nullptr ? file_object(r->file->handle()) : file_object();
}

io_queue request::get_io_queue() const {
    auto* r = resolve<request_impl>(h_, "WdfRequestGetIoQueue");
    if (r == nullptr) return io_queue();
    std::lock_guard g(r->dev->io_lock);
    return r->queue != nullptr ? io_queue(r->queue->handle()) : io_queue();
}

device file_object::get_device() const {
    auto* f = resolve<file_impl>(h_, "WdfFileObjectGetDevice");
    return f != nullptr ? device(f->dev->handle()) : device();
}
std::uint32_t file_object::uid() const {
    auto* f = resolve<file_impl>(h_, "wdfx::file_object::uid");
    return f != nullptr ? f->who.uid : 0;
}
std::uint32_t file_object::gid() const {
    auto* f = resolve<file_impl>(h_, "wdfx::file_object::gid");
    return f != nullptr ? f->who.gid : 0;
}
std::int32_t file_object::pid() const {
    auto* f = resolve<file_impl>(h_, "wdfx::file_object::pid");
    return f != nullptr ? f->who.pid : 0;
}

status configure_request_dispatching(device d, io_queue queue, request_type type) {
    constexpr const char* api = "WdfDeviceConfigureRequestDispatching";
    auto* dev = resolve<device_impl>(d.handle(), api);
    auto* q = resolve<io_queue_impl>(queue.handle(), api);
    if (dev == nullptr || q == nullptr) return status::invalid_handle;
    if (q->dev != dev) return status::invalid_parameter;
    if (type != request_type::read && type != request_type::write &&
        type != request_type::device_control && type != request_type::create)
        return status::invalid_parameter;
    std::lock_guard g(dev->io_lock);
    for (auto& e : dev->dispatch_table)
        if (e.first == type) return status::invalid_device_request;  // already configured
    dev->dispatch_table.emplace_back(type, q);
    return status::success;
}

io_queue get_default_queue(device d) {
    auto* dev = resolve<device_impl>(d.handle(), "WdfDeviceGetDefaultQueue");
    if (dev == nullptr) return io_queue();
    std::lock_guard g(dev->io_lock);
    return dev->default_queue != nullptr ? io_queue(dev->default_queue->handle()) : io_queue();
}

// ======== the request source side (core/io.hpp)
// ============================================================

namespace detail {

io_queue_impl* device_impl::queue_for(request_type t) {
    // io_lock held by the caller
    for (auto& e : dispatch_table)
        if (e.first == t) return e.second;
    return default_queue;
}

void device_impl::stop_queues(bool purge_them) {
    std::vector<io_queue_impl*> qs;
    {
        std::lock_guard g(io_lock);
        qs = queues;
        for (auto* q : qs)
            q->add_ref();
    }
    for (auto* q : qs) {
        if (purge_them)
            q->purge(true);
        else if (q->power_managed)
            q->stop(true, stop_action_suspend);
        q->release();
    }
}

void device_impl::start_queues() {
    std::vector<io_queue_impl*> qs;
    {
        std::lock_guard g(io_lock);
        qs = queues;
        for (auto* q : qs)
            q->add_ref();
    }
    for (auto* q : qs) {
        {
            std::lock_guard g(io_lock);
            if (q->state == io_queue_impl::qstate::purged)
                q->state = io_queue_impl::qstate::stopped;  // restart after stop
        }
        q->start();
        q->release();
    }
}

namespace {
request_impl* new_request(device_impl* dev, file_impl* f, const io_submission& s) {
    auto* r = new request_impl(dev);
    r->params.type = s.type;
    r->params.offset = s.offset;
    r->params.length = s.type == request_type::write ? s.input.size() : s.length;
    r->params.output_length = s.output_length;
    r->params.input_length = s.input.size();
    r->params.io_control_code = s.io_control_code;
    r->in = s.input;
    if (s.type == request_type::read) r->out.assign(s.length, std::byte{0});
    if (s.type == request_type::device_control) r->out.assign(s.output_length, std::byte{0});
    r->tag = s.tag;
    r->file = f;
    if (f != nullptr) {
        f->add_ref();
        r->sink = f->sink;
    }
    r->commit(object_attributes{}, nullptr);
    return r;
}
}  // namespace

file_object open_file(device d, const peer_credentials& who, std::shared_ptr<request_sink> sink,
                      std::uint64_t tag) {
    auto* dev = static_cast<device_impl*>(handle_lookup(d.handle(), object_type::device));
    if (dev == nullptr || dev->is_deleting()) {
        if (sink) sink->on_complete(tag, status::no_such_device, 0, {});
        return file_object();
    }
    auto* f = new file_impl(dev, who, sink);
    f->commit(object_attributes{}, dev);
    f->add_ref();  // the caller's reference, dropped by close_file: the handle stays valid
    io_submission s;
    s.type = request_type::create;
    s.tag = tag;
    {
        std::lock_guard g(dev->io_lock);
        ++f->outstanding;
    }
    request_impl* r = new_request(dev, f, s);
    // Create requests: to a queue configured for them, else EvtDeviceFileCreate, else accepted.
    io_queue_impl* q = nullptr;
    {
        std::lock_guard g(dev->io_lock);
        for (auto& e : dev->dispatch_table)
            if (e.first == request_type::create) q = e.second;
    }
    // The sink sees the create's completion; the file is opened if it succeeded.
    struct open_sink final : request_sink {
        std::shared_ptr<request_sink> inner;
        file_impl* f;
        void on_complete(std::uint64_t t, status st, std::size_t info,
                         std::span<const std::byte> out) noexcept override {
            {
                std::lock_guard g(f->dev->io_lock);
                f->opened = nt_success(st);
            }
            if (inner) inner->on_complete(t, st, info, out);
            if (!nt_success(st)) close_impl(f, false);
        }
    };
    auto os_ = std::make_shared<open_sink>();
    os_->inner = sink;
    os_->f = f;
    r->sink = os_;
    if (q != nullptr) {
        q->enqueue(r);
    } else if (dev->file_config.on_create) {
        {
            std::lock_guard g(dev->io_lock);
            r->st = request_impl::state::driver_owned;
        }
        dev->file_config.on_create(device(dev->handle()), request(r->handle()),
                                   file_object(f->handle()));
    } else {
        finish(r, status::success, 0);
    }
    return file_object(f->handle());
}

std::uint64_t submit(file_object file, io_submission s) {
    auto* f = static_cast<file_impl*>(handle_lookup(file.handle(), object_type::file));
    if (f == nullptr) return 0;
    device_impl* dev = f->dev;
    io_queue_impl* q = nullptr;
    bool refuse = false;
    status why = status::invalid_device_request;
    {
        std::lock_guard g(dev->io_lock);
        if (f->closing || !f->opened) {
            refuse = true;
            why = dev->is_deleting() ? status::no_such_device : status::invalid_device_state;
        } else {
            q = dev->queue_for(s.type);
            if (q == nullptr) refuse = true;
            ++f->outstanding;
        }
    }
    if (refuse && why != status::invalid_device_request) {
        if (f->sink) f->sink->on_complete(s.tag, why, 0, {});
        return 0;
    }
    request_impl* r = new_request(dev, f, s);
    if (refuse) {
        finish(r, why, 0);
        return 0;
    }
    // Zero-length reads and writes are completed by the framework unless the queue allows them.
    if ((s.type == request_type::read || s.type == request_type::write) && r->params.length == 0 &&
        !q->cfg.allow_zero_length_requests) {
        finish(r, status::success, 0);
        return 0;
    }
    std::uint64_t h = r->handle();
    q->enqueue(r);
    return h;
}

namespace {
/// The live request `h` of file `f`, or nullptr (io_lock held). A request handle alone is not
/// enough: the driver may complete and free the request on another thread at any moment, so it
/// is looked up only among the requests the device's queues hold, under the lock that keeps
/// them alive (a completion removes the request from its queue under io_lock before freeing it).
request_impl* find_request_locked(device_impl* dev, file_impl* f, std::uint64_t h) {
    for (io_queue_impl* q : dev->queues) {
        for (request_impl* r : q->pending)
            if (r->handle() == h && r->file == f) return r;
        for (request_impl* r : q->owned)
            if (r->handle() == h && r->file == f) return r;
    }
    return nullptr;
}

void cancel_request(file_impl* f, std::uint64_t request_handle) {
    device_impl* dev = f->dev;
    request_impl* r = nullptr;
    io_queue_impl* q = nullptr;
    enum { none, complete_it, canceled_on_queue, call_cancel } action = none;
    std::function<void(request)> cb;
    {
        std::lock_guard g(dev->io_lock);
        r = find_request_locked(dev, f, request_handle);
        if (r == nullptr) return;
        if (r->st == request_impl::state::completed || r->canceled) return;
        r->canceled = true;
        q = r->queue;
        if (r->st == request_impl::state::queued && q != nullptr) {
            q->pending.erase(std::remove(q->pending.begin(), q->pending.end(), r),
                             q->pending.end());
            if (q->cfg.on_io_canceled_on_queue) {
                r->st = request_impl::state::driver_owned;
                q->owned.push_back(r);
                action = canceled_on_queue;
            } else {
                r->queue = nullptr;
                action = complete_it;
            }
        } else if (r->st == request_impl::state::driver_owned && r->cancelable &&
                   !r->cancel_called) {
            r->cancelable = false;
            r->cancel_called = true;
            cb = r->cancel_cb;
            action = call_cancel;
        }
        if (action != none) r->add_ref();
    }
    switch (action) {
        case none:
            return;
        case complete_it:
            finish(r, status::cancelled, 0);
            break;
        case canceled_on_queue:
            q->invoke([&] {
                q->cfg.on_io_canceled_on_queue(io_queue(q->handle()), request(r->handle()));
            });
            break;
        case call_cancel:
            // EvtRequestCancel, under the queue's callback lock when synchronized (§18.4).
            if (q != nullptr)
                q->invoke([&] { cb(request(r->handle())); });
            else
                cb(request(r->handle()));
            break;
    }
    r->release();
}

void close_impl(file_impl* f, bool from_dispose) {
    device_impl* dev = f->dev;
    std::vector<std::uint64_t> mine;
    bool was_open;
    {
        std::lock_guard g(dev->io_lock);
        if (f->closing) return;
        f->closing = true;
        was_open = f->opened;
        for (io_queue_impl* q : dev->queues) {
            for (request_impl* r : q->pending)
                if (r->file == f) mine.push_back(r->handle());
            for (request_impl* r : q->owned)
                if (r->file == f) mine.push_back(r->handle());
        }
    }
    // The client is gone: its requests are cancelled (queued ones complete with STATUS_CANCELLED,
    // cancelable presented ones get EvtRequestCancel); the rest complete normally, replies dropped.
    for (std::uint64_t h : mine)
        cancel_request(f, h);
    if (was_open && dev->file_config.on_cleanup)
        dev->file_config.on_cleanup(file_object(f->handle()));
    maybe_close_file(f, from_dispose);
}
}  // namespace

void cancel(file_object file, std::uint64_t request_handle) {
    // The caller holds its reference on the file (open_file), so the lookup cannot race a free.
    auto* f = static_cast<file_impl*>(handle_lookup(file.handle(), object_type::file));
    if (f == nullptr) return;
    cancel_request(f, request_handle);
}

void close_file(file_object file) {
    auto* f = static_cast<file_impl*>(handle_lookup(file.handle(), object_type::file));
    if (f == nullptr) return;
    close_impl(f, false);
    f->release();  // the reference open_file gave the caller
}

}  // namespace detail
}  // namespace wdfx
