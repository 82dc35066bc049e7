#include "exec/pnp_thread.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

#include "exec/context.hpp"
#include "os/thread.hpp"

namespace wdfx::detail {

namespace {
class pnp_thread {
  public:
    pnp_thread() : t_("wdfx-pnp", [this] { loop(); }) {}
    ~pnp_thread() {
        {
            std::lock_guard g(m_);
            stop_ = true;
        }
        cv_.notify_all();
        t_.join();
    }
    void post(std::function<void()> fn) {
        {
            std::lock_guard g(m_);
            q_.push_back(std::move(fn));
        }
        cv_.notify_all();
    }

  private:
    void loop() {
        set_thread_identity(thread_role::pnp, "wdfx-pnp", -1);
        for (;;) {
            std::function<void()> fn;
            {
                std::unique_lock g(m_);
                cv_.wait(g, [&] { return stop_ || !q_.empty(); });
                if (q_.empty()) return;
                fn = std::move(q_.front());
                q_.pop_front();
            }
            fn();
        }
    }
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> q_;
    bool stop_ = false;
    os::thread t_;
};
}  // namespace

void post_pnp_event(std::function<void()> fn) {
    static pnp_thread t;
    t.post(std::move(fn));
}

}  // namespace wdfx::detail
