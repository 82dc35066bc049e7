#include "core/stats.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "os/fd.hpp"
#include "os/log.hpp"

namespace wdfx::detail {

std::string stats_file::system_dir() {
    return "/run/wdfx/stats";
}

std::string stats_file::user_dir() {
    const char* x = std::getenv("XDG_RUNTIME_DIR");
    return x != nullptr ? std::string(x) + "/wdfx/stats" : std::string();
}

namespace {
bool make_dirs(const std::string& dir) {
    std::string acc;
    for (std::size_t i = 1; i <= dir.size(); ++i) {
        if (i == dir.size() || dir[i] == '/') {
            acc = dir.substr(0, i);
            if (::mkdir(acc.c_str(), 0755) != 0 && errno != EEXIST) return false;
        }
    }
    return ::access(dir.c_str(), W_OK) == 0;
}

std::string sanitize(const std::string& s) {
    std::string o = s;
    for (char& c : o)
        if (c == '/' || c == ' ') c = '_';
    return o;
}
}  // namespace

bool stats_file::open(const std::string& driver, const std::string& device, std::uint32_t count) {
    close();
    std::string dir;
    for (const std::string& d : {system_dir(), user_dir()}) {
        if (!d.empty() && make_dirs(d)) {
            dir = d;
            break;
        }
    }
    if (dir.empty()) {
        os::log(os::log_level::debug,
                "interrupt statistics not published: no writable /run/wdfx/stats");
        return false;
    }
    path_ = dir + "/" + std::to_string(::getpid()) + "." + sanitize(device) + ".stats";
    os::unique_fd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!fd) {
        path_.clear();
        return false;
    }
    if (group* g = ::getgrnam("wdfx")) {
        if (::fchown(fd.get(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
            // Not fatal: only the owner can read the counters then.
        }
    }
    size_ = sizeof(stats_header) + count * sizeof(irq_stats);
    if (::ftruncate(fd.get(), static_cast<off_t>(size_)) != 0) {
        ::unlink(path_.c_str());
        path_.clear();
        return false;
    }
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) {
        ::unlink(path_.c_str());
        path_.clear();
        return false;
    }
    map_ = p;
    count_ = count;
    auto* h = static_cast<stats_header*>(p);
    std::memset(h, 0, sizeof *h);
    std::strncpy(h->driver, driver.c_str(), sizeof h->driver - 1);
    std::strncpy(h->device, device.c_str(), sizeof h->device - 1);
    h->version = 2;  // 2: dpcs and work_items are split_counters
    h->count = count;
    h->pid = ::getpid();
    for (std::uint32_t i = 0; i < count; ++i)
        new (slot(i)) irq_stats();
    std::memcpy(h->magic, kStatsMagic, sizeof kStatsMagic);  // last: readers check it
    return true;
}

void stats_file::close() noexcept {
    if (map_ != nullptr) {
        ::munmap(map_, size_);
        map_ = nullptr;
    }
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
    count_ = 0;
}

irq_stats* stats_file::slot(std::uint32_t i) noexcept {
    if (map_ == nullptr || i >= count_) return nullptr;
    return reinterpret_cast<irq_stats*>(static_cast<char*>(map_) + sizeof(stats_header) +
                                        i * sizeof(irq_stats));
}

}  // namespace wdfx::detail
