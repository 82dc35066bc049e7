// wdfxctl: the operator's tool for wdfx drivers.
//
//   wdfxctl list                       devices, bound driver, IOMMU group, matching wdfx driver
//   wdfxctl bind BDF [--uio]           bind to vfio-pci (or uio_pci_generic) via driver_override
//   wdfxctl unbind BDF                 give the device back to its native driver
//   wdfxctl info BDF                   BARs, capabilities, IRQ counts per VFIO index
//   wdfxctl affinity BDF [--cpus L]    steer the device's host IRQs to its ISR threads' CPUs
//   wdfxctl stat                       per-interrupt counters of running wdfx drivers
//   wdfxctl udev-rules [--install]     udev rules binding every manifest's devices at boot
//
// Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 permission (needs root),
// 4 no such device.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <wdfx/pci.hpp>
#include <wdfx/pci_config.hpp>
#include <wdfx/vfio.hpp>

#include "core/stats.hpp"

namespace {

enum exit_code { ok = 0, failed = 1, usage_error = 2, no_permission = 3, not_found = 4 };

const char* kUsage =
    "usage: wdfxctl <command> [options]\n"
    "\n"
    "commands:\n"
    "  list                      PCI devices, their kernel driver, IOMMU group, matching wdfx "
    "driver\n"
    "  bind BDF [--uio]          bind BDF to vfio-pci (or uio_pci_generic); needs root\n"
    "  unbind BDF                unbind from vfio-pci/uio_pci_generic, restore the native driver; "
    "root\n"
    "  info BDF                  BARs and sizes, capabilities, IRQ counts per index as VFIO "
    "reports them\n"
    "  affinity BDF [--cpus L]   steer the device's host IRQs to the CPUs of their ISR threads; "
    "root\n"
    "  stat                      per-interrupt counters of running wdfx drivers\n"
    "  udev-rules [--install]    print (or install) udev rules for the installed driver manifests\n"
    "\n"
    "'wdfxctl <command> --help' describes a command.\n"
    "exit codes: 0 success, 1 failure, 2 usage error, 3 permission denied (run as root), 4 no such "
    "device\n";

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

std::string link_base(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return {};
    buf[n] = '\0';
    const char* s = std::strrchr(buf, '/');
    return s != nullptr ? s + 1 : buf;
}

bool write_text(const std::string& path, const std::string& text, std::string* err) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = path + ": " + std::strerror(errno);
        return false;
    }
    ssize_t n = ::write(fd, text.data(), text.size());
    int e = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size())) {
        *err = path + ": " + std::strerror(e);
        return false;
    }
    return true;
}

bool has_flag(std::vector<std::string>& args, const std::string& flag) {
    auto it = std::find(args.begin(), args.end(), flag);
    if (it == args.end()) return false;
    args.erase(it);
    return true;
}

/// Arguments left over after a command took its own: a usage error that says which.
int no_more_args(const std::vector<std::string>& args, const char* cmd) {
    if (args.empty()) return ok;
    std::fprintf(stderr, "wdfxctl %s: unexpected argument '%s' ('wdfxctl %s --help')\n", cmd,
                 args[0].c_str(), cmd);
    return usage_error;
}

bool wants_help(const std::vector<std::string>& args) {
    return std::find(args.begin(), args.end(), "--help") != args.end() ||
           std::find(args.begin(), args.end(), "-h") != args.end();
}

int need_root(const char* what) {
    if (::geteuid() == 0) return ok;
    std::fprintf(stderr, "wdfxctl %s: needs root (it writes to sysfs/procfs): run it with sudo\n",
                 what);
    return no_permission;
}

/// Whether `s` is a PCI address as lspci writes one: [[DDDD:]BB:]DD.F, hex digits only (no
/// sign, no 0x, no blanks: sscanf, behind normalize_bdf, accepts those and wraps long numbers).
bool bdf_syntax(const std::string& s) {
    std::size_t dot = s.find('.');
    if (dot == std::string::npos) return false;
    std::vector<std::string> fields;  // [[domain, ]bus, ]device, function
    for (std::size_t start = 0;;) {
        std::size_t c = s.find(':', start);
        if (c == std::string::npos || c > dot) {
            fields.push_back(s.substr(start, dot - start));
            break;
        }
        fields.push_back(s.substr(start, c - start));
        start = c + 1;
    }
    fields.push_back(s.substr(dot + 1));
    if (fields.size() < 2 || fields.size() > 4) return false;
    static constexpr std::size_t kWidth[4] = {4, 2, 2, 1};  // domain, bus, device, function
    const std::size_t first = 4 - fields.size();
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].empty() || fields[i].size() > kWidth[first + i]) return false;
        for (char ch : fields[i])
            if (std::isxdigit(static_cast<unsigned char>(ch)) == 0) return false;
    }
    return true;
}

/// The BDF argument, normalised, and checked to exist.
int bdf_arg(const std::vector<std::string>& args, const char* cmd, std::string* bdf) {
    for (const std::string& a : args)
        if (a.size() > 1 && a[0] == '-') {
            std::fprintf(stderr, "wdfxctl %s: unknown option '%s' ('wdfxctl %s --help')\n", cmd,
                         a.c_str(), cmd);
            return usage_error;
        }
    if (args.size() != 1) {
        std::fprintf(stderr, "wdfxctl %s: expected one PCI address (e.g. 0000:00:04.0)\n", cmd);
        return usage_error;
    }
    *bdf = bdf_syntax(args[0]) ? wdfx::vfio::normalize_bdf(args[0]) : std::string();
    if (bdf->empty()) {
        std::fprintf(stderr, "wdfxctl %s: '%s' is not a PCI address (DDDD:BB:DD.F)\n", cmd,
                     args[0].c_str());
        return usage_error;
    }
    if (::access(("/sys/bus/pci/devices/" + *bdf).c_str(), F_OK) != 0) {
        std::fprintf(stderr, "wdfxctl %s: no PCI device %s (wdfxctl list shows them)\n", cmd,
                     bdf->c_str());
        return not_found;
    }
    return ok;
}

// ---- list ------------------------------------------------------------------------------------

int cmd_list(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::puts(
            "usage: wdfxctl list\n  Lists PCI functions: address, vendor:device, class, the kernel "
            "driver bound\n"
            "  now, the IOMMU group and its other members, and the wdfx driver whose manifest\n"
            "  matches (manifests: /usr/share/wdfx/drivers, /etc/wdfx/drivers.d, "
            "$WDFX_MANIFEST_DIRS).");
        return ok;
    }
    if (int r = no_more_args(args, "list")) return r;
    auto devs = wdfx::pci::scan();
    if (!devs) {
        std::fprintf(stderr, "wdfxctl list: %s\n", devs.err().describe().c_str());
        return failed;
    }
    auto manifests = wdfx::pci::load_manifests();
    std::printf("%-13s %-9s %-6s %-16s %-6s %-14s %s\n", "ADDRESS", "ID", "CLASS", "DRIVER",
                "GROUP", "WDFX", "NAME");
    for (const auto& d : *devs) {
        std::string wdfx_drv = "-";
        for (const auto& m : manifests)
            for (const auto& e : m.ids)
                if (wdfx::pci::matches(e, d.id) && wdfx_drv == "-") wdfx_drv = m.driver;
        char id[16], cls[16], grp[16];
        std::snprintf(id, sizeof id, "%04x:%04x", d.id.vendor, d.id.device);
        std::snprintf(cls, sizeof cls, "%06x", d.id.class_code);
        if (d.iommu_group >= 0)
            std::snprintf(grp, sizeof grp, "%d", d.iommu_group);
        else
            std::snprintf(grp, sizeof grp, "-");
        std::printf("%-13s %-9s %-6s %-16s %-6s %-14s %s %s\n", d.bdf.c_str(), id, cls,
                    d.driver.empty() ? "-" : d.driver.c_str(), grp, wdfx_drv.c_str(),
                    d.vendor_name.c_str(), d.device_name.c_str());
        if (!d.group_members.empty()) {
            std::string m;
            for (const auto& x : d.group_members)
                m += " " + x;
            std::printf("%-13s   (IOMMU group %d also holds:%s)\n", "", d.iommu_group, m.c_str());
        }
    }
    return ok;
}

// ---- bind / unbind
// -------------------------------------------------------------------------------

std::string saved_driver_path(const std::string& bdf) {
    return "/run/wdfx/bind/" + bdf + ".driver";
}

bool wait_bound(const std::string& sys, const std::string& want) {
    // The bind is synchronous in the kernel; a module load by udev may race: re-check a few times.
    for (int i = 0; i < 50; ++i) {
        if (link_base(sys + "/driver") == want) return true;
        ::usleep(20000);
    }
    return false;
}

int cmd_bind(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::puts(
            "usage: wdfxctl bind BDF [--uio]\n"
            "  Binds BDF to vfio-pci (or uio_pci_generic with --uio) through driver_override:\n"
            "  unbinds the native kernel driver first (remembered in /run/wdfx/bind for unbind),\n"
            "  loads the module if needed, and checks that the IOMMU group is viable, naming the\n"
            "  other devices of the group that must be bound too. Needs root.");
        return ok;
    }
    bool uio = has_flag(args, "--uio");
    std::string bdf;
    if (int r = bdf_arg(args, "bind", &bdf)) return r;
    if (int r = need_root("bind")) return r;
    const std::string target = uio ? "uio_pci_generic" : "vfio-pci";
    const std::string sys = "/sys/bus/pci/devices/" + bdf;
    std::string cur = link_base(sys + "/driver");
    std::string err;
    if (cur == target) {
        std::printf("%s is already bound to %s\n", bdf.c_str(), target.c_str());
    } else {
        if (::access(("/sys/bus/pci/drivers/" + target).c_str(), F_OK) != 0) {
            std::string cmd = "modprobe " + target + " >/dev/null 2>&1";
            if (std::system(cmd.c_str()) != 0 ||
                ::access(("/sys/bus/pci/drivers/" + target).c_str(), F_OK) != 0) {
                std::fprintf(
                    stderr, "wdfxctl bind: the %s module is not available (modprobe %s failed)%s\n",
                    target.c_str(), target.c_str(),
                    uio ? "" : "; is the IOMMU on (intel_iommu=on)?");
                return failed;
            }
        }
        if (!write_text(sys + "/driver_override", target, &err)) {
            std::fprintf(stderr, "wdfxctl bind: %s\n", err.c_str());
            return failed;
        }
        if (!cur.empty()) {
            ::mkdir("/run/wdfx", 0755);
            ::mkdir("/run/wdfx/bind", 0755);
            std::ofstream(saved_driver_path(bdf)) << cur << "\n";
            if (!write_text(sys + "/driver/unbind", bdf, &err)) {
                std::fprintf(stderr, "wdfxctl bind: unbinding %s from %s: %s\n", bdf.c_str(),
                             cur.c_str(), err.c_str());
                return failed;
            }
            std::printf("unbound %s from %s\n", bdf.c_str(), cur.c_str());
        }
        if (!write_text("/sys/bus/pci/drivers_probe", bdf, &err) && !wait_bound(sys, target)) {
            std::fprintf(stderr, "wdfxctl bind: %s\n", err.c_str());
            return failed;
        }
        if (!wait_bound(sys, target)) {
            std::fprintf(stderr, "wdfxctl bind: %s did not bind to %s (dmesg says why)\n",
                         bdf.c_str(), target.c_str());
            return failed;
        }
        std::printf("bound %s to %s\n", bdf.c_str(), target.c_str());
    }
    if (!uio) {
        std::string group = link_base(sys + "/iommu_group");
        std::string dir = "/sys/kernel/iommu_groups/" + group + "/devices";
        std::vector<std::string> blocking;
        if (DIR* g = ::opendir(dir.c_str())) {
            while (dirent* e = ::readdir(g)) {
                if (e->d_name[0] == '.' || bdf == e->d_name) continue;
                std::string d = link_base(dir + "/" + e->d_name + "/driver");
                if (!d.empty() && d != "vfio-pci" && d != "pcieport")
                    blocking.push_back(std::string(e->d_name) + " (" + d + ")");
            }
            ::closedir(g);
        }
        if (!blocking.empty()) {
            std::string list;
            for (auto& b : blocking)
                list += " " + b;
            std::fprintf(stderr,
                         "wdfxctl bind: IOMMU group %s is not viable: these devices must be bound "
                         "to vfio-pci too "
                         "(or unbound):%s\n",
                         group.c_str(), list.c_str());
            return failed;
        }
        std::string node = "/dev/vfio/" + group;
        std::printf("IOMMU group %s is viable; the driver needs read/write access to %s\n",
                    group.c_str(), node.c_str());
    }
    return ok;
}

int cmd_unbind(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::puts(
            "usage: wdfxctl unbind BDF\n"
            "  Unbinds BDF from vfio-pci or uio_pci_generic, clears driver_override and gives the\n"
            "  device back to its native driver (the one 'bind' replaced, else the kernel's "
            "choice).\n"
            "  Needs root. If a wdfx driver holds the device, it receives the request IRQ, stops\n"
            "  and releases the device; the unbind completes then.");
        return ok;
    }
    std::string bdf;
    if (int r = bdf_arg(args, "unbind", &bdf)) return r;
    if (int r = need_root("unbind")) return r;
    const std::string sys = "/sys/bus/pci/devices/" + bdf;
    std::string cur = link_base(sys + "/driver");
    std::string err;
    if (cur != "vfio-pci" && cur != "uio_pci_generic") {
        std::fprintf(stderr,
                     "wdfxctl unbind: %s is bound to %s, not to vfio-pci or uio_pci_generic\n",
                     bdf.c_str(), cur.empty() ? "no driver" : cur.c_str());
        return failed;
    }
    if (!write_text(sys + "/driver/unbind", bdf, &err)) {
        std::fprintf(stderr, "wdfxctl unbind: %s\n", err.c_str());
        return failed;
    }
    (void)write_text(sys + "/driver_override", "\n", &err);
    std::string saved = read_text(saved_driver_path(bdf));
    if (!saved.empty() && ::access(("/sys/bus/pci/drivers/" + saved).c_str(), F_OK) == 0) {
        if (!write_text("/sys/bus/pci/drivers/" + saved + "/bind", bdf, &err))
            std::fprintf(stderr, "wdfxctl unbind: restoring %s: %s\n", saved.c_str(), err.c_str());
    } else {
        (void)write_text("/sys/bus/pci/drivers_probe", bdf, &err);
    }
    ::unlink(saved_driver_path(bdf).c_str());
    std::string now = link_base(sys + "/driver");
    std::printf("unbound %s from %s; now %s\n", bdf.c_str(), cur.c_str(),
                now.empty() ? "bound to no driver" : ("bound to " + now).c_str());
    return ok;
}

// ---- info
// --------------------------------------------------------------------------------------------

/// The capability lists of a config space image (wdfx/pci_config.hpp's walker), one line each.
void print_capabilities(std::span<const std::uint8_t> cfg) {
    namespace pci = wdfx::pci;
    const pci::capability_walk w = pci::walk_capabilities(cfg);
    if (cfg.size() <= 64)
        std::puts("  capabilities: only 64 bytes of config space readable (run as root for all)");
    std::printf("  capabilities:");
    if (!w.has_capability_list) std::printf(" none");
    for (const pci::capability& c : w.caps) {
        if (c.extended) continue;
        std::printf(" [%02x] %s", c.offset, pci::capability_name(static_cast<std::uint8_t>(c.id)));
        if (c.id == pci::cap::msix) {
            if (auto m = pci::parse_msix(cfg, c.offset))
                std::printf(" (%u vectors) table BAR %u + 0x%x, PBA BAR %u + 0x%x", m->table_size,
                            m->table_bar, m->table_offset, m->pba_bar, m->pba_offset);
        } else if (c.id == pci::cap::msi) {
            if (auto m = pci::parse_msi(cfg, c.offset))
                std::printf(" (up to %u messages%s%s)", m->vectors_capable,
                            m->address_64bit ? ", 64-bit" : "",
                            m->per_vector_masking ? ", per-vector masking" : "");
        } else if (c.id == pci::cap::pci_express) {
            if (auto e = pci::parse_pcie(cfg, c.offset))
                std::printf(" v%u %s%s", e->version, pci::pcie_port_type_name(e->port_type),
                            e->function_level_reset ? ", FLR" : "");
        } else if (c.id == pci::cap::power_management) {
            if (auto m = pci::parse_pm(cfg, c.offset))
                std::printf(" v%u, now D%u%s", m->version, m->power_state,
                            m->power_state == 3 ? "hot" : "");
        }
        std::printf(";");
    }
    std::printf("\n");
    if (w.standard_error == pci::walk_error::beyond_end && cfg.size() <= 64) {
        // The list continues past what a non-root reader sees: said above.
    } else if (w.standard_error != pci::walk_error::none) {
        std::printf("  capabilities: the list is malformed at 0x%02x: %s\n", w.standard_error_at,
                    pci::walk_error_name(w.standard_error));
    }
    if (!w.extended_space) return;
    std::printf("  extended capabilities:");
    if (w.count(true) == 0) std::printf(" none");
    for (const pci::capability& c : w.caps)
        if (c.extended)
            std::printf(" [%03x] %s v%u;", c.offset, pci::extended_capability_name(c.id),
                        c.version);
    std::printf("\n");
    if (w.extended_error != pci::walk_error::none)
        std::printf("  extended capabilities: the list is malformed at 0x%03x: %s\n",
                    w.extended_error_at, pci::walk_error_name(w.extended_error));
}

int cmd_info(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::puts(
            "usage: wdfxctl info BDF\n"
            "  Shows the BARs and their sizes, the capability list, and, when the device is bound\n"
            "  to vfio-pci and its group is free, the IRQ counts per index as VFIO reports them.");
        return ok;
    }
    std::string bdf;
    if (int r = bdf_arg(args, "info", &bdf)) return r;
    const std::string sys = "/sys/bus/pci/devices/" + bdf;
    std::printf(
        "%s  %s:%s  class %s  driver %s  IOMMU group %s\n", bdf.c_str(),
        read_text(sys + "/vendor").c_str(), read_text(sys + "/device").c_str(),
        read_text(sys + "/class").c_str(),
        link_base(sys + "/driver").empty() ? "-" : link_base(sys + "/driver").c_str(),
        link_base(sys + "/iommu_group").empty() ? "-" : link_base(sys + "/iommu_group").c_str());
    std::ifstream res(sys + "/resource");
    for (int i = 0; i < 7; ++i) {
        unsigned long long s = 0, e = 0, fl = 0;
        if (!(res >> std::hex >> s >> e >> fl)) break;
        if (e <= s) continue;
        unsigned long long size = e - s + 1;
        std::printf("  %s %d: %s, %llu bytes (%s)%s\n", i == 6 ? "ROM" : "BAR", i,
                    (fl & 0x100) ? "I/O ports" : "memory", size,
                    size >= (1ull << 20) ? (std::to_string(size >> 20) + " MiB").c_str()
                                         : (std::to_string(size >> 10) + " KiB").c_str(),
                    (fl & 0x2000) ? ", prefetchable" : "");
    }
    std::vector<std::uint8_t> cfg(4096);
    int fd = ::open((sys + "/config").c_str(), O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? ::pread(fd, cfg.data(), cfg.size(), 0) : -1;
    if (fd >= 0) ::close(fd);
    if (n < 64) {
        std::puts("  capabilities: config space not readable");
    } else {
        cfg.resize(static_cast<std::size_t>(n));
        print_capabilities(cfg);
    }
    if (link_base(sys + "/driver") == "vfio-pci") {
        auto dev = wdfx::vfio::open(bdf);
        if (!dev) {
            std::printf("  VFIO: %s\n", dev.err().describe().c_str());
        } else {
            std::printf("  VFIO IRQ indexes:");
            const wdfx::bus::irq_kind kinds[] = {
                wdfx::bus::irq_kind::intx, wdfx::bus::irq_kind::msi, wdfx::bus::irq_kind::msix,
                wdfx::bus::irq_kind::err, wdfx::bus::irq_kind::req};
            for (auto k : kinds) {
                auto i = (*dev)->irq(k);
                std::printf(" %s %u%s%s;", wdfx::bus::irq_kind_name(k), i.count,
                            i.automasked ? " (automasked)" : "", i.noresize ? " (noresize)" : "");
            }
            std::printf("\n");
        }
    } else {
        std::printf("  VFIO: not bound to vfio-pci (wdfxctl bind %s)\n", bdf.c_str());
    }
    return ok;
}

// ---- stat
// -----------------------------------------------------------------------------------------------

struct stats_view {
    std::string path;
    const wdfx::detail::stats_header* h = nullptr;
    void* map = nullptr;
    std::size_t size = 0;
};

std::vector<stats_view> open_stats() {
    std::vector<stats_view> out;
    for (const std::string& dir :
         {wdfx::detail::stats_file::system_dir(), wdfx::detail::stats_file::user_dir()}) {
        if (dir.empty()) continue;
        DIR* d = ::opendir(dir.c_str());
        if (d == nullptr) continue;
        while (dirent* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n.size() < 7 || n.substr(n.size() - 6) != ".stats") continue;
            std::string path = dir + "/" + n;
            int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) continue;
            struct stat st {};
            ::fstat(fd, &st);
            void* p = st.st_size >= static_cast<off_t>(sizeof(wdfx::detail::stats_header))
                          ? ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ,
                                   MAP_SHARED, fd, 0)
                          : MAP_FAILED;
            ::close(fd);
            if (p == MAP_FAILED) continue;
            auto* h = static_cast<const wdfx::detail::stats_header*>(p);
            std::size_t need = sizeof *h + h->count * sizeof(wdfx::detail::irq_stats);
            if (std::memcmp(h->magic, wdfx::detail::kStatsMagic, 8) != 0 ||
                need > static_cast<std::size_t>(st.st_size) ||
                (::kill(h->pid, 0) != 0 && errno == ESRCH)) {
                ::munmap(p, static_cast<std::size_t>(st.st_size));
                continue;  // not ours, truncated, or its process is gone
            }
            out.push_back({path, h, p, static_cast<std::size_t>(st.st_size)});
        }
        ::closedir(d);
    }
    return out;
}

int cmd_stat(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::puts(
            "usage: wdfxctl stat\n"
            "  Per-interrupt counters of the running wdfx drivers, read from the shared memory "
            "they\n"
            "  publish under /run/wdfx/stats (group 'wdfx') or $XDG_RUNTIME_DIR/wdfx/stats:\n"
            "  ISR wake-ups, claimed, unclaimed, signals (more than wake-ups: coalesced), DPCs "
            "and\n"
            "  work items queued, mean ISR time and the ISR duration histogram.");
        return ok;
    }
    if (int r = no_more_args(args, "stat")) return r;
    auto views = open_stats();
    if (views.empty()) {
        std::puts("no running wdfx driver publishes statistics");
        return ok;
    }
    for (auto& v : views) {
        std::printf("%s (pid %d, driver %s)\n", v.h->device, v.h->pid, v.h->driver);
        std::printf("  %-3s %-6s %-4s %-4s %-5s %10s %10s %10s %10s %8s %8s %8s  %s\n", "MSG",
                    "KIND", "VEC", "CPU", "PRIO", "WAKEUPS", "SIGNALS", "CLAIMED", "UNCLAIMED",
                    "DPCS", "WORKITEM", "MEAN_NS", "ISR ns histogram");
        const auto* slots = reinterpret_cast<const wdfx::detail::irq_stats*>(
            reinterpret_cast<const char*>(v.h) + sizeof *v.h);
        for (std::uint32_t i = 0; i < v.h->count; ++i) {
            const auto& s = slots[i];
            std::uint64_t w = s.wakeups.get();
            std::string hist;
            for (int b = 0; b < 16; ++b)
                if (std::uint64_t c = s.hist[b].get())
                    hist += " <" + std::to_string(256ull << b) + ":" + std::to_string(c);
            std::printf(
                "  %-3u %-6s %-4u %-4d %-5d %10llu %10llu %10llu %10llu %8llu %8llu %8llu %s%s\n",
                s.message_number,
                s.in_use.load() ? wdfx::bus::irq_kind_name(static_cast<wdfx::bus::irq_kind>(s.kind))
                                : "none",
                s.bus_vector, s.cpu, s.fifo_priority, static_cast<unsigned long long>(w),
                static_cast<unsigned long long>(s.signals.get()),
                static_cast<unsigned long long>(s.claimed.get()),
                static_cast<unsigned long long>(s.unclaimed.get()),
                static_cast<unsigned long long>(s.dpcs.get()),
                static_cast<unsigned long long>(s.work_items.get()),
                static_cast<unsigned long long>(w ? s.isr_ns_total.get() / w : 0), hist.c_str(),
                s.storm_masked.load() ? "  MASKED (unclaimed storm)" : "");
        }
        ::munmap(v.map, v.size);
    }
    return ok;
}

// ---- affinity
// --------------------------------------------------------------------------------------------

int cmd_affinity(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::puts(
            "usage: wdfxctl affinity BDF [--cpus LIST]\n"
            "  Writes /proc/irq/N/smp_affinity_list for each host IRQ of the device's VFIO "
            "vectors\n"
            "  (vfio-msix[K](BDF), vfio-msi[K](BDF), vfio-intx(BDF) in /proc/interrupts): to LIST "
            "if\n"
            "  given, else to the CPU of the ISR thread of the running wdfx driver that serves "
            "vector K.\n"
            "  Needs root.");
        return ok;
    }
    std::string cpus;
    auto it = std::find(args.begin(), args.end(), "--cpus");
    if (it != args.end()) {
        if (it + 1 == args.end()) {
            std::fputs("wdfxctl affinity: --cpus needs a CPU list (e.g. --cpus 0-1,3)\n", stderr);
            return usage_error;
        }
        cpus = *(it + 1);
        args.erase(it, it + 2);
    }
    std::string bdf;
    if (int r = bdf_arg(args, "affinity", &bdf)) return r;
    if (int r = need_root("affinity")) return r;
    // The ISR CPUs of a running driver, by (kind, vector).
    std::map<std::pair<unsigned, unsigned>, int> isr_cpu;
    for (auto& v : open_stats()) {
        if (std::string(v.h->device) == bdf) {
            const auto* slots = reinterpret_cast<const wdfx::detail::irq_stats*>(
                reinterpret_cast<const char*>(v.h) + sizeof *v.h);
            for (std::uint32_t i = 0; i < v.h->count; ++i)
                if (slots[i].in_use.load() && slots[i].cpu >= 0)
                    isr_cpu[{slots[i].kind, slots[i].bus_vector}] = slots[i].cpu;
        }
        ::munmap(v.map, v.size);
    }
    std::ifstream in("/proc/interrupts");
    std::string line;
    int changed = 0;
    while (std::getline(in, line)) {
        std::size_t at = line.find("(" + bdf + ")");
        if (at == std::string::npos) continue;
        unsigned irq = static_cast<unsigned>(std::strtoul(line.c_str(), nullptr, 10));
        unsigned kind = 0, vec = 0;
        if (line.find("vfio-msix[") != std::string::npos) {
            kind = 2;
            vec = static_cast<unsigned>(
                std::strtoul(line.c_str() + line.find("vfio-msix[") + 10, nullptr, 10));
        } else if (line.find("vfio-msi[") != std::string::npos) {
            kind = 1;
            vec = static_cast<unsigned>(
                std::strtoul(line.c_str() + line.find("vfio-msi[") + 9, nullptr, 10));
        }
        std::string target = cpus;
        if (target.empty()) {
            auto c = isr_cpu.find({kind, vec});
            if (c == isr_cpu.end()) continue;
            target = std::to_string(c->second);
        }
        std::string err;
        std::string path = "/proc/irq/" + std::to_string(irq) + "/smp_affinity_list";
        if (write_text(path, target, &err)) {
            std::printf("IRQ %u (%s vector %u) -> CPU %s\n", irq,
                        kind == 2   ? "MSI-X"
                        : kind == 1 ? "MSI"
                                    : "INTx",
                        vec, target.c_str());
            ++changed;
        } else {
            std::fprintf(stderr, "wdfxctl affinity: %s\n", err.c_str());
        }
    }
    if (changed == 0) {
        std::fprintf(stderr, "wdfxctl affinity: no VFIO interrupt of %s is active%s\n", bdf.c_str(),
                     cpus.empty() ? " with a running wdfx driver (or give --cpus)" : "");
        return failed;
    }
    return ok;
}

// ---- udev rules
// ------------------------------------------------------------------------------------------

/// A udev glob for the class code under the entry's mask, as sysfs writes it ("0x010802"): a
/// digit where the mask covers the nibble, '?' where it covers none of it, and a bracket set of
/// the digits that match where it covers part of it.
std::string class_glob(const wdfx::pci::match& e) {
    static const char kDigits[] = "0123456789abcdef";
    std::string g = "0x";
    for (int shift = 20; shift >= 0; shift -= 4) {
        unsigned mask = (e.class_mask >> shift) & 0xf, want = (e.class_code >> shift) & mask;
        std::string set;
        for (unsigned d = 0; d < 16; ++d)
            if ((d & mask) == want) set += kDigits[d];
        g += set.size() == 16 ? "?" : set.size() == 1 ? set : "[" + set + "]";
    }
    return g;
}

std::string udev_rules() {
    std::string out =
        "# wdfx: bind the devices of installed wdfx drivers to vfio-pci at boot and hand their\n"
        "# /dev/vfio/N to group 'wdfx'; start the driver's service once the device is bound.\n"
        "# Generated by 'wdfxctl udev-rules' from the driver manifests.\n";
    for (const auto& m : wdfx::pci::load_manifests()) {
        for (const auto& e : m.ids) {
            std::string match = "SUBSYSTEM==\"pci\"";
            char b[64];
            if (e.vendor != wdfx::pci::any) {
                std::snprintf(b, sizeof b, ", ATTR{vendor}==\"0x%04x\"", e.vendor);
                match += b;
            }
            if (e.device != wdfx::pci::any) {
                std::snprintf(b, sizeof b, ", ATTR{device}==\"0x%04x\"", e.device);
                match += b;
            }
            if (e.subsystem_vendor != wdfx::pci::any) {
                std::snprintf(b, sizeof b, ", ATTR{subsystem_vendor}==\"0x%04x\"",
                              e.subsystem_vendor);
                match += b;
            }
            if (e.subsystem_device != wdfx::pci::any) {
                std::snprintf(b, sizeof b, ", ATTR{subsystem_device}==\"0x%04x\"",
                              e.subsystem_device);
                match += b;
            }
            if (e.class_mask != 0) match += ", ATTR{class}==\"" + class_glob(e) + "\"";
            out += "# " + m.driver + ": " + wdfx::pci::format_match(e) + "\n";
            if (match == "SUBSYSTEM==\"pci\"") {
                // No ID and no class: a rule would hand every PCI device to vfio-pci.
                out += "# skipped: it matches every PCI device\n";
                std::fprintf(stderr,
                             "wdfxctl udev-rules: %s: '%s' matches every PCI device: no rule "
                             "generated\n",
                             m.driver.c_str(), wdfx::pci::format_match(e).c_str());
                continue;
            }
            // At "add": the bind to vfio-pci (unbinding a native driver that got there first).
            out += "ACTION==\"add\", " + match +
                   ", RUN+=\"/bin/sh -c 'd=/sys%p; [ -e $$d/driver ] && [ $$(basename "
                   "$$(readlink $$d/driver)) != vfio-pci ] && echo %k > $$d/driver/unbind; "
                   "echo vfio-pci > "
                   "$$d/driver_override; /usr/sbin/modprobe -b vfio-pci; echo %k > "
                   "/sys/bus/pci/drivers_probe'\"\n";
            // TAG+="systemd" on every event but "remove": systemd takes a device whose event
            // lacks the tag (the "bind" that follows the "add") as unplugged.
            out += "ACTION!=\"remove\", " + match + ", ENV{WDFX_DRIVER}=\"" + m.driver +
                   "\", TAG+=\"systemd\"\n";
            // SYSTEMD_WANTS only while the device is bound to vfio-pci: systemd starts the
            // driver's service when the want appears (the "bind" event, after the RUN above,
            // `wdfxctl bind` or a bind by hand). An "unbind" carries none, so giving the device
            // back never starts the service (systemd forgets the wants it saw at a daemon-reload,
            // and would take a want on the "unbind" event as new).
            out += "ACTION!=\"remove\", " + match +
                   ", DRIVER==\"vfio-pci\", TAG+=\"systemd\", ENV{SYSTEMD_WANTS}+=\"wdfx-driver@" +
                   m.driver + ".service\"\n";
        }
    }
    out +=
        "SUBSYSTEM==\"vfio\", KERNEL!=\"vfio\", GROUP=\"wdfx\", MODE=\"0660\", TAG+=\"systemd\"\n";
    return out;
}

int cmd_udev_rules(std::vector<std::string> args) {
    if (wants_help(args)) {
        std::puts(
            "usage: wdfxctl udev-rules [--install]\n"
            "  Prints udev rules that bind every device matched by an installed wdfx driver "
            "manifest to\n"
            "  vfio-pci at boot (unbinding a native driver first) and give /dev/vfio/N to group "
            "'wdfx'.\n"
            "  --install writes them to /etc/udev/rules.d/90-wdfx.rules and reloads udev (root).");
        return ok;
    }
    bool install = has_flag(args, "--install");
    if (int r = no_more_args(args, "udev-rules")) return r;
    std::string rules = udev_rules();
    if (!install) {
        std::fputs(rules.c_str(), stdout);
        return ok;
    }
    if (int r = need_root("udev-rules --install")) return r;
    std::ofstream("/etc/udev/rules.d/90-wdfx.rules") << rules;
    if (std::system("udevadm control --reload >/dev/null 2>&1") != 0)
        std::fprintf(stderr,
                     "wdfxctl: udevadm control --reload failed; reboot or reload udev by hand\n");
    std::puts("installed /etc/udev/rules.d/90-wdfx.rules");
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return usage_error;
    }
    std::string cmd = argv[1];
    std::vector<std::string> args(argv + 2, argv + argc);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        std::fputs(kUsage, stdout);
        return ok;
    }
    if (cmd == "list") return cmd_list(args);
    if (cmd == "bind") return cmd_bind(args);
    if (cmd == "unbind") return cmd_unbind(args);
    if (cmd == "info") return cmd_info(args);
    if (cmd == "stat") return cmd_stat(args);
    if (cmd == "affinity") return cmd_affinity(args);
    if (cmd == "udev-rules") return cmd_udev_rules(args);
    std::fprintf(stderr, "wdfxctl: unknown command '%s'\n%s", cmd.c_str(), kUsage);
    return usage_error;
}
