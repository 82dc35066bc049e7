// wdfx-io: read from, write to, or send a device control to a wdfx device interface. Built on
// wdfx/client.hpp (the C++ client over the C library).
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <wdfx/client.hpp>

namespace {

// Exit codes (documented in --help and docs/protocol.md).
constexpr int kOk = 0;
constexpr int kRequestFailed = 1;  // the driver completed the request with an error NTSTATUS
constexpr int kUsage = 2;
constexpr int kNoDevice = 3;  // no such interface, refused by the access rule or by the driver
constexpr int kIoError = 4;   // the connection broke, or a local file could not be read/written

void usage(FILE* f) {
    std::fputs(
        "usage: wdfx-io DEVICE read N [--offset OFF] [--output FILE]\n"
        "       wdfx-io DEVICE write FILE [--offset OFF]      (FILE '-' is standard input)\n"
        "       wdfx-io DEVICE ioctl CODE [HEX] [--out N]\n"
        "       wdfx-io --help\n"
        "\n"
        "Talks to a wdfx driver's socket interface (docs/protocol.md).\n"
        "DEVICE is a socket path (it contains a '/') or an interface name, resolved as\n"
        "/run/wdfx/NAME.sock, then $XDG_RUNTIME_DIR/wdfx/NAME.sock.\n"
        "\n"
        "  read N       read up to N bytes; the data goes to standard output (or --output FILE)\n"
        "  write FILE   write the contents of FILE; prints the bytes the driver took\n"
        "  ioctl CODE   a device control with control code CODE (decimal or 0x hex) and the\n"
        "               input bytes HEX (e.g. 00ff10); prints the output bytes as hex. --out N\n"
        "               sets the output buffer's length (default 4096)\n"
        "\n"
        "Exit status:\n"
        "  0  the request succeeded (NT_SUCCESS)\n"
        "  1  the driver completed the request with an error status (printed on stderr)\n"
        "  2  usage error\n"
        "  3  the device could not be opened: no such interface, nobody listening, refused by\n"
        "     the interface's access rule or by the driver (EvtDeviceFileCreate)\n"
        "  4  I/O error: the connection broke, or a local file could not be read or written\n",
        f);
}

bool parse_u64(const char* s, std::uint64_t& v) {
    if (s == nullptr || *s == '\0') return false;
    char* end = nullptr;
    errno = 0;
    unsigned long long x = std::strtoull(s, &end, 0);
    if (errno != 0 || end == nullptr || *end != '\0' || s[0] == '-') return false;
    v = x;
    return true;
}

bool parse_hex(const std::string& s, std::vector<unsigned char>& out) {
    std::string h;
    for (char ch : s)
        if (ch != ' ' && ch != ':') h += ch;
    if (h.rfind("0x", 0) == 0) h = h.substr(2);
    if (h.size() % 2 != 0) return false;
    for (std::size_t i = 0; i < h.size(); i += 2) {
        char b[3] = {h[i], h[i + 1], 0};
        char* end = nullptr;
        long v = std::strtol(b, &end, 16);
        if (end != b + 2) return false;
        out.push_back(static_cast<unsigned char>(v));
    }
    return true;
}

int report(const char* what, std::int32_t st) {
    if (st >= 0) return kOk;
    std::fprintf(stderr, "wdfx-io: %s failed: %s\n", what, wdfx_status_name(st));
    return st == WDFX_STATUS_DEVICE_NOT_CONNECTED ? kIoError : kRequestFailed;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> pos;
    std::uint64_t offset = 0, out_len = 4096;
    std::string output;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage(stdout);
            return kOk;
        }
        if (a == "--offset" || a == "--out" || a == "--output") {
            if (i + 1 >= argc) {
                usage(stderr);
                return kUsage;
            }
            const char* v = argv[++i];
            if (a == "--output") {
                output = v;
            } else if (!parse_u64(v, a == "--offset" ? offset : out_len)) {
                std::fprintf(stderr, "wdfx-io: %s: not a number: %s\n", a.c_str(), v);
                return kUsage;
            }
            continue;
        }
        pos.push_back(a);
    }
    if (pos.size() < 2) {
        usage(stderr);
        return kUsage;
    }
    const std::string& dev = pos[0];
    const std::string& cmd = pos[1];
    bool ok_shape = (cmd == "read" && pos.size() == 3) || (cmd == "write" && pos.size() == 3) ||
                    (cmd == "ioctl" && (pos.size() == 3 || pos.size() == 4));
    if (!ok_shape) {
        usage(stderr);
        return kUsage;
    }
    // Parse everything before connecting: a usage error never reaches the driver.
    std::uint64_t n = 0, code = 0;
    std::vector<unsigned char> input;
    if (cmd == "read" && !parse_u64(pos[2].c_str(), n)) {
        std::fprintf(stderr, "wdfx-io: read: not a length: %s\n", pos[2].c_str());
        return kUsage;
    }
    if (cmd == "ioctl") {
        if (!parse_u64(pos[2].c_str(), code) || code > 0xffffffffu) {
            std::fprintf(stderr, "wdfx-io: ioctl: not a control code: %s\n", pos[2].c_str());
            return kUsage;
        }
        if (pos.size() == 4 && !parse_hex(pos[3], input)) {
            std::fprintf(stderr, "wdfx-io: ioctl: not hex bytes: %s\n", pos[3].c_str());
            return kUsage;
        }
    }
    if (cmd == "write") {
        FILE* f = pos[2] == "-" ? stdin : std::fopen(pos[2].c_str(), "rb");
        if (f == nullptr) {
            std::fprintf(stderr, "wdfx-io: %s: %s\n", pos[2].c_str(), std::strerror(errno));
            return kIoError;
        }
        unsigned char buf[65536];
        std::size_t k;
        while ((k = std::fread(buf, 1, sizeof buf, f)) > 0)
            input.insert(input.end(), buf, buf + k);
        bool bad = std::ferror(f) != 0;
        if (f != stdin) std::fclose(f);
        if (bad) {
            std::fprintf(stderr, "wdfx-io: reading %s failed\n", pos[2].c_str());
            return kIoError;
        }
    }

    // The C++ client (wdfx/client.hpp) over the C library.
    wdfx::client c = wdfx::client::open(dev);
    if (!c) {
        int rc = c.error();
        if (rc == -EIO || rc == -EACCES)
            std::fprintf(stderr, "wdfx-io: %s: open refused: %s\n", dev.c_str(),
                         rc == -EACCES && c.open_status() == WDFX_STATUS_DEVICE_NOT_CONNECTED
                             ? std::strerror(EACCES)
                             : wdfx_status_name(c.open_status()));
        else
            std::fprintf(stderr, "wdfx-io: %s: %s\n", dev.c_str(), std::strerror(-rc));
        return kNoDevice;
    }
    int exit_code = kOk;
    if (cmd == "read") {
        auto r = c.read(static_cast<std::size_t>(n), offset);
        exit_code = report("read", r.status);
        if (exit_code == kOk) {
            FILE* f = output.empty() ? stdout : std::fopen(output.c_str(), "wb");
            if (f == nullptr || std::fwrite(r.data.data(), 1, r.data.size(), f) != r.data.size()) {
                std::fprintf(stderr, "wdfx-io: writing the data failed\n");
                exit_code = kIoError;
            }
            if (f != nullptr && f != stdout) std::fclose(f);
        }
    } else if (cmd == "write") {
        auto r = c.write(input.data(), input.size(), offset);
        exit_code = report("write", r.status);
        if (exit_code == kOk) std::printf("%zu\n", r.information);
    } else {
        auto r = c.ioctl(static_cast<std::uint32_t>(code), input.data(), input.size(),
                         static_cast<std::size_t>(out_len));
        exit_code = report("ioctl", r.status);
        if (exit_code == kOk) {
            for (std::byte b : r.data)
                std::printf("%02x", static_cast<unsigned>(b));
            std::printf("\n");
        }
    }
    return exit_code;
}
