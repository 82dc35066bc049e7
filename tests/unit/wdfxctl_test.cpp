// wdfxctl's command line, run as a real process (the binary CMake built: WDFXCTL_PATH): --help on
// every command, usage errors (exit 2), absent devices (exit 4), the root-only commands refused to
// an unprivileged user (exit 3, as uid/gid 65534 when the tests run as root), udev-rules for a
// manifest directory, list, and info against the capability walker on this machine's devices.
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <wdfx/pci.hpp>
#include <wdfx/pci_config.hpp>

#include "test_support.hpp"

extern char** environ;

namespace {

constexpr uid_t kNobody = 65534;

struct outcome {
    int code = -1;  // exit status; -1 if it did not exit
    std::string out, err;
};

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// A temporary directory, removed with its files at scope exit.
class temp_dir {
  public:
    temp_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "wdfxctl-test-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        // Readable by the unprivileged runs too (their manifests).
        std::filesystem::permissions(
            t, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                   std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                   std::filesystem::perms::others_exec);
        path_ = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

/// Exit status the child uses when it cannot drop its privileges, or cannot reach the binary
/// once it has (not one of wdfxctl's).
constexpr int kCannotDrop = 125;
constexpr const char* kCannotDropWhy =
    "cannot run wdfxctl as uid 65534 here (setuid refused, or the build tree is not reachable by "
    "that user)";

/// Runs wdfxctl with `args`; `unprivileged`: as uid/gid 65534 with no supplementary groups when
/// this process is root (else as it is); `env`: NAME=value entries added to the environment.
outcome wdfxctl(const std::vector<std::string>& args, bool unprivileged = false,
                const std::vector<std::string>& env = {}) {
    temp_dir d;
    const std::string out_path = d.path() + "/out", err_path = d.path() + "/err";
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(out >= 0);
    REQUIRE(err >= 0);
    // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
    std::vector<std::string> argv_s{WDFXCTL_PATH};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e != nullptr; ++e) {
        bool replaced = false;
        for (const std::string& x : env)
            replaced |= std::strncmp(*e, x.c_str(), x.find('=') + 1) == 0;
        if (!replaced) env_s.push_back(*e);
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& s : env_s)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    const bool drop = unprivileged && ::geteuid() == 0;

    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(err, STDERR_FILENO);
        if (drop && (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 ||
                     ::setuid(kNobody) != 0 || ::geteuid() != kNobody ||
                     ::access(argv[0], X_OK) != 0))  // a build tree under a 0700 home
            ::_exit(kCannotDrop);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(out);
    ::close(err);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    outcome o;
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.out = slurp(out_path);
    o.err = slurp(err_path);
    REQUIRE_MESSAGE(o.code != 127, "cannot execute " << WDFXCTL_PATH);
    return o;
}

bool contains(const std::string& s, const std::string& what) {
    return s.find(what) != std::string::npos;
}

/// The PCI functions of this machine (sysfs names), empty in a container without them.
std::vector<std::string> pci_devices() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/sys/bus/pci/devices", ec))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l))
        out.push_back(l);
    return out;
}

const char* const kCommands[] = {"list",     "bind", "unbind",    "info",
                                 "affinity", "stat", "udev-rules"};

}  // namespace

TEST_CASE("wdfxctl: --help, -h and help print the usage and exit 0") {
    for (const char* h : {"--help", "-h", "help"}) {
        CAPTURE(h);
        outcome o = wdfxctl({h});
        CHECK(o.code == 0);
        CHECK(contains(o.out, "usage: wdfxctl <command>"));
        for (const char* c : kCommands)
            CHECK_MESSAGE(contains(o.out, std::string("  ") + c), "the usage does not list " << c);
        CHECK(contains(o.out, "exit codes"));
    }
}

TEST_CASE("wdfxctl: --help on every subcommand exits 0 and prints that command's usage") {
    for (bool unprivileged : {false, true}) {
        for (const char* c : kCommands) {
            for (const char* h : {"--help", "-h"}) {
                CAPTURE(c);
                CAPTURE(h);
                CAPTURE(unprivileged);
                outcome o = wdfxctl({c, h}, unprivileged);
                if (o.code == kCannotDrop) {
                    MESSAGE(kCannotDropWhy << ": unprivileged runs skipped");
                    break;
                }
                CHECK(o.code == 0);
                CHECK(contains(o.out, std::string("usage: wdfxctl ") + c));
                CHECK(o.err.empty());
            }
        }
    }
    // --help wins over everything else on the line, a missing or bad address included.
    outcome o = wdfxctl({"bind", "zz:zz.z", "--help"});
    CHECK(o.code == 0);
    CHECK(contains(o.out, "usage: wdfxctl bind"));
}

TEST_CASE("wdfxctl: usage errors exit 2 and say what is wrong") {
    struct row {
        std::vector<std::string> args;
        const char* says;
    };
    const row rows[] = {
        {{}, "usage: wdfxctl <command>"},
        {{"frobnicate"}, "unknown command 'frobnicate'"},
        {{"--list"}, "unknown command '--list'"},
        {{"bind"}, "expected one PCI address"},
        {{"unbind"}, "expected one PCI address"},
        {{"info"}, "expected one PCI address"},
        {{"affinity"}, "expected one PCI address"},
        {{"bind", "--uio"}, "expected one PCI address"},
        {{"info", "0000:00:00.0", "0000:00:01.0"}, "expected one PCI address"},
        {{"info", "zz:zz.z"}, "'zz:zz.z' is not a PCI address"},
        {{"bind", "zz:zz.z"}, "'zz:zz.z' is not a PCI address"},
        {{"unbind", "zz:zz.z"}, "'zz:zz.z' is not a PCI address"},
        {{"affinity", "zz:zz.z"}, "'zz:zz.z' is not a PCI address"},
        {{"info", "0000:00:1f.9"}, "'0000:00:1f.9' is not a PCI address"},  // function above 7
        {{"info", "0000:00:20.0"}, "is not a PCI address"},                 // device above 0x1f
        {{"info", "0000:100:00.0"}, "is not a PCI address"},                // bus above 0xff
        {{"info", "10000:00:00.0"}, "is not a PCI address"},                // domain above 0xffff
        {{"info", "100000000:00:00.0"}, "is not a PCI address"},  // would wrap to domain 0
        {{"info", "0x0:0x0.0"}, "is not a PCI address"},
        {{"info", "0000:00:00"}, "is not a PCI address"},
        {{"info", "0000:00:00."}, "is not a PCI address"},
        {{"info", "0000:00:00.0.0"}, "is not a PCI address"},
        {{"info", "0000:00:00.0x"}, "is not a PCI address"},
        {{"info", "0000:0000:00:00.0"}, "is not a PCI address"},
        {{"info", "0000::00.0"}, "is not a PCI address"},
        {{"info", " 0000:00:00.0"}, "is not a PCI address"},
        {{"info", "0000:00:00.0 "}, "is not a PCI address"},
        {{"info", ""}, "is not a PCI address"},
        {{"info", "-0:0.0"}, "unknown option '-0:0.0'"},
        {{"bind", "0000:00:00.0", "--force"}, "unknown option '--force'"},
        {{"affinity", "0000:00:00.0", "--cpus"}, "--cpus needs a CPU list"},
        {{"list", "extra"}, "unexpected argument 'extra'"},
        {{"stat", "extra"}, "unexpected argument 'extra'"},
        {{"udev-rules", "extra"}, "unexpected argument 'extra'"},
    };
    for (const row& r : rows) {
        std::string line;
        for (const auto& a : r.args)
            line += " '" + a + "'";
        CAPTURE(line);
        outcome o = wdfxctl(r.args);
        CHECK(o.code == 2);
        CHECK_MESSAGE(contains(o.err, r.says), "stderr: " << o.err);
        CHECK(o.out.empty());
    }
}

TEST_CASE("wdfxctl: a well-formed address of a device that does not exist exits 4") {
    // Domain ffff: no machine has one (VMD domains start at 0x10000).
    const std::string absent = "ffff:ff:1f.7";
    REQUIRE(!std::filesystem::exists("/sys/bus/pci/devices/" + absent));
    for (bool unprivileged : {false, true}) {
        for (const char* c : {"info", "bind", "unbind", "affinity"}) {
            CAPTURE(c);
            CAPTURE(unprivileged);
            outcome o = wdfxctl({c, absent}, unprivileged);
            if (o.code == kCannotDrop) {
                MESSAGE(kCannotDropWhy << ": unprivileged runs skipped");
                break;
            }
            CHECK(o.code == 4);
            CHECK_MESSAGE(contains(o.err, "no PCI device " + absent), "stderr: " << o.err);
        }
    }
    // Short forms are normalised before the lookup, and the message gives the full address.
    if (!std::filesystem::exists("/sys/bus/pci/devices/0000:ff:1f.7")) {
        outcome o = wdfxctl({"info", "ff:1f.7"});
        CHECK(o.code == 4);
        CHECK(contains(o.err, "no PCI device 0000:ff:1f.7"));
    }
}

TEST_CASE(
    "wdfxctl: bind, unbind, affinity and udev-rules --install refuse to run without root - exit "
    "3") {
    auto devs = pci_devices();
    if (devs.empty()) {
        MESSAGE(
            "no PCI device in /sys/bus/pci/devices: the root checks (after the device lookup) "
            "are skipped");
        return;
    }
    const std::string bdf = devs.front();
    const std::string override_path = "/sys/bus/pci/devices/" + bdf + "/driver_override";
    const std::string before = slurp(override_path);
    const std::vector<std::vector<std::string>> cmds = {{"bind", bdf},
                                                        {"bind", bdf, "--uio"},
                                                        {"bind", "--uio", bdf},
                                                        {"unbind", bdf},
                                                        {"affinity", bdf},
                                                        {"affinity", bdf, "--cpus", "0"},
                                                        {"udev-rules", "--install"}};
    for (const auto& args : cmds) {
        std::string line;
        for (const auto& a : args)
            line += " " + a;
        CAPTURE(line);
        outcome o = wdfxctl(args, true);
        if (o.code == kCannotDrop) {
            MESSAGE(kCannotDropWhy << ": the root checks are skipped");
            return;
        }
        CHECK(o.code == 3);
        CHECK_MESSAGE(contains(o.err, "needs root"), "stderr: " << o.err);
        CHECK_MESSAGE(contains(o.err, "run it with sudo"), "stderr: " << o.err);
    }
    // Nothing was touched on the way to the refusal.
    CHECK(slurp(override_path) == before);
}

TEST_CASE(
    "wdfxctl: udev-rules for a manifest directory - ATTR matches, driver_override, SYSTEMD_WANTS") {
    temp_dir d;
    std::ofstream(d.path() + "/unit.match")
        << "# drivers of the unit test\n"
           "wdfx-unit-a 1234:11e8\n"
           "wdfx-unit-b 1af4:1041:1af4:1100   # with subsystem IDs\n"
           "wdfx-unit-c *:* class=010802\n"
           "wdfx-unit-d 8086:* class=010000/ff8000\n"
           "wdfx-unit-all *:*\n"
           "wdfx-unit-bad 1234:xyz\n";
    outcome o = wdfxctl({"udev-rules"}, false, {"WDFX_MANIFEST_DIRS=" + d.path()});
    REQUIRE(o.code == 0);
    const auto lines = lines_of(o.out);
    // The rules of one entry: every line that carries all of `attrs`.
    auto rules_with = [&](const std::vector<std::string>& attrs) {
        std::vector<std::string> r;
        for (const auto& l : lines) {
            if (l.empty() || l[0] == '#') continue;
            bool all = true;
            for (const auto& a : attrs)
                all &= contains(l, a);
            if (all) r.push_back(l);
        }
        return r;
    };
    auto check_entry = [&](const std::string& driver, const std::vector<std::string>& attrs) {
        CAPTURE(driver);
        auto r = rules_with(attrs);
        REQUIRE_MESSAGE(!r.empty(), "no rule for " << driver << " in:\n" << o.out);
        bool binds = false, wants = false;
        for (const auto& l : r) {
            CHECK(contains(l, "SUBSYSTEM==\"pci\""));
            binds |= contains(l, "ACTION==\"add\"") && contains(l, "driver_override") &&
                     contains(l, "vfio-pci") && contains(l, "drivers_probe");
            wants |= contains(l, "TAG+=\"systemd\"") &&
                     contains(l, "ENV{SYSTEMD_WANTS}+=\"wdfx-driver@" + driver + ".service\"");
        }
        CHECK_MESSAGE(binds, "no rule binds " << driver << "'s devices to vfio-pci");
        CHECK_MESSAGE(wants, "no rule starts wdfx-driver@" << driver << ".service");
    };
    check_entry("wdfx-unit-a", {"ATTR{vendor}==\"0x1234\"", "ATTR{device}==\"0x11e8\""});
    check_entry("wdfx-unit-b",
                {"ATTR{vendor}==\"0x1af4\"", "ATTR{device}==\"0x1041\"",
                 "ATTR{subsystem_vendor}==\"0x1af4\"", "ATTR{subsystem_device}==\"0x1100\""});
    check_entry("wdfx-unit-c", {"ATTR{class}==\"0x010802\""});
    check_entry("wdfx-unit-d", {"ATTR{vendor}==\"0x8086\"", "ATTR{class}=="});
    // Entry a matches no subsystem and no class: its rules say nothing about them.
    for (const auto& l : rules_with({"ATTR{device}==\"0x11e8\""})) {
        CHECK_FALSE(contains(l, "subsystem_"));
        CHECK_FALSE(contains(l, "ATTR{class}"));
    }
    // The class glob of entry d matches (as udev does, fnmatch) exactly what matches() accepts.
    std::string glob;
    for (const auto& l : rules_with({"ATTR{vendor}==\"0x8086\""})) {
        auto at = l.find("ATTR{class}==\"");
        REQUIRE(at != std::string::npos);
        at += std::strlen("ATTR{class}==\"");
        glob = l.substr(at, l.find('"', at) - at);
    }
    CAPTURE(glob);
    auto entry = wdfx::pci::parse_match("8086:* class=010000/ff8000");
    REQUIRE(entry.has_value());
    for (std::uint32_t cls = 0; cls <= 0xffffff; cls += 0x7f) {
        char text[16];
        std::snprintf(text, sizeof text, "0x%06x", cls);
        wdfx::bus::pci_id id{};
        id.vendor = 0x8086;
        id.class_code = cls;
        REQUIRE_MESSAGE((::fnmatch(glob.c_str(), text, 0) == 0) == wdfx::pci::matches(*entry, id),
                        text);
    }
    // "*:*" with no class would hand every PCI device to vfio-pci: no rule, a warning.
    for (const auto& l : lines) {
        if (l.empty() || l[0] == '#' || !contains(l, "SUBSYSTEM==\"pci\"")) continue;
        CHECK_MESSAGE(contains(l, "ATTR{"), "a rule that matches every PCI device: " << l);
        CHECK_FALSE(contains(l, "wdfx-unit-all"));
    }
    CHECK(contains(o.err, "wdfx-unit-all"));
    CHECK(contains(o.err, "matches every PCI device"));
    // The malformed line is skipped with a warning; no rule names its driver.
    CHECK(contains(o.err, "unit.match:7: not a match entry"));
    CHECK_FALSE(contains(o.out, "wdfx-unit-bad"));
    // /dev/vfio/N goes to group wdfx.
    CHECK(contains(o.out, "SUBSYSTEM==\"vfio\""));
    CHECK(contains(o.out, "GROUP=\"wdfx\""));
    CHECK(contains(o.out, "MODE=\"0660\""));
}

TEST_CASE(
    "wdfxctl: list exits 0, prints its header and a row per device, and names a matching "
    "manifest") {
    if (!std::filesystem::exists("/sys/bus/pci/devices")) {
        MESSAGE("no /sys/bus/pci here: wdfxctl list is not run");
        return;
    }
    auto devs = pci_devices();
    temp_dir d;
    if (!devs.empty()) {
        // A manifest for the first device's vendor:device: the WDFX column names it.
        const std::string sys = "/sys/bus/pci/devices/" + devs.front();
        std::string v = slurp(sys + "/vendor"), dv = slurp(sys + "/device");
        std::ofstream(d.path() + "/first.match")
            << "wdfx-unit-first " << v.substr(2, 4) << ":" << dv.substr(2, 4) << "\n";
    }
    for (bool unprivileged : {false, true}) {
        CAPTURE(unprivileged);
        outcome o = wdfxctl({"list"}, unprivileged, {"WDFX_MANIFEST_DIRS=" + d.path()});
        if (o.code == kCannotDrop) {
            MESSAGE(kCannotDropWhy << ": the unprivileged list is skipped");
            break;
        }
        REQUIRE_MESSAGE(o.code == 0, "stderr: " << o.err);
        auto lines = lines_of(o.out);
        REQUIRE(!lines.empty());
        for (const char* col : {"ADDRESS", "ID", "CLASS", "DRIVER", "GROUP", "WDFX", "NAME"})
            CHECK(contains(lines[0], col));
        CHECK(lines[0].rfind("ADDRESS", 0) == 0);
        for (const auto& b : devs) {
            bool row = false;
            for (const auto& l : lines)
                row |= l.rfind(b + " ", 0) == 0;
            CHECK_MESSAGE(row, "no row for " << b);
        }
        if (!devs.empty()) {
            bool named = false;
            for (const auto& l : lines)
                named |= l.rfind(devs.front() + " ", 0) == 0 && contains(l, "wdfx-unit-first");
            CHECK_MESSAGE(named, "the matching manifest is not named for " << devs.front());
        }
    }
}

TEST_CASE("wdfxctl: info lists the capabilities the walker finds on every device of this machine") {
    auto devs = pci_devices();
    if (devs.empty()) {
        MESSAGE("no PCI device in /sys/bus/pci/devices: wdfxctl info is not run");
        return;
    }
    for (const auto& b : devs) {
        CAPTURE(b);
        std::string raw = slurp("/sys/bus/pci/devices/" + b + "/config");
        std::vector<std::uint8_t> cfg(raw.begin(), raw.end());
        outcome o = wdfxctl({"info", b});
        REQUIRE_MESSAGE(o.code == 0, "stderr: " << o.err);
        CHECK(o.out.rfind(b + "  ", 0) == 0);
        auto w = wdfx::pci::walk_capabilities(cfg);
        for (const auto& c : w.caps) {
            char want[96];
            if (c.extended)
                std::snprintf(want, sizeof want, "[%03x] %s v%u;", c.offset,
                              wdfx::pci::extended_capability_name(c.id), c.version);
            else
                std::snprintf(want, sizeof want, "[%02x] %s", c.offset,
                              wdfx::pci::capability_name(static_cast<std::uint8_t>(c.id)));
            CHECK_MESSAGE(contains(o.out, want), "'" << want << "' missing from:\n" << o.out);
            if (!c.extended && c.id == wdfx::pci::cap::msix) {
                auto m = wdfx::pci::parse_msix(cfg, c.offset);
                REQUIRE(m.has_value());
                CHECK(contains(o.out, "MSI-X (" + std::to_string(m->table_size) + " vectors)"));
            }
        }
        if (!w.has_capability_list) CHECK(contains(o.out, "capabilities: none"));
        // Without root, sysfs gives 64 bytes: info says so instead of a partial list.
        if (w.has_capability_list && cfg.size() > 64) {
            outcome u = wdfxctl({"info", b}, true);
            if (u.code == kCannotDrop) continue;
            CHECK(u.code == 0);
            CHECK(contains(u.out, "only 64 bytes of config space readable (run as root for all)"));
            CHECK_FALSE(contains(u.out, "malformed"));
        }
    }
}
