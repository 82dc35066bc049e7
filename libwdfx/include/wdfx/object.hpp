// wdfx/object.hpp: the object model (wdf-semantics §18.1).
//
// Every framework object (driver, device, interrupt, work item, timer, locks, ...) lives in a tree
// (driver -> device -> interrupts, work items, timers, ...) and is named by a generation-checked
// handle: a 64-bit value holding a slot index, a generation and the object's type. The C API hands
// the same values out as WDFDRIVER, WDFINTERRUPT, ... A stale handle (the object was freed) or a
// handle of the wrong type is a verifier report (wdfx/verifier.hpp), never undefined behaviour.
//
// Objects carry typed context space (zero-initialised for C types, value-initialised for C++
// types), cleanup and destroy callbacks run in WDF's order: children are disposed before their
// parent, each object's internal rundown (flushing its work) comes before its cleanup callback,
// and the destroy callback runs when the last reference is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <type_traits>
#include <typeinfo>

#include <wdfx/status.hpp>

namespace wdfx {

/// WDF_EXECUTION_LEVEL
enum class execution_level : std::uint8_t {
    invalid = 0,
    inherit_from_parent = 1,
    passive = 2,
    dispatch = 3,
};

/// WDF_SYNCHRONIZATION_SCOPE
enum class synchronization_scope : std::uint8_t {
    invalid = 0,
    inherit_from_parent = 1,
    device = 2,
    queue = 3,
    none = 4,
};

/// The type carried in every handle.
enum class object_type : std::uint8_t {
    none = 0,
    driver,
    device,
    interrupt,
    work_item,
    timer,
    spin_lock,
    wait_lock,
    queue,
    request,
    generic,
    dma_enabler,
    common_buffer,
    file,
};
const char* object_type_name(object_type t) noexcept;

/// WDF_OBJECT_CONTEXT_TYPE_INFO. One static instance per context type; `context_type<T>()` makes it
/// for a C++ type, WDF_DECLARE_CONTEXT_TYPE_WITH_NAME for a C struct.
struct context_type_info {
    const char* name = nullptr;
    std::size_t size = 0;
    std::size_t align = alignof(std::max_align_t);
    void (*construct)(void*) = nullptr;         // nullptr: zero-fill
    void (*destroy)(void*) = nullptr;           // nullptr: trivial
    const context_type_info* unique = nullptr;  // WDF's UniqueType; nullptr means "this one"
};

namespace detail {
template <class T>
struct context_holder {
    static void construct(void* p) { ::new (p) T(); }
    static void destroy(void* p) { static_cast<T*>(p)->~T(); }
    static inline const context_type_info info{
        typeid(T).name(),
        sizeof(T),
        alignof(T),
        std::is_trivially_default_constructible_v<T> ? nullptr : &construct,
        std::is_trivially_destructible_v<T> ? nullptr : &destroy,
        nullptr,
    };
};
}  // namespace detail

/// The context descriptor of C++ type T (WDF_DECLARE_CONTEXT_TYPE in C++).
template <class T>
const context_type_info* context_type() noexcept {
    return &detail::context_holder<T>::info;
}

class object;
using object_callback = std::function<void(object)>;

/// WDF_OBJECT_ATTRIBUTES.
struct object_attributes {
    object_callback on_cleanup;  // EvtCleanupCallback: deletion starts (PASSIVE)
    object_callback on_destroy;  // EvtDestroyCallback: last reference dropped
    execution_level level = execution_level::inherit_from_parent;
    synchronization_scope scope = synchronization_scope::inherit_from_parent;
    std::uint64_t parent = 0;  // the parent's handle, 0 for the default parent
    const context_type_info* context = nullptr;
    std::size_t context_size_override = 0;

    template <class T>
    static object_attributes with_context() {
        object_attributes a;
        a.context = context_type<T>();
        return a;
    }
};

/// A handle to any framework object. Copyable, trivially cheap; the object's lifetime is managed
/// by the tree (delete_object, or its parent's deletion), not by handle copies.
class object {
  public:
    constexpr object() noexcept = default;
    constexpr explicit object(std::uint64_t handle) noexcept : h_(handle) {}

    constexpr std::uint64_t handle() const noexcept { return h_; }
    constexpr explicit operator bool() const noexcept { return h_ != 0; }
    friend constexpr bool operator==(object a, object b) noexcept { return a.h_ == b.h_; }

    /// True while the handle names a live object (never a verifier report).
    bool is_valid() const noexcept;
    /// The type encoded in the handle.
    object_type type() const noexcept { return static_cast<object_type>(h_ & 0xff); }

    /// WdfObjectDelete. Interrupts cannot be deleted by the driver (§8.7: verifier report,
    /// STATUS_CANNOT_DELETE); devices only by the framework.
    status delete_object() const;
    /// WdfObjectReference / WdfObjectDereference.
    void reference() const;
    void dereference() const;
    /// The parent object (WdfObjectGetParent-like), or a null object for the root.
    object parent() const;

    /// WdfObjectGetTypedContext: the context of that type, or nullptr if the object has none.
    void* context(const context_type_info* type) const;
    template <class T>
    T* context() const {
        return static_cast<T*>(context(context_type<T>()));
    }
    /// WdfObjectAllocateContext: add another typed context. STATUS_OBJECT_NAME_EXISTS-like
    /// failures come back as status::invalid_parameter (the type is already there).
    status allocate_context(const context_type_info* type, std::size_t size_override = 0) const;

    /// WdfObjectAcquireLock / WdfObjectReleaseLock on a device or queue: the callback lock that
    /// automatic serialization uses (§18.9). Not re-entrant.
    void acquire_lock() const;
    void release_lock() const;

  protected:
    std::uint64_t h_ = 0;
};

/// WdfObjectContextGetObject: the object that owns a context pointer.
object object_from_context(const void* context) noexcept;

/// A plain object (WdfObjectCreate): a parent for other objects, or a holder of context space.
result<object> create_object(const object_attributes& attributes);

}  // namespace wdfx
