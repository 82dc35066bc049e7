#include "os/systemd.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "os/fd.hpp"

namespace wdfx::os {

namespace {
bool send_datagram(const std::string& path, const std::string& payload) noexcept {
    if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) return false;
    unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return false;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    if (a.sun_path[0] == '@') a.sun_path[0] = '\0';  // abstract namespace
    socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size());
    return ::sendto(fd.get(), payload.data(), payload.size(), MSG_NOSIGNAL,
                    reinterpret_cast<sockaddr*>(&a), len) == static_cast<ssize_t>(payload.size());
}
}  // namespace

bool sd_notify(const std::string& state) noexcept {
    const char* s = std::getenv("NOTIFY_SOCKET");
    if (s == nullptr) return false;
    return send_datagram(s, state);
}

bool stderr_is_journal() noexcept {
    static const bool yes = [] {
        const char* e = std::getenv("JOURNAL_STREAM");
        if (e == nullptr) return false;
        struct stat st {};
        if (::fstat(STDERR_FILENO, &st) != 0) return false;
        unsigned long long dev = 0, ino = 0;
        if (std::sscanf(e, "%llu:%llu", &dev, &ino) != 2) return false;
        return static_cast<unsigned long long>(st.st_dev) == dev &&
               static_cast<unsigned long long>(st.st_ino) == ino;
    }();
    return yes;
}

bool journal_send(int priority, const std::string& message,
                  const std::vector<std::pair<std::string, std::string>>& fields) noexcept {
    std::string p;
    auto add = [&p](const std::string& k, const std::string& v) {
        if (v.find('\n') == std::string::npos) {
            p += k + "=" + v + "\n";
        } else {
            // Binary-safe form: FIELD\n<64-bit little-endian length><value>\n
            p += k + "\n";
            std::uint64_t n = v.size();
            for (int i = 0; i < 8; ++i)
                p += static_cast<char>((n >> (8 * i)) & 0xff);
            p += v + "\n";
        }
    };
    add("MESSAGE", message);
    add("PRIORITY", std::to_string(priority));
    add("SYSLOG_IDENTIFIER", program_invocation_short_name);
    for (const auto& f : fields)
        add(f.first, f.second);
    return send_datagram("/run/systemd/journal/socket", p);
}

unsigned long long watchdog_usec() noexcept {
    const char* u = std::getenv("WATCHDOG_USEC");
    if (u == nullptr) return 0;
    const char* pid = std::getenv("WATCHDOG_PID");
    if (pid != nullptr && std::strtol(pid, nullptr, 10) != ::getpid()) return 0;
    return std::strtoull(u, nullptr, 10);
}

}  // namespace wdfx::os
