#include "exec/timer_service.hpp"

#include <liburing.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "exec/context.hpp"
#include "os/log.hpp"

namespace wdfx::detail {

namespace {
constexpr std::uint64_t kDoorbellTag = 1;  // user_data of the doorbell read; timer ids start at 2
}

std::uint64_t timer_service::now_ns() noexcept {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

timer_service::timer_service() {
    doorbell_.reset(::eventfd(0, EFD_CLOEXEC));
    if (!doorbell_) {
        os::log(os::log_level::error, "eventfd for the timer service: %s", std::strerror(errno));
        std::abort();
    }
    thread_ = os::thread("wdfx-timer", [this] { loop(); });
}

timer_service::~timer_service() {
    lock_.lock();
    stop_ = true;
    lock_.unlock();
    std::uint64_t one = 1;
    ssize_t r = ::write(doorbell_.get(), &one, sizeof one);
    (void)r;
    thread_.join();
}

void timer_service::post(const command& cmd) {
    lock_.lock();
    commands_.push_back(cmd);
    lock_.unlock();
    std::uint64_t one = 1;
    ssize_t r = ::write(doorbell_.get(), &one, sizeof one);
    (void)r;
}

void timer_service::arm(client* c, std::uint64_t deadline_ns, std::uint64_t period_ns) {
    post({command::arm, c, deadline_ns, period_ns, 0});
}

void timer_service::cancel(client* c) {
    post({command::cancel, c, 0, 0, 0});
}

void timer_service::sync() {
    lock_.lock();
    std::uint64_t ticket = ++tickets_posted_;
    commands_.push_back({command::sync, nullptr, 0, 0, ticket});
    lock_.unlock();
    std::uint64_t one = 1;
    ssize_t r = ::write(doorbell_.get(), &one, sizeof one);
    (void)r;
    for (;;) {
        std::uint32_t s = done_.snapshot();
        if (tickets_done_.load(std::memory_order_acquire) >= ticket) return;
        done_.wait(s);
    }
}

void timer_service::loop() {
    set_thread_identity(thread_role::timer, "wdfx-timer", -1);
    tls().lvl = level::dispatch;
    io_uring ring{};
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int r = io_uring_queue_init_params(256, &ring, &p);
    if (r < 0) {
        p = io_uring_params{};
        r = io_uring_queue_init_params(256, &ring, &p);
    }
    if (r < 0) {
        os::log(
            os::log_level::error,
            "io_uring_queue_init for the timer service failed (%s): WDFTIMER objects cannot run; "
            "allow io_uring (seccomp filter, sysctl kernel.io_uring_disabled=0)",
            std::strerror(-r));
        std::abort();
    }

    struct armed {
        client* c;
        std::uint64_t deadline_ns;
        std::uint64_t period_ns;
        __kernel_timespec ts;
    };
    std::unordered_map<std::uint64_t, armed> by_id;  // live timeouts
    std::unordered_map<client*, std::uint64_t> by_client;
    std::uint64_t next_id = kDoorbellTag + 1;
    std::uint64_t bell_value = 0;
    bool bell_armed = false;

    auto get_sqe = [&]() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (sqe == nullptr) {
            io_uring_submit(&ring);
            sqe = io_uring_get_sqe(&ring);
        }
        return sqe;
    };
    auto submit_timeout = [&](std::uint64_t id) {
        armed& a = by_id[id];
        a.ts.tv_sec = static_cast<long long>(a.deadline_ns / 1000000000ull);
        a.ts.tv_nsec = static_cast<long long>(a.deadline_ns % 1000000000ull);
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_timeout(sqe, &a.ts, 0, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data64(sqe, id);
        // Submit now: the kernel reads the timespec at submission, and the entry may be erased
        // by a later command of this batch.
        io_uring_submit(&ring);
    };
    auto remove_client = [&](client* c) {
        auto it = by_client.find(c);
        if (it == by_client.end()) return;
        std::uint64_t id = it->second;
        by_client.erase(it);
        by_id.erase(id);
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_timeout_remove(sqe, id, 0);
        io_uring_sqe_set_data64(sqe, 0);  // its completion is ignored
    };

    // Kept across iterations (clear() keeps the capacity): an expiry allocates nothing on this
    // thread once they have grown, and the command list goes back to the posters with its
    // capacity, so their push_back does not allocate either.
    std::vector<command> cmds;
    std::vector<std::pair<std::uint64_t, int>> done;
    for (;;) {
        if (!bell_armed) {
            io_uring_sqe* sqe = get_sqe();
            io_uring_prep_read(sqe, doorbell_.get(), &bell_value, sizeof bell_value, 0);
            io_uring_sqe_set_data64(sqe, kDoorbellTag);
            bell_armed = true;
        }
        // Commands first: they may arm timers whose SQEs go out with this submit.
        cmds.clear();
        lock_.lock();
        cmds.swap(commands_);
        bool stop = stop_;
        lock_.unlock();
        std::uint64_t synced = 0;
        for (const command& c : cmds) {
            switch (c.k) {
                case command::arm: {
                    remove_client(c.c);
                    std::uint64_t id = next_id++;
                    by_id[id] = armed{c.c, c.deadline_ns, c.period_ns, {}};
                    by_client[c.c] = id;
                    submit_timeout(id);
                    break;
                }
                case command::cancel:
                    remove_client(c.c);
                    break;
                case command::sync:
                    synced = c.ticket;
                    break;
            }
        }
        if (synced != 0) {
            tickets_done_.store(synced, std::memory_order_release);
            done_.notify_all();
        }
        if (stop) break;

        int w;
        do
            w = io_uring_submit_and_wait(&ring, 1);
        while (w == -EINTR);
        io_uring_cqe* cqe = nullptr;
        unsigned head;
        unsigned seen = 0;
        done.clear();
        io_uring_for_each_cqe(&ring, head, cqe) {
            done.emplace_back(io_uring_cqe_get_data64(cqe), cqe->res);
            ++seen;
        }
        io_uring_cq_advance(&ring, seen);
        for (auto [id, res] : done) {
            if (id == kDoorbellTag) {
                bell_armed = false;
                continue;
            }
            if (id == 0 || res != -ETIME)
                continue;  // a remove's completion, or a cancelled timeout
            auto it = by_id.find(id);
            if (it == by_id.end()) continue;  // cancelled after it fired
            armed a = it->second;
            if (a.period_ns != 0) {
                // Re-arm from the previous deadline; skip periods already missed.
                std::uint64_t now = now_ns();
                std::uint64_t next = a.deadline_ns + a.period_ns;
                if (next <= now) next += ((now - next) / a.period_ns + 1) * a.period_ns;
                it->second.deadline_ns = next;
                submit_timeout(id);
            } else {
                by_id.erase(it);
                by_client.erase(a.c);
            }
            a.c->expired();
        }
    }
    io_uring_queue_exit(&ring);
}

}  // namespace wdfx::detail
