// wdfx_hil: the guest program of the wdfx HIL tests (issue 4). One static binary, one case per
// invocation (the suites in ../suites call it through hil_case); exit status 0 = PASS.
//
//   wdfx_hil conformance vfio|uio <bdf> edu|nvme     the bus conformance suite on a real device
//   wdfx_hil edu vfio|uio <bdf> [intx] [passive] [dma64]
//                                                    the edu sample driver through the framework
//   wdfx_hil edu-busy <bdf>                          a second process is refused the group
//   wdfx_hil try-open <bdf> <holder-pid>|free        (the second process)
//   wdfx_hil edu-reset <bdf> ok|unsupported          device::reset with / without a method
//   wdfx_hil edu-unbind vfio|uio <bdf>               sysfs unbind of the bus driver while running
//   wdfx_hil edu-unplug <bdf>                        QMP device_del while running
//   wdfx_hil edu-vanish <bdf>                        the device stops answering while running
//   wdfx_hil nonroot <bdf> ok|memlock|noaccess       unprivileged runs
//   wdfx_hil bench <bdf> [rounds] [n]                framework vs raw VFIO MSI round trips
//   wdfx_hil nvme <bdf> msix|reset|tools             the NVMe test driver (MSI-X vectors)
//   wdfx_hil aer <bdf> [no-callback]                 PCIe AER errors (injected by the host)
//                                                    reach on_error_reported
//   wdfx_hil wait-path <path> <seconds>              waits (inotify) for a path to appear
//   wdfx_hil as-user <uid> <gid> <command...>        runs a command as another user
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cases.hpp"
#include "common.hpp"

namespace {

int usage() {
    std::fputs(
        "usage: wdfx_hil <case> <args>: conformance, edu, edu-busy, try-open, edu-reset, "
        "edu-unbind, edu-unplug, edu-vanish, nonroot, bench, nvme, aer, wait-path, as-user "
        "(see main.cpp)\n",
        stderr);
    return 2;
}

/// Waits for `path` to exist, on inotify events of its directory (devtmpfs nodes appear there).
int wait_path(const std::string& path, unsigned seconds) {
    std::string dir = path.substr(0, path.rfind('/'));
    int fd = ::inotify_init1(IN_CLOEXEC);
    CHECK(fd >= 0, "inotify_init1: %s", std::strerror(errno));
    CHECK(::inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_MOVED_TO) >= 0, "watch %s: %s",
          dir.c_str(), std::strerror(errno));
    std::uint64_t end = hil::now_ns() + seconds * 1000000000ull;
    while (::access(path.c_str(), F_OK) != 0) {  // checked after arming the watch: no race
        std::uint64_t now = hil::now_ns();
        CHECK(now < end, "%s did not appear within %u s", path.c_str(), seconds);
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>((end - now) / 1000000 + 1));
        if (n > 0) {
            char buf[4096];
            ssize_t r = ::read(fd, buf, sizeof buf);
            (void)r;
        }
    }
    ::close(fd);
    hil::say("%s is there", path.c_str());
    return 0;
}

int as_user(uid_t uid, gid_t gid, char** argv) {
    CHECK(::setgroups(0, nullptr) == 0 && ::setresgid(gid, gid, gid) == 0 &&
              ::setresuid(uid, uid, uid) == 0,
          "dropping to uid %d gid %d: %s", (int)uid, (int)gid, std::strerror(errno));
    ::execvp(argv[0], argv);
    CHECK(false, "exec %s: %s", argv[0], std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc < 3) return usage();
    std::string cmd = argv[1];
    std::vector<std::string> a(argv + 2, argv + argc);
    char self[PATH_MAX] = {};
    ssize_t sl = ::readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(sl > 0, "readlink /proc/self/exe");
    auto num = [&](std::size_t i, unsigned def) {
        return i < a.size() ? static_cast<unsigned>(std::strtoul(a[i].c_str(), nullptr, 0)) : def;
    };
    if (cmd == "conformance" && a.size() == 3) return hil::conformance(a[0], a[1], a[2]);
    if (cmd == "edu" && a.size() >= 2)
        return hil::edu_case(a[0], a[1], std::vector<std::string>(a.begin() + 2, a.end()));
    if (cmd == "edu-busy") return hil::edu_busy_group(self, a[0]);
    if (cmd == "try-open" && a.size() == 2) return hil::try_open(a[0], a[1]);
    if (cmd == "edu-reset" && a.size() == 2) return hil::edu_reset(a[0], a[1] == "ok");
    if (cmd == "edu-unbind" && a.size() == 2) return hil::edu_sysfs_unbind(a[0], a[1]);
    if (cmd == "edu-unplug") return hil::edu_unplug(a[0]);
    if (cmd == "edu-vanish") return hil::edu_vanish(a[0]);
    if (cmd == "nonroot" && a.size() == 2) return hil::nonroot(a[0], a[1]);
    if (cmd == "bench") return hil::edu_bench(a[0], num(1, 4), num(2, 2000));
    if (cmd == "nvme" && a.size() == 2) return hil::nvme_case(a[0], a[1]);
    if (cmd == "aer" && (a.size() == 1 || (a.size() == 2 && a[1] == "no-callback")))
        return hil::aer_nonfatal(a[0], a.size() == 1);
    if (cmd == "wait-path" && a.size() == 2) return wait_path(a[0], num(1, 10));
    if (cmd == "as-user" && a.size() >= 3)
        return as_user(static_cast<uid_t>(num(0, 65534)), static_cast<gid_t>(num(1, 65534)),
                       argv + 4);
    return usage();
}
