#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <new>

#include <wdfx/object.hpp>

#include "core/object_impl.hpp"
#include "core/verifier.hpp"
#include "exec/context.hpp"
#include "os/log.hpp"
#include "os/sync.hpp"

namespace wdfx {

const char* object_type_name(object_type t) noexcept {
    switch (t) {
        case object_type::none:
            return "object";
        case object_type::driver:
            return "WDFDRIVER";
        case object_type::device:
            return "WDFDEVICE";
        case object_type::interrupt:
            return "WDFINTERRUPT";
        case object_type::work_item:
            return "WDFWORKITEM";
        case object_type::timer:
            return "WDFTIMER";
        case object_type::spin_lock:
            return "WDFSPINLOCK";
        case object_type::wait_lock:
            return "WDFWAITLOCK";
        case object_type::queue:
            return "WDFQUEUE";
        case object_type::request:
            return "WDFREQUEST";
        case object_type::generic:
            return "WDFOBJECT";
        case object_type::dma_enabler:
            return "WDFDMAENABLER";
        case object_type::common_buffer:
            return "WDFCOMMONBUFFER";
        case object_type::file: return "WDFFILEOBJECT";
    }
    return "object";
}

namespace detail {

// ---- handle table -------------------------------------------------------------------------

namespace {
constexpr std::size_t kChunkSlots = 4096;
constexpr std::size_t kMaxChunks = 1024;  // 4 M live objects

struct slot {
    std::atomic<std::uint32_t> tag{0};  // generation << 8 | type; 0 = free
    std::atomic<object_impl*> obj{nullptr};
    std::uint32_t generation = 0;  // guarded by g_table_lock
};

struct handle_table {
    std::array<std::atomic<slot*>, kMaxChunks> chunks{};
    std::size_t used = 0;                  // slots handed out so far (high-water mark)
    std::vector<std::uint32_t> free_list;  // indexes of freed slots
    std::mutex lock;
};

handle_table& table() {
    static handle_table* t = new handle_table;  // never destroyed: handles outlive static dtors
    return *t;
}

slot* slot_at(std::uint32_t index) noexcept {
    std::size_t c = index / kChunkSlots;
    if (c >= kMaxChunks) return nullptr;
    slot* chunk = table().chunks[c].load(std::memory_order_acquire);
    return chunk != nullptr ? &chunk[index % kChunkSlots] : nullptr;
}

os::pi_mutex& g_tree() {
    static os::pi_mutex* m = new os::pi_mutex;
    return *m;
}
}  // namespace

std::uint64_t handle_alloc(object_impl* obj, object_type type) {
    auto& t = table();
    std::lock_guard g(t.lock);
    std::uint32_t index;
    if (!t.free_list.empty()) {
        index = t.free_list.back();
        t.free_list.pop_back();
    } else {
        index = static_cast<std::uint32_t>(t.used++);
        std::size_t c = index / kChunkSlots;
        if (c >= kMaxChunks) {
            os::log(os::log_level::error, "handle table full (%zu objects)",
                    kMaxChunks * kChunkSlots);
            std::abort();
        }
        if (t.chunks[c].load(std::memory_order_relaxed) == nullptr)
            t.chunks[c].store(new slot[kChunkSlots], std::memory_order_release);
    }
    slot* s = slot_at(index);
    s->generation = (s->generation + 1) & 0xffffff;
    if (s->generation == 0) s->generation = 1;
    s->obj.store(obj, std::memory_order_relaxed);
    std::uint32_t tag = (s->generation << 8) | static_cast<std::uint32_t>(type);
    s->tag.store(tag, std::memory_order_release);
    return (static_cast<std::uint64_t>(index) + 1) << 32 | tag;
}

void handle_free(std::uint64_t h) noexcept {
    auto& t = table();
    std::lock_guard g(t.lock);
    std::uint32_t index = static_cast<std::uint32_t>(h >> 32) - 1;
    slot* s = slot_at(index);
    if (s == nullptr) return;
    s->tag.store(0, std::memory_order_release);
    s->obj.store(nullptr, std::memory_order_relaxed);
    t.free_list.push_back(index);
}

object_impl* handle_lookup(std::uint64_t h, object_type expected) noexcept {
    if (h == 0 || (h >> 32) == 0) return nullptr;
    auto type = static_cast<object_type>(h & 0xff);
    if (expected != object_type::none && type != expected) return nullptr;
    slot* s = slot_at(static_cast<std::uint32_t>(h >> 32) - 1);
    if (s == nullptr) return nullptr;
    if (s->tag.load(std::memory_order_acquire) != static_cast<std::uint32_t>(h & 0xffffffff))
        return nullptr;
    return s->obj.load(std::memory_order_relaxed);
}

object_impl* resolve_any(std::uint64_t h, object_type expected, const char* api) {
    object_impl* o = handle_lookup(h, expected);
    if (o != nullptr) return o;
    if (h == 0) {
        verifier_report(api, h, "invalid handle", "a NULL handle where a %s is required",
                        object_type_name(expected));
    } else if (expected != object_type::none && static_cast<object_type>(h & 0xff) != expected) {
        verifier_report(api, h, "wrong handle type", "expected a %s, got a %s",
                        object_type_name(expected),
                        object_type_name(static_cast<object_type>(h & 0xff)));
    } else {
        verifier_report(
            api, h, "invalid handle",
            "stale or malformed handle (the object was deleted, or the value was never a "
            "handle)");
    }
    return nullptr;
}

void tree_lock() noexcept {
    g_tree().lock();
}
void tree_unlock() noexcept {
    g_tree().unlock();
}

// ---- objects ----------------------------------------------------------------------------------

namespace {
constexpr std::size_t kContextHeader = 64;  // the owning object sits just before each context
}

object_impl::~object_impl() {
    free_contexts();
}

void object_impl::commit(const object_attributes& attributes, object_impl* parent) {
    on_cleanup_ = attributes.on_cleanup;
    on_destroy_ = attributes.on_destroy;
    handle_ = handle_alloc(this, type_);
    if (attributes.context != nullptr)
        (void)add_context(attributes.context, attributes.context_size_override);
    if (parent != nullptr) {
        tree_lock();
        parent_ = parent;
        parent->children_.push_back(this);
        tree_unlock();
    }
}

void* object_impl::context(const context_type_info* type) const noexcept {
    if (type == nullptr) return nullptr;
    const context_type_info* want = type->unique != nullptr ? type->unique : type;
    for (const auto& c : contexts_) {
        const context_type_info* have = c.type->unique != nullptr ? c.type->unique : c.type;
        if (have == want) return static_cast<char*>(c.mem) + c.offset;
    }
    return nullptr;
}

status object_impl::add_context(const context_type_info* type, std::size_t size_override) {
    if (type == nullptr || type->size == 0) return status::wdf_object_attributes_invalid;
    if (context(type) != nullptr) return status::invalid_parameter;  // already there
    std::size_t align = std::max<std::size_t>(type->align, alignof(std::max_align_t));
    if (align > kContextHeader) return status::wdf_object_attributes_invalid;
    std::size_t size = std::max(type->size, size_override);
    void* mem =
        ::operator new(kContextHeader + size, std::align_val_t(kContextHeader), std::nothrow);
    if (mem == nullptr) return status::insufficient_resources;
    std::memset(mem, 0, kContextHeader + size);
    *static_cast<object_impl**>(mem) = this;
    void* ctx = static_cast<char*>(mem) + kContextHeader;
    if (type->construct != nullptr) type->construct(ctx);
    contexts_.push_back({type, mem, kContextHeader});
    return status::success;
}

void object_impl::free_contexts() noexcept {
    for (auto it = contexts_.rbegin(); it != contexts_.rend(); ++it) {
        if (it->type->destroy != nullptr)
            it->type->destroy(static_cast<char*>(it->mem) + it->offset);
        ::operator delete(it->mem, std::align_val_t(kContextHeader));
    }
    contexts_.clear();
}

object_impl* object_impl::find_ancestor(object_type t) noexcept {
    for (object_impl* o = this; o != nullptr; o = o->parent_)
        if (o->type_ == t) return o;
    return nullptr;
}

status object_impl::delete_from_api(const char* api) {
    if (no_delete_ddi) {
        // §8.7: WDFINTERRUPT (and WDFDEVICE) cannot be deleted by the driver; WDF breaks into the
        // verifier and ignores the call.
        verifier_report(api, handle_, "object cannot be deleted by the driver",
                        "a %s is deleted by the framework with its parent (wdf-semantics §8.7)",
                        object_type_name(type_));
        return status::cannot_delete;
    }
    if (tls().lvl > level::passive || callback_running_on_this_thread()) {
        // §18.1: a deletion requested at DISPATCH is moved to a work item; so is one requested
        // from the object's own callback (§18.5: cleanup happens after the callback).
        defer_delete(this);
        return status::success;
    }
    delete_tree();
    return status::success;
}

void object_impl::delete_tree() {
    int expected = 0;
    if (!state_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
    // Children first (most recent first), each completely: dispose, cleanup.
    for (;;) {
        tree_lock();
        object_impl* child = children_.empty() ? nullptr : children_.back();
        if (child != nullptr) child->add_ref();
        tree_unlock();
        if (child == nullptr) break;
        child->delete_tree();  // unlinks itself from children_
        // A child that was already deleting elsewhere unlinks itself when done; make progress.
        tree_lock();
        auto it = std::find(children_.begin(), children_.end(), child);
        if (it != children_.end()) children_.erase(it);
        tree_unlock();
        child->release();
    }
    dispose();
    if (on_cleanup_) on_cleanup_(object(handle_));
    if (parent_ != nullptr) {
        tree_lock();
        auto& sib = parent_->children_;
        auto it = std::find(sib.begin(), sib.end(), this);
        if (it != sib.end()) sib.erase(it);
        tree_unlock();
    }
    release();  // the creation reference
}

void object_impl::release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (on_destroy_) on_destroy_(object(handle_));
    handle_free(handle_);
    delete this;
}

}  // namespace detail

// ---- public object API -----------------------------------------------------------------------

using detail::object_impl;

bool object::is_valid() const noexcept {
    return detail::handle_lookup(h_, object_type::none) != nullptr;
}

status object::delete_object() const {
    object_impl* o = detail::resolve_any(h_, object_type::none, "WdfObjectDelete");
    if (o == nullptr) return status::invalid_handle;
    return o->delete_from_api("WdfObjectDelete");
}

void object::reference() const {
    if (object_impl* o = detail::resolve_any(h_, object_type::none, "WdfObjectReference"))
        o->add_ref();
}

void object::dereference() const {
    if (object_impl* o = detail::resolve_any(h_, object_type::none, "WdfObjectDereference"))
        o->release();
}

object object::parent() const {
    object_impl* o = detail::resolve_any(h_, object_type::none, "WdfObjectGetParent");
    if (o == nullptr || o->parent() == nullptr) return object();
    return object(o->parent()->handle());
}

void* object::context(const context_type_info* type) const {
    object_impl* o = detail::resolve_any(h_, object_type::none, "WdfObjectGetTypedContext");
    return o != nullptr ? o->context(type) : nullptr;
}

status object::allocate_context(const context_type_info* type, std::size_t size_override) const {
    object_impl* o = detail::resolve_any(h_, object_type::none, "WdfObjectAllocateContext");
    if (o == nullptr) return status::invalid_handle;
    return o->add_context(type, size_override);
}

object object_from_context(const void* context) noexcept {
    if (context == nullptr) return object();
    auto* owner = *reinterpret_cast<object_impl* const*>(static_cast<const char*>(context) -
                                                         detail::kContextHeader);
    return object(owner->handle());
}

result<object> create_object(const object_attributes& attributes) {
    object_impl* parent = nullptr;
    if (attributes.parent != 0) {
        parent = detail::resolve_any(attributes.parent, object_type::none, "WdfObjectCreate");
        if (parent == nullptr)
            return error::from_status(status::invalid_handle, "WdfObjectCreate: bad parent handle");
    }
    auto* o = new object_impl(object_type::generic);
    o->commit(attributes, parent);
    return object(o->handle());
}

}  // namespace wdfx
