// The bus conformance suite (bus_conformance.hpp) on sim devices, the suite's own negative
// controls (a misbehaving bus must fail it), and the sim bus's own features: fault injection,
// removal events, the IOMMU, and the QEMU edu model's registers (design.md, wdfx/sim.hpp).
#include "bus_conformance.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace wdfx;
namespace conf = wdfx::bus::conformance;
using bus::irq_kind;

namespace {

constexpr auto kGuard = std::chrono::seconds(30);

/// A generic sim device: 65 MSI-X vectors, 8 MSI vectors, INTx, PCIe (4 KiB config space and an
/// error IRQ), three BARs and a reset method.
sim::device_spec generic_spec() {
    sim::device_spec s;
    s.name = "conf0";
    s.id.vendor = 0x1af4;
    s.id.device = 0x1234;
    s.id.subsystem_vendor = 0x1af4;
    s.id.subsystem_device = 0x0001;
    s.id.class_code = 0x010802;  // NVMe-like
    s.id.revision = 0x02;
    s.bar_sizes = {16384, 0, 4096, 0, 65536};
    s.msix_vectors = 65;
    s.msi_vectors = 8;
    s.intx = true;
    s.pcie = true;
    s.reset_method = true;
    return s;
}

/// Options for the generic device: the sim's own hardware-side hooks stand in for a device model.
conf::conformance_options generic_options(const sim::device_spec& s) {
    conf::conformance_options o;
    o.expect_id = s.id;
    o.expect_bar_sizes = s.bar_sizes;
    o.expect_bar_sizes.resize(6, 0);
    // No model behind the BARs: they read as zero and ignore writes.
    o.registers = {{"no model reads zero", 0, 0x0, std::nullopt, 0, 0xffffffffu},
                   {"writes are ignored", 2, 0x10, 0xa5a5a5a5u, 0, 0xffffffffu}};
    o.device_interrupt = [](bus::device& d, bool asserted) {
        auto& sd = static_cast<sim::device&>(d);
        if (asserted)
            sd.assert_interrupt();
        else
            sd.deassert_interrupt();
    };
    o.dma_roundtrip = [](bus::device& d, std::uint64_t iova, std::span<std::byte> host,
                         std::string& why) {
        auto& sd = static_cast<sim::device&>(d);
        const char msg[] = "sim DMA through the IOMMU";
        if (!sd.dma_write(iova + 100, msg, sizeof msg)) {
            why = "dma_write failed";
            return false;
        }
        if (std::memcmp(host.data() + 100, msg, sizeof msg) != 0) {
            why = "dma_write did not land in host memory";
            return false;
        }
        host[5000] = std::byte{0x5a};
        std::uint8_t back = 0;
        if (!sd.dma_read(iova + 5000, &back, 1) || back != 0x5a) {
            why = "dma_read did not see host memory";
            return false;
        }
        return true;
    };
    o.expect_reset_ok = true;
    // The sim signals synchronously inside trigger(): a short hang guard keeps a failing run
    // (a signal that never comes, once per vector) short.
    o.signal_timeout = std::chrono::milliseconds(2000);
    return o;
}

/// A bus::device that forwards to another and misbehaves on request: the suite must notice.
class faulty_bus final : public bus::device {
  public:
    enum class fault { none, cross_wired_vectors, accepts_unknown_unmap, wrong_id, sticky_irqs };
    faulty_bus(std::shared_ptr<bus::device> inner, fault f) : in_(std::move(inner)), f_(f) {}

    std::string name() const override { return in_->name(); }
    bus::pci_id id() const override {
        bus::pci_id i = in_->id();
        if (f_ == fault::wrong_id) i.device ^= 0x1;
        return i;
    }
    std::uint32_t num_regions() const override { return in_->num_regions(); }
    result<bus::region_info> region(std::uint32_t i) const override { return in_->region(i); }
    result<register_block> map_region(std::uint32_t i) override { return in_->map_region(i); }
    void unmap_region(std::uint32_t i) override { in_->unmap_region(i); }
    result<std::size_t> region_read(std::uint32_t i, std::uint64_t off,
                                    std::span<std::byte> out) override {
        return in_->region_read(i, off, out);
    }
    result<std::size_t> region_write(std::uint32_t i, std::uint64_t off,
                                     std::span<const std::byte> in) override {
        return in_->region_write(i, off, in);
    }
    result<std::size_t> config_read(std::uint32_t off, std::span<std::byte> out) override {
        return in_->config_read(off, out);
    }
    result<std::size_t> config_write(std::uint32_t off, std::span<const std::byte> in) override {
        return in_->config_write(off, in);
    }
    bus::irq_info irq(irq_kind k) const override { return in_->irq(k); }
    result<void> enable_irqs(irq_kind k, std::uint32_t n) override {
        return in_->enable_irqs(k, n);
    }
    result<void> set_irq_eventfds(irq_kind k, std::uint32_t start,
                                  std::span<const int> fds) override {
        return in_->set_irq_eventfds(k, start, fds);
    }
    result<void> disable_irqs(irq_kind k) override {
        if (f_ == fault::sticky_irqs) return {};  // claims success, keeps delivering
        return in_->disable_irqs(k);
    }
    result<void> unmask_intx() noexcept override { return in_->unmask_intx(); }
    result<void> mask_intx() override { return in_->mask_intx(); }
    result<void> trigger(irq_kind k, std::uint32_t v) override {
        std::uint32_t n = in_->irq(k).count;
        if (f_ == fault::cross_wired_vectors && n > 1) v = (v + 1) % n;
        return in_->trigger(k, v);
    }
    bus::dma_limits dma() const override { return in_->dma(); }
    result<void> dma_map(void* va, std::size_t size, std::uint64_t iova) override {
        return in_->dma_map(va, size, iova);
    }
    result<void> dma_unmap(std::uint64_t iova, std::size_t size) override {
        auto r = in_->dma_unmap(iova, size);
        if (!r && f_ == fault::accepts_unknown_unmap) return {};
        return r;
    }
    result<void> set_bus_master(bool on) override { return in_->set_bus_master(on); }
    result<void> reset() override { return in_->reset(); }
    void set_event_handler(std::function<void(bus::event_kind)> h) override {
        in_->set_event_handler(std::move(h));
    }

  private:
    std::shared_ptr<bus::device> in_;
    fault f_;
};

/// Collects the events a bus raises.
struct event_log {
    std::mutex m;
    std::vector<bus::event_kind> events;
    wdfx_test::counter n;
    std::function<void(bus::event_kind)> handler() {
        return [this](bus::event_kind k) {
            {
                std::lock_guard g(m);
                events.push_back(k);
            }
            n.add();
        };
    }
    std::vector<bus::event_kind> get() {
        std::lock_guard g(m);
        return events;
    }
};

/// One eventfd attached to vector 0 of `kind` (enabled with `count` vectors).
class attached_vector {
  public:
    attached_vector(bus::device& d, irq_kind kind, std::uint32_t count = 1) : d_(d), kind_(kind) {
        fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        REQUIRE(fd_ >= 0);
        REQUIRE(d_.enable_irqs(kind, count).ok());
        int fds[1] = {fd_};
        REQUIRE(d_.set_irq_eventfds(kind, 0, fds).ok());
    }
    ~attached_vector() {
        (void)d_.disable_irqs(kind_);
        ::close(fd_);
    }
    attached_vector(const attached_vector&) = delete;
    attached_vector& operator=(const attached_vector&) = delete;
    /// Wait for a signal (hang guard only) and return the count.
    std::uint64_t wait() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(kGuard.count() * 1000)) <= 0) return 0;
        return take();
    }
    std::uint64_t take() {
        std::uint64_t v = 0;
        return ::read(fd_, &v, sizeof v) == static_cast<ssize_t>(sizeof v) ? v : 0;
    }

  private:
    bus::device& d_;
    irq_kind kind_;
    int fd_ = -1;
};

/// Page-aligned, locked-if-possible host memory for DMA.
class dma_buffer {
  public:
    explicit dma_buffer(std::size_t size) : size_(size) {
        p_ = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(p_ != MAP_FAILED);
        (void)::mlock(p_, size);
    }
    ~dma_buffer() { ::munmap(p_, size_); }
    dma_buffer(const dma_buffer&) = delete;
    dma_buffer& operator=(const dma_buffer&) = delete;
    std::uint8_t* data() const { return static_cast<std::uint8_t*>(p_); }
    std::size_t size() const { return size_; }

  private:
    void* p_;
    std::size_t size_;
};

bool is_errno(const error& e, int err) {
    return e.code == std::error_code(err, std::system_category());
}

}  // namespace

// ======== the suite on sim devices
// =================================================================

TEST_CASE("bus conformance: the sim edu device passes the suite with the edu profile") {
    auto dev = sim::make_edu();
    conf::conformance_options o = conf::edu_profile();
    o.expect_reset_ok = false;  // the sim's edu, like QEMU's, has no reset method
    o.signal_timeout = std::chrono::milliseconds(2000);
    std::vector<std::string> progress;
    o.log = [&](const std::string& s) { progress.push_back(s); };
    conf::conformance_report r = conf::run_bus_conformance(*dev, o);
    INFO(r.summary());
    CHECK(r.ok());
    CHECK(r.checks > 60);
    CHECK_FALSE(progress.empty());
    // It left the device idle.
    CHECK(dev->dma_mappings() == 0);
    CHECK(dev->enabled_count() == 0);
    CHECK_FALSE(dev->bus_master());
}

TEST_CASE(
    "bus conformance: a generic sim device with 65 MSI-X vectors, MSI, INTx and PCIe "
    "passes the suite") {
    sim::device_spec s = generic_spec();
    auto dev = sim::device::create(s);
    conf::conformance_options o = generic_options(s);
    conf::conformance_report r = conf::run_bus_conformance(*dev, o);
    INFO(r.summary());
    CHECK(r.ok());
    CHECK(r.checks > 65 * 2);  // at least two checks per MSI-X vector
    CHECK(dev->dma_mappings() == 0);
    CHECK(dev->enabled_count() == 0);
}

TEST_CASE("bus conformance: single checks run alone and a device without INTx or MSI passes") {
    sim::device_spec s = generic_spec();
    s.intx = false;
    s.msi_vectors = 0;
    s.msix_vectors = 3;
    s.pcie = false;
    auto dev = sim::device::create(s);
    conf::conformance_options o = generic_options(s);
    conf::conformance_report r;
    conf::check_config_space(*dev, o, r);
    conf::check_irq_info(*dev, o, r);
    conf::check_irq_delivery(*dev, o, r);
    conf::check_device_interrupts(*dev, o, r);
    conf::check_dma(*dev, o, r);
    INFO(r.summary());
    CHECK(r.ok());
    CHECK(r.checks > 10);
}

TEST_CASE("bus conformance: the suite fails a bus that misbehaves (negative controls)") {
    sim::device_spec s = generic_spec();
    s.msix_vectors = 4;
    conf::conformance_options o = generic_options(s);
    auto run = [&](faulty_bus::fault f) {
        auto fb = std::make_shared<faulty_bus>(sim::device::create(s), f);
        // The hooks cast to sim::device: not through the decorator.
        conf::conformance_options oo = o;
        oo.signal_timeout = std::chrono::milliseconds(100);  // signals that never come: fail fast
        oo.device_interrupt = {};
        oo.dma_roundtrip = {};
        return conf::run_bus_conformance(*fb, oo);
    };
    conf::conformance_report good = run(faulty_bus::fault::none);
    INFO(good.summary());
    CHECK(good.ok());
    conf::conformance_report crossed = run(faulty_bus::fault::cross_wired_vectors);
    CHECK_FALSE(crossed.ok());
    CHECK(crossed.failed_with("exactly one signal on its eventfd"));
    CHECK(crossed.failed_with("no signal on other vectors' eventfds"));
    conf::conformance_report unmap = run(faulty_bus::fault::accepts_unknown_unmap);
    CHECK_FALSE(unmap.ok());
    CHECK(unmap.failed_with("never mapped is refused"));
    CHECK(unmap.failed_with("a second time is refused"));
    conf::conformance_report id = run(faulty_bus::fault::wrong_id);
    CHECK_FALSE(id.ok());
    CHECK(id.failed_with("config device ID matches id()"));
    conf::conformance_report sticky = run(faulty_bus::fault::sticky_irqs);
    CHECK_FALSE(sticky.ok());
    CHECK(sticky.failed_with("disabled, every vector triggered"));
}

// ======== sim-specific: fault injection and events
// =================================================

TEST_CASE("sim bus: all-ones reads while injected, normal reads after") {
    auto dev = sim::make_edu();
    auto regs = dev->map_region(0);
    REQUIRE(regs.ok());
    CHECK(regs->read32(sim::edu::reg_id) == 0x010000edu);
    dev->inject_all_ones(true);
    CHECK(regs->read32(sim::edu::reg_id) == 0xffffffffu);
    CHECK(regs->read16(sim::edu::reg_id) == 0xffffu);
    CHECK(regs->read8(sim::edu::reg_id) == 0xffu);
    CHECK(regs->read64(sim::edu::reg_dma_src) == ~0ull);
    // Through the address-based accessors too (READ_REGISTER_ULONG(addr)).
    auto* base = static_cast<volatile std::uint8_t*>(regs->base());
    CHECK(read_register_32(base + sim::edu::reg_id) == 0xffffffffu);
    dev->inject_all_ones(false);
    CHECK(regs->read32(sim::edu::reg_id) == 0x010000edu);
    CHECK(read_register_32(base + sim::edu::reg_id) == 0x010000edu);
}

TEST_CASE(
    "sim bus: fail_next makes the next calls of an operation fail with that errno and a "
    "message") {
    sim::device_spec s = generic_spec();
    auto dev = sim::device::create(s);
    dma_buffer mem(8192);
    int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    REQUIRE(fd >= 0);
    int fds[1] = {fd};
    std::array<std::byte, 4> cfg{};
    struct op_case {
        sim::operation op;
        const char* what;
        std::function<error()> call;  // the failing call: its error, or a success marker
        std::function<void()> undo;   // undo a success (keep the device in its initial state)
    };
    auto err_of = [](auto r) { return r.ok() ? error{} : r.err(); };
    std::vector<op_case> cases = {
        {sim::operation::map_region, "mmap of BAR", [&] { return err_of(dev->map_region(0)); },
         [&] { dev->unmap_region(0); }},
        {sim::operation::config_read, "config read",
         [&] { return err_of(dev->config_read(0, cfg)); }, [] {}},
        {sim::operation::config_write, "config write",
         [&] { return err_of(dev->config_write(0x3c, std::span(cfg).first(1))); }, [] {}},
        {sim::operation::enable_irqs, "enable IRQs",
         [&] { return err_of(dev->enable_irqs(irq_kind::msix, 2)); },
         [&] { (void)dev->disable_irqs(irq_kind::msix); }},
        {sim::operation::set_bus_master, "bus master",
         [&] { return err_of(dev->set_bus_master(true)); },
         [&] { (void)dev->set_bus_master(false); }},
        {sim::operation::dma_map, "DMA map",
         [&] { return err_of(dev->dma_map(mem.data(), 4096, 0x100000)); },
         [&] { (void)dev->dma_unmap(0x100000, 4096); }},
        {sim::operation::reset, "reset", [&] { return err_of(dev->reset()); }, [] {}},
    };
    for (int err : {ENODEV, EIO}) {
        for (auto& c : cases) {
            CAPTURE(c.what);
            CAPTURE(err);
            dev->fail_next(c.op, err, 2);
            for (int i = 0; i < 2; ++i) {
                error e = c.call();
                CHECK(is_errno(e, err));
                CHECK(e.message.find(c.what) != std::string::npos);
                CHECK(e.message.find("sim:conf0") != std::string::npos);
                CHECK(e.describe().find(std::strerror(err)) != std::string::npos);
                CHECK(to_status(e.code) == status_from_errno(err));
            }
            error ok = c.call();  // the injection is used up
            CHECK_FALSE(ok.code);
            c.undo();
        }
    }
    // Operations that need an enabled block: set_irq_eventfds, disable_irqs; then dma_unmap.
    REQUIRE(dev->enable_irqs(irq_kind::msix, 1).ok());
    dev->fail_next(sim::operation::set_irq_eventfds, EIO);
    auto se = dev->set_irq_eventfds(irq_kind::msix, 0, fds);
    REQUIRE_FALSE(se.ok());
    CHECK(is_errno(se.err(), EIO));
    CHECK(dev->set_irq_eventfds(irq_kind::msix, 0, fds).ok());
    dev->fail_next(sim::operation::disable_irqs, ENODEV);
    auto de = dev->disable_irqs(irq_kind::msix);
    REQUIRE_FALSE(de.ok());
    CHECK(is_errno(de.err(), ENODEV));
    CHECK(dev->enabled_count() == 1);  // the failed disable changed nothing
    CHECK(dev->disable_irqs(irq_kind::msix).ok());
    CHECK(dev->enabled_count() == 0);
    REQUIRE(dev->dma_map(mem.data(), 4096, 0x200000).ok());
    dev->fail_next(sim::operation::dma_unmap, EIO);
    auto ue = dev->dma_unmap(0x200000, 4096);
    REQUIRE_FALSE(ue.ok());
    CHECK(is_errno(ue.err(), EIO));
    CHECK(dev->dma_mappings() == 1);
    CHECK(dev->dma_unmap(0x200000, 4096).ok());
    ::close(fd);
}

TEST_CASE(
    "sim bus: surprise_remove raises device_gone, then every operation fails with ENODEV "
    "and reads return all ones") {
    auto dev = sim::make_edu();
    event_log ev;
    dev->set_event_handler(ev.handler());
    auto regs = dev->map_region(0);
    REQUIRE(regs.ok());
    attached_vector v(*dev, irq_kind::msi);
    REQUIRE(dev->set_bus_master(true).ok());
    dev->surprise_remove();
    REQUIRE(ev.n.wait_for_at_least(1, kGuard));
    CHECK(ev.get() == std::vector<bus::event_kind>{bus::event_kind::device_gone});
    CHECK(regs->read32(sim::edu::reg_id) == 0xffffffffu);
    regs->write32(sim::edu::reg_liveness, 1);  // goes nowhere
    CHECK(regs->read32(sim::edu::reg_liveness) == 0xffffffffu);
    std::array<std::byte, 2> b{};
    auto check_gone = [&](const error& e, const char* what) {
        CAPTURE(what);
        CHECK(is_errno(e, ENODEV));
        CHECK(e.message.find("gone") != std::string::npos);
        CHECK(to_status(e.code) == status::no_such_device);
    };
    auto cr = dev->config_read(0, b);
    REQUIRE_FALSE(cr.ok());
    check_gone(cr.err(), "config_read");
    auto cw = dev->config_write(4, b);
    REQUIRE_FALSE(cw.ok());
    check_gone(cw.err(), "config_write");
    auto mr = dev->map_region(0);
    REQUIRE_FALSE(mr.ok());
    check_gone(mr.err(), "map_region");
    auto en = dev->enable_irqs(irq_kind::msi, 1);
    REQUIRE_FALSE(en.ok());
    check_gone(en.err(), "enable_irqs");
    auto tr = dev->trigger(irq_kind::msi, 0);
    REQUIRE_FALSE(tr.ok());
    check_gone(tr.err(), "trigger");
    auto bm = dev->set_bus_master(false);
    REQUIRE_FALSE(bm.ok());
    check_gone(bm.err(), "set_bus_master");
    auto rs = dev->reset();
    REQUIRE_FALSE(rs.ok());
    check_gone(rs.err(), "reset");
    dma_buffer mem(4096);
    auto dm = dev->dma_map(mem.data(), 4096, 0x100000);
    REQUIRE_FALSE(dm.ok());
    check_gone(dm.err(), "dma_map");
    auto um = dev->unmask_intx();
    REQUIRE_FALSE(um.ok());
    check_gone(um.err(), "unmask_intx");
    // The hardware cannot interrupt any more.
    dev->raise(irq_kind::msi, 0);
    dev->assert_interrupt();
    CHECK(v.take() == 0);
    // Disabling what was enabled still succeeds (teardown of a vanished device must not fail).
    CHECK(dev->disable_irqs(irq_kind::msi).ok());
}

TEST_CASE(
    "sim bus: request_removal raises removal_requested and the hardware still answers, "
    "report_error raises error_reported") {
    auto dev = sim::make_edu();
    event_log ev;
    dev->set_event_handler(ev.handler());
    dev->request_removal();
    REQUIRE(ev.n.wait_for_at_least(1, kGuard));
    dev->report_error();
    REQUIRE(ev.n.wait_for_at_least(2, kGuard));
    CHECK(ev.get() == std::vector<bus::event_kind>{bus::event_kind::removal_requested,
                                                   bus::event_kind::error_reported});
    std::array<std::byte, 2> b{};
    CHECK(dev->config_read(0, b).ok());
    auto regs = dev->map_region(0);
    REQUIRE(regs.ok());
    CHECK(regs->read32(sim::edu::reg_id) == 0x010000edu);
    // An empty handler detaches: no more events are delivered.
    dev->set_event_handler({});
    dev->request_removal();
    CHECK(ev.n.get() == 2);
}

TEST_CASE("sim bus: IOMMU faults on DMA outside the mappings or without bus mastering") {
    auto dev = sim::device::create(generic_spec());
    dma_buffer mem(8192);
    std::uint8_t byte = 0x42;
    const std::uint64_t iova = 0x400000;
    // Nothing mapped.
    REQUIRE(dev->set_bus_master(true).ok());
    auto r1 = dev->dma_read(iova, &byte, 1);
    REQUIRE_FALSE(r1.ok());
    CHECK(is_errno(r1.err(), EFAULT));
    auto w1 = dev->dma_write(iova, &byte, 1);
    REQUIRE_FALSE(w1.ok());
    CHECK(is_errno(w1.err(), EFAULT));
    CHECK(dev->get_counters().iommu_faults == 2);
    REQUIRE(dev->dma_map(mem.data(), 8192, iova).ok());
    CHECK(dev->dma_mappings() == 1);
    // Inside the mapping: both directions reach host memory.
    std::uint8_t pattern[16];
    for (int i = 0; i < 16; ++i)
        pattern[i] = static_cast<std::uint8_t>(i * 3);
    CHECK(dev->dma_write(iova + 8192 - 16, pattern, 16).ok());
    CHECK(std::memcmp(mem.data() + 8192 - 16, pattern, 16) == 0);
    mem.data()[7] = 0x99;
    std::uint8_t got = 0;
    CHECK(dev->dma_read(iova + 7, &got, 1).ok());
    CHECK(got == 0x99);
    // Crossing the end of the mapping, below it, past it.
    CHECK_FALSE(dev->dma_read(iova + 8192 - 8, pattern, 16).ok());
    CHECK_FALSE(dev->dma_write(iova - 4096, pattern, 1).ok());
    CHECK_FALSE(dev->dma_write(iova + 8192, pattern, 1).ok());
    // Without bus mastering the device cannot DMA at all.
    REQUIRE(dev->set_bus_master(false).ok());
    CHECK_FALSE(dev->dma_read(iova, &got, 1).ok());
    CHECK(dev->get_counters().iommu_faults == 6);
    // After unmap the range faults again.
    REQUIRE(dev->set_bus_master(true).ok());
    REQUIRE(dev->dma_unmap(iova, 8192).ok());
    CHECK_FALSE(dev->dma_read(iova, &got, 1).ok());
    CHECK(dev->get_counters().iommu_faults == 7);
}

// ======== sim-specific: the edu model's registers
// ==================================================

TEST_CASE("sim edu: identification 0x010000ed, liveness inverts, 4-byte access below 0x80") {
    auto dev = sim::make_edu();
    bus::pci_id id = dev->id();
    CHECK(id.vendor == sim::edu::vendor_id);
    CHECK(id.device == sim::edu::device_id);
    CHECK(dev->irq(irq_kind::msi).count == 1);
    CHECK(dev->irq(irq_kind::msix).count == 0);
    CHECK(dev->irq(irq_kind::intx).count == 1);
    auto regs = dev->map_region(0);
    REQUIRE(regs.ok());
    CHECK(regs->size() == (1u << 20));
    CHECK(regs->read32(sim::edu::reg_id) == 0x010000edu);
    for (std::uint32_t v : {0u, 1u, 0xdeadbeefu, 0xffffffffu}) {
        regs->write32(sim::edu::reg_liveness, v);
        CHECK(regs->read32(sim::edu::reg_liveness) == ~v);
    }
    // Other widths below 0x80 are not decoded (QEMU edu: reads all ones, writes ignored).
    regs->write32(sim::edu::reg_liveness, 0x1234);
    regs->write16(sim::edu::reg_liveness, 0xffff);
    CHECK(regs->read32(sim::edu::reg_liveness) == ~0x1234u);
    CHECK(regs->read16(sim::edu::reg_id) == 0xffffu);
}

TEST_CASE("sim edu: factorial - with status bit 0x80 the completion raises interrupt 0x1") {
    auto dev = sim::make_edu();
    auto regs = dev->map_region(0);
    REQUIRE(regs.ok());
    attached_vector v(*dev, irq_kind::msi);
    REQUIRE(dev->set_bus_master(true).ok());

    // With the completion interrupt.
    regs->write32(sim::edu::reg_status, sim::edu::status_irq_fact);
    CHECK((regs->read32(sim::edu::reg_status) & sim::edu::status_irq_fact) != 0);
    regs->write32(sim::edu::reg_factorial, 10);
    CHECK(v.wait() == 1);
    CHECK(regs->read32(sim::edu::reg_factorial) == 3628800u);
    CHECK((regs->read32(sim::edu::reg_status) & sim::edu::status_computing) == 0);
    CHECK(regs->read32(sim::edu::reg_irq_status) == sim::edu::irq_factorial);
    regs->write32(sim::edu::reg_irq_ack, sim::edu::irq_factorial);
    CHECK(regs->read32(sim::edu::reg_irq_status) == 0);

    // Without it: the result appears, no interrupt. Wait for completion on a raised interrupt
    // that follows it (the model runs commands in order on its thread).
    regs->write32(sim::edu::reg_status, 0);
    regs->write32(sim::edu::reg_factorial, 5);
    regs->write64(sim::edu::reg_dma_src, sim::edu::dma_buffer);
    regs->write64(sim::edu::reg_dma_dst, sim::edu::dma_buffer);
    regs->write64(sim::edu::reg_dma_count, 0);
    regs->write64(sim::edu::reg_dma_cmd, sim::edu::dma_start | sim::edu::dma_irq);
    CHECK(v.wait() == 1);
    CHECK(regs->read32(sim::edu::reg_irq_status) == sim::edu::irq_dma);  // not irq_factorial
    CHECK(regs->read32(sim::edu::reg_factorial) == 120u);
    regs->write32(sim::edu::reg_irq_ack, sim::edu::irq_dma);
    // The status register: only bit 0x80 is writable.
    regs->write32(sim::edu::reg_status, 0xffffffffu);
    CHECK(regs->read32(sim::edu::reg_status) == sim::edu::status_irq_fact);
}

TEST_CASE("sim edu: raise and acknowledge - MSI signals per raise, INTx follows irq_status") {
    auto dev = sim::make_edu();
    auto regs = dev->map_region(0);
    REQUIRE(regs.ok());
    SUBCASE("MSI") {
        attached_vector v(*dev, irq_kind::msi);
        REQUIRE(dev->set_bus_master(true).ok());
        regs->write32(sim::edu::reg_irq_raise, 0x1234);
        CHECK(v.wait() == 1);
        CHECK(regs->read32(sim::edu::reg_irq_status) == 0x1234u);
        regs->write32(sim::edu::reg_irq_ack, 0x1000);
        CHECK(regs->read32(sim::edu::reg_irq_status) == 0x0234u);
        regs->write32(sim::edu::reg_irq_ack, 0x0234);
        CHECK(regs->read32(sim::edu::reg_irq_status) == 0u);
        CHECK(v.take() == 0);
    }
    SUBCASE("INTx") {
        attached_vector v(*dev, irq_kind::intx);
        regs->write32(sim::edu::reg_irq_raise, 0x1);
        CHECK(v.wait() == 1);
        CHECK(dev->intx_masked());  // automasked until the ISR's unmask
        regs->write32(sim::edu::reg_irq_raise, 0x2);
        CHECK(v.take() == 0);                       // still one level, masked
        regs->write32(sim::edu::reg_irq_ack, 0x1);  // irq_status 0x2: the line stays up
        CHECK(dev->unmask_intx().ok());
        CHECK(v.wait() == 1);                       // unmasked while asserted: fires again
        regs->write32(sim::edu::reg_irq_ack, 0x2);  // all clear: the line drops
        CHECK(dev->unmask_intx().ok());
        CHECK_FALSE(dev->intx_masked());
        CHECK(v.take() == 0);
        CHECK(dev->get_counters().intx_unmasks == 2);
    }
}

TEST_CASE(
    "sim edu: DMA both directions with the completion interrupt, out-of-window DMA "
    "refused") {
    auto dev = sim::make_edu();
    auto regs = dev->map_region(0);
    REQUIRE(regs.ok());
    attached_vector v(*dev, irq_kind::msi);
    REQUIRE(dev->set_bus_master(true).ok());
    dma_buffer mem(8192);
    const std::uint64_t iova = 0x100000;
    REQUIRE(dev->dma_map(mem.data(), mem.size(), iova).ok());
    auto dma = [&](std::uint64_t src, std::uint64_t dst, std::uint64_t n, std::uint32_t dir) {
        regs->write64(sim::edu::reg_dma_src, src);
        regs->write64(sim::edu::reg_dma_dst, dst);
        regs->write64(sim::edu::reg_dma_count, n);
        regs->write64(sim::edu::reg_dma_cmd, sim::edu::dma_start | dir | sim::edu::dma_irq);
        CHECK(v.wait() == 1);  // completion interrupt 0x100
        CHECK(regs->read32(sim::edu::reg_irq_status) == sim::edu::irq_dma);
        CHECK((regs->read32(sim::edu::reg_dma_cmd) & sim::edu::dma_start) == 0);
        regs->write32(sim::edu::reg_irq_ack, sim::edu::irq_dma);
    };
    for (std::size_t i = 0; i < 4096; ++i)
        mem.data()[i] = static_cast<std::uint8_t>(i ^ 0x5a);
    // RAM -> edu buffer, then edu buffer -> another page of RAM.
    dma(iova, sim::edu::dma_buffer, 4096, 0);
    dma(sim::edu::dma_buffer, iova + 4096, 4096, sim::edu::dma_to_ram);
    CHECK(std::memcmp(mem.data(), mem.data() + 4096, 4096) == 0);
    // Partial, at an offset inside the edu buffer.
    std::memset(mem.data() + 4096, 0, 4096);
    dma(sim::edu::dma_buffer + 100, iova + 4096 + 8, 50, sim::edu::dma_to_ram);
    CHECK(std::memcmp(mem.data() + 4096 + 8, mem.data() + 100, 50) == 0);
    CHECK(mem.data()[4096 + 7] == 0);
    CHECK(mem.data()[4096 + 58] == 0);
    // Out of the edu window: refused, host memory untouched.
    std::memset(mem.data() + 4096, 0xee, 4096);
    dma(sim::edu::dma_buffer + 4000, iova + 4096, 200, sim::edu::dma_to_ram);  // past the end
    dma(0x1000, iova + 4096, 16, sim::edu::dma_to_ram);                        // below it
    dma(iova, sim::edu::dma_buffer + 4090, 16, 0);                             // into past end
    for (std::size_t i = 0; i < 4096; ++i)
        if (mem.data()[4096 + i] != 0xee) FAIL_CHECK("byte " << i << " was written");
    // Through an unmapped IOVA: the IOMMU faults, nothing arrives.
    auto faults = dev->get_counters().iommu_faults;
    dma(sim::edu::dma_buffer, 0x900000, 16, sim::edu::dma_to_ram);
    CHECK(dev->get_counters().iommu_faults == faults + 1);
    CHECK(dev->dma_unmap(iova, mem.size()).ok());
}
