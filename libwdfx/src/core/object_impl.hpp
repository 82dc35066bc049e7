// The object model's internals: the handle table and the base of every framework object.
//
// Handles: a 64-bit value ((slot index + 1) << 32 | generation << 8 | type). The table is a fixed
// array of lazily allocated chunks that never move, so a lookup is two loads and a compare and is
// safe from any thread, including ISR threads. A slot's generation changes when its object is
// freed, so a stale handle never resolves to a newer object.
//
// The tree (parent/children links) is guarded by one global lock; creation and deletion are
// PASSIVE-level, infrequent operations.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <wdfx/object.hpp>

namespace wdfx::detail {

class callback_lock;

class object_impl {
  public:
    explicit object_impl(object_type type) noexcept : type_(type) {}
    virtual ~object_impl();
    object_impl(const object_impl&) = delete;
    object_impl& operator=(const object_impl&) = delete;

    /// Give the object its handle, context and callbacks, and link it under `parent` (may be
    /// null). Last step of every create: nothing can fail after it.
    void commit(const object_attributes& attributes, object_impl* parent);

    std::uint64_t handle() const noexcept { return handle_; }
    object_type type() const noexcept { return type_; }
    object_impl* parent() const noexcept { return parent_; }
    bool is_deleting() const noexcept { return state_.load(std::memory_order_acquire) != 0; }

    // Constraints (§9.4, §18.3): meaningful for driver, device and queue objects.
    execution_level exec_level = execution_level::inherit_from_parent;
    synchronization_scope sync_scope = synchronization_scope::inherit_from_parent;
    bool passive_callbacks = false;  // FxObject "IsPassiveCallbacks": attributes said Passive
    virtual callback_lock* get_callback_lock() noexcept { return nullptr; }
    /// True while the calling thread runs this object's own callback (a work item or timer
    /// deleting itself: the deletion is deferred so it does not wait for itself).
    virtual bool callback_running_on_this_thread() const noexcept { return false; }

    /// WdfObjectDelete: checks the DDI rules, then deletes the tree.
    status delete_from_api(const char* api);
    /// Framework deletion: children first, then dispose(), then cleanup; drops the creation
    /// reference. Must run at PASSIVE.
    void delete_tree();
    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept;

    void* context(const context_type_info* type) const noexcept;
    status add_context(const context_type_info* type, std::size_t size_override);

    /// The children (tree lock held by the caller).
    const std::vector<object_impl*>& children_snapshot() const noexcept { return children_; }
    /// The nearest ancestor (or self) of that type.
    object_impl* find_ancestor(object_type t) noexcept;

  protected:
    /// Internal rundown before the cleanup callback (flush work, stop timers). Children are gone.
    virtual void dispose() {}
    /// Called instead of the WdfObjectDelete path for objects the driver may not delete.
    bool no_delete_ddi = false;

  private:
    struct context_block {
        const context_type_info* type;
        void* mem;
        std::size_t offset;
    };
    void free_contexts() noexcept;

    const object_type type_;
    std::uint64_t handle_ = 0;
    object_impl* parent_ = nullptr;
    std::vector<object_impl*> children_;  // guarded by the tree lock
    std::vector<context_block> contexts_;
    object_callback on_cleanup_;
    object_callback on_destroy_;
    std::atomic<int> refs_{1};
    std::atomic<int> state_{0};  // 0 alive, 1 deleting
};

// Handle table.
std::uint64_t handle_alloc(object_impl* obj, object_type type);
void handle_free(std::uint64_t h) noexcept;
/// The live object a handle names, or nullptr (stale, malformed, or another type). `expected`
/// object_type::none accepts any type.
object_impl* handle_lookup(std::uint64_t h, object_type expected) noexcept;

/// Resolve a handle for an API, reporting a bad one to the verifier (nullptr then).
object_impl* resolve_any(std::uint64_t h, object_type expected, const char* api);

template <class T>
T* resolve(std::uint64_t h, const char* api) {
    return static_cast<T*>(resolve_any(h, T::kType, api));
}

/// The global lock over parent/children links.
void tree_lock() noexcept;
void tree_unlock() noexcept;

/// Run a deletion that was requested above PASSIVE on the dispatcher pool (§18.1).
void defer_delete(object_impl* obj);

}  // namespace wdfx::detail
