#include "exec/context.hpp"

#include <cstring>

namespace wdfx {

namespace detail {
thread_state& tls() noexcept {
    static thread_local thread_state s;
    return s;
}

void set_thread_identity(thread_role role, const char* name, int cpu) noexcept {
    auto& t = tls();
    t.role = role;
    std::strncpy(t.name, name, sizeof t.name - 1);
    t.name[sizeof t.name - 1] = '\0';
    t.cpu = cpu;
}
}  // namespace detail

level current_level() noexcept {
    return detail::tls().lvl;
}
const char* current_thread_role() noexcept {
    return detail::tls().name;
}

const char* level_name(level l) noexcept {
    switch (l) {
        case level::passive:
            return "PASSIVE_LEVEL";
        case level::dispatch:
            return "DISPATCH_LEVEL";
        case level::dirql:
            return "DIRQL";
    }
    return "?";
}

}  // namespace wdfx
