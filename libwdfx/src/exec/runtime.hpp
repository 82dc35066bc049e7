// The process-wide runtime: the DPC threads, the dispatcher pool, the timer service and the ISR
// threads' scheduling plan. Created on first use; its threads are joined at exit.
//
// DPC threads (wdfx-dpc/N): one per CPU that runs ISRs, pinned there, SCHED_FIFO below every ISR
//   priority where permitted. Each sleeps on a futex only when its queue is empty.
// Dispatcher pool (wdfx-pool/N): any idle worker takes the next item; each worker sleeps in its own
//   io_uring (SINGLE_ISSUER | DEFER_TASKRUN) on a read of its doorbell eventfd, which a producer
//   rings only when it takes that worker off the sleeper list. Items travel through a PI-mutex
//   guarded intrusive FIFO; the ring is only the doorbell (TSan cannot see through io_uring).
// Timer service (wdfx-timer): one io_uring with one IORING_OP_TIMEOUT per started timer.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "exec/health.hpp"
#include "exec/work.hpp"
#include "os/fd.hpp"
#include "os/sync.hpp"
#include "os/thread.hpp"

namespace wdfx::detail {

/// Scheduling plan (environment): WDFX_REALTIME=0 disables SCHED_FIFO for every framework thread
/// (sanitizer runs, shared machines); WDFX_POOL_THREADS=N sizes the pool; WDFX_POOL_MAX=N caps
/// its growth (passive_pool); WDFX_DPC=inline runs DPCs on the ISR thread right after the ISR;
/// WDFX_PRESENCE_MS=N probes each started device's presence every N ms (device_impl).
struct runtime_config {
    bool realtime = true;
    unsigned pool_threads = 0;  // 0: max(2, CPUs)
    unsigned pool_max = 0;      // 0: max(64, pool_threads); below pool_threads: pool_threads
    bool dpc_inline = false;
    /// WDFX_PRESENCE_MS: how often a started device's presence is probed (0: never).
    unsigned presence_ms = 1000;
    int dpc_fifo_priority = 10;
    int isr_fifo_priority[4] = {50, 30, 50,
                                70};  // by interrupt_priority: undefined, low, normal, high
};

class dpc_executor {
  public:
    explicit dpc_executor(int cpu);
    ~dpc_executor();
    void push(work_node* n) noexcept;
    /// Run queued DPCs on the calling thread (an ISR thread on this CPU, WDFX_DPC=inline).
    void drain_inline() noexcept;
    /// Run the internal DPCs at the head of the queue (see push()), on the calling ISR thread.
    void drain_internal() noexcept;
    int cpu() const noexcept { return cpu_; }

  private:
    void loop();
    int cpu_;
    os::pi_mutex lock_;
    work_fifo q_;
    bool sleeping_ = false;
    bool stop_ = false;
    os::waitable bell_;
    busy_slot busy_;
    char name_[16] = {};
    os::thread thread_;
};

/// The dispatcher pool: passive-level work (work items, queue presentation, passive timers, PnP
/// helpers) on `threads` workers, each asleep in its own io_uring until rung.
///
/// Elastic: work items may block (wait locks, synchronous I/O, a request the driver waits for),
/// and queue presentation shares the pool with them, so a fixed pool could deadlock with every
/// worker waiting for work queued behind it. A monitor thread (wdfx-pool-mon) watches only while
/// work is queued and no worker sleeps; when that lasts two periods (100 ms each) with no item
/// finishing, it adds a worker, up to `max_threads`. It makes no syscall on the queueing path
/// while armed, and sleeps without a timeout while the pool has a sleeping worker.
class passive_pool {
  public:
    passive_pool(unsigned threads, unsigned max_threads);
    ~passive_pool();
    void push(work_node* n) noexcept { (void)push_if(n, nullptr); }
    /// Insert-once: false (nothing queued) when `queued` is already set; else sets it and queues
    /// `n`, both under the pool's lock. The consumer clears `queued` (deferred_item::trampoline).
    bool push_once(work_node* n, std::atomic<bool>& queued) noexcept { return push_if(n, &queued); }
    unsigned size() const noexcept { return count_.load(std::memory_order_acquire); }
    unsigned max_size() const noexcept { return max_.load(std::memory_order_acquire); }
    /// Lower the growth cap (never below the current size): tests that hold every worker on
    /// purpose, to keep an item queued, pin the pool's size with cap_size(size()).
    void cap_size(unsigned n) noexcept {
        max_.store(std::max(n, size()), std::memory_order_release);
    }

  private:
    struct worker;
    void loop(worker* w);
    void start_worker(unsigned index);
    void monitor();
    bool push_if(work_node* n, std::atomic<bool>* queued) noexcept;
    bool starving() noexcept;  // work queued and no worker asleep
    bool all_asleep() noexcept;
    os::pi_mutex lock_;
    work_fifo q_;
    worker* sleepers_ = nullptr;  // intrusive stack, guarded by lock_
    unsigned asleep_ = 0;         // its length, guarded by lock_
    bool stop_ = false;
    std::vector<std::unique_ptr<worker>> workers_;  // appended by the constructor and monitor()
    std::mutex workers_lock_;
    std::atomic<unsigned> count_{0};
    std::atomic<unsigned> max_{0};
    std::atomic<std::uint64_t> done_{0};  // items finished (progress, for the monitor)
    std::atomic<bool> armed_{false};      // the monitor watches (set by push, cleared by monitor)
    std::atomic<bool> mon_stop_{false};
    os::waitable mon_bell_;
    os::thread monitor_;
};

class timer_service;

class runtime {
  public:
    static runtime& get();
    ~runtime();

    const runtime_config& config() const noexcept { return config_; }
    dpc_executor& dpc(int cpu);
    passive_pool& pool() noexcept { return *pool_; }
    timer_service& timers();
    /// Run `fn` on the pool (allocates: not for the hot path).
    void post(std::function<void()> fn);

  private:
    runtime();
    runtime_config config_;
    std::unique_ptr<passive_pool> pool_;
    std::array<std::atomic<dpc_executor*>, 1024> dpcs_{};
    std::vector<std::unique_ptr<dpc_executor>> dpc_owned_;
    std::mutex lock_;
    std::unique_ptr<timer_service> timers_;
};

/// The CPU the calling thread runs on (its pinned CPU for framework threads).
int current_cpu() noexcept;

}  // namespace wdfx::detail
