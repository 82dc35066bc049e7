#include "common.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace hil {

void fail_at(const char* file, int line, const char* fmt, ...) {
    std::fflush(stdout);
    std::fprintf(stderr, "FAIL %s:%d: ", file, line);
    std::va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::fflush(stderr);
    hil_figures_write();  // what was measured before the failure still lands in the results
    ::_exit(1);
}

void say(const char* fmt, ...) {
    std::va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

std::uint64_t now_ns() {
    return hil_now_ns();
}

stats::stats(const char* name, const char* what, std::size_t cap) {
    hil_stats_init(&s_, name, what, cap);
}
stats::~stats() {
    hil_stats_free(&s_);
}
std::uint64_t stats::report() {
    hil_stats_report(&s_);  // sorts in place
    sorted_ = true;
    return p50();
}
std::uint64_t stats::pct(unsigned permille) const {
    if (s_.n == 0) return 0;
    std::vector<std::uint64_t> v(s_.ns, s_.ns + s_.n);
    if (!sorted_) std::sort(v.begin(), v.end());
    std::size_t i = (s_.n * permille) / 1000;  // the rule of hil_util.c's figures
    return v[std::min(i, s_.n - 1)];
}

void figure(const char* name, const char* key, double value) {
    hil_figure_value(name, key, value);
}
void figure(const char* name, const char* key, const std::string& value) {
    hil_figure_string(name, key, value.c_str());
}

int run(const std::string& cmdline, std::string* out) {
    say("$ %s", cmdline.c_str());
    std::string cmd = cmdline + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    CHECK(p != nullptr, "popen %s: %s", cmdline.c_str(), std::strerror(errno));
    std::string text;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) {
        text += buf;
        std::printf("  | %s", buf);
    }
    std::fflush(stdout);
    int st = ::pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    say("  (exit status %d)", rc);
    if (out != nullptr) *out = text;
    return rc;
}

std::vector<thread_info> threads() {
    std::vector<thread_info> v;
    DIR* d = ::opendir("/proc/self/task");
    if (d == nullptr) return v;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        thread_info t;
        t.tid = static_cast<pid_t>(std::atoi(e->d_name));
        t.name = read_file(std::string("/proc/self/task/") + e->d_name + "/comm");
        cpu_set_t set;
        CPU_ZERO(&set);
        if (::sched_getaffinity(t.tid, sizeof set, &set) == 0)
            for (int c = 0; c < CPU_SETSIZE; ++c)
                if (CPU_ISSET(c, &set)) t.allowed_cpus.push_back(c);
        v.push_back(t);
    }
    ::closedir(d);
    return v;
}

std::string read_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        s.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

namespace {
std::string link_base(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return {};
    buf[n] = '\0';
    const char* s = std::strrchr(buf, '/');
    return s != nullptr ? s + 1 : buf;
}
}  // namespace

std::string pci_driver(const std::string& bdf) {
    return link_base("/sys/bus/pci/devices/" + bdf + "/driver");
}
std::string iommu_group(const std::string& bdf) {
    return link_base("/sys/bus/pci/devices/" + bdf + "/iommu_group");
}

void stderr_capture::start() {
    std::fflush(stderr);
    file_ = ::memfd_create("stderr", MFD_CLOEXEC);
    CHECK(file_ >= 0, "memfd_create: %s", std::strerror(errno));
    saved_ = ::dup(2);
    CHECK(saved_ >= 0 && ::dup2(file_, 2) == 2, "dup2: %s", std::strerror(errno));
}

std::string stderr_capture::stop() {
    std::fflush(stderr);
    CHECK(::dup2(saved_, 2) == 2, "dup2: %s", std::strerror(errno));
    ::close(saved_);
    std::string s;
    char buf[4096];
    ssize_t n;
    off_t off = 0;
    while ((n = ::pread(file_, buf, sizeof buf, off)) > 0) {
        s.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
    ::close(file_);
    std::fputs(s.c_str(), stderr);
    std::fflush(stderr);
    return s;
}

bool contains(const std::string& s, const std::string& what) {
    return s.find(what) != std::string::npos;
}

}  // namespace hil
