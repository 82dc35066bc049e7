// The bus conformance suite (tests/unit/bus_conformance.hpp) on a real device in the guest:
// vfio-pci (edu, nvme) and uio_pci_generic (edu).
//
// UIO offers less than the bus interface can express, as wdfx/uio.hpp documents: no software
// trigger, no request IRQ, no MSI even where the device has the capability, and DMA by physical
// address, so only physically contiguous memory (one page, or a huge page) can be mapped. The
// suite's check_irq_info, check_irq_delivery and check_dma assume an IOMMU bus, and
// check_config_space expects irq(msi) to follow the MSI capability. On UIO the run takes the
// suite's checks one by one, replaces the first three by UIO's documented contract, and turns
// check_config_space's MSI count mismatch into a note; everything else is the suite's.
#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <wdfx/uio.hpp>
#include <wdfx/vfio.hpp>

#include "bus_conformance.hpp"
#include "cases.hpp"
#include "common.hpp"

namespace hil {

namespace conf = wdfx::bus::conformance;
using wdfx::bus::irq_kind;

namespace {

conf::conformance_options nvme_profile() {
    conf::conformance_options o;
    wdfx::bus::pci_id id;
    id.vendor = 0x1b36;
    id.device = 0x0010;
    id.class_code = 0x010802;  // mass storage, NVM, NVMe
    o.expect_id = id;
    // VS (0x08): NVMe 1.x. CC (0x14) reads back what was written while the controller is off.
    o.registers = {
        {"nvme VS major version 1", 0, 0x08, std::nullopt, 0x00010000u, 0xffff0000u},
        {"nvme CC.EN off", 0, 0x14, 0u, 0u, 0x1u},
    };
    o.expect_reset_ok = true;  // QEMU's NVMe has FLR
    return o;
}

/// UIO's interrupt contract, in place of check_irq_info and check_irq_delivery.
void check_uio_irqs(wdfx::bus::device& dev, conf::conformance_report& r) {
    const char* c = "check_uio_irqs";
    auto intx = dev.irq(irq_kind::intx);
    r.expect(intx.count == 1 && intx.eventfd && intx.maskable && intx.automasked, c,
             "INTx: one vector, eventfd, maskable, automasked");
    for (irq_kind k : {irq_kind::msi, irq_kind::msix, irq_kind::err, irq_kind::req})
        r.expect(dev.irq(k).count == 0, c,
                 std::string(wdfx::bus::irq_kind_name(k)) + ": none on uio_pci_generic");
    auto en = dev.enable_irqs(irq_kind::msi, 1);
    r.expect(!en.ok(), c, "enabling MSI is refused");
    if (!en.ok()) r.note(c, "MSI refused: " + en.err().describe());
    auto t = dev.trigger(irq_kind::intx, 0);
    r.expect(!t.ok() && !t.err().message.empty(), c,
             "a software trigger is refused with a message");
    if (!t.ok()) r.note(c, "trigger refused: " + t.err().describe());
    r.expect(!dev.dma().iommu, c, "dma().iommu is false (physical addresses)");
}

/// UIO's DMA contract: one locked page maps at its physical address, and the device DMAs through
/// it (the suite's dma_roundtrip hook); a different bus address is refused.
void check_uio_dma(wdfx::bus::device& dev, const conf::conformance_options& o,
                   conf::conformance_report& r) {
    const char* c = "check_uio_dma";
    const std::size_t page = 4096;
    void* mem = ::mmap(nullptr, page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
    if (mem == MAP_FAILED) {
        r.fail(c, std::string("mmap: ") + std::strerror(errno));
        return;
    }
    auto pa = dev.physical_address(mem);
    r.expect(pa.ok() && *pa != 0, c, "physical_address() of a locked page");
    if (pa.ok()) {
        r.expect(!dev.dma_map(mem, page, *pa + page).ok(), c,
                 "a bus address other than the physical address is refused");
        auto m = dev.dma_map(mem, page, *pa);
        r.expect(m.ok(), c, "dma_map of one page at its physical address");
        if (m.ok() && o.dma_roundtrip) {
            (void)dev.set_bus_master(true);
            std::string why;
            bool ok = o.dma_roundtrip(dev, *pa, std::span(static_cast<std::byte*>(mem), page), why);
            r.expect(ok, c, "the device's DMA round trip by physical address: " + why);
            (void)dev.set_bus_master(false);
        }
        if (m.ok()) (void)dev.dma_unmap(*pa, page);
    }
    ::munmap(mem, page);
}

}  // namespace

int conformance(const std::string& bus, const std::string& bdf, const std::string& profile) {
    hil_deadline(110, "the bus conformance suite");
    auto d = bus == "uio" ? wdfx::uio::open(bdf) : wdfx::vfio::open(bdf);
    CHECK(d.ok(), "%s open %s: %s", bus.c_str(), bdf.c_str(), d.err().describe().c_str());
    wdfx::bus::device& dev = **d;
    conf::conformance_options o = profile == "nvme" ? nvme_profile() : conf::edu_profile();
    if (profile == "edu")
        o.expect_reset_ok = false;              // edu has no FLR/PM reset; on the root bus
                                                // there is no bus reset either
    o.software_intx_trigger_automasks = false;  // vfio-pci: a software INTx trigger never masks
    o.log = [](const std::string& s) { say("  %s", s.c_str()); };
    say("bus conformance: %s %s (%s profile)", bus.c_str(), bdf.c_str(), profile.c_str());
    conf::conformance_report rep;
    if (bus == "uio") {
        conf::check_identity(dev, o, rep);
        conf::check_regions(dev, o, rep);
        conf::check_register_access(dev, o, rep);
        conf::conformance_report cfg;
        conf::check_config_space(dev, o, cfg);
        rep.checks += cfg.checks;
        for (const auto& f : cfg.failures) {
            if (contains(f, "MSI capability") && contains(f, "irq(msi).count 0"))
                rep.note("uio", "the device has MSI, uio_pci_generic cannot use it: " + f);
            else
                rep.failures.push_back(f);
        }
        rep.notes.insert(rep.notes.end(), cfg.notes.begin(), cfg.notes.end());
        check_uio_irqs(dev, rep);
        conf::check_bus_master(dev, o, rep);
        conf::check_device_interrupts(dev, o, rep);
        check_uio_dma(dev, o, rep);
        (void)dev.set_bus_master(false);
        conf::check_reset(dev, o, rep);
        rep.note("uio",
                 "check_irq_info, check_irq_delivery and check_dma replaced by UIO's "
                 "contract (wdfx/uio.hpp)");
    } else {
        rep = conf::run_bus_conformance(dev, o);
    }
    std::fputs(rep.summary().c_str(), stdout);
    std::fflush(stdout);
    figure("conformance", "checks", static_cast<double>(rep.checks));
    figure("conformance", "failed", static_cast<double>(rep.failures.size()));
    figure("conformance", "bus", bus);
    figure("device", "bdf", bdf);
    hil_figures_write();
    CHECK(rep.ok(), "%zu of %u conformance checks failed", rep.failures.size(), rep.checks);
    say("BUS CONFORMANCE PASS (%u checks)", rep.checks);
    return 0;
}

}  // namespace hil
