// wdfx-edu-driver: the edu driver as a service (systemd/wdfx-driver@.service runs it as
// /usr/lib/wdfx/drivers/wdfx-edu). It takes one edu device, serves its device interface
// (socket, and CUSE where available), tells systemd when it is ready and feeds the watchdog while
// healthy; it exits 0 when the device is removed (an unbind, a hot-unplug) and on SIGTERM.
#include <grp.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <wdfx/pci.hpp>
#include <wdfx/service.hpp>
#include <wdfx/uio.hpp>
#include <wdfx/vfio.hpp>

#include "edu_driver.hpp"
#include "edu_service.hpp"

namespace {
constexpr std::uint32_t kStallBit = 0x80000000u;  // --test-stall-dpc
const char* kUsage =
    "usage: wdfx-edu-driver (--all | --vfio BDF | --uio BDF | --sim) [options]\n"
    "  --all             the first edu device (1234:11e8) bound to vfio-pci\n"
    "  --vfio BDF        this device, bound to vfio-pci\n"
    "  --uio BDF         this device, bound to uio_pci_generic (no IOMMU; needs root for DMA)\n"
    "  --sim             the sim bus's model of edu (no hardware)\n"
    "options:\n"
    "  --passive         passive-level interrupt (UMDF 2 model) instead of DIRQL + DPC\n"
    "  --intx            INTx instead of MSI\n"
    "  --interface NAME  the interface name (default edu0): <dir>/NAME.sock, /dev/wdfx-NAME\n"
    "  --socket-dir DIR  where the socket goes (default /run/wdfx)\n"
    "  --group GROUP     the socket's group; its members may connect (default: wdfx if it exists)\n"
    "  --no-cuse         no CUSE character device\n"
    "  --test-stall-dpc MS\n"
    "                    (tests the watchdog) the DPC that sees a raise of bit 0x80000000\n"
    "                    blocks for MS milliseconds\n"
    "exit codes: 0 stopped (SIGTERM, or the device was removed), 1 failed to start, 2 usage "
    "error\n";
}  // namespace

int main(int argc, char** argv) {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);  // every runtime thread inherits it

    std::string mode, bdf;
    edu::options o;
    edu::service_options so;
    so.socket_group = "wdfx";
    unsigned long stall_ms = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fputs(kUsage, stderr);
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--all" || a == "--sim")
            mode = a.substr(2);
        else if (a == "--vfio" || a == "--uio") {
            mode = a.substr(2);
            bdf = next();
        } else if (a == "--passive")
            o.passive = true;
        else if (a == "--intx")
            o.force_intx = true;
        else if (a == "--interface")
            so.interface_name = next();
        else if (a == "--socket-dir")
            so.socket_directory = next();
        else if (a == "--group")
            so.socket_group = next();
        else if (a == "--no-cuse")
            so.cuse = false;
        else if (a == "--test-stall-dpc")
            stall_ms = std::strtoul(next().c_str(), nullptr, 0);
        else if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            std::fprintf(stderr, "wdfx-edu-driver: unknown argument '%s'\n%s", a.c_str(), kUsage);
            return 2;
        }
    }
    if (mode.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    std::shared_ptr<wdfx::bus::device> dev;
    if (mode == "sim") {
        dev = wdfx::sim::make_edu();
        o.dma_address_bits = 64;
    } else {
        if (mode == "all") {
            wdfx::pci::match edu_id;
            edu_id.vendor = wdfx::sim::edu::vendor_id;
            edu_id.device = wdfx::sim::edu::device_id;
            auto found = wdfx::pci::find({edu_id});
            if (!found) {
                std::fprintf(stderr, "wdfx-edu-driver: PCI scan: %s\n",
                             found.err().describe().c_str());
                return 1;
            }
            for (const auto& d : *found)
                if (d.driver == "vfio-pci") {
                    bdf = d.bdf;
                    break;
                }
            if (bdf.empty()) {
                std::fprintf(stderr,
                             "wdfx-edu-driver: no edu device (1234:11e8) is bound to vfio-pci: "
                             "bind one with "
                             "'wdfxctl bind BDF' or install the udev rules ('wdfxctl udev-rules "
                             "--install')\n");
                return 1;
            }
        }
        auto b = mode == "uio" ? wdfx::uio::open(bdf) : wdfx::vfio::open(bdf);
        // Started by udev right after the bind: the group node's ownership (another udev event)
        // may lag a little. Retry a permission or missing-node failure for a few seconds.
        for (int tries = 0; !b && tries < 50; ++tries) {
            int e = b.err().code.value();
            if (b.err().code.category() != std::system_category() ||
                (e != EACCES && e != ENOENT && e != EPERM))
                break;
            timespec pause{0, 100 * 1000 * 1000};
            nanosleep(&pause, nullptr);
            b = mode == "uio" ? wdfx::uio::open(bdf) : wdfx::vfio::open(bdf);
        }
        if (!b) {
            std::fprintf(stderr, "wdfx-edu-driver: %s\n", b.err().describe().c_str());
            return 1;
        }
        dev = *b;
        if (mode == "uio") o.dma_address_bits = 64;
    }
    // The default group only when it exists (a development machine has none).
    if (so.socket_group == "wdfx" && ::getgrnam("wdfx") == nullptr) so.socket_group.clear();
    edu::driver* self = nullptr;
    o.on_device_created = [&](wdfx::device d) { return edu::setup_service(*self, d, so); };
    o.on_interrupt_work = [&](std::uint32_t bits) {
        if (stall_ms != 0 && (bits & kStallBit) != 0) {
            // A stuck callback: the runtime stops feeding the watchdog, systemd restarts us.
            timespec t{static_cast<time_t>(stall_ms / 1000),
                       static_cast<long>(stall_ms % 1000) * 1000000};
            while (nanosleep(&t, &t) != 0 && errno == EINTR) {
            }
        }
        edu::service_interrupt_work(*self, bits);
    };
    auto drv = edu::driver::create(o);
    if (!drv) {
        std::fprintf(stderr, "wdfx-edu-driver: %s\n", drv.err().describe().c_str());
        return 1;
    }
    self = drv->get();
    std::string name = dev->name();
    if (!wdfx::nt_success((*drv)->attach(dev))) return 1;
    dev.reset();  // the framework holds the bus device now: its removal releases it
    std::string status = "serving " + name + " (" + (*drv)->interrupt_kind() + ", " +
                         (o.passive ? "passive" : "DIRQL") + ") as " + so.interface_name;
    std::fprintf(stderr, "wdfx-edu-driver: %s\n", status.c_str());
    // After D0 entry with the interrupts enabled (attach returns then): READY, then the watchdog.
    wdfx::service::notify_ready(status);
    wdfx::service::start_watchdog();
    timespec tick{0, 200 * 1000 * 1000};
    int exit_code = 0;
    for (;;) {
        int sig = sigtimedwait(&stop, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) break;
        if (!(*drv)->device_object().is_valid()) {
            std::fprintf(stderr, "wdfx-edu-driver: %s was removed; exiting\n", name.c_str());
            break;
        }
    }
    wdfx::service::notify_stopping();
    wdfx::service::stop_watchdog();
    (*drv)->detach();
    return exit_code;
}
