// The timer service: one thread (wdfx-timer) sleeping in its own io_uring.
//
// Each armed timer is one IORING_OP_TIMEOUT with an absolute CLOCK_MONOTONIC deadline; a periodic
// timer is re-armed at each expiry from its previous deadline (no drift; kernel 6.1 and liburing
// 2.3 have no multishot timeouts). Other threads talk to it through a locked command list and an
// eventfd doorbell whose read is always armed on the ring; all timer state is owned by the timer
// thread.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "os/fd.hpp"
#include "os/sync.hpp"
#include "os/thread.hpp"

namespace wdfx::detail {

class timer_service {
  public:
    class client {
      public:
        /// Called on the timer thread at each expiry. `last` is true for a one-shot.
        virtual void expired() noexcept = 0;

      protected:
        ~client() = default;
    };

    timer_service();
    ~timer_service();

    /// Arm (or re-arm) `c`: first expiry at `deadline_ns` (CLOCK_MONOTONIC), then every
    /// `period_ns` if non-zero. Replaces any earlier arming of `c`.
    void arm(client* c, std::uint64_t deadline_ns, std::uint64_t period_ns);
    void cancel(client* c);
    /// Wait until every command posted before this call has been processed; after sync() returns
    /// following a cancel(c), the service will not call c again.
    void sync();

    static std::uint64_t now_ns() noexcept;

  private:
    struct command {
        enum kind { arm, cancel, sync } k;
        client* c;
        std::uint64_t deadline_ns;
        std::uint64_t period_ns;
        std::uint64_t ticket;
    };
    void loop();
    void post(const command& cmd);

    os::unique_fd doorbell_;
    os::pi_mutex lock_;
    std::vector<command> commands_;  // guarded by lock_
    bool stop_ = false;
    std::uint64_t tickets_posted_ = 0;
    std::atomic<std::uint64_t> tickets_done_{0};
    os::waitable done_;
    os::thread thread_;
};

}  // namespace wdfx::detail
