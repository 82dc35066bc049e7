// WDFTIMER (wdf-semantics §18.7) on the timer service.
#include <time.h>

#include <atomic>

#include <wdfx/timer.hpp>

#include "core/locks.hpp"
#include "core/object_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"
#include "exec/runtime.hpp"
#include "exec/timer_service.hpp"
#include "exec/work.hpp"

namespace wdfx {
namespace detail {

status effective_lock_for(object_impl* parent, bool automatic, bool passive_callbacks,
                          callback_lock** out);
object_impl* device_or_queue_ancestor(object_impl* o) noexcept;

class timer_impl final : public object_impl, public timer_service::client {
  public:
    static constexpr object_type kType = object_type::timer;
    timer_impl(const timer_config& c, bool passive_timer)
        : object_impl(kType),
          cfg(c),
          passive(passive_timer),
          passive_item(deferred_item::target::pool, &passive_thunk, this) {}

    const timer_config cfg;
    const bool passive;
    callback_lock* cb_lock = nullptr;
    std::atomic<bool> queued{false};
    os::running_count running;
    deferred_item passive_item;  // passive timers run their callback as a work item
    std::atomic<const void*> running_thread{nullptr};

    void run_callback() noexcept {
        bool locked = cb_lock != nullptr && cb_lock->acquire("EvtTimerFunc", handle());
        running_thread.store(&tls(), std::memory_order_relaxed);
        if (cfg.on_timer) cfg.on_timer(timer(handle()));
        running_thread.store(nullptr, std::memory_order_relaxed);
        if (locked) cb_lock->release();
    }

    // Timer thread, DISPATCH.
    void expired() noexcept override {
        if (cfg.period_ms == 0) queued.store(false, std::memory_order_release);
        if (passive) {
            (void)passive_item.try_queue();
            return;
        }
        running.enter();
        run_callback();
        running.leave();
    }

    static void passive_thunk(void* p) noexcept { static_cast<timer_impl*>(p)->run_callback(); }

    bool stop(bool wait) {
        bool was = queued.exchange(false, std::memory_order_acq_rel);
        auto& svc = runtime::get().timers();
        svc.cancel(this);
        if (wait) {
            svc.sync();  // no expiry after this
            running.wait_idle([] { return true; });
            passive_item.flush();
        }
        return was;
    }

    bool callback_running_on_this_thread() const noexcept override {
        return running_thread.load(std::memory_order_relaxed) == &tls();
    }

  protected:
    void dispose() override {
        // Deleting a timer waits for running callbacks before the cleanup callback (§18.7).
        (void)stop(true);
        passive_item.run_down();
    }
};

}  // namespace detail

using namespace detail;

result<timer> timer::create(const timer_config& config, const object_attributes& attributes) {
    constexpr const char* api = "WdfTimerCreate";
    if (!verify_level_max(level::dispatch, api, 0))
        return error::from_status(status::invalid_device_state,
                                  "WdfTimerCreate above DISPATCH_LEVEL");
    if (!config.on_timer)
        return error::from_status(status::invalid_parameter,
                                  "WdfTimerCreate: EvtTimerFunc is required");
    if (attributes.parent == 0)
        return error::from_status(status::wdf_parent_not_specified,
                                  "WdfTimerCreate: a ParentObject (device or queue) is required");
    object_impl* parent = resolve_any(attributes.parent, object_type::none, api);
    if (parent == nullptr)
        return error::from_status(status::invalid_handle, "WdfTimerCreate: bad parent");
    if (device_or_queue_ancestor(parent) == nullptr)
        return error::from_status(
            status::invalid_device_request,
            "WdfTimerCreate: the parent is not a device or queue or below one");
    if (attributes.level == execution_level::invalid ||
        attributes.scope == synchronization_scope::invalid)
        return error::from_status(status::wdf_object_attributes_invalid,
                                  "WdfTimerCreate: bad attributes");
    const bool passive = attributes.level == execution_level::passive;
    if (passive && config.period_ms != 0)
        return error::from_status(
            status::not_supported,
            "WdfTimerCreate: a passive-level timer cannot be periodic (§18.7)");
    callback_lock* cbl = nullptr;
    status st = effective_lock_for(parent, config.automatic_serialization, passive, &cbl);
    if (!nt_success(st))
        return error::from_status(
            st, "WdfTimerCreate: the parent's execution level does not match the timer's");
    auto* t = new timer_impl(config, passive);
    t->cb_lock = cbl;
    object_attributes a = attributes;
    a.level = execution_level::inherit_from_parent;
    t->commit(a, parent);
    return timer(t->handle());
}

bool timer::start(std::int64_t due) const {
    constexpr const char* api = "WdfTimerStart";
    auto* t = resolve<timer_impl>(h_, api);
    if (t == nullptr) return false;
    if (!verify_level_max(level::dispatch, api, h_)) return false;
    if (t->is_deleting()) {
        verifier_report(api, h_, "timer being deleted", "start of a deleted timer");
        return false;
    }
    std::uint64_t now = timer_service::now_ns();
    std::uint64_t deadline = now;
    if (due < 0) {
        deadline = now + static_cast<std::uint64_t>(-due) * 100;
    } else if (due > 0) {
        // Absolute Windows system time: convert through CLOCK_REALTIME.
        timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        constexpr std::int64_t kEpochDelta100ns = 116444736000000000ll;
        std::int64_t target_ns = (due - kEpochDelta100ns) * 100;
        std::int64_t now_rt = rt.tv_sec * 1000000000ll + rt.tv_nsec;
        if (target_ns > now_rt) deadline = now + static_cast<std::uint64_t>(target_ns - now_rt);
    }
    bool was = t->queued.exchange(true, std::memory_order_acq_rel);
    runtime::get().timers().arm(t, deadline, std::uint64_t{t->cfg.period_ms} * 1000000ull);
    return was;
}

bool timer::stop(bool wait) const {
    constexpr const char* api = "WdfTimerStop";
    auto* t = resolve<timer_impl>(h_, api);
    if (t == nullptr) return false;
    if (!verify_level_max(wait ? level::passive : level::dispatch, api, h_)) return false;
    if (wait && (t->running_thread.load() == &detail::tls())) {
        verifier_report(api, h_, "stop with wait from the timer's own callback",
                        "WdfTimerStop(Wait = TRUE) would wait for itself (§18.7)");
        return false;
    }
    return t->stop(wait);
}

object timer::get_parent_object() const {
    auto* t = resolve<timer_impl>(h_, "WdfTimerGetParentObject");
    return t != nullptr && t->parent() != nullptr ? object(t->parent()->handle()) : object();
}

}  // namespace wdfx
