// Deferred work: the DPC and work-item primitives (wdf-semantics §9.3).
//
// A deferred_item can be queued at most once before it runs: try_queue() sets the queued bit and
// hands the item to its executor (a DPC thread or the dispatcher pool); while the bit is set,
// further calls return false and coalesce into the pending run. The executor clears the bit just
// before the callback, so a queue call during the callback schedules another run, which may run
// concurrently on another thread. flush() waits until the item is neither queued nor running,
// including runs queued meanwhile.
//
// Nothing here allocates: the queue link lives in the item. try_queue() is safe from ISR threads.
#pragma once

#include <atomic>
#include <cstdint>

#include "os/sync.hpp"

namespace wdfx::detail {

struct work_node {
    work_node* next = nullptr;
    void (*run)(work_node*) noexcept = nullptr;
    // A DPC of the framework's own that runs no driver code (the DIRQL work-item chain's DPC,
    // which only queues the work item, §9.2): dpc_executor::push() may leave it to the ISR thread.
    bool internal = false;
};

/// An intrusive FIFO; not thread-safe (its owner locks around it).
struct work_fifo {
    work_node* head = nullptr;
    work_node* tail = nullptr;
    void push(work_node* n) noexcept {
        n->next = nullptr;
        if (tail != nullptr)
            tail->next = n;
        else
            head = n;
        tail = n;
    }
    work_node* pop() noexcept {
        work_node* n = head;
        if (n != nullptr) {
            head = n->next;
            if (head == nullptr) tail = nullptr;
            n->next = nullptr;
        }
        return n;
    }
    bool empty() const noexcept { return head == nullptr; }
};

class deferred_item {
  public:
    enum class target : std::uint8_t { dpc, pool };
    using callback = void (*)(void* context) noexcept;

    deferred_item(target t, callback fn, void* context) noexcept;
    deferred_item(const deferred_item&) = delete;
    deferred_item& operator=(const deferred_item&) = delete;

    /// Queue the item: on the DPC thread of `cpu` (target::dpc) or on the pool. Returns true if
    /// queued now, false if already queued or running down. Never blocks, never allocates.
    bool try_queue(int cpu = -1) noexcept;
    /// Mark a DPC item as the framework's own, running no driver code (work_node::internal).
    void set_internal() noexcept { node_.internal = true; }
    /// Wait until neither queued nor running (PASSIVE).
    void flush() noexcept;
    /// Refuse new queue calls, then flush (FxSystemWorkItem rundown).
    void run_down() noexcept;
    bool is_running_down() const noexcept { return running_down_.load(std::memory_order_acquire); }
    bool is_queued() const noexcept { return queued_.load(std::memory_order_acquire); }
    /// True while the calling thread runs this item's callback.
    bool running_on_this_thread() const noexcept;

  private:
    static void trampoline(work_node* n) noexcept;

    work_node node_;  // first member: trampoline recovers the item from the node
    target target_;
    callback fn_;
    void* context_;
    std::atomic<bool> queued_{false};
    std::atomic<bool> running_down_{false};
    os::running_count running_;
};

}  // namespace wdfx::detail
