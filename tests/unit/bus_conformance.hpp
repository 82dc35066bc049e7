// bus_conformance.hpp: a conformance suite for wdfx::bus::device (wdfx/bus.hpp).
//
// Every bus (sim, VFIO, UIO) hands the framework the same narrow interface; this suite checks that
// a bus implements it the way the framework relies on it, using nothing but that interface. The
// unit tests run it on sim devices (tests/unit/bus_conformance_test.cpp); the HIL guest runs the
// same checks on vfio-pci and uio_pci_generic devices.
//
// Self-contained and header-only: it includes <wdfx/bus.hpp>, the header-only capability walker
// <wdfx/pci_config.hpp>, the C++ standard library and a few POSIX headers, and depends on no test
// framework, so a static guest program can do
//
//     #include "bus_conformance.hpp"
//     auto dev = open_the_bus_device(...);                  // a std::shared_ptr<wdfx::bus::device>
//     auto opts = wdfx::bus::conformance::edu_profile();    // or a conformance_options of your own
//     auto rep = wdfx::bus::conformance::run_bus_conformance(*dev, opts);
//     std::fputs(rep.summary().c_str(), stdout);
//     return rep.ok() ? 0 : 1;
//
// Every check records a result in a conformance_report instead of asserting, with the name of the
// check and what was seen; a check function never throws and never aborts.
//
// What the suite needs from the device:
//  - it is idle and owned by the caller: no driver is bound to it through wdfx, nothing else
//    enables its interrupts or DMA while the suite runs;
//  - the suite leaves interrupts disabled, bus mastering off and no DMA mapping behind it, but
//    registers it wrote keep their values, and reset() (the last check) may reset the function.
//
// Waits: a positive check ("a signal arrives on this eventfd") polls the eventfd for at most
// conformance_options::signal_timeout, which only bounds a hang. A negative check ("no other
// eventfd got a signal") reads at once; a signal that arrives late is caught by the next positive
// check, which reads every eventfd again and expects exact counts.
//
// Bus-specific expectations are options, each documented where it is declared:
//  - software_intx_trigger_automasks: the sim bus treats a software INTx trigger like a line
//    assertion (signal, then masked until unmask); vfio-pci's VFIO_IRQ_SET_DATA_NONE trigger only
//    signals the eventfd (vfio_pci_intrs.c, vfio_send_intx_eventfd) and never masks. Set it to
//    false for VFIO; the level-triggered behaviour is then checked through device_interrupt.
//  - expect_msix_noresize: Linux 6.1 reports MSI-X as NORESIZE; kernels with dynamic MSI-X
//    allocation (6.5+, when the device supports it) do not.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <wdfx/bus.hpp>
#include <wdfx/pci_config.hpp>

namespace wdfx::bus::conformance {

/// A register round trip through a mapped BAR: optionally write `write`, then read 32 bits and
/// compare (under `mask`) with `expect`. The read is made twice: through map_region's
/// register_block and through region_read, which must agree.
struct register_check {
    std::string name;
    std::uint32_t bar = 0;
    std::uint64_t offset = 0;
    std::optional<std::uint32_t> write;
    std::uint32_t expect = 0;
    std::uint32_t mask = 0xffffffffu;
};

struct conformance_options {
    // ---- identity and layout ----------------------------------------------------------------
    /// Expected vendor and device ID (also subsystem IDs and class code when non-zero).
    std::optional<pci_id> expect_id;
    /// Expected BAR sizes, index 0..5 (0: no BAR); empty: not checked.
    std::vector<std::uint64_t> expect_bar_sizes;
    /// Register round trips (device-specific, optional).
    std::vector<register_check> registers;

    // ---- interrupts ---------------------------------------------------------------------------
    /// Run the software-trigger delivery checks (enable, attach, trigger every vector, detach,
    /// disable) on INTx, MSI and MSI-X.
    bool check_irqs = true;
    /// true (sim): a software INTx trigger signals once and masks the line until unmask.
    /// false (vfio-pci): a software INTx trigger signals each time and never masks.
    bool software_intx_trigger_automasks = true;
    /// MSI-X reports NORESIZE (Linux 6.1). MSI always does.
    bool expect_msix_noresize = true;
    /// Optional: make the device itself raise (true) or drop (false) its interrupt, e.g. QEMU
    /// edu's IRQ raise/ack registers. It must drive vector 0 of whatever is enabled: an MSI or
    /// MSI-X message (which needs bus mastering), else the INTx line, which stays asserted until
    /// dropped. With it the suite checks real (not software) delivery, bus-master gating of MSI,
    /// and the level-triggered INTx contract: automask on fire, re-fire on unmask while asserted.
    std::function<void(device&, bool asserted)> device_interrupt;
    /// How long a positive check waits for a signal (a hang guard, not a timing assertion).
    std::chrono::milliseconds signal_timeout{10000};

    // ---- DMA ------------------------------------------------------------------------------------
    bool check_dma = true;
    /// Bytes of DMA memory to map (rounded up to pages, at least two pages).
    std::size_t dma_bytes = 2 * 4096;
    /// The IOVA to map at; 0: the lowest page-aligned address >= 1 MiB in dma().iova_ranges that
    /// fits, below 2^address_bits.
    std::uint64_t dma_iova = 0;
    /// Optional: have the device DMA through the mapping (both directions) and say whether the
    /// data made the round trip. `host` is the mapped memory, `iova` its bus address; bus
    /// mastering is on while it runs. On false, `why` says what went wrong.
    std::function<bool(device&, std::uint64_t iova, std::span<std::byte> host, std::string& why)>
        dma_roundtrip;

    // ---- reset ----------------------------------------------------------------------------------
    bool check_reset = true;
    /// nullopt: reset() may succeed or fail (with a message); true/false: it must.
    std::optional<bool> expect_reset_ok;

    /// Progress lines ("check_irq_delivery: msix: 65 vectors"), or empty for silence.
    std::function<void(const std::string&)> log;
};

/// What the suite found. ok() when no check failed.
struct conformance_report {
    unsigned checks = 0;
    std::vector<std::string> failures;  // "check: what was expected: what was seen"
    std::vector<std::string> notes;     // informational (skipped parts, bus specifics)

    bool ok() const noexcept { return failures.empty(); }
    void expect(bool cond, const std::string& check, const std::string& what) {
        ++checks;
        if (!cond) failures.push_back(check + ": " + what);
    }
    void fail(const std::string& check, const std::string& what) { expect(false, check, what); }
    void note(const std::string& check, const std::string& what) {
        notes.push_back(check + ": " + what);
    }
    std::string summary() const {
        std::string s = "bus conformance: " + std::to_string(checks) + " checks, " +
                        std::to_string(failures.size()) + " failed\n";
        for (const auto& f : failures)
            s += "  FAIL " + f + "\n";
        for (const auto& n : notes)
            s += "  note " + n + "\n";
        return s;
    }
    /// True if a failure message contains `text` (tests of the suite itself use it).
    bool failed_with(const std::string& text) const {
        return std::any_of(failures.begin(), failures.end(),
                           [&](const std::string& f) { return f.find(text) != std::string::npos; });
    }
};

// ======== helpers
// ==================================================================================

namespace detail {

inline std::string describe(const error& e) {
    return e.describe();
}
template <class T>
std::string describe(const result<T>& r) {
    return r.ok() ? std::string("ok") : r.err().describe();
}

inline std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

inline void log(const conformance_options& o, const std::string& s) {
    if (o.log) o.log(s);
}

/// A set of non-blocking eventfds, closed on destruction.
class eventfd_set {
  public:
    explicit eventfd_set(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            fds_.push_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    }
    ~eventfd_set() {
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    eventfd_set(const eventfd_set&) = delete;
    eventfd_set& operator=(const eventfd_set&) = delete;

    bool ok() const {
        return std::all_of(fds_.begin(), fds_.end(), [](int fd) { return fd >= 0; });
    }
    std::size_t size() const noexcept { return fds_.size(); }
    int fd(std::size_t i) const noexcept { return fds_[i]; }
    std::span<const int> all() const noexcept { return fds_; }
    /// Read (and reset) a counter without blocking: 0 when nothing was signalled.
    std::uint64_t take(std::size_t i) const {
        std::uint64_t v = 0;
        return ::read(fds_[i], &v, sizeof v) == static_cast<ssize_t>(sizeof v) ? v : 0;
    }
    /// Wait until eventfd i is readable (or the guard expires), then take its counter.
    std::uint64_t wait_take(std::size_t i, std::chrono::milliseconds guard) const {
        pollfd p{fds_[i], POLLIN, 0};
        int r;
        do
            r = ::poll(&p, 1, static_cast<int>(guard.count()));
        while (r < 0 && errno == EINTR);
        return r > 0 ? take(i) : 0;
    }
    /// The indexes (other than `except`) whose counters are non-zero; takes them all.
    std::vector<std::size_t> take_others(std::size_t except) const {
        std::vector<std::size_t> v;
        for (std::size_t i = 0; i < fds_.size(); ++i)
            if (i != except && take(i) != 0) v.push_back(i);
        return v;
    }

  private:
    std::vector<int> fds_;
};

inline std::string list(const std::vector<std::size_t>& v) {
    std::string s;
    for (std::size_t i : v)
        s += (s.empty() ? "" : ",") + std::to_string(i);
    return s.empty() ? "none" : s;
}

inline const char* kind_name(irq_kind k) {
    return irq_kind_name(k);
}

/// Unmask INTx the way the framework's ISR thread does: the unmask eventfd if the bus has one.
inline result<void> unmask_intx(device& dev) {
    int fd = dev.intx_unmask_eventfd();
    if (fd < 0) return dev.unmask_intx();
    std::uint64_t one = 1;
    if (::write(fd, &one, sizeof one) != static_cast<ssize_t>(sizeof one))
        return error::from_errno(errno, "write to the INTx unmask eventfd");
    return {};
}

inline std::optional<std::vector<std::uint8_t>> read_config(device& dev, std::uint32_t size) {
    std::vector<std::uint8_t> cfg(size);
    auto r = dev.config_read(0, std::as_writable_bytes(std::span(cfg)));
    if (!r || *r != size) return std::nullopt;
    return cfg;
}

inline std::uint16_t le16(const std::vector<std::uint8_t>& c, std::size_t off) {
    return static_cast<std::uint16_t>(c[off] | c[off + 1] << 8);
}

inline std::optional<std::uint16_t> config16(device& dev, std::uint32_t off) {
    std::uint8_t b[2] = {};
    auto r = dev.config_read(off, std::as_writable_bytes(std::span(b)));
    if (!r || *r != 2) return std::nullopt;
    return static_cast<std::uint16_t>(b[0] | b[1] << 8);
}

constexpr std::size_t kPage = 4096;

}  // namespace detail

// ======== the checks
// ================================================================================

/// name() and id(): a stable non-empty name, a plausible vendor ID, the expected IDs.
inline void check_identity(device& dev, const conformance_options& o, conformance_report& r) {
    const char* c = "check_identity";
    std::string name = dev.name();
    r.expect(!name.empty(), c, "name() is not empty");
    r.expect(dev.name() == name, c, "name() is stable");
    pci_id id = dev.id();
    r.expect(id.vendor != 0 && id.vendor != 0xffff, c,
             "id().vendor is a real vendor ID, got " + detail::hex(id.vendor));
    if (o.expect_id) {
        const pci_id& e = *o.expect_id;
        r.expect(id.vendor == e.vendor && id.device == e.device, c,
                 "vendor:device " + detail::hex(e.vendor) + ":" + detail::hex(e.device) + ", got " +
                     detail::hex(id.vendor) + ":" + detail::hex(id.device));
        if (e.subsystem_vendor != 0 || e.subsystem_device != 0)
            r.expect(id.subsystem_vendor == e.subsystem_vendor &&
                         id.subsystem_device == e.subsystem_device,
                     c, "subsystem IDs as expected");
        if (e.class_code != 0)
            r.expect(
                id.class_code == e.class_code, c,
                "class code " + detail::hex(e.class_code) + ", got " + detail::hex(id.class_code));
    }
    detail::log(o, std::string(c) + ": " + name);
}

/// region(): the six BARs, the config region (index 7), an error past num_regions(); every
/// memory BAR maps (twice: the same mapping), with the region's size, and unmaps.
inline void check_regions(device& dev, const conformance_options& o, conformance_report& r) {
    const char* c = "check_regions";
    const std::uint32_t n = dev.num_regions();
    r.expect(n >= 8, c, "num_regions() >= 8 (6 BARs, ROM, config), got " + std::to_string(n));
    for (std::uint32_t i = 0; i < 6 && i < n; ++i) {
        auto ri = dev.region(i);
        std::string bar = "BAR " + std::to_string(i);
        if (!ri) {
            r.fail(c, bar + ": region() failed: " + ri.err().describe());
            continue;
        }
        r.expect(ri->index == i, c, bar + ": region().index is " + std::to_string(i));
        if (i < o.expect_bar_sizes.size())
            r.expect(ri->size == o.expect_bar_sizes[i], c,
                     bar + ": size " + std::to_string(o.expect_bar_sizes[i]) + ", got " +
                         std::to_string(ri->size));
        if (ri->size != 0 && !ri->io_port && !ri->mappable && !ri->sparse.empty()) {
            // Sparse (VFIO): mapped anyway, the areas directly and the rest by pread/pwrite.
            auto m = dev.map_region(i);
            r.expect(m.ok() && m->size() == ri->size, c,
                     bar + ": a sparse BAR maps whole (areas mmapped, the rest by pread/pwrite)");
            if (m) dev.unmap_region(i);
            continue;
        }
        if (ri->size == 0 || ri->io_port || !ri->mappable) {
            if (ri->size == 0) {
                auto m = dev.map_region(i);
                r.expect(!m, c, bar + ": mapping an empty BAR is refused");
            }
            continue;
        }
        r.expect(ri->readable && ri->writable, c, bar + ": a memory BAR is readable and writable");
        auto m = dev.map_region(i);
        if (!m) {
            r.fail(c, bar + ": map_region failed: " + m.err().describe());
            continue;
        }
        r.expect(m->valid(), c, bar + ": the mapping is valid");
        r.expect(m->size() == ri->size, c,
                 bar + ": the mapping covers the region (" + std::to_string(ri->size) +
                     " bytes), got " + std::to_string(m->size()));
        auto again = dev.map_region(i);
        r.expect(again.ok() && again->base() == m->base(), c,
                 bar + ": mapping a mapped BAR again returns the same mapping");
        dev.unmap_region(i);
    }
    if (n > 7) {
        auto cfg = dev.region(7);
        if (!cfg) {
            r.fail(c, "config region (7): region() failed: " + cfg.err().describe());
        } else {
            r.expect(cfg->readable && cfg->writable, c, "config region is readable and writable");
            r.expect(cfg->size == 256 || cfg->size == 4096, c,
                     "config region is 256 or 4096 bytes, got " + std::to_string(cfg->size));
        }
    }
    r.expect(!dev.region(n).ok(), c, "region(num_regions()) is an error");
    r.expect(!dev.map_region(6).ok() || (dev.region(6).ok() && dev.region(6)->size != 0), c,
             "mapping an absent ROM is refused");
}

/// The caller's register round trips, through map_region and through region_read.
inline void check_register_access(device& dev, const conformance_options& o,
                                  conformance_report& r) {
    const char* c = "check_register_access";
    for (const auto& rc : o.registers) {
        auto m = dev.map_region(rc.bar);
        if (!m) {
            r.fail(c, rc.name + ": map_region(" + std::to_string(rc.bar) +
                          ") failed: " + m.err().describe());
            continue;
        }
        if (rc.write) m->write32(rc.offset, *rc.write);
        std::uint32_t v = m->read32(rc.offset);
        r.expect((v & rc.mask) == (rc.expect & rc.mask), c,
                 rc.name + ": read " + detail::hex(rc.expect & rc.mask) + ", got " +
                     detail::hex(v & rc.mask));
        std::uint32_t pv = 0;
        auto pr = dev.region_read(rc.bar, rc.offset, std::as_writable_bytes(std::span(&pv, 1)));
        r.expect(pr.ok() && *pr == 4 && (pv & rc.mask) == (rc.expect & rc.mask), c,
                 rc.name + ": region_read agrees with the mapping, got " + detail::hex(pv) +
                     (pr.ok() ? "" : " (" + pr.err().describe() + ")"));
        dev.unmap_region(rc.bar);
    }
}

/// Config space: IDs matching id(), the capability list (MSI, MSI-X, PCIe) against irq() counts
/// and the config region size, the interrupt pin against the INTx count.
inline void check_config_space(device& dev, const conformance_options& o, conformance_report& r) {
    const char* c = "check_config_space";
    auto region = dev.region(7);
    std::uint32_t size = region.ok() ? static_cast<std::uint32_t>(region->size) : 256;
    if (size != 256 && size != 4096) size = 256;
    auto cfg_opt = detail::read_config(dev, size);
    if (!cfg_opt) {
        r.fail(c, "config_read of " + std::to_string(size) + " bytes failed");
        return;
    }
    const auto& cfg = *cfg_opt;
    pci_id id = dev.id();
    r.expect(detail::le16(cfg, 0x00) == id.vendor, c,
             "config vendor ID matches id(): " + detail::hex(detail::le16(cfg, 0)));
    r.expect(detail::le16(cfg, 0x02) == id.device, c,
             "config device ID matches id(): " + detail::hex(detail::le16(cfg, 2)));
    r.expect(cfg[0x08] == id.revision, c, "config revision matches id()");
    std::uint32_t cls = static_cast<std::uint32_t>(cfg[0x0b]) << 16 |
                        static_cast<std::uint32_t>(cfg[0x0a]) << 8 | cfg[0x09];
    r.expect(cls == id.class_code, c,
             "config class code matches id(): " + detail::hex(cls) + " vs " +
                 detail::hex(id.class_code));
    if ((cfg[0x0e] & 0x7f) == 0)  // type 0 header: subsystem IDs at 0x2c
        r.expect(detail::le16(cfg, 0x2c) == id.subsystem_vendor &&
                     detail::le16(cfg, 0x2e) == id.subsystem_device,
                 c, "config subsystem IDs match id()");
    // region_read of the config region is the same config space.
    std::uint32_t first = 0;
    auto rr = dev.region_read(7, 0, std::as_writable_bytes(std::span(&first, 1)));
    r.expect(rr.ok() && *rr == 4 && (first & 0xffff) == id.vendor && (first >> 16) == id.device, c,
             "region_read(7) reads the config space");

    // Capability walk (wdfx/pci_config.hpp, the walker wdfxctl uses too).
    const pci::capability_walk walk = pci::walk_capabilities(cfg);
    if (walk.standard_error != pci::walk_error::none)
        r.fail(c, "capability list is malformed at " + detail::hex(walk.standard_error_at) + ": " +
                      pci::walk_error_name(walk.standard_error));
    if (walk.extended_error != pci::walk_error::none)
        r.fail(c, "extended capability list is malformed at " +
                      detail::hex(walk.extended_error_at) + ": " +
                      pci::walk_error_name(walk.extended_error));
    std::optional<std::size_t> msi, msix, pcie;
    if (const pci::capability* p = walk.find(pci::cap::msi)) msi = p->offset;
    if (const pci::capability* p = walk.find(pci::cap::msix)) msix = p->offset;
    if (const pci::capability* p = walk.find(pci::cap::pci_express)) pcie = p->offset;
    irq_info imsi = dev.irq(irq_kind::msi), imsix = dev.irq(irq_kind::msix);
    irq_info iintx = dev.irq(irq_kind::intx), ierr = dev.irq(irq_kind::err);
    if (msi) {
        auto m = pci::parse_msi(cfg, *msi);
        unsigned capable = m ? m->vectors_capable : 0;
        r.expect(m && imsi.count == capable, c,
                 "MSI capability: Multiple Message Capable " + std::to_string(capable) +
                     " vectors, irq(msi).count " + std::to_string(imsi.count));
    } else {
        r.expect(imsi.count == 0, c, "no MSI capability: irq(msi).count is 0");
    }
    if (msix) {
        auto m = pci::parse_msix(cfg, *msix);
        unsigned table = m ? m->table_size : 0;
        r.expect(m && imsix.count == table, c,
                 "MSI-X capability: table size " + std::to_string(table) + ", irq(msix).count " +
                     std::to_string(imsix.count));
    } else {
        r.expect(imsix.count == 0, c, "no MSI-X capability: irq(msix).count is 0");
    }
    r.expect(pcie.has_value() == (ierr.count == 1), c,
             std::string("PCIe capability ") + (pcie ? "present" : "absent") +
                 ": irq(err).count is " + (pcie ? "1" : "0") + ", got " +
                 std::to_string(ierr.count));
    r.expect(pcie.has_value() == (size == 4096), c,
             "PCIe devices have a 4 KiB config space, others 256 bytes");
    r.expect((cfg[0x3d] != 0) == (iintx.count == 1), c,
             "interrupt pin " + std::to_string(cfg[0x3d]) + ": irq(intx).count " +
                 std::to_string(iintx.count));
    detail::log(o, std::string(c) + ": MSI " + std::to_string(imsi.count) + ", MSI-X " +
                       std::to_string(imsix.count) + ", INTx " + std::to_string(iintx.count) +
                       (pcie ? ", PCIe" : ""));
}

/// irq(): eventfd signalling everywhere; INTx maskable and automasked; MSI (and MSI-X on 6.1)
/// NORESIZE; the request IRQ present.
inline void check_irq_info(device& dev, const conformance_options& o, conformance_report& r) {
    const char* c = "check_irq_info";
    for (irq_kind k :
         {irq_kind::intx, irq_kind::msi, irq_kind::msix, irq_kind::err, irq_kind::req}) {
        irq_info i = dev.irq(k);
        std::string kn = detail::kind_name(k);
        if (i.count == 0) continue;
        r.expect(i.eventfd, c, kn + ": signals through eventfds");
        if (k == irq_kind::intx) {
            r.expect(i.count == 1, c, "INTx has one vector");
            r.expect(i.maskable, c, "INTx is maskable");
            r.expect(i.automasked, c, "INTx is automasked (level-triggered)");
        }
        if (k == irq_kind::msi) r.expect(i.noresize, c, "MSI is NORESIZE");
        if (k == irq_kind::msix && o.expect_msix_noresize)
            r.expect(i.noresize, c, "MSI-X is NORESIZE (Linux 6.1)");
        if (k == irq_kind::msi || k == irq_kind::msix)
            r.expect(!i.automasked, c, kn + " is edge-triggered, not automasked");
    }
    r.expect(dev.irq(irq_kind::req).count == 1, c, "the request IRQ (orderly removal) exists");
}

/// set_bus_master(): the command register's bus master bit follows it.
inline void check_bus_master(device& dev, const conformance_options& o, conformance_report& r) {
    (void)o;
    const char* c = "check_bus_master";
    for (bool on : {true, false}) {
        auto s = dev.set_bus_master(on);
        r.expect(
            s.ok(), c,
            std::string("set_bus_master(") + (on ? "true" : "false") + "): " + detail::describe(s));
        auto cmd = detail::config16(dev, 0x04);
        r.expect(cmd.has_value() && ((*cmd & 0x4) != 0) == on, c,
                 std::string("the command register's bus master bit is ") + (on ? "set" : "clear"));
    }
}

/// Software-trigger delivery on INTx, MSI and MSI-X: enable_irqs, set_irq_eventfds with real
/// eventfds, trigger() of every vector delivers exactly one signal to exactly that eventfd;
/// detaching (fd -1) stops delivery for that vector only; disable_irqs stops it all. Bus
/// mastering is off: a software trigger does not depend on it (VFIO_IRQ_SET_DATA_NONE).
inline void check_irq_delivery(device& dev, const conformance_options& o, conformance_report& r) {
    const char* c = "check_irq_delivery";
    (void)dev.set_bus_master(false);
    const irq_kind kinds[] = {irq_kind::intx, irq_kind::msi, irq_kind::msix};
    for (irq_kind k : kinds) {
        irq_info info = dev.irq(k);
        std::string kn = detail::kind_name(k);
        if (info.count == 0) {
            auto e = dev.enable_irqs(k, 1);
            r.expect(!e.ok(), c, kn + ": enabling an index with no vectors is refused");
            if (e.ok()) (void)dev.disable_irqs(k);
            continue;
        }
        detail::log(o,
                    std::string(c) + ": " + kn + ": " + std::to_string(info.count) + " vector(s)");
        const std::uint32_t n = info.count;
        auto over = dev.enable_irqs(k, n + 1);
        r.expect(!over.ok(), c,
                 kn + ": enabling " + std::to_string(n + 1) + " of " + std::to_string(n) +
                     " vectors is refused");
        if (over.ok()) (void)dev.disable_irqs(k);
        auto en = dev.enable_irqs(k, n);
        if (!en) {
            r.fail(c, kn + ": enable_irqs(" + std::to_string(n) + "): " + en.err().describe());
            continue;
        }
        detail::eventfd_set fds(n);
        if (!fds.ok()) {
            r.fail(c, "eventfd(): " + std::string(std::strerror(errno)));
            (void)dev.disable_irqs(k);
            return;
        }
        // Only one index at a time (VFIO): another kind cannot be enabled and attached now.
        for (irq_kind other : kinds) {
            if (other == k || dev.irq(other).count == 0) continue;
            detail::eventfd_set one(1);
            auto oe = dev.enable_irqs(other, 1);
            bool attached = oe.ok() && dev.set_irq_eventfds(other, 0, one.all()).ok();
            r.expect(
                !attached, c,
                std::string(detail::kind_name(other)) + " cannot be enabled while " + kn + " is");
        }
        auto at = dev.set_irq_eventfds(k, 0, fds.all());
        if (!at) {
            r.fail(c, kn + ": set_irq_eventfds: " + at.err().describe());
            (void)dev.disable_irqs(k);
            continue;
        }
        int stray_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        int stray[1] = {stray_fd};
        r.expect(!dev.set_irq_eventfds(k, n, stray).ok(), c,
                 kn + ": attaching past the enabled block is refused");
        if (stray_fd >= 0) ::close(stray_fd);

        // Each vector: exactly one signal, on its own eventfd only.
        auto deliver = [&](std::uint32_t v, const std::string& when) {
            auto t = dev.trigger(k, v);
            if (!t) {
                r.fail(c, kn + " vector " + std::to_string(v) + when +
                              ": trigger: " + t.err().describe());
                return;
            }
            std::uint64_t got = fds.wait_take(v, o.signal_timeout);
            r.expect(got == 1, c,
                     kn + " vector " + std::to_string(v) + when +
                         ": exactly one signal on its eventfd, got " + std::to_string(got));
            auto others = fds.take_others(v);
            r.expect(others.empty(), c,
                     kn + " vector " + std::to_string(v) + when +
                         ": no signal on other vectors' eventfds, got " + detail::list(others));
            if (k == irq_kind::intx) (void)detail::unmask_intx(dev);  // as the ISR thread does
        };
        auto silent = [&](const std::string& what, bool unmask_after = true) {
            auto others = fds.take_others(n);  // every eventfd
            r.expect(others.empty(), c,
                     kn + ": " + what + ": no eventfd signalled, got " + detail::list(others));
            // A line that fired with no eventfd attached is masked all the same (vfio-pci masks
            // in its hard IRQ handler whatever the trigger): unmask, as the ISR thread would.
            if (k == irq_kind::intx && unmask_after) (void)detail::unmask_intx(dev);
        };
        for (std::uint32_t v = 0; v < n; ++v)
            deliver(v, "");
        if (k == irq_kind::intx) {
            // The line after a software trigger (see software_intx_trigger_automasks).
            auto t1 = dev.trigger(k, 0);
            std::uint64_t first = t1.ok() ? fds.wait_take(0, o.signal_timeout) : 0;
            r.expect(first == 1, c, "INTx: a trigger signals once, got " + std::to_string(first));
            auto t2 = dev.trigger(k, 0);
            r.expect(t2.ok(), c, "INTx: a second trigger before unmask: " + detail::describe(t2));
            if (o.software_intx_trigger_automasks) {
                silent("a second trigger while automasked", false);
                auto u = detail::unmask_intx(dev);
                r.expect(u.ok(), c, "INTx: unmask: " + detail::describe(u));
                silent("unmask of a line that is not asserted");
                deliver(0, " after unmask");
            } else {
                std::uint64_t second = fds.wait_take(0, o.signal_timeout);
                r.expect(second == 1, c,
                         "INTx: a software trigger never masks: the second trigger signals, got " +
                             std::to_string(second));
                (void)detail::unmask_intx(dev);
            }
        }
        // Detach one vector: it goes quiet, the others still deliver, reattach restores it.
        int none[1] = {-1};
        auto d0 = dev.set_irq_eventfds(k, 0, none);
        r.expect(d0.ok(), c, kn + ": detaching vector 0: " + detail::describe(d0));
        (void)dev.trigger(k, 0);  // may fail (nothing attached) or be dropped: never delivered
        silent("vector 0 detached, triggered");
        if (n > 1) deliver(n - 1, " while vector 0 is detached");
        int fd0[1] = {fds.fd(0)};
        auto a0 = dev.set_irq_eventfds(k, 0, fd0);
        r.expect(a0.ok(), c, kn + ": reattaching vector 0: " + detail::describe(a0));
        deliver(0, " after reattach");
        // Detach every vector.
        std::vector<int> all_none(n, -1);
        auto dn = dev.set_irq_eventfds(k, 0, all_none);
        r.expect(dn.ok(), c, kn + ": detaching every vector: " + detail::describe(dn));
        for (std::uint32_t v = 0; v < n; ++v)
            (void)dev.trigger(k, v);
        silent("every vector detached, each triggered");
        // Attached again, then disabled: nothing is delivered any more.
        auto ra = dev.set_irq_eventfds(k, 0, fds.all());
        r.expect(ra.ok(), c, kn + ": reattaching every vector: " + detail::describe(ra));
        deliver(n - 1, " after reattaching all");
        auto dis = dev.disable_irqs(k);
        r.expect(dis.ok(), c, kn + ": disable_irqs: " + detail::describe(dis));
        for (std::uint32_t v = 0; v < n; ++v)
            (void)dev.trigger(k, v);
        silent("disabled, every vector triggered");
    }
}

/// With o.device_interrupt: the device's own interrupt is delivered (not a software trigger);
/// MSI/MSI-X need bus mastering; INTx is level-triggered: it fires once and stays masked until
/// unmasked, fires again on unmask while still asserted, and mask_intx() holds it off.
inline void check_device_interrupts(device& dev, const conformance_options& o,
                                    conformance_report& r) {
    const char* c = "check_device_interrupts";
    if (!o.device_interrupt) {
        r.note(c, "skipped: no device_interrupt hook");
        return;
    }
    for (irq_kind k : {irq_kind::msi, irq_kind::msix}) {
        const std::uint32_t n = dev.irq(k).count;
        if (n == 0) continue;
        std::string kn = detail::kind_name(k);
        detail::eventfd_set fds(n);
        auto en = dev.enable_irqs(k, n);
        auto at = en.ok() ? dev.set_irq_eventfds(k, 0, fds.all()) : en;
        if (!en || !at || !fds.ok()) {
            r.fail(c, kn + ": enable and attach: " + detail::describe(at));
            (void)dev.disable_irqs(k);
            continue;
        }
        (void)dev.set_bus_master(true);
        o.device_interrupt(dev, true);
        std::uint64_t got = fds.wait_take(0, o.signal_timeout);
        r.expect(
            got == 1, c,
            kn + ": the device's interrupt arrives once on vector 0, got " + std::to_string(got));
        auto others = fds.take_others(0);
        r.expect(others.empty(), c, kn + ": and on no other vector, got " + detail::list(others));
        o.device_interrupt(dev, false);
        // Without bus mastering a message (a memory write) cannot be sent.
        (void)dev.set_bus_master(false);
        o.device_interrupt(dev, true);
        auto none = fds.take_others(n);
        r.expect(none.empty(), c,
                 kn + ": no message without bus mastering, got " + detail::list(none));
        o.device_interrupt(dev, false);
        (void)dev.set_bus_master(true);
        o.device_interrupt(dev, true);
        got = fds.wait_take(0, o.signal_timeout);
        r.expect(got == 1, c,
                 kn + ": with bus mastering back, one message again (none was held back), got " +
                     std::to_string(got));
        o.device_interrupt(dev, false);
        (void)dev.set_bus_master(false);
        auto dis = dev.disable_irqs(k);
        r.expect(dis.ok(), c, kn + ": disable_irqs: " + detail::describe(dis));
    }
    if (dev.irq(irq_kind::intx).count == 0) return;
    detail::eventfd_set fds(1);
    auto en = dev.enable_irqs(irq_kind::intx, 1);
    auto at = en.ok() ? dev.set_irq_eventfds(irq_kind::intx, 0, fds.all()) : en;
    if (!en || !at || !fds.ok()) {
        r.fail(c, "INTx: enable and attach: " + detail::describe(at));
        (void)dev.disable_irqs(irq_kind::intx);
        return;
    }
    auto expect_signals = [&](std::uint64_t want, const std::string& when) {
        std::uint64_t got = want != 0 ? fds.wait_take(0, o.signal_timeout) : fds.take(0);
        r.expect(got == want, c,
                 "INTx: " + when + ": " + std::to_string(want) + " signal(s), got " +
                     std::to_string(got));
    };
    o.device_interrupt(dev, true);
    expect_signals(1, "the device asserts the line");
    o.device_interrupt(dev, false);
    o.device_interrupt(dev, true);
    expect_signals(0, "asserted again while automasked");
    (void)detail::unmask_intx(dev);
    expect_signals(1, "unmask while still asserted fires again");
    o.device_interrupt(dev, false);
    (void)detail::unmask_intx(dev);
    expect_signals(0, "unmask after the device dropped the line");
    auto mk = dev.mask_intx();
    r.expect(mk.ok(), c, "INTx: mask_intx: " + detail::describe(mk));
    o.device_interrupt(dev, true);
    expect_signals(0, "asserted while masked by mask_intx");
    (void)detail::unmask_intx(dev);
    expect_signals(1, "unmask of the asserted, masked line");
    o.device_interrupt(dev, false);
    (void)detail::unmask_intx(dev);
    expect_signals(0, "the line dropped and unmasked");
    auto dis = dev.disable_irqs(irq_kind::intx);
    r.expect(dis.ok(), c, "INTx: disable_irqs: " + detail::describe(dis));
}

/// DMA: limits, mapping locked page-aligned memory inside dma().iova_ranges, refusal of double,
/// overlapping and unaligned maps, of unknown and partial unmaps; the caller's device round trip.
inline void check_dma(device& dev, const conformance_options& o, conformance_report& r) {
    const char* c = "check_dma";
    dma_limits lim = dev.dma();
    r.expect(lim.address_bits >= 1 && lim.address_bits <= 64, c,
             "address_bits in 1..64, got " + std::to_string(lim.address_bits));
    r.expect(!lim.iova_ranges.empty(), c, "dma().iova_ranges is not empty");
    for (auto [s, e] : lim.iova_ranges)
        r.expect(s <= e, c, "IOVA range " + detail::hex(s) + "-" + detail::hex(e) + " is ordered");
    const std::size_t size =
        std::max<std::size_t>(2, (o.dma_bytes + detail::kPage - 1) / detail::kPage) * detail::kPage;
    void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) {
        r.fail(c, "mmap of " + std::to_string(size) + " bytes: " + std::strerror(errno));
        return;
    }
    std::unique_ptr<void, std::function<void(void*)>> guard(mem,
                                                            [size](void* p) { ::munmap(p, size); });
    if (::mlock(mem, size) != 0)
        r.note(c, std::string("mlock failed (") + std::strerror(errno) +
                      "): mapping unlocked memory; raise RLIMIT_MEMLOCK for a faithful run");
    auto* bytes = static_cast<std::byte*>(mem);

    if (!lim.iommu) {
        // No IOMMU (UIO): bus addresses are physical addresses.
        auto pa = dev.physical_address(mem);
        r.expect(pa.ok(), c, "no IOMMU: physical_address(): " + detail::describe(pa));
        if (pa.ok()) {
            auto m = dev.dma_map(mem, size, *pa);
            r.expect(m.ok(), c,
                     "no IOMMU: dma_map at the physical address: " + detail::describe(m));
            if (m.ok()) (void)dev.dma_unmap(*pa, size);
        }
        r.note(c, "no IOMMU: IOVA checks skipped");
        return;
    }
    // Choose an IOVA: the lowest page-aligned address >= 1 MiB that fits a range and the width.
    std::uint64_t iova = o.dma_iova;
    const std::uint64_t window = size * 64;  // room for the "unknown IOVA" probe past the mapping
    const std::uint64_t limit = lim.address_bits >= 64 ? ~0ull : (1ull << lim.address_bits) - 1;
    if (iova == 0) {
        for (auto [s, e] : lim.iova_ranges) {
            std::uint64_t start = std::max<std::uint64_t>(s, 1ull << 20);
            start = (start + detail::kPage - 1) & ~static_cast<std::uint64_t>(detail::kPage - 1);
            std::uint64_t end = std::min(e, limit);
            if (start < end && end - start + 1 >= window) {
                iova = start;
                break;
            }
        }
    }
    if (iova == 0) {
        r.fail(c, "no IOVA range holds " + std::to_string(window) + " bytes below 2^" +
                      std::to_string(lim.address_bits));
        return;
    }
    auto m = dev.dma_map(mem, size, iova);
    if (!m) {
        r.fail(c, "dma_map of " + std::to_string(size) + " bytes at " + detail::hex(iova) + ": " +
                      m.err().describe());
        return;
    }
    r.expect(true, c, "dma_map");
    auto twice = dev.dma_map(mem, size, iova);
    r.expect(!twice.ok(), c, "mapping the same IOVA range twice is refused");
    if (twice.ok()) (void)dev.dma_unmap(iova, size);
    auto overlap = dev.dma_map(bytes + detail::kPage, detail::kPage, iova + detail::kPage);
    r.expect(!overlap.ok(), c, "a map overlapping an existing mapping is refused");
    if (overlap.ok()) (void)dev.dma_unmap(iova + detail::kPage, detail::kPage);
    auto unaligned = dev.dma_map(mem, detail::kPage, iova + size + 0x10);
    r.expect(!unaligned.ok(), c, "a map at an unaligned IOVA is refused");
    if (unaligned.ok()) (void)dev.dma_unmap(iova + size + 0x10, detail::kPage);

    if (o.dma_roundtrip) {
        (void)dev.set_bus_master(true);
        std::string why;
        bool ok = o.dma_roundtrip(dev, iova, std::span(bytes, size), why);
        r.expect(ok, c, "the device's DMA round trip through the mapping: " + why);
        (void)dev.set_bus_master(false);
    } else {
        r.note(c, "no dma_roundtrip hook: device DMA not exercised");
    }

    const std::uint64_t unknown = iova + window - detail::kPage;
    auto u1 = dev.dma_unmap(unknown, detail::kPage);
    r.expect(!u1.ok(), c, "unmapping an IOVA that was never mapped is refused");
    auto part = dev.dma_unmap(iova, detail::kPage);
    r.expect(!part.ok(), c, "unmapping part of a mapping is refused");
    if (part.ok()) {
        (void)dev.dma_unmap(iova + detail::kPage, size - detail::kPage);
    } else {
        auto u = dev.dma_unmap(iova, size);
        r.expect(u.ok(), c, "dma_unmap of the mapping: " + detail::describe(u));
    }
    auto again = dev.dma_unmap(iova, size);
    r.expect(!again.ok(), c, "unmapping it a second time is refused");
    // The range is free again.
    auto remap = dev.dma_map(mem, size, iova);
    r.expect(remap.ok(), c, "the unmapped range can be mapped again: " + detail::describe(remap));
    if (remap.ok()) (void)dev.dma_unmap(iova, size);
}

/// reset(): succeeds, or fails with a message that says why; the device still answers after.
inline void check_reset(device& dev, const conformance_options& o, conformance_report& r) {
    const char* c = "check_reset";
    auto rs = dev.reset();
    if (rs.ok()) {
        r.note(c, "reset() succeeded");
    } else {
        r.expect(!rs.err().message.empty() && rs.err().code, c,
                 "a failed reset() says why (an error code and a message)");
        r.note(c, "reset() failed: " + rs.err().describe());
    }
    if (o.expect_reset_ok)
        r.expect(rs.ok() == *o.expect_reset_ok, c,
                 std::string("reset() is expected to ") +
                     (*o.expect_reset_ok ? "succeed" : "fail") + ": " + detail::describe(rs));
    auto vendor = detail::config16(dev, 0x00);
    r.expect(vendor.has_value() && *vendor == dev.id().vendor, c,
             "config space still answers after reset()");
    auto bm = detail::config16(dev, 0x04);
    r.expect(bm.has_value() && (*bm & 0x4) == 0, c, "bus mastering is off after reset()");
}

/// Every check, in an order that leaves the device idle: identity, regions, registers, config,
/// irq info, bus master, software-trigger delivery, device interrupts, DMA, reset (last).
inline conformance_report run_bus_conformance(device& dev, const conformance_options& o) {
    conformance_report r;
    check_identity(dev, o, r);
    check_regions(dev, o, r);
    check_register_access(dev, o, r);
    check_config_space(dev, o, r);
    check_irq_info(dev, o, r);
    check_bus_master(dev, o, r);
    if (o.check_irqs) {
        check_irq_delivery(dev, o, r);
        check_device_interrupts(dev, o, r);
    }
    if (o.check_dma) check_dma(dev, o, r);
    (void)dev.set_bus_master(false);
    if (o.check_reset) check_reset(dev, o, r);
    return r;
}

// ======== a profile for QEMU's edu device (docs/specs/edu.rst) ==================================

namespace edu_regs {
inline constexpr std::uint32_t id = 0x00, liveness = 0x04, irq_raise = 0x60, irq_ack = 0x64;
inline constexpr std::uint32_t dma_src = 0x80, dma_dst = 0x88, dma_count = 0x90, dma_cmd = 0x98;
inline constexpr std::uint32_t dma_buffer = 0x40000, dma_buffer_size = 4096;
inline constexpr std::uint32_t cmd_start = 0x1, cmd_to_ram = 0x2;
}  // namespace edu_regs

/// Run one edu DMA and wait (polling the command register, bounded by `guard`) until the device
/// clears its start bit.
inline bool edu_dma(const register_block& regs, std::uint64_t src, std::uint64_t dst,
                    std::uint64_t count, std::uint32_t cmd, std::chrono::milliseconds guard) {
    regs.write64(edu_regs::dma_src, src);
    regs.write64(edu_regs::dma_dst, dst);
    regs.write64(edu_regs::dma_count, count);
    regs.write_barrier();
    regs.write64(edu_regs::dma_cmd, cmd | edu_regs::cmd_start);
    auto deadline = std::chrono::steady_clock::now() + guard;
    while (regs.read32(edu_regs::dma_cmd) & edu_regs::cmd_start) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

/// QEMU edu: its IDs and BAR, the identification and liveness registers, its interrupt (raise and
/// acknowledge registers) and a DMA round trip through its 4 KiB buffer. QEMU's edu limits DMA
/// to 28 address bits unless started with dma_mask=: the default IOVA (1 MiB) is inside.
inline conformance_options edu_profile() {
    conformance_options o;
    pci_id id;
    id.vendor = 0x1234;
    id.device = 0x11e8;
    o.expect_id = id;
    o.expect_bar_sizes = {1u << 20, 0, 0, 0, 0, 0};
    o.registers = {
        {"edu identification", 0, edu_regs::id, std::nullopt, 0x010000edu, 0xffffffffu},
        {"edu liveness inverts", 0, edu_regs::liveness, 0x12345678u, ~0x12345678u, 0xffffffffu},
        {"edu liveness inverts 0", 0, edu_regs::liveness, 0u, 0xffffffffu, 0xffffffffu},
    };
    o.device_interrupt = [](device& dev, bool asserted) {
        auto regs = dev.map_region(0);
        if (!regs) return;
        regs->write32(asserted ? edu_regs::irq_raise : edu_regs::irq_ack, 0x1);
    };
    o.dma_roundtrip = [](device& dev, std::uint64_t iova, std::span<std::byte> host,
                         std::string& why) {
        auto regs = dev.map_region(0);
        if (!regs) {
            why = "map_region(0): " + regs.err().describe();
            return false;
        }
        // At most half the buffer: QEMU 7.2's edu aborts ("hardware error: EDU: DMA range ...
        // out of bounds") on a transfer that ends at its buffer's last byte (an off-by-one).
        const std::size_t n = std::min<std::size_t>(host.size(), edu_regs::dma_buffer_size / 2);
        for (std::size_t i = 0; i < n; ++i)
            host[i] = static_cast<std::byte>((i * 7 + 3) & 0xff);
        const auto guard = std::chrono::seconds(10);
        if (!edu_dma(*regs, iova, edu_regs::dma_buffer, n, 0, guard)) {
            why = "RAM -> edu DMA did not complete";
            return false;
        }
        std::memset(host.data(), 0, n);
        if (!edu_dma(*regs, edu_regs::dma_buffer, iova, n, edu_regs::cmd_to_ram, guard)) {
            why = "edu -> RAM DMA did not complete";
            return false;
        }
        for (std::size_t i = 0; i < n; ++i)
            if (host[i] != static_cast<std::byte>((i * 7 + 3) & 0xff)) {
                why = "byte " + std::to_string(i) + " did not make the round trip";
                return false;
            }
        why = std::to_string(n) + " bytes both ways";
        return true;
    };
    o.expect_reset_ok = std::nullopt;  // QEMU's edu has no FLR; VFIO may still reset the slot
    return o;
}

}  // namespace wdfx::bus::conformance
