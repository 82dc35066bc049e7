// wdfx-edu: a client of the edu driver's device interface.
//
//   wdfx-edu [--device NAME] factorial N       n! computed by the device
//   wdfx-edu [--device NAME] liveness VALUE    the device inverts VALUE
//   wdfx-edu [--device NAME] raise BITS        raise an interrupt, wait for the ISR to see it
//   wdfx-edu [--device NAME] dma-roundtrip FILE
//                                              DMA FILE (at most 2 KiB) into the device and back,
//                                              and compare
// NAME: an interface name (default edu0, resolved under /run/wdfx and $XDG_RUNTIME_DIR/wdfx) or
// a socket path. Exit codes: 0 success, 1 the operation failed (the NTSTATUS is printed),
// 2 usage error, 3 cannot reach the driver.
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <wdfx/client.hpp>

#include "edu_ioctl.h"

namespace {
const char* kUsage =
    "usage: wdfx-edu [--device NAME] <command>\n"
    "  factorial N        compute N! on the device (completed by its interrupt)\n"
    "  liveness VALUE     the device returns ~VALUE\n"
    "  raise BITS         raise an interrupt with these status bits\n"
    "  dma-roundtrip FILE DMA FILE (at most 2048 bytes) into the device and back, and compare\n"
    "NAME: an interface name (default edu0) or a socket path.\n"
    "exit codes: 0 success, 1 the operation failed, 2 usage error, 3 cannot reach the driver\n";

int fail(const char* what, std::int32_t st) {
    std::fprintf(stderr, "wdfx-edu: %s failed: NTSTATUS 0x%08" PRIx32 "\n", what,
                 static_cast<std::uint32_t>(st));
    return 1;
}

bool parse_u32(const char* s, std::uint32_t* out) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(s, &end, 0);
    if (errno != 0 || *end != '\0' || v > 0xffffffffu) return false;
    *out = static_cast<std::uint32_t>(v);
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    std::string dev = "edu0";
    int i = 1;
    if (i < argc && (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0)) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (i + 1 < argc && std::strcmp(argv[i], "--device") == 0) {
        dev = argv[i + 1];
        i += 2;
    }
    if (i + 2 != argc) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::string cmd = argv[i];
    const char* arg = argv[i + 1];
    auto c = wdfx::client::open(dev);
    if (!c) {
        if (c.error() != 0)
            std::fprintf(stderr,
                         "wdfx-edu: cannot reach %s: %s (is wdfx-driver@wdfx-edu running?)\n",
                         dev.c_str(), std::strerror(-c.error()));
        else
            std::fprintf(stderr, "wdfx-edu: %s refused the open: NTSTATUS 0x%08" PRIx32 "\n",
                         dev.c_str(), static_cast<std::uint32_t>(c.open_status()));
        return 3;
    }
    if (cmd == "factorial" || cmd == "liveness" || cmd == "raise") {
        std::uint32_t v = 0;
        if (!parse_u32(arg, &v)) {
            std::fputs(kUsage, stderr);
            return 2;
        }
        std::uint32_t code = cmd == "factorial"  ? WDFX_EDU_IOCTL_FACTORIAL
                             : cmd == "liveness" ? WDFX_EDU_IOCTL_LIVENESS
                                                 : WDFX_EDU_IOCTL_RAISE;
        auto r = c.ioctl(code, &v, sizeof v, cmd == "raise" ? 0 : sizeof(std::uint32_t));
        if (!r.ok()) return fail(cmd.c_str(), r.status);
        if (cmd == "raise") {
            std::printf("raised 0x%x: the ISR saw it\n", v);
            return 0;
        }
        if (r.data.size() != sizeof(std::uint32_t)) return fail(cmd.c_str(), r.status);
        std::uint32_t out;
        std::memcpy(&out, r.data.data(), sizeof out);
        if (cmd == "factorial")
            std::printf("%u! = %u\n", v, out);
        else
            std::printf("liveness(0x%08x) = 0x%08x%s\n", v, out, out == ~v ? " (ok)" : " (WRONG)");
        return cmd == "liveness" && out != ~v ? 1 : 0;
    }
    if (cmd == "dma-roundtrip") {
        std::ifstream f(arg, std::ios::binary);
        if (!f) {
            std::fprintf(stderr, "wdfx-edu: cannot read %s\n", arg);
            return 2;
        }
        std::vector<char> data((std::istreambuf_iterator<char>(f)),
                               std::istreambuf_iterator<char>());
        if (data.empty() || data.size() > WDFX_EDU_BUFFER_SIZE) {
            std::fprintf(stderr, "wdfx-edu: %s must hold 1..%u bytes\n", arg, WDFX_EDU_BUFFER_SIZE);
            return 2;
        }
        auto w = c.write(data.data(), data.size(), 0);
        if (!w.ok() || w.information != data.size()) return fail("DMA write", w.status);
        auto r = c.read(data.size(), 0);
        if (!r.ok() || r.data.size() != data.size()) return fail("DMA read", r.status);
        bool same = std::memcmp(r.data.data(), data.data(), data.size()) == 0;
        std::printf("DMA round trip of %zu bytes: %s\n", data.size(),
                    same ? "identical" : "DIFFERENT");
        return same ? 0 : 1;
    }
    std::fputs(kUsage, stderr);
    return 2;
}
