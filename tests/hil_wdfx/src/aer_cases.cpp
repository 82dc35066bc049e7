// The error IRQ (VFIO_PCI_ERR_IRQ_INDEX) on a real PCIe AER error: QEMU injects an uncorrectable
// non-fatal error into a device bound to the guest's vfio-pci (HMP pcie_aer_inject_error at a
// marker), the guest kernel's AER driver takes it from the root port and runs the recovery, in
// which vfio-pci's error_detected handler signals the ERR eventfd; the framework turns that into
// the error_reported bus event and calls the driver's on_error_reported on the PnP thread.
//
// The device is QEMU's virtio-rng-pci with aer=on behind a pcie-root-port: in QEMU 7.2 it is one
// of the few models with an AER capability whose Device Control error-reporting bits are
// writable (e1000e has AER but a read-only Device Control, so its errors never leave the
// device), and the guest kernel (6.1, AER native through _OSC) enables those bits at
// enumeration. The driver reads the virtio common configuration through its BAR, before and
// after each error, to show that a non-fatal error leaves the device working.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <wdfx/pci_config.hpp>
#include <wdfx/vfio.hpp>
#include <wdfx/wdfx.hpp>

#include "cases.hpp"
#include "common.hpp"

namespace hil {

namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kVirtioVendor = 0x1af4, kVirtioRng = 0x1044;  // modern virtio-rng
// PCI Express capability: Device Control / Device Status; AER: uncorrectable error status.
constexpr std::uint32_t kDevctl = 0x08, kDevsta = 0x0a;
constexpr std::uint16_t kDevctlNfere = 0x0002;  // Non-Fatal Error Reporting Enable
constexpr std::uint32_t kAerUncorStatus = 0x04;
constexpr std::uint16_t kCommandSerr = 0x0100;
// virtio 1.x common configuration (struct virtio_pci_common_cfg).
constexpr std::uint32_t kDeviceFeatureSelect = 0x00, kDeviceFeature = 0x04, kNumQueues = 0x12;
constexpr std::uint32_t kVirtioFVersion1 = 1u << 0;  // feature bit 32: word 1, bit 0

/// What the error callback saw, one record per call.
struct error_call {
    wdfx::level level = wdfx::level::dirql;
    std::string thread;
    bool same_device = false;
    wdfx::device_state state = wdfx::device_state::failed;
    bool config_ok = false;  // the IDs read through the bus from inside the callback
    std::uint32_t uncor_status = 0;
    std::uint64_t t_ns = 0;
};

struct aer_ctx {
    wdfx::register_block common;  // the BAR holding the virtio common configuration
    std::uint32_t common_off = 0;
    std::uint16_t pcie = 0, aer = 0;  // capability offsets
    std::atomic<unsigned> d0_entries{0}, d0_exits{0}, releases{0};
    std::mutex m;
    std::condition_variable cv;
    std::vector<error_call> calls;  // under m
    wdfx::device dev;
};

std::uint32_t cfg_read(wdfx::bus::device& bus, std::uint32_t off, std::size_t n, bool* ok) {
    std::byte b[4] = {};
    auto r = bus.config_read(off, std::span<std::byte>(b, n));
    if (ok != nullptr) *ok = r.ok() && *r == n;
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v |= std::to_integer<std::uint32_t>(b[i]) << (8 * i);
    return v;
}

bool ids_ok(wdfx::bus::device& bus) {
    bool ok = false;
    std::uint32_t id = cfg_read(bus, 0, 4, &ok);
    return ok && id == (static_cast<std::uint32_t>(kVirtioRng) << 16 | kVirtioVendor);
}

/// The device answers through its BAR: the feature-select register reads back what was written
/// and the VERSION_1 feature is offered; virtio-rng has one queue.
void check_bar(aer_ctx& c, const char* when) {
    const wdfx::register_block& r = c.common;
    CHECK(r.valid(), "%s: the common configuration BAR is not mapped", when);
    r.write32(c.common_off + kDeviceFeatureSelect, 1);
    std::uint32_t sel = r.read32(c.common_off + kDeviceFeatureSelect);
    std::uint32_t f1 = r.read32(c.common_off + kDeviceFeature);
    std::uint16_t nq = r.read16(c.common_off + kNumQueues);
    r.write32(c.common_off + kDeviceFeatureSelect, 0);
    CHECK(sel == 1 && (f1 & kVirtioFVersion1) != 0 && nq == 1,
          "%s: the device does not answer through its BAR (feature select %u, features[1] "
          "0x%08x, queues %u)",
          when, sel, f1, nq);
}

class aer_driver {
  public:
    aer_driver(std::shared_ptr<aer_ctx> c, bool register_callback) : c_(std::move(c)) {
        wdfx::driver_config cfg;
        cfg.name = "wdfx-hil-aer";
        auto ctx = c_;
        cfg.on_device_add = [ctx, register_callback](wdfx::driver,
                                                     wdfx::device_init& init) -> wdfx::status {
            init.pnp_power.on_prepare_hardware = [ctx](wdfx::device dev, const wdfx::resource_list&,
                                                       const wdfx::resource_list& tr) {
                // The capabilities: PCI Express, AER, and virtio's common configuration
                // (a vendor-specific capability of cfg_type 1 naming a BAR and an offset).
                auto bus = dev.bus_device();
                std::vector<std::uint8_t> cs(wdfx::pci::cfg::extended_size);
                auto n = bus->config_read(
                    0, std::as_writable_bytes(std::span<std::uint8_t>(cs.data(), cs.size())));
                if (!n) return n.code();
                cs.resize(*n);
                auto w = wdfx::pci::walk_capabilities(cs);
                int bar = -1;
                for (const auto& cap : w.caps) {
                    if (!cap.extended && cap.id == wdfx::pci::cap::pci_express)
                        ctx->pcie = cap.offset;
                    if (cap.extended && cap.id == wdfx::pci::ext_cap::aer) ctx->aer = cap.offset;
                    if (!cap.extended && cap.id == wdfx::pci::cap::vendor_specific &&
                        cap.offset + 12u <= cs.size() && cs[cap.offset + 3] == 1 && bar < 0) {
                        bar = cs[cap.offset + 4];
                        std::memcpy(&ctx->common_off, &cs[cap.offset + 8], 4);
                    }
                }
                if (ctx->pcie == 0 || ctx->aer == 0 || bar < 0) {
                    std::fprintf(stderr, "aer: PCIe %#x, AER %#x, virtio common BAR %d\n",
                                 ctx->pcie, ctx->aer, bar);
                    return wdfx::status::no_such_device;
                }
                for (const auto& r : tr)
                    if (r.type == wdfx::resource_type::memory &&
                        r.bar == static_cast<unsigned>(bar)) {
                        auto m = dev.map_registers(r);
                        if (!m) return m.code();
                        ctx->common = *m;
                    }
                return ctx->common.valid() ? wdfx::status::success
                                           : wdfx::status::insufficient_resources;
            };
            init.pnp_power.on_release_hardware = [ctx](wdfx::device, const wdfx::resource_list&) {
                ctx->common = wdfx::register_block();
                ctx->releases.fetch_add(1);
                return wdfx::status::success;
            };
            init.pnp_power.on_d0_entry = [ctx](wdfx::device, wdfx::device_power_state) {
                ctx->d0_entries.fetch_add(1);
                return wdfx::status::success;
            };
            init.pnp_power.on_d0_exit = [ctx](wdfx::device, wdfx::device_power_state) {
                ctx->d0_exits.fetch_add(1);
                return wdfx::status::success;
            };
            if (register_callback)
                init.on_error_reported = [ctx](wdfx::device dev) {
                    error_call e;
                    e.t_ns = now_ns();
                    e.level = wdfx::current_level();
                    e.thread = wdfx::current_thread_role();
                    e.same_device = dev.handle() == ctx->dev.handle();
                    e.state = dev.state();
                    auto bus = dev.bus_device();
                    e.config_ok = ids_ok(*bus);
                    e.uncor_status = cfg_read(*bus, ctx->aer + kAerUncorStatus, 4, nullptr);
                    std::lock_guard g(ctx->m);
                    ctx->calls.push_back(e);
                    ctx->cv.notify_all();
                };
            auto dev = wdfx::device::create(init);
            if (!dev) return dev.code();
            ctx->dev = *dev;
            return wdfx::status::success;
        };
        auto d = wdfx::driver::create(cfg);
        CHECK(d.ok(), "WdfDriverCreate: %s", d.err().describe().c_str());
        drv_ = *d;
    }
    ~aer_driver() { drv_.unload(); }
    void start(std::shared_ptr<wdfx::bus::device> bus) {
        auto d = drv_.add_and_start(std::move(bus));
        CHECK(d.ok(), "AddDevice + start: %s", d.err().describe().c_str());
    }

  private:
    std::shared_ptr<aer_ctx> c_;
    wdfx::driver drv_;
};

/// The kernel's count of the non-fatal errors it handled for the device (sysfs
/// aer_dev_nonfatal, "TOTAL_ERR_NONFATAL n"); -1 if unreadable.
long nonfatal_count(const std::string& bdf) {
    std::string s = read_file("/sys/bus/pci/devices/" + bdf + "/aer_dev_nonfatal");
    std::size_t at = s.find("TOTAL_ERR_NONFATAL ");
    return at == std::string::npos ? -1 : std::strtol(s.c_str() + at + 19, nullptr, 10);
}

/// Waits until the kernel has handled one more non-fatal error of the device (its AER driver
/// counts it before the recovery) and the recovery is done with it (pcie_do_recovery clears the
/// device's uncorrectable status after the drivers' error_detected handlers, where vfio-pci
/// signals the error IRQ). Neither has an event: a bounded poll of sysfs and config space.
/// Returns the count seen last.
long wait_handled(aer_ctx& c, wdfx::bus::device& bus, const std::string& bdf, long want,
                  std::chrono::milliseconds limit) {
    const std::uint64_t until = now_ns() + static_cast<std::uint64_t>(limit.count()) * 1000000ull;
    for (;;) {
        long n = nonfatal_count(bdf);
        if (n >= want && cfg_read(bus, c.aer + kAerUncorStatus, 4, nullptr) == 0) return n;
        if (now_ns() > until) return n;
        std::this_thread::sleep_for(1ms);
    }
}

}  // namespace

// ---- aer <bdf> [no-callback]
// ------------------------------------------------------------------------------------------------

int aer_nonfatal(const std::string& bdf, bool register_callback) {
    hil_deadline(110, "the AER case");
    auto c = std::make_shared<aer_ctx>();
    auto bus_r = wdfx::vfio::open(bdf);
    CHECK(bus_r.ok(), "vfio open %s: %s", bdf.c_str(), bus_r.err().describe().c_str());
    std::shared_ptr<wdfx::bus::device> bus = *bus_r;
    auto err_irq = bus->irq(wdfx::bus::irq_kind::err);
    say("%s: VFIO error IRQ count %u", bdf.c_str(), err_irq.count);
    CHECK(err_irq.count == 1, "the error IRQ index has %u vectors (a PCIe device has 1)",
          err_irq.count);
    {
        aer_driver drv(c, register_callback);
        drv.start(bus);
        wdfx::device dev = c->dev;
        say("driver started: PCIe capability at %#x, AER at %#x, virtio common config at %#x of "
            "its BAR",
            c->pcie, c->aer, c->common_off);
        // What lets the device send the error up: Device Control's non-fatal reporting enable
        // (set by the kernel at enumeration when it owns AER) and SERR# (set by the firmware).
        std::uint16_t devctl =
            static_cast<std::uint16_t>(cfg_read(*bus, c->pcie + kDevctl, 2, nullptr));
        std::uint16_t command = static_cast<std::uint16_t>(cfg_read(*bus, 4, 2, nullptr));
        say("Device Control %#06x, command %#06x", devctl, command);
        figure("aer", "device_control", devctl);
        CHECK((devctl & kDevctlNfere) != 0,
              "Device Control %#06x: non-fatal error reporting is off, so the device cannot "
              "report the error (the kernel enables it at enumeration when AER is native)",
              devctl);
        CHECK((command & kCommandSerr) != 0, "SERR# is off in the command register %#06x", command);
        check_bar(*c, "before the errors");
        CHECK(cfg_read(*bus, c->aer + kAerUncorStatus, 4, nullptr) == 0,
              "the device already reports an uncorrectable error");

        // Two injections, of two kinds (completion timeout, unsupported request; both
        // non-fatal by default severity): each must reach the driver exactly once.
        const char* markers[] = {"AER-NONFATAL-1", "AER-NONFATAL-2"};
        std::vector<double> to_cb, to_ack;
        for (unsigned k = 0; k < 2; ++k) {
            // What the framework logs while the error is handled; no CHECK until it is stopped
            // (a failure message would land in the capture).
            stderr_capture cap;
            cap.start();
            const long before = nonfatal_count(bdf);
            int ctl = hil_host_open();
            std::uint64_t t0 = hil_mark(markers[k]);  // the host injects the error (HMP)
            int rc = hil_host_await(ctl, markers[k], 60);
            std::uint64_t t_ack = now_ns();
            ::close(ctl);
            // The kernel's recovery first (the callback may be slower), then the callback.
            const long handled = rc == 0 ? wait_handled(*c, *bus, bdf, before + 1, 10s) : before;
            const bool recovered =
                handled == before + 1 && cfg_read(*bus, c->aer + kAerUncorStatus, 4, nullptr) == 0;
            bool got = false;
            std::size_t n = 0;
            error_call e;
            {
                std::unique_lock lk(c->m);
                got = recovered && c->cv.wait_for(lk, 20s, [&] { return c->calls.size() > k; });
                n = c->calls.size();
                if (got) e = c->calls[k];
            }
            std::string log = cap.stop();
            CHECK(rc == 0, "the host did not inject the error at %s", markers[k]);
            CHECK(before >= 0, "no AER statistics in sysfs for %s", bdf.c_str());
            CHECK(handled > before,
                  "the kernel handled no non-fatal AER error of the device within 10 s after %s "
                  "(TOTAL_ERR_NONFATAL stays %ld): the error was not injected or not reported",
                  markers[k], before);
            CHECK(recovered,
                  "after %s the kernel counted %ld non-fatal errors (expected %ld) or did not "
                  "finish the recovery within 10 s (the AER uncorrectable status stays set)",
                  markers[k], handled, before + 1);
            CHECK(got,
                  "on_error_reported was not called within 20 s of the error the kernel "
                  "handled at %s (%zu calls)",
                  markers[k], n);
            CHECK(n == k + 1, "%zu error callbacks after %u errors", n, k + 1);
            const std::string what = "the bus reported an error (AER)";
            std::size_t at = log.find(what);
            CHECK(at != std::string::npos && log.find(what, at + 1) == std::string::npos,
                  "the framework did not log the error report once");
            double ms_cb = static_cast<double>(e.t_ns - t0) / 1e6;
            double ms_ack = static_cast<double>(t_ack - t0) / 1e6;
            say("%s: on_error_reported %.1f ms after the mark (host done after %.1f ms) on %s at "
                "%s; device %s, IDs %s through the bus, AER uncorrectable status %#x",
                markers[k], ms_cb, ms_ack, e.thread.c_str(), wdfx::level_name(e.level),
                wdfx::device_state_name(e.state), e.config_ok ? "read" : "NOT read",
                e.uncor_status);
            CHECK(e.level == wdfx::level::passive, "the error callback ran at %s, not PASSIVE",
                  wdfx::level_name(e.level));
            CHECK(e.thread == "wdfx-pnp", "the error callback ran on %s, not the PnP thread",
                  e.thread.c_str());
            CHECK(e.same_device, "the error callback was given another device");
            CHECK(e.state == wdfx::device_state::started, "the device was %s in the error callback",
                  wdfx::device_state_name(e.state));
            CHECK(e.config_ok, "config space could not be read from the error callback");
            to_cb.push_back(ms_cb);
            to_ack.push_back(ms_ack);
            // Not a removal: the device stays started, nothing was stopped, and it works.
            CHECK(dev.state() == wdfx::device_state::started, "the device is %s after the error",
                  wdfx::device_state_name(dev.state()));
            CHECK(c->d0_exits == 0 && c->releases == 0,
                  "the error stopped the device (D0 exits %u, releases %u)", c->d0_exits.load(),
                  c->releases.load());
            CHECK(ids_ok(*bus), "config space does not read the device's IDs after the error");
            std::uint16_t devsta =
                static_cast<std::uint16_t>(cfg_read(*bus, c->pcie + kDevsta, 2, nullptr));
            CHECK((devsta & 0x000f) == 0, "Device Status %#06x: the error is still flagged",
                  devsta);
            check_bar(*c, markers[k]);
        }
        figure("aer", "errors", 2.0);
        figure("aer", "callbacks", static_cast<double>(c->calls.size()));
        figure("aer", "mark_to_callback_ms_1", to_cb[0]);
        figure("aer", "mark_to_callback_ms_2", to_cb[1]);
        figure("aer", "mark_to_host_ack_ms_1", to_ack[0]);
        figure("aer", "mark_to_host_ack_ms_2", to_ack[1]);
        figure("aer", "callback_thread", c->calls[0].thread);
        figure("aer", "callback_level", wdfx::level_name(c->calls[0].level));
    }  // unload: stop (D0 exit, ReleaseHardware) and delete
    CHECK(c->d0_entries == 1 && c->d0_exits == 1 && c->releases == 1,
          "D0 entries %u, exits %u, releases %u over the run (expected 1 each)",
          c->d0_entries.load(), c->d0_exits.load(), c->releases.load());
    hil_figures_write();
    say("AER NON-FATAL PASS");
    return 0;
}

}  // namespace hil
