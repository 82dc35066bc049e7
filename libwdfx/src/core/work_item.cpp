// WDFWORKITEM (wdf-semantics §18.5) on the dispatcher pool.
#include <wdfx/work_item.hpp>

#include "core/device_impl.hpp"
#include "core/locks.hpp"
#include "core/object_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"
#include "exec/runtime.hpp"
#include "exec/work.hpp"
#include "os/log.hpp"

namespace wdfx {
namespace detail {

class work_item_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::work_item;
    explicit work_item_impl(const work_item_config& c)
        : object_impl(kType), cfg(c), item(deferred_item::target::pool, &thunk, this) {}

    work_item_config cfg;
    deferred_item item;
    callback_lock* cb_lock = nullptr;

    static void thunk(void* p) noexcept {
        auto* self = static_cast<work_item_impl*>(p);
        bool locked =
            self->cb_lock != nullptr && self->cb_lock->acquire("EvtWorkItem", self->handle());
        if (self->cfg.on_work_item) self->cfg.on_work_item(work_item(self->handle()));
        if (locked) self->cb_lock->release();
    }

    bool callback_running_on_this_thread() const noexcept override {
        return item.running_on_this_thread();
    }

  protected:
    // WdfObjectDelete waits for the queued or running callback before the cleanup callback.
    void dispose() override { item.run_down(); }
};

status effective_lock_for(object_impl* parent, bool automatic, bool passive_callbacks,
                          callback_lock** out) {
    *out = nullptr;
    if (!automatic) return status::success;
    object_impl* owner = parent;
    while (owner != nullptr && owner->type() != object_type::device &&
           owner->type() != object_type::queue)
        owner = owner->parent();
    if (owner == nullptr) return status::success;
    synchronization_scope scope = owner->type() == object_type::device
                                      ? static_cast<device_impl*>(owner)->effective_scope()
                                      : owner->sync_scope;
    if (scope == synchronization_scope::inherit_from_parent || scope == synchronization_scope::none)
        return status::success;  // silently no lock (§9.4)
    if (owner->passive_callbacks != passive_callbacks)
        return status::wdf_incompatible_execution_level;
    *out = owner->get_callback_lock();
    return status::success;
}

object_impl* device_or_queue_ancestor(object_impl* o) noexcept {
    for (; o != nullptr; o = o->parent())
        if (o->type() == object_type::device || o->type() == object_type::queue) return o;
    return nullptr;
}

void defer_delete(object_impl* obj) {
    obj->add_ref();
    runtime::get().post([obj] {
        obj->delete_tree();
        obj->release();
    });
}

}  // namespace detail

using namespace detail;

result<work_item> work_item::create(const work_item_config& config,
                                    const object_attributes& attributes) {
    constexpr const char* api = "WdfWorkItemCreate";
    if (!verify_level_max(level::dispatch, api, 0))
        return error::from_status(status::invalid_device_state,
                                  "WdfWorkItemCreate above DISPATCH_LEVEL");
    if (!config.on_work_item)
        return error::from_status(status::invalid_parameter,
                                  "WdfWorkItemCreate: EvtWorkItemFunc is required");
    if (attributes.parent == 0)
        return error::from_status(
            status::wdf_parent_not_specified,
            "WdfWorkItemCreate: a ParentObject (device or queue) is required");
    object_impl* parent = resolve_any(attributes.parent, object_type::none, api);
    if (parent == nullptr)
        return error::from_status(status::invalid_handle, "WdfWorkItemCreate: bad parent");
    if (device_or_queue_ancestor(parent) == nullptr)
        return error::from_status(
            status::invalid_device_request,
            "WdfWorkItemCreate: the parent is not a device or queue or below one");
    callback_lock* cbl = nullptr;
    status st = effective_lock_for(parent, config.automatic_serialization, true, &cbl);
    if (!nt_success(st))
        return error::from_status(
            st, "WdfWorkItemCreate: automatic serialization needs a PASSIVE parent");
    auto* w = new work_item_impl(config);
    w->cb_lock = cbl;
    w->commit(attributes, parent);
    return work_item(w->handle());
}

void work_item::enqueue() const {
    constexpr const char* api = "WdfWorkItemEnqueue";
    auto* w = resolve<work_item_impl>(h_, api);
    if (w == nullptr) return;
    if (!verify_level_max(level::dispatch, api, h_)) return;
    if (w->item.is_running_down()) {
        verifier_report(api, h_, "work item running down", "enqueue of a work item being deleted");
        return;
    }
    (void)w->item.try_queue();  // already queued: ignored (§18.5)
}

void work_item::flush() const {
    constexpr const char* api = "WdfWorkItemFlush";
    auto* w = resolve<work_item_impl>(h_, api);
    if (w == nullptr) return;
    if (!verify_level_max(level::passive, api, h_)) return;
    if (w->item.running_on_this_thread()) {
        verifier_report(api, h_, "flush from the work item's own callback",
                        "WdfWorkItemFlush would wait for itself (§18.5)");
        return;
    }
    w->item.flush();
}

object work_item::get_parent_object() const {
    auto* w = resolve<work_item_impl>(h_, "WdfWorkItemGetParentObject");
    return w != nullptr && w->parent() != nullptr ? object(w->parent()->handle()) : object();
}

}  // namespace wdfx
