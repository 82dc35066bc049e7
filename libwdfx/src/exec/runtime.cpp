#include "exec/runtime.hpp"

#include <liburing.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "exec/context.hpp"
#include "exec/timer_service.hpp"
#include "os/log.hpp"

namespace wdfx::detail {

// ---- deferred_item ------------------------------------------------------------------------------

deferred_item::deferred_item(target t, callback fn, void* context) noexcept
    : target_(t), fn_(fn), context_(context) {
    node_.run = &deferred_item::trampoline;
}

bool deferred_item::try_queue(int cpu) noexcept {
    if (running_down_.load(std::memory_order_acquire)) return false;
    if (target_ == target::pool) {
        // One pool, one lock: the insert-once test and set happen under it (no locked exchange
        // on the ISR's path). A DPC may go to any CPU's executor, each with its own lock: there
        // the bit itself must be the arbiter.
        return runtime::get().pool().push_once(&node_, queued_);
    }
    if (queued_.exchange(true, std::memory_order_acq_rel)) return false;  // coalesced (§9.3)
    runtime::get().dpc(cpu >= 0 ? cpu : current_cpu()).push(&node_);
    return true;
}

void deferred_item::trampoline(work_node* n) noexcept {
    auto* self = reinterpret_cast<deferred_item*>(n);
    // Running goes up before the queued bit goes down, so flush() never sees "idle" in between.
    self->running_.enter();
    self->queued_.store(false, std::memory_order_release);  // cleared BEFORE the callback (§9.3)
    auto& t = tls();
    const void* saved = t.running_item;
    t.running_item = self;
    self->fn_(self->context_);
    t.running_item = saved;
    self->running_.leave();  // the last access: a flusher may free the item right after
}

void deferred_item::flush() noexcept {
    running_.wait_idle([this] { return !queued_.load(std::memory_order_acquire); });
}

void deferred_item::run_down() noexcept {
    running_down_.store(true, std::memory_order_release);
    flush();
}

bool deferred_item::running_on_this_thread() const noexcept {
    return tls().running_item == this;
}

// ---- DPC executors
// --------------------------------------------------------------------------------

dpc_executor::dpc_executor(int cpu) : cpu_(cpu) {
    std::snprintf(name_, sizeof name_, "wdfx-dpc/%d", cpu);
    busy_.what = name_;
    register_busy_slot(&busy_);
    thread_ = os::thread(name_, [this] { loop(); });
}

dpc_executor::~dpc_executor() {
    unregister_busy_slot(&busy_);
    lock_.lock();
    stop_ = true;
    lock_.unlock();
    bell_.notify_all();
    thread_.join();
}

void dpc_executor::push(work_node* n) noexcept {
    // An ISR thread pinned to this CPU that drains the queue itself right after its ISR
    // (thread_state::drains_dpcs): waking the DPC thread would only have it find the queue empty,
    // a futex wake on the ISR path and a context switch on this CPU, per DPC.
    //
    // The DIRQL work-item chain (§9.2): its DPC only queues the work item. When the executor is
    // idle (asleep, nothing queued), the ISR thread that queued it runs it right after the ISR,
    // at DISPATCH on this CPU, where the DPC thread would have run it next: nothing is ahead of it
    // in the FIFO, and it runs no driver code, so only the thread hand-off (a futex wake and a
    // context switch, 4-5 us here) goes away. Anything queued behind it wakes the DPC thread as
    // usual (which then runs the internal one first, in order).
    thread_state& t = tls();
    const bool caller_here = t.role == thread_role::isr && t.cpu == cpu_;
    const bool drained_by_caller = t.drains_dpcs && caller_here;
    lock_.lock();
    const bool leave_to_isr = caller_here && n->internal && sleeping_ && q_.empty();
    q_.push(n);
    bool wake = sleeping_ && !drained_by_caller && !leave_to_isr;
    if (wake) sleeping_ = false;
    lock_.unlock();
    if (leave_to_isr) t.internal_dpc_pending = true;
    if (wake) bell_.notify_all();  // a syscall only when the DPC thread sleeps
}

void dpc_executor::drain_internal() noexcept {
    for (;;) {
        lock_.lock();
        work_node* n = q_.head;
        if (n == nullptr || !n->internal) {
            // A driver DPC is next: that is the DPC thread's (push() woke it if it slept).
            const bool wake = n != nullptr && sleeping_;
            if (wake) sleeping_ = false;
            lock_.unlock();
            if (wake) bell_.notify_all();
            return;
        }
        (void)q_.pop();
        lock_.unlock();
        level_scope lv(level::dispatch);
        n->run(n);
    }
}

void dpc_executor::drain_inline() noexcept {
    for (;;) {
        lock_.lock();
        work_node* n = q_.pop();
        lock_.unlock();
        if (n == nullptr) return;
        level_scope lv(level::dispatch);
        n->run(n);
    }
}

void dpc_executor::loop() {
    const auto& cfg = runtime::get().config();
    os::sched_request req;
    req.cpu = cpu_;
    req.fifo_priority = cfg.realtime ? cfg.dpc_fifo_priority : 0;
    os::apply_sched(req);
    char name[24];
    std::snprintf(name, sizeof name, "wdfx-dpc/%d", cpu_);
    set_thread_identity(thread_role::dpc, name, cpu_);
    tls().lvl = level::dispatch;
    for (;;) {
        lock_.lock();
        work_node* n = q_.pop();
        if (n == nullptr) {
            if (stop_) {
                lock_.unlock();
                return;
            }
            sleeping_ = true;
            std::uint32_t s = bell_.snapshot();
            lock_.unlock();
            bell_.wait(s);
            continue;
        }
        lock_.unlock();
        busy_.enter();
        n->run(n);
        busy_.leave();
    }
}

// ---- passive pool
// -----------------------------------------------------------------------------------

struct passive_pool::worker {
    unsigned index = 0;
    char name[16] = {};
    busy_slot busy;
    os::unique_fd doorbell;
    worker* next_sleeper = nullptr;
    os::thread thread;
};

passive_pool::passive_pool(unsigned threads, unsigned max_threads)
    : max_(std::max(threads, max_threads)) {
    for (unsigned i = 0; i < threads; ++i)
        start_worker(i);
    if (max_size() > threads) monitor_ = os::thread("wdfx-pool-mon", [this] { monitor(); });
}

void passive_pool::start_worker(unsigned index) {
    auto w = std::make_unique<worker>();
    w->index = index;
    w->doorbell.reset(::eventfd(0, EFD_CLOEXEC));
    if (!w->doorbell) {
        os::log(os::log_level::error, "eventfd for the dispatcher pool: %s", std::strerror(errno));
        std::abort();
    }
    std::snprintf(w->name, sizeof w->name, "wdfx-pool/%u", w->index);
    w->busy.what = w->name;
    register_busy_slot(&w->busy);
    worker* wp = w.get();
    {
        std::lock_guard g(workers_lock_);
        workers_.push_back(std::move(w));
    }
    // Counted before it starts: the new worker may take an item and finish it (its callback
    // unblocking whoever waits on it) before this thread runs again, and size() must already
    // include it then. all_asleep() only reads false until it first sleeps.
    count_.fetch_add(1, std::memory_order_acq_rel);
    wp->thread = os::thread(wp->name, [this, wp] { loop(wp); });
}

bool passive_pool::all_asleep() noexcept {
    os::pi_guard g(lock_);
    return asleep_ == size();
}

bool passive_pool::starving() noexcept {
    os::pi_guard g(lock_);
    return q_.head != nullptr && sleepers_ == nullptr && !stop_;
}

void passive_pool::monitor() {
    set_thread_identity(thread_role::pool, "wdfx-pool-mon", -1);
    constexpr std::uint64_t kPeriodNs = 100'000'000;
    std::uint64_t last_done = done_.load(std::memory_order_acquire);
    unsigned stalled = 0;
    while (!mon_stop_.load(std::memory_order_acquire)) {
        std::uint32_t s = mon_bell_.snapshot();
        if (!armed_.load(std::memory_order_seq_cst)) {
            if (mon_stop_.load(std::memory_order_acquire)) return;
            mon_bell_.wait(s);  // until push() finds no sleeping worker
            last_done = done_.load(std::memory_order_acquire);
            stalled = 0;
            continue;
        }
        mon_bell_.wait_for(s, kPeriodNs);
        if (mon_stop_.load(std::memory_order_acquire)) return;
        if (!starving()) {
            stalled = 0;
            // Disarmed only once the whole pool sleeps (a push then finds a sleeper and never
            // needs the monitor), so a pool that stays busy re-arms with no syscall at all.
            // Disarm, then look again: a push() that saw armed_ still set before the store did
            // not notify, and its item is then visible to this second look (lock_ orders both).
            if (!all_asleep()) continue;
            armed_.store(false, std::memory_order_seq_cst);
            if (starving()) armed_.store(true, std::memory_order_seq_cst);
            continue;
        }
        const std::uint64_t d = done_.load(std::memory_order_acquire);
        if (d != last_done) {  // busy, not stuck: items keep finishing
            last_done = d;
            stalled = 0;
            continue;
        }
        if (++stalled < 2) continue;
        stalled = 0;
        const unsigned n = size(), cap = max_size();
        if (n >= cap) {
            WDFX_LOG_ONCE(os::log_level::error,
                          "dispatcher pool: all %u workers (WDFX_POOL_MAX) have been blocked "
                          "for 200 ms with work queued: callbacks that wait for each other "
                          "cannot all run; raise WDFX_POOL_MAX or stop blocking in work items",
                          n);
            continue;
        }
        os::log(os::log_level::warning,
                "dispatcher pool: every worker has been blocked for 200 ms with work queued "
                "(work items or queue callbacks that wait); adding wdfx-pool/%u (of at most %u, "
                "WDFX_POOL_MAX)",
                n, cap);
        start_worker(n);
    }
}

passive_pool::~passive_pool() {
    if (monitor_.joinable()) {
        mon_stop_.store(true, std::memory_order_seq_cst);
        mon_bell_.notify_all();
        monitor_.join();
    }
    lock_.lock();
    stop_ = true;
    worker* s = sleepers_;
    sleepers_ = nullptr;
    asleep_ = 0;
    lock_.unlock();
    for (; s != nullptr; s = s->next_sleeper) {
        std::uint64_t one = 1;
        ssize_t r = ::write(s->doorbell.get(), &one, sizeof one);
        (void)r;
    }
    for (auto& w : workers_)
        w->thread.join();
}

bool passive_pool::push_if(work_node* n, std::atomic<bool>* queued) noexcept {
    lock_.lock();
    if (queued != nullptr) {
        if (queued->load(std::memory_order_relaxed)) {
            lock_.unlock();
            return false;  // coalesced into the pending run (§9.3)
        }
        queued->store(true, std::memory_order_relaxed);
    }
    q_.push(n);
    worker* w = sleepers_;
    if (w != nullptr) {
        sleepers_ = w->next_sleeper;
        --asleep_;
    }
    lock_.unlock();
    if (w != nullptr) {
        // The doorbell: only rung when the worker we took off the sleeper list sleeps. While any
        // worker is awake, queueing is a lock, a push and an unlock: no syscall.
        std::uint64_t one = 1;
        ssize_t r = ::write(w->doorbell.get(), &one, sizeof one);
        (void)r;
    } else if (!armed_.load(std::memory_order_relaxed) &&
               !armed_.exchange(true, std::memory_order_seq_cst)) {
        // Every worker is busy: the monitor starts watching for a pool that makes no progress
        // (once per busy period, which ends when every worker sleeps again; while armed,
        // queueing stays syscall-free).
        mon_bell_.notify_all();
    }
    return true;
}

namespace {
/// A worker's io_uring: a single issuer that defers task work to its own waits. Falls back to a
/// blocking read() where io_uring is unavailable (seccomp, kernel.io_uring_disabled).
class doorbell_ring {
  public:
    explicit doorbell_ring(int fd) : fd_(fd) {
        io_uring_params p{};
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
        int r = io_uring_queue_init_params(4, &ring_, &p);
        if (r < 0) {
            p = io_uring_params{};
            r = io_uring_queue_init_params(4, &ring_, &p);
        }
        ok_ = r == 0;
        if (!ok_)
            WDFX_LOG_ONCE(os::log_level::warning,
                          "io_uring unavailable (%s): dispatcher workers sleep in read() instead",
                          std::strerror(-r));
    }
    ~doorbell_ring() {
        if (ok_) io_uring_queue_exit(&ring_);
    }
    void wait() noexcept {
        if (!ok_) {
            ssize_t n;
            do
                n = ::read(fd_, &value_, sizeof value_);
            while (n < 0 && errno == EINTR);
            return;
        }
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        io_uring_prep_read(sqe, fd_, &value_, sizeof value_, 0);
        // Submit, then wait for the read's completion. io_uring_submit_and_wait() reports the
        // submission, not the wait: an interrupted wait (a signal, task work) returns 1 with no
        // completion, and returning then put this worker on the sleeper list twice (a cycle:
        // the pool's destructor never ended) and left the read in flight into a dead stack slot.
        (void)io_uring_submit(&ring_);
        io_uring_cqe* cqe = nullptr;
        int r;
        do
            r = io_uring_wait_cqe(&ring_, &cqe);
        while (r == -EINTR || r == -EAGAIN || r == -ETIME);
        if (r == 0 && cqe != nullptr) {
            io_uring_cqe_seen(&ring_, cqe);
        } else {
            WDFX_LOG_ONCE(os::log_level::error, "dispatcher worker: waiting for its doorbell: %s",
                          std::strerror(-r));
        }
    }

  private:
    int fd_;
    io_uring ring_{};
    bool ok_ = false;
    std::uint64_t value_ = 0;  // the doorbell read's buffer: lives as long as the ring
};
}  // namespace

void passive_pool::loop(worker* w) {
    char name[24];
    std::snprintf(name, sizeof name, "wdfx-pool/%u", w->index);
    set_thread_identity(thread_role::pool, name, -1);
    doorbell_ring ring(w->doorbell.get());
    for (;;) {
        lock_.lock();
        work_node* n = q_.pop();
        if (n == nullptr) {
            if (stop_) {
                lock_.unlock();
                return;
            }
            w->next_sleeper = sleepers_;
            sleepers_ = w;
            ++asleep_;
            lock_.unlock();
            ring.wait();  // returns once a producer took us off the list and rang
            continue;
        }
        lock_.unlock();
        tls().lvl = level::passive;
        w->busy.enter();
        n->run(n);
        w->busy.leave();
        done_.fetch_add(1, std::memory_order_release);
    }
}

// ---- runtime
// -------------------------------------------------------------------------------------------

namespace {
runtime_config config_from_env() {
    runtime_config c;
    if (const char* e = std::getenv("WDFX_REALTIME")) c.realtime = std::strcmp(e, "0") != 0;
    if (const char* e = std::getenv("WDFX_POOL_THREADS"))
        c.pool_threads = static_cast<unsigned>(std::atoi(e));
    if (const char* e = std::getenv("WDFX_DPC")) c.dpc_inline = std::strcmp(e, "inline") == 0;
    if (const char* e = std::getenv("WDFX_PRESENCE_MS"))
        c.presence_ms = static_cast<unsigned>(std::strtoul(e, nullptr, 10));
    if (c.pool_threads == 0) c.pool_threads = static_cast<unsigned>(std::max(2, os::cpu_count()));
    if (const char* e = std::getenv("WDFX_POOL_MAX"))
        c.pool_max = static_cast<unsigned>(std::atoi(e));
    if (c.pool_max == 0) c.pool_max = std::max(64u, c.pool_threads);
    c.pool_max = std::max(c.pool_max, c.pool_threads);
    return c;
}
}  // namespace

runtime::runtime() : config_(config_from_env()) {
    pool_ = std::make_unique<passive_pool>(config_.pool_threads, config_.pool_max);
    // DPC threads for every CPU up front, so an ISR never creates one (no allocation there).
    for (int cpu : os::allowed_cpus()) {
        if (static_cast<std::size_t>(cpu) >= dpcs_.size()) break;
        dpc_owned_.push_back(std::make_unique<dpc_executor>(cpu));
        dpcs_[static_cast<std::size_t>(cpu)].store(dpc_owned_.back().get(),
                                                   std::memory_order_release);
    }
}

runtime::~runtime() {
    timers_.reset();
    dpc_owned_.clear();
    pool_.reset();
}

runtime& runtime::get() {
    static runtime rt;
    return rt;
}

dpc_executor& runtime::dpc(int cpu) {
    if (cpu < 0 || static_cast<std::size_t>(cpu) >= dpcs_.size()) cpu = 0;
    dpc_executor* e = dpcs_[static_cast<std::size_t>(cpu)].load(std::memory_order_acquire);
    if (e != nullptr) [[likely]]
        return *e;
    std::lock_guard g(lock_);
    e = dpcs_[static_cast<std::size_t>(cpu)].load(std::memory_order_relaxed);
    if (e == nullptr) {
        dpc_owned_.push_back(std::make_unique<dpc_executor>(cpu));
        e = dpc_owned_.back().get();
        dpcs_[static_cast<std::size_t>(cpu)].store(e, std::memory_order_release);
    }
    return *e;
}

timer_service& runtime::timers() {
    std::lock_guard g(lock_);
    if (!timers_) timers_ = std::make_unique<timer_service>();
    return *timers_;
}

namespace {
struct posted_job {
    work_node node;  // first member
    std::function<void()> fn;
    static void run(work_node* n) noexcept {
        auto* j = reinterpret_cast<posted_job*>(n);
        j->fn();
        delete j;
    }
};
}  // namespace

void runtime::post(std::function<void()> fn) {
    auto* j = new posted_job;
    j->node.run = &posted_job::run;
    j->fn = std::move(fn);
    pool_->push(&j->node);
}

int current_cpu() noexcept {
    int c = tls().cpu;
    if (c >= 0) return c;
    c = sched_getcpu();
    return c >= 0 ? c : 0;
}

}  // namespace wdfx::detail
