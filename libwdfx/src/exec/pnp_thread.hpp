// The PnP event thread (wdfx-pnp): runs bus events (removal requests, surprise removal, AER) at
// PASSIVE on a thread of its own, so a removal that flushes the dispatcher pool never waits on
// the pool itself.
#pragma once

#include <functional>

namespace wdfx::detail {

void post_pnp_event(std::function<void()> fn);

}  // namespace wdfx::detail
