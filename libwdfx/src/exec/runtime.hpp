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
/// (sanitizer runs, shared machines); WDFX_POOL_THREADS=N sizes the pool; WDFX_DPC=inline runs
/// DPCs on the ISR thread right after the ISR.
struct runtime_config {
    bool realtime = true;
    unsigned pool_threads = 0;  // 0: max(2, CPUs)
    bool dpc_inline = false;
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

class passive_pool {
  public:
    explicit passive_pool(unsigned threads);
    ~passive_pool();
    void push(work_node* n) noexcept;
    unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }

  private:
    struct worker;
    void loop(worker* w);
    os::pi_mutex lock_;
    work_fifo q_;
    worker* sleepers_ = nullptr;  // intrusive stack, guarded by lock_
    bool stop_ = false;
    std::vector<std::unique_ptr<worker>> workers_;
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
