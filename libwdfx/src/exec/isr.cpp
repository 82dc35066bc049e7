#include "exec/isr.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "exec/context.hpp"
#include "exec/runtime.hpp"
#include "exec/timer_service.hpp"
#include "os/log.hpp"

namespace wdfx::detail {

// ---- poll groups
// ----------------------------------------------------------------------------------

/// One never-sleeping thread per (CPU, priority) serving every busy-poll vector there.
class poll_group {
  public:
    static constexpr std::size_t kMax = 64;

    poll_group(int cpu, int prio) {
        char name[16];
        std::snprintf(name, sizeof name, "wdfx-poll/%d", cpu);
        os::sched_request req{cpu, prio};
        thread_ = os::thread(name, [this, req] { loop(req); });
    }
    ~poll_group() {
        stop_.store(true, std::memory_order_release);
        thread_.join();
    }
    bool add(isr_vector* v) noexcept {
        for (std::size_t i = 0; i < kMax; ++i) {
            isr_vector* expected = nullptr;
            if (slots_[i].compare_exchange_strong(expected, v, std::memory_order_acq_rel)) {
                // The loop scans the slots below this high-water mark only.
                std::size_t hw = used_.load(std::memory_order_relaxed);
                while (hw < i + 1 &&
                       !used_.compare_exchange_weak(hw, i + 1, std::memory_order_release)) {
                }
                return true;
            }
        }
        return false;
    }
    void remove(isr_vector* v) noexcept {
        for (auto& s : slots_) {
            isr_vector* expected = v;
            if (s.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel)) break;
        }
        // Wait for one full pass so the thread no longer holds `v`.
        std::uint64_t pass = passes_.load(std::memory_order_acquire);
        while (passes_.load(std::memory_order_acquire) < pass + 2)
            __builtin_ia32_pause();
    }

  private:
    void loop(os::sched_request req) {
        auto got = os::apply_sched(req);
        set_thread_identity(thread_role::isr, "wdfx-poll", got.cpu);
        tls().lvl = level::dirql;
        tls().drains_dpcs = true;  // after each ISR (handle), and every 64th pass below
        // A pass is the polling period, so it holds nothing but the reads: the slots in use, a
        // DPC drain only after an interrupt (or every 64th pass), one plain store.
        std::uint64_t pass = 0;
        while (!stop_.load(std::memory_order_acquire)) {
            bool handled = false;
            const std::size_t n = used_.load(std::memory_order_acquire);
            for (std::size_t i = 0; i < n; ++i) {
                isr_vector* v = slots_[i].load(std::memory_order_acquire);
                if (v != nullptr && v->poll_once()) handled = true;
            }
            // This thread never sleeps, so the DPC thread of its CPU (below every ISR priority)
            // never runs: the DPCs its ISRs queue run here between passes, at DISPATCH, as with
            // WDFX_DPC=inline. Without this they starve and a flush (device stop) hangs. Only
            // this CPU's threads queue here (current_cpu()): this one after an interrupt, any
            // other only when it gets the CPU (the every-64th-pass drain catches those).
            if (!handled && (pass & 63) == 0) runtime::get().dpc(current_cpu()).drain_inline();
            passes_.store(++pass, std::memory_order_release);  // single writer: no locked add
        }
    }
    std::array<std::atomic<isr_vector*>, kMax> slots_{};
    std::atomic<std::size_t> used_{0};  // high-water mark of the slots ever used
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> passes_{0};
    os::thread thread_;
};

namespace {
std::mutex g_groups_lock;
std::map<std::pair<int, int>, std::weak_ptr<poll_group>> g_groups;

std::shared_ptr<poll_group> group_for(int cpu, int prio) {
    std::lock_guard g(g_groups_lock);
    auto& w = g_groups[{cpu, prio}];
    if (auto sp = w.lock()) return sp;
    auto sp = std::make_shared<poll_group>(cpu, prio);
    w = sp;
    return sp;
}
}  // namespace

// ---- isr_vector
// -----------------------------------------------------------------------------------

std::unique_ptr<isr_vector> isr_vector::create(const params& p, std::string* why) {
    std::unique_ptr<isr_vector> v(new isr_vector);
    v->p_ = p;
    int flags = EFD_CLOEXEC;
    if (p.strategy != wait_strategy::block) flags |= EFD_NONBLOCK;
    v->efd_.reset(::eventfd(0, flags));
    if (!v->efd_) {
        if (why != nullptr) *why = std::string("eventfd: ") + std::strerror(errno);
        return nullptr;
    }
    isr_vector* raw = v.get();
    raw->busy_slot_.what = raw->p_.thread_name.c_str();
    register_busy_slot(&raw->busy_slot_);
    register_watched_eventfd(raw->efd_.get(), raw->p_.thread_name.c_str(), &raw->busy_slot_);
    switch (p.strategy) {
        case wait_strategy::block:
            v->thread_ = os::thread(p.thread_name, [raw] { raw->run_blocking(); });
            break;
        case wait_strategy::spin_then_block:
            v->thread_ = os::thread(p.thread_name, [raw] { raw->run_spinning(); });
            break;
        case wait_strategy::busy_poll: {
            v->group_ = group_for(p.sched.cpu, p.sched.fifo_priority);
            if (!v->group_->add(raw)) {
                if (why != nullptr) *why = "too many busy-poll vectors on one CPU and priority";
                return nullptr;
            }
            v->granted_.store(os::sched_result{p.sched.cpu, p.sched.fifo_priority});
            break;
        }
    }
    // The thread pins and prioritises itself first thing: wait for that, so that get_binding()
    // reports what the policy was granted as soon as the device has started (§13), never a
    // transient "not pinned". A busy-poll vector was granted above.
    if (v->thread_.joinable())
        while (v->thread_tls_.load(std::memory_order_acquire) == nullptr)
            std::this_thread::yield();
    return v;
}

isr_vector::~isr_vector() {
    unregister_watched_eventfd(efd_.get());
    unregister_busy_slot(&busy_slot_);
    stop_.store(true, std::memory_order_seq_cst);
    target_.store(nullptr, std::memory_order_seq_cst);
    if (group_) {
        group_->remove(this);
        group_.reset();
    }
    if (thread_.joinable()) {
        std::uint64_t kick = kKick;
        ssize_t r = ::write(efd_.get(), &kick, sizeof kick);
        (void)r;
        thread_.join();
    }
}

bool isr_vector::on_this_thread() const noexcept {
    return thread_tls_.load(std::memory_order_relaxed) == &tls();
}

void isr_vector::quiesce() noexcept {
    if (on_this_thread()) return;  // never wait for ourselves
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    for (;;) {
        std::uint32_t s = quiet_.snapshot();
        if (busy_.load(std::memory_order_seq_cst) == 0) break;
        quiet_.wait(s);
    }
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
}

void isr_vector::handle(std::uint64_t count) noexcept {
    std::uint64_t signals = count & kSignalMask;
    if (signals == 0) return;  // only a kick
    busy_.store(1, std::memory_order_seq_cst);
    interrupt_impl* irq = target_.load(std::memory_order_seq_cst);
    if (irq != nullptr) {
        busy_slot_.enter();
        isr_dispatch(irq, signals);
        busy_slot_.leave();
    } else {
        dropped_.fetch_add(signals, std::memory_order_relaxed);
    }
    busy_.store(0, std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) != 0) quiet_.notify_all();
    // The DPCs the ISR queued run now, on this thread at DISPATCH (thread_state::drains_dpcs);
    // dpc_executor::push() did not wake the DPC thread for them.
    thread_state& t = tls();
    if (t.drains_dpcs) {
        t.internal_dpc_pending = false;
        runtime::get().dpc(current_cpu()).drain_inline();
    } else if (t.internal_dpc_pending) {
        t.internal_dpc_pending = false;
        runtime::get().dpc(current_cpu()).drain_internal();
    }
}

bool isr_vector::poll_once() noexcept {
    std::uint64_t count = 0;
    ssize_t n = ::read(efd_.get(), &count, sizeof count);
    if (n != sizeof count) return false;
    handle(count);
    return true;
}

namespace {
void enter_isr_thread(const isr_vector::params& p, std::atomic<os::sched_result>& granted,
                      std::atomic<const void*>& tls_slot) {
    os::sched_result got = os::apply_sched(p.sched);
    granted.store(got, std::memory_order_release);
    set_thread_identity(thread_role::isr, p.thread_name.c_str(), got.cpu);
    tls().lvl = p.dirql ? level::dirql : level::passive;
    // A spinning thread keeps the DPC thread of its CPU (below every ISR) off the CPU for the
    // whole spin window after each interrupt: it runs the DPCs itself, as busy-poll does.
    tls().drains_dpcs = p.strategy != wait_strategy::block || runtime::get().config().dpc_inline;
    tls_slot.store(&tls(), std::memory_order_release);  // after granted: create() waits on it
}
}  // namespace

void isr_vector::run_blocking() noexcept {
    enter_isr_thread(p_, granted_, thread_tls_);
    const int fd = efd_.get();
    for (;;) {
        std::uint64_t count = 0;
        ssize_t n = ::read(fd, &count, sizeof count);  // the whole wait: one syscall
        if (n != sizeof count) {
            if (n < 0 && errno == EINTR) continue;
            os::log(os::log_level::error, "%s: read of the interrupt eventfd failed: %s",
                    p_.thread_name.c_str(), n < 0 ? std::strerror(errno) : "short read");
            return;
        }
        if (stop_.load(std::memory_order_acquire)) return;
        handle(count);
    }
}

void isr_vector::run_spinning() noexcept {
    enter_isr_thread(p_, granted_, thread_tls_);
    const int fd = efd_.get();
    for (;;) {
        if (stop_.load(std::memory_order_acquire)) return;
        if (poll_once()) continue;
        // Spin for spin_ns on non-blocking reads, then sleep in poll().
        std::uint64_t until = timer_service::now_ns() + p_.spin_ns;
        bool got = false;
        while (timer_service::now_ns() < until) {
            if (poll_once()) {
                got = true;
                break;
            }
            if (stop_.load(std::memory_order_acquire)) return;
        }
        if (got) continue;
        pollfd pfd{fd, POLLIN, 0};
        int r = ::poll(&pfd, 1, -1);
        if (r < 0 && errno != EINTR) {
            os::log(os::log_level::error, "%s: poll: %s", p_.thread_name.c_str(),
                    std::strerror(errno));
            return;
        }
    }
}

}  // namespace wdfx::detail
