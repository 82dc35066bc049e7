// Match tables (wdfx/pci.hpp): parse_match / format_match, wildcards, subsystem IDs, class codes
// with masks, malformed entries; matches() over many IDs; load_manifests() from temporary
// directories (several files, comments, a malformed line skipped with a warning, two drivers)
// and through $WDFX_MANIFEST_DIRS.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <wdfx/pci.hpp>

#include "test_support.hpp"

using wdfx::bus::pci_id;
using wdfx::pci::any;
using wdfx::pci::format_match;
using wdfx::pci::match;
using wdfx::pci::matches;
using wdfx::pci::parse_match;

namespace {

bool same(const match& a, const match& b) {
    return a.vendor == b.vendor && a.device == b.device &&
           a.subsystem_vendor == b.subsystem_vendor && a.subsystem_device == b.subsystem_device &&
           a.class_code == b.class_code && a.class_mask == b.class_mask;
}

std::string show(const std::optional<match>& m) {
    return m ? format_match(*m) : std::string("(rejected)");
}

pci_id id(std::uint16_t v, std::uint16_t d, std::uint16_t sv = 0, std::uint16_t sd = 0,
          std::uint32_t cls = 0) {
    pci_id i{};
    i.vendor = v;
    i.device = d;
    i.subsystem_vendor = sv;
    i.subsystem_device = sd;
    i.class_code = cls;
    return i;
}

/// A temporary directory, removed with its files at scope exit.
class temp_dir {
  public:
    temp_dir() {
        std::string t = (std::filesystem::temp_directory_path() / "wdfx-match-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path_ = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::string& path() const { return path_; }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ + "/" + name) << text;
    }

  private:
    std::string path_;
};

/// Runs `fn` with stderr (fd 2) sent to a file, and returns what was written there.
std::string capture_stderr(const std::function<void()>& fn) {
    temp_dir d;
    const std::string file = d.path() + "/stderr";
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    int saved = ::dup(STDERR_FILENO);
    REQUIRE(saved >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
    fn();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Sets (or unsets, with nullptr) an environment variable for a scope.
class scoped_env {
  public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

const wdfx::pci::manifest* find_driver(const std::vector<wdfx::pci::manifest>& ms,
                                       const std::string& name) {
    for (const auto& m : ms)
        if (m.driver == name) return &m;
    return nullptr;
}

std::multiset<std::string> formatted(const wdfx::pci::manifest& m) {
    std::multiset<std::string> s;
    for (const auto& e : m.ids)
        s.insert(format_match(e));
    return s;
}

}  // namespace

TEST_CASE("pci match: parse_match reads IDs, wildcards, subsystem IDs and class/mask") {
    struct row {
        const char* text;
        match want;
    };
    const row rows[] = {
        {"1234:11e8", {0x1234, 0x11e8, any, any, 0, 0}},
        {"1b36:0010", {0x1b36, 0x0010, any, any, 0, 0}},
        {"1234:11E8", {0x1234, 0x11e8, any, any, 0, 0}},
        {"  1234:11e8  ", {0x1234, 0x11e8, any, any, 0, 0}},
        {"8086:*", {0x8086, any, any, any, 0, 0}},
        {"*:10d3", {any, 0x10d3, any, any, 0, 0}},
        {"any:any", {any, any, any, any, 0, 0}},
        {"*:*", {any, any, any, any, 0, 0}},
        {"0:0", {0, 0, any, any, 0, 0}},
        {"ffff:ffff", {0xffff, 0xffff, any, any, 0, 0}},
        {"1af4:1041:1af4:1100", {0x1af4, 0x1041, 0x1af4, 0x1100, 0, 0}},
        {"1af4:1041:*:1100", {0x1af4, 0x1041, any, 0x1100, 0, 0}},
        {"1af4:1041:1af4:*", {0x1af4, 0x1041, 0x1af4, any, 0, 0}},
        {"1b36:0010 class=010802", {0x1b36, 0x0010, any, any, 0x010802, 0xffffff}},
        {"*:* class=010802/ffffff", {any, any, any, any, 0x010802, 0xffffff}},
        {"*:* class=010000/ff0000", {any, any, any, any, 0x010000, 0xff0000}},
        {"*:* class=0c0330/ffff00", {any, any, any, any, 0x0c0330, 0xffff00}},
        {"*:*:8086:* class=020000/ff0000", {any, any, 0x8086, any, 0x020000, 0xff0000}},
        {"*:*\tclass=10802/ff", {any, any, any, any, 0x010802, 0xff}},
    };
    for (const row& r : rows) {
        CAPTURE(r.text);
        auto m = parse_match(r.text);
        REQUIRE(m.has_value());
        CHECK_MESSAGE(same(*m, r.want), "got " << format_match(*m));
    }
}

TEST_CASE("pci match: malformed entries are rejected") {
    const char* bad[] = {
        "",
        "   ",
        "1234",
        "1234:",
        ":11e8",
        "1234:11e8:",
        "1234:11e8:1af4",
        "1234:11e8:1af4:1100:0",
        "12345:11e8",  // vendor above 0xffff
        "1234:10000",  // device above 0xffff
        "1234:11e8:10000:0",
        "g234:11e8",
        "1234:11e8x",
        "0x1234:11e8",  // IDs are bare hex, as lspci -n writes them
        "-0:0",         // strtoul would read "-0" as 0
        "+1234:11e8",
        "1234:11e8 klass=010802",
        "1234:11e8 class=",
        "1234:11e8 class=1000000",  // above 24 bits
        "1234:11e8 class=010802/",
        "1234:11e8 class=/ffffff",
        "1234:11e8 class=010802/1000000",
        "1234:11e8 class=*",  // the mask is the class wildcard
        "1234:11e8 class=010802/*",
        "1234:11e8 class=any/0",
        "1234:11e8 class=010802 class=020000",  // two classes: ambiguous
        "1234:11e8 extra",
        "1234 11e8",
    };
    for (const char* b : bad) {
        CAPTURE(b);
        auto m = parse_match(b);
        CHECK_MESSAGE(!m.has_value(), "accepted as " << show(m));
    }
}

TEST_CASE("pci match: format_match writes the manifest line, and parse_match reads it back") {
    struct row {
        match m;
        const char* text;
    };
    const row rows[] = {
        {{0x1234, 0x11e8, any, any, 0, 0}, "1234:11e8"},
        {{0x0001, 0x0002, any, any, 0, 0}, "0001:0002"},
        {{any, any, any, any, 0, 0}, "*:*"},
        {{0x8086, any, any, any, 0, 0}, "8086:*"},
        {{0x1af4, 0x1041, 0x1af4, 0x1100, 0, 0}, "1af4:1041:1af4:1100"},
        {{0x1af4, 0x1041, any, 0x1100, 0, 0}, "1af4:1041:*:1100"},
        {{0x1af4, 0x1041, 0x1af4, any, 0, 0}, "1af4:1041:1af4:*"},
        {{any, any, any, any, 0x010802, 0xffffff}, "*:* class=010802/ffffff"},
        {{any, any, any, any, 0x010000, 0xff0000}, "*:* class=010000/ff0000"},
        {{0x1b36, 0x0010, 0x1af4, 0x1100, 0x010802, 0xffff00},
         "1b36:0010:1af4:1100 class=010802/ffff00"},
    };
    for (const row& r : rows) {
        CAPTURE(r.text);
        CHECK(format_match(r.m) == r.text);
        auto back = parse_match(format_match(r.m));
        REQUIRE(back.has_value());
        CHECK(same(*back, r.m));
    }
    // A class with a zero mask matches every class: it is left out, and the entry means the same.
    match zero{0x1234, 0x11e8, any, any, 0x010802, 0};
    CHECK(format_match(zero) == "1234:11e8");
    auto z = parse_match("1234:11e8 class=010802/0");
    REQUIRE(z.has_value());
    CHECK(z->class_mask == 0);
    CHECK(format_match(*z) == "1234:11e8");
    // Every ID spelled in upper case, with blanks, reads back to the canonical line.
    auto u = parse_match("\t1B36:0010   class=010802/FFFF00 ");
    REQUIRE(u.has_value());
    CHECK(format_match(*u) == "1b36:0010 class=010802/ffff00");
}

TEST_CASE("pci match: round trips over many generated entries") {
    const std::uint32_t ids[] = {any, 0x0000, 0x0001, 0x1234, 0x8086, 0xfffe, 0xffff};
    const std::pair<std::uint32_t, std::uint32_t> classes[] = {{0, 0},
                                                               {0x010802, 0xffffff},
                                                               {0x010000, 0xff0000},
                                                               {0x0c0330, 0xffff00},
                                                               {0xffffff, 0x000001}};
    int n = 0;
    for (std::uint32_t v : ids)
        for (std::uint32_t d : ids)
            for (std::uint32_t sv : ids)
                for (std::uint32_t sd : {any, 0x0000u, 0x1100u})
                    for (auto [cls, mask] : classes) {
                        match m{v, d, sv, sd, cls, mask};
                        std::string text = format_match(m);
                        CAPTURE(text);
                        auto back = parse_match(text);
                        REQUIRE(back.has_value());
                        REQUIRE(same(*back, m));
                        REQUIRE(format_match(*back) == text);
                        ++n;
                    }
    CHECK(n == 7 * 7 * 7 * 3 * 5);
}

TEST_CASE("pci match: matches() - exact IDs, wildcards, subsystem IDs and class masks") {
    const pci_id edu = id(0x1234, 0x11e8, 0x1af4, 0x1100, 0x00ff00);
    const pci_id nvme = id(0x1b36, 0x0010, 0x1af4, 0x1100, 0x010802);
    const pci_id e1000e = id(0x8086, 0x10d3, 0x8086, 0x0000, 0x020000);
    const pci_id ahci = id(0x8086, 0x2922, 0x1af4, 0x1100, 0x010601);
    const pci_id vnet = id(0x1af4, 0x1041, 0x1af4, 0x1100, 0x020000);
    const pci_id all[] = {edu, nvme, e1000e, ahci, vnet};
    struct row {
        const char* entry;
        std::vector<bool> want;  // edu, nvme, e1000e, ahci, vnet
    };
    const row rows[] = {
        {"1234:11e8", {true, false, false, false, false}},
        {"*:*", {true, true, true, true, true}},
        {"8086:*", {false, false, true, true, false}},
        {"*:0010", {false, true, false, false, false}},
        {"*:*:1af4:1100", {true, true, false, true, true}},
        {"*:*:8086:*", {false, false, true, false, false}},
        {"*:*:*:0000", {false, false, true, false, false}},
        {"1234:11e8:1af4:1101", {false, false, false, false, false}},
        {"*:* class=010802", {false, true, false, false, false}},
        {"*:* class=010000/ff0000", {false, true, false, true, false}},   // mass storage
        {"*:* class=020000/ffff00", {false, false, true, false, true}},   // Ethernet
        {"*:* class=010600/ffff00", {false, false, false, true, false}},  // SATA, any prog-if
        {"*:* class=000001/000001", {false, false, false, true, false}},  // odd prog-if
        {"8086:* class=020000/ff0000", {false, false, true, false, false}},
        {"1b36:0010 class=010801", {false, false, false, false, false}},
        {"*:* class=ffffff/0", {true, true, true, true, true}},
    };
    for (const row& r : rows) {
        CAPTURE(r.entry);
        auto m = parse_match(r.entry);
        REQUIRE(m.has_value());
        for (std::size_t i = 0; i < std::size(all); ++i) {
            CAPTURE(i);
            CHECK(matches(*m, all[i]) == r.want[i]);
        }
    }
}

TEST_CASE("pci match: matches() over every device ID of a vendor and every class code") {
    auto exact = parse_match("1234:11e8");
    auto vendor = parse_match("1234:*");
    auto sub = parse_match("1234:*:1af4:1100");
    REQUIRE(exact);
    REQUIRE(vendor);
    REQUIRE(sub);
    unsigned n_exact = 0, n_vendor = 0, n_sub = 0, n_other_vendor = 0;
    for (std::uint32_t d = 0; d <= 0xffff; ++d) {
        const pci_id a = id(0x1234, static_cast<std::uint16_t>(d), 0x1af4, 0x1100);
        const pci_id b = id(0x1235, static_cast<std::uint16_t>(d), 0x1af4, 0x1101);
        n_exact += matches(*exact, a) ? 1 : 0;
        n_vendor += matches(*vendor, a) ? 1 : 0;
        n_sub += matches(*sub, a) ? 1 : 0;
        n_sub += matches(*sub, b) ? 1 : 0;
        n_other_vendor += matches(*vendor, b) ? 1 : 0;
    }
    CHECK(n_exact == 1);
    CHECK(n_vendor == 0x10000);
    CHECK(n_sub == 0x10000);
    CHECK(n_other_vendor == 0);
    // Class masks: ff0000 matches one base class (2^16 codes), ffff00 one subclass (256),
    // ffffff one code, 00ff00 one subclass number across base classes (2^16).
    const std::pair<const char*, unsigned> masks[] = {{"*:* class=010000/ff0000", 0x10000},
                                                      {"*:* class=010800/ffff00", 0x100},
                                                      {"*:* class=010802/ffffff", 1},
                                                      {"*:* class=000800/00ff00", 0x10000}};
    for (auto [text, want] : masks) {
        CAPTURE(text);
        auto m = parse_match(text);
        REQUIRE(m);
        unsigned n = 0;
        for (std::uint32_t cls = 0; cls <= 0xffffff; ++cls)
            n += matches(*m, id(0x1b36, 0x0010, 0, 0, cls)) ? 1 : 0;
        CHECK(n == want);
    }
}

TEST_CASE(
    "pci match: load_manifests - several files, comments, two drivers, a malformed line skipped "
    "with a warning") {
    temp_dir a, b;
    a.write("edu.match",
            "# the edu sample driver\n"
            "\n"
            "wdfx-unit-edu 1234:11e8            # QEMU edu\n"
            "   wdfx-unit-edu 1234:11e9:1af4:1100\n"
            "wdfx-unit-edu 1234:zzzz\n"  // malformed: skipped with a warning
            "wdfx-unit-nvme *:* class=010802/ffffff\r\n");
    a.write("nvme.match", "wdfx-unit-nvme 1b36:0010\n# only a comment\n");
    a.write("README", "wdfx-unit-ignored 1111:2222\n");  // not a .match file
    a.write("other.matches", "wdfx-unit-ignored 1111:2222\n");
    a.write(".match", "wdfx-unit-ignored 1111:2222\n");  // no name before .match
    b.write("more.match", "wdfx-unit-edu 1234:11ea\nwdfx-unit-lonely\n1234:11e8\n");
    std::vector<wdfx::pci::manifest> ms;
    std::string err = capture_stderr([&] { ms = wdfx::pci::load_manifests({a.path(), b.path()}); });
    CHECK(ms.size() == 2);
    const auto* edu = find_driver(ms, "wdfx-unit-edu");
    const auto* nvme = find_driver(ms, "wdfx-unit-nvme");
    REQUIRE(edu != nullptr);
    REQUIRE(nvme != nullptr);
    CHECK(find_driver(ms, "wdfx-unit-ignored") == nullptr);
    CHECK(formatted(*edu) ==
          std::multiset<std::string>{"1234:11e8", "1234:11e9:1af4:1100", "1234:11ea"});
    CHECK(formatted(*nvme) == std::multiset<std::string>{"*:* class=010802/ffffff", "1b36:0010"});
    // One warning per malformed line, naming the file and the line number.
    CHECK(err.find("edu.match:5: not a match entry") != std::string::npos);
    CHECK(err.find("1234:zzzz") != std::string::npos);
    CHECK(err.find("more.match:2:") != std::string::npos);
    CHECK(err.find("more.match:3:") != std::string::npos);
    CHECK(err.find("README") == std::string::npos);
    // A missing directory is no error.
    CHECK(wdfx::pci::load_manifests({a.path() + "/nonexistent"}).empty());
}

TEST_CASE(
    "pci match: load_manifests reads $WDFX_MANIFEST_DIRS (colon-separated) when no directory is "
    "given") {
    temp_dir a, b;
    a.write("x.match", "wdfx-unit-env-a 1234:11e8\n");
    b.write("y.match", "wdfx-unit-env-b 1b36:0010\nwdfx-unit-env-a 1234:11e9\n");
    const std::string dirs = a.path() + ":" + b.path() + ":" + a.path() + "/missing";
    std::vector<wdfx::pci::manifest> ms;
    {
        scoped_env env("WDFX_MANIFEST_DIRS", dirs.c_str());
        ms = wdfx::pci::load_manifests();
    }
    const auto* da = find_driver(ms, "wdfx-unit-env-a");
    const auto* db = find_driver(ms, "wdfx-unit-env-b");
    REQUIRE(da != nullptr);
    REQUIRE(db != nullptr);
    CHECK(formatted(*da) == std::multiset<std::string>{"1234:11e8", "1234:11e9"});
    CHECK(formatted(*db) == std::multiset<std::string>{"1b36:0010"});
    // Explicit directories win over the environment.
    {
        scoped_env env("WDFX_MANIFEST_DIRS", dirs.c_str());
        ms = wdfx::pci::load_manifests({b.path()});
    }
    REQUIRE(ms.size() == 2);
    CHECK(find_driver(ms, "wdfx-unit-env-a")->ids.size() == 1);
    // Without the variable, none of ours is found.
    {
        scoped_env env("WDFX_MANIFEST_DIRS", nullptr);
        ms = wdfx::pci::load_manifests();
    }
    CHECK(find_driver(ms, "wdfx-unit-env-a") == nullptr);
    CHECK(find_driver(ms, "wdfx-unit-env-b") == nullptr);
}
