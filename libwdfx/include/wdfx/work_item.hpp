// wdfx/work_item.hpp: WDFWORKITEM (wdf-semantics §18.5).
//
// A work item runs its callback at PASSIVE on the dispatcher pool. It can be queued once before it
// runs: enqueue while queued is ignored; the queued bit is cleared before the callback, so an
// enqueue during the callback schedules another run, which may overlap the first (§9.3). flush()
// waits until it is neither queued nor running, including runs re-queued meanwhile.
#pragma once

#include <functional>

#include <wdfx/object.hpp>

namespace wdfx {

class work_item;

/// WDF_WORKITEM_CONFIG. WDF_WORKITEM_CONFIG_INIT sets AutomaticSerialization = TRUE.
struct work_item_config {
    std::function<void(work_item)> on_work_item;
    bool automatic_serialization = true;
};

class work_item : public object {
  public:
    work_item() = default;
    explicit work_item(std::uint64_t h) : object(h) {}
    /// WdfWorkItemCreate: <= DISPATCH. The parent (attributes.parent) is required and must be a
    /// device or queue or have one as an ancestor (STATUS_WDF_PARENT_NOT_SPECIFIED,
    /// STATUS_INVALID_DEVICE_REQUEST). Automatic serialization needs a PASSIVE parent
    /// (STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL); with scope None it silently does nothing.
    static result<work_item> create(const work_item_config& config,
                                    const object_attributes& attributes);
    /// WdfWorkItemEnqueue: <= DISPATCH. Ignored while already queued.
    void enqueue() const;
    /// WdfWorkItemFlush: PASSIVE; not from the item's own callback.
    void flush() const;
    /// WdfWorkItemGetParentObject.
    object get_parent_object() const;
};

}  // namespace wdfx
