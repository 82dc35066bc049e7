#include <dirent.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <wdfx/pci.hpp>

#include "os/log.hpp"

namespace wdfx::pci {

namespace {
/// Hex digits only (strtoul alone would take a sign, "0x" and blanks: "-0" read as 0); `*` and
/// `any` where a wildcard is allowed (IDs, not the class or its mask: the mask is the wildcard).
bool parse_hex(const std::string& s, std::uint32_t max, std::uint32_t* out, bool wildcard = true) {
    if (s == "*" || s == "any") {
        if (!wildcard) return false;
        *out = any;
        return true;
    }
    if (s.empty() || s.size() > 8 || !std::all_of(s.begin(), s.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        }))
        return false;
    unsigned long v = std::strtoul(s.c_str(), nullptr, 16);
    if (v > max) return false;
    *out = static_cast<std::uint32_t>(v);
    return true;
}
}  // namespace

std::optional<match> parse_match(const std::string& text) {
    std::istringstream in(text);
    std::string ids, extra;
    if (!(in >> ids)) return std::nullopt;
    match m;
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        std::size_t c = ids.find(':', start);
        parts.push_back(ids.substr(start, c == std::string::npos ? std::string::npos : c - start));
        if (c == std::string::npos) break;
        start = c + 1;
    }
    if (parts.size() != 2 && parts.size() != 4) return std::nullopt;
    if (!parse_hex(parts[0], 0xffff, &m.vendor) || !parse_hex(parts[1], 0xffff, &m.device))
        return std::nullopt;
    if (parts.size() == 4 && (!parse_hex(parts[2], 0xffff, &m.subsystem_vendor) ||
                              !parse_hex(parts[3], 0xffff, &m.subsystem_device)))
        return std::nullopt;
    bool have_class = false;
    while (in >> extra) {
        if (extra.rfind("class=", 0) != 0 || have_class) return std::nullopt;
        have_class = true;
        std::string v = extra.substr(6);
        std::size_t slash = v.find('/');
        std::uint32_t cls = 0, mask = 0xffffff;
        if (!parse_hex(v.substr(0, slash), 0xffffff, &cls, false)) return std::nullopt;
        if (slash != std::string::npos && !parse_hex(v.substr(slash + 1), 0xffffff, &mask, false))
            return std::nullopt;
        m.class_code = cls;
        m.class_mask = mask;
    }
    return m;
}

std::string format_match(const match& m) {
    auto h = [](std::uint32_t v) {
        if (v == any) return std::string("*");
        char b[16];
        std::snprintf(b, sizeof b, "%04x", v);
        return std::string(b);
    };
    std::string s = h(m.vendor) + ":" + h(m.device);
    if (m.subsystem_vendor != any || m.subsystem_device != any)
        s += ":" + h(m.subsystem_vendor) + ":" + h(m.subsystem_device);
    if (m.class_mask != 0) {
        char b[32];
        std::snprintf(b, sizeof b, " class=%06x/%06x", m.class_code, m.class_mask);
        s += b;
    }
    return s;
}

std::vector<manifest> load_manifests(const std::vector<std::string>& dirs_in) {
    std::vector<std::string> dirs = dirs_in;
    if (dirs.empty()) {
        if (const char* e = std::getenv("WDFX_MANIFEST_DIRS")) {
            std::string s = e;
            std::size_t start = 0;
            for (;;) {
                std::size_t c = s.find(':', start);
                dirs.push_back(
                    s.substr(start, c == std::string::npos ? std::string::npos : c - start));
                if (c == std::string::npos) break;
                start = c + 1;
            }
        }
        dirs.push_back("/usr/share/wdfx/drivers");
        dirs.push_back("/usr/local/share/wdfx/drivers");
        dirs.push_back("/etc/wdfx/drivers.d");
    }
    std::vector<manifest> out;
    for (const std::string& d : dirs) {
        DIR* dir = ::opendir(d.c_str());
        if (dir == nullptr) continue;
        while (dirent* e = ::readdir(dir)) {
            std::string n = e->d_name;
            if (n.size() < 7 || n.substr(n.size() - 6) != ".match") continue;
            std::ifstream f(d + "/" + n);
            std::string line;
            int lineno = 0;
            while (std::getline(f, line)) {
                ++lineno;
                std::size_t hash = line.find('#');
                if (hash != std::string::npos) line.resize(hash);
                std::istringstream in(line);
                std::string drv;
                if (!(in >> drv)) continue;
                std::string rest;
                std::getline(in, rest);
                auto m = parse_match(rest);
                if (!m) {
                    os::log(os::log_level::warning, "%s/%s:%d: not a match entry: '%s'", d.c_str(),
                            n.c_str(), lineno, line.c_str());
                    continue;
                }
                auto it = std::find_if(out.begin(), out.end(),
                                       [&](const manifest& x) { return x.driver == drv; });
                if (it == out.end()) {
                    out.push_back({drv, {}});
                    it = out.end() - 1;
                }
                it->ids.push_back(*m);
            }
        }
        ::closedir(dir);
    }
    return out;
}

}  // namespace wdfx::pci
