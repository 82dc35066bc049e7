// The sim bus (wdfx/sim.hpp): a PCI function the way vfio-pci presents one, served by a model.
//
// Threads: any. Every piece of state is guarded by one PI mutex (the ISR thread's INTx unmask
// takes it too, so priority inheritance matters); eventfd writes happen under it so a detach
// (set_irq_eventfds with -1) never races a signal into a closed or reused fd.
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>

#include <wdfx/sim.hpp>

#include "os/log.hpp"
#include "os/sync.hpp"

namespace wdfx::sim {

namespace {
constexpr std::uint64_t kAllOnes = ~0ull;

error gone_error(const std::string& name) {
    return error::from_errno(ENODEV, name + ": the device is gone (surprise removal)");
}
}  // namespace

struct device::state {
    device_spec spec;
    mutable os::pi_mutex lock;
    // config space
    std::vector<std::uint8_t> config;
    // BAR mappings: reserved address ranges that name the BAR for the accessors
    std::array<void*, 6> mapped{};
    // interrupts
    bus::irq_kind enabled = bus::irq_kind::intx;
    std::uint32_t enabled_count = 0;  // 0: nothing enabled
    std::vector<int> fds;             // per vector of the enabled kind, -1 detached
    bool intx_asserted = false;
    bool intx_masked = false;
    // dma
    struct mapping {
        void* va;
        std::size_t size;
    };
    std::map<std::uint64_t, mapping> iommu;
    bool bus_master = false;
    // faults
    bool all_ones = false;
    bool gone = false;
    bool unreachable = false;  // vanish(): nothing answers, and nobody said so
    std::array<int, static_cast<std::size_t>(operation::count)> fail_errno{};
    std::array<unsigned, static_cast<std::size_t>(operation::count)> fail_count{};
    std::function<void(bus::event_kind)> events;
    counters cnt;

    /// An injected failure for `op`, if one is pending (lock held).
    int take_failure(operation op) {
        auto i = static_cast<std::size_t>(op);
        if (fail_count[i] == 0) return 0;
        --fail_count[i];
        return fail_errno[i];
    }
    void signal_locked(int fd) {
        if (fd < 0) {
            ++cnt.dropped;
            return;
        }
        std::uint64_t one = 1;
        ssize_t r = ::write(fd, &one, sizeof one);
        if (r == sizeof one)
            ++cnt.delivered;
        else
            ++cnt.dropped;
    }
    std::uint16_t cfg16(std::size_t off) const {
        return static_cast<std::uint16_t>(config[off] | config[off + 1] << 8);
    }
    void set_cfg16(std::size_t off, std::uint16_t v) {
        config[off] = static_cast<std::uint8_t>(v);
        config[off + 1] = static_cast<std::uint8_t>(v >> 8);
    }
};

/// Serves the BARs' accessors: forwards to the model unless a fault says otherwise.
class device::bar_model final : public register_model {
  public:
    explicit bar_model(device& d) : d_(d) {}
    std::uint64_t read(std::uint32_t bar, std::uint64_t off, unsigned width) noexcept override {
        {
            os::pi_guard g(d_.s_->lock);
            if (d_.s_->gone || d_.s_->all_ones || d_.s_->unreachable)
                return width == 8 ? kAllOnes : (kAllOnes >> (64 - 8 * width));
        }
        if (!d_.model_) return 0;
        return d_.model_->read(bar, off, width);
    }
    void write(std::uint32_t bar, std::uint64_t off, unsigned width,
               std::uint64_t v) noexcept override {
        {
            os::pi_guard g(d_.s_->lock);
            if (d_.s_->gone || d_.s_->unreachable)
                return;  // writes to a vanished device go nowhere
        }
        if (d_.model_) d_.model_->write(bar, off, width, v);
    }

  private:
    device& d_;
};

namespace {
std::map<const device*, std::unique_ptr<register_model>>& bar_models() {
    static std::map<const device*, std::unique_ptr<register_model>> m;
    return m;
}
std::mutex g_bar_models_lock;
}  // namespace

device::device() : s_(std::make_unique<state>()) {}

device::~device() {
    for (std::uint32_t i = 0; i < 6; ++i)
        unmap_region(i);
    std::lock_guard g(g_bar_models_lock);
    bar_models().erase(this);
}

std::shared_ptr<device> device::create(device_spec spec, std::shared_ptr<model> m) {
    std::shared_ptr<device> d(new device());
    auto& s = *d->s_;
    s.spec = std::move(spec);
    s.spec.bar_sizes.resize(6, 0);
    s.config.assign(s.spec.pcie ? 4096 : 256, 0);
    s.set_cfg16(0x00, s.spec.id.vendor);
    s.set_cfg16(0x02, s.spec.id.device);
    s.set_cfg16(0x06, 0x0010);  // status: capabilities list
    s.config[0x08] = s.spec.id.revision;
    s.config[0x09] = static_cast<std::uint8_t>(s.spec.id.class_code);
    s.config[0x0a] = static_cast<std::uint8_t>(s.spec.id.class_code >> 8);
    s.config[0x0b] = static_cast<std::uint8_t>(s.spec.id.class_code >> 16);
    s.set_cfg16(0x2c, s.spec.id.subsystem_vendor);
    s.set_cfg16(0x2e, s.spec.id.subsystem_device);
    s.config[0x3d] = s.spec.intx ? 1 : 0;  // interrupt pin INTA#
    // Capabilities: MSI at 0x40, MSI-X at 0x50, PCI Express at 0x60 (those present, chained).
    std::uint8_t* prev_next = &s.config[0x34];
    auto add_cap = [&](std::uint8_t at, std::uint8_t id) {
        *prev_next = at;
        s.config[at] = id;
        prev_next = &s.config[at + 1];
    };
    if (s.spec.msi_vectors > 0) {
        add_cap(0x40, 0x05);
        unsigned log2 = 0;
        while ((1u << log2) < s.spec.msi_vectors)
            ++log2;
        s.set_cfg16(0x42, static_cast<std::uint16_t>(0x80 | (log2 << 1)));  // 64-bit, MMC
    }
    if (s.spec.msix_vectors > 0) {
        add_cap(0x50, 0x11);
        s.set_cfg16(0x52, static_cast<std::uint16_t>(s.spec.msix_vectors - 1));
    }
    if (s.spec.pcie) {
        add_cap(0x60, 0x10);
        s.set_cfg16(0x62, 0x0002);  // PCIe cap version 2, endpoint
    }
    *prev_next = 0;
    d->model_ = std::move(m);
    {
        std::lock_guard g(g_bar_models_lock);
        bar_models()[d.get()] = std::make_unique<bar_model>(*d);
    }
    if (d->model_) d->model_->attach(*d);
    return d;
}

std::string device::name() const {
    return "sim:" + s_->spec.name;
}
bus::pci_id device::id() const {
    return s_->spec.id;
}
std::uint32_t device::num_regions() const {
    return 9;
}  // 6 BARs, ROM, config, VGA (as VFIO)

result<bus::region_info> device::region(std::uint32_t index) const {
    bus::region_info r;
    r.index = index;
    if (index < 6) {
        r.size = s_->spec.bar_sizes[index];
        r.readable = r.writable = r.mappable = r.size != 0;
        return r;
    }
    if (index == 7) {
        r.size = s_->config.size();
        r.readable = r.writable = true;
        return r;
    }
    if (index == 6) return r;  // no ROM
    return error::from_errno(EINVAL,
                             name() + ": region " + std::to_string(index) + " does not exist");
}

result<register_block> device::map_region(std::uint32_t index) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    if (int e = s_->take_failure(operation::map_region))
        return error::from_errno(e, name() + ": mmap of BAR");
    if (index >= 6 || s_->spec.bar_sizes[index] == 0)
        return error::from_errno(
            EINVAL, name() + ": BAR " + std::to_string(index) + " is not a memory BAR");
    std::size_t size = s_->spec.bar_sizes[index];
    if (s_->mapped[index] == nullptr) {
        // Reserve an inaccessible range: its addresses name this BAR for READ_REGISTER_xxx(addr),
        // and a stray direct access faults instead of reading garbage.
        void* p =
            ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return error::from_errno(errno, name() + ": reserving the BAR window");
        s_->mapped[index] = p;
        std::lock_guard gg(g_bar_models_lock);
        detail::register_model_window(p, size, bar_models()[this].get(), index);
    }
    std::lock_guard gg(g_bar_models_lock);
    return register_block(s_->mapped[index], size, bar_models()[this].get(), index);
}

void device::unmap_region(std::uint32_t index) {
    if (index >= 6) return;
    os::pi_guard g(s_->lock);
    if (s_->mapped[index] == nullptr) return;
    detail::unregister_model_window(s_->mapped[index]);
    ::munmap(s_->mapped[index], s_->spec.bar_sizes[index]);
    s_->mapped[index] = nullptr;
}

result<std::size_t> device::region_read(std::uint32_t index, std::uint64_t offset,
                                        std::span<std::byte> out) {
    if (index == 7) return config_read(static_cast<std::uint32_t>(offset), out);
    if (index >= 6 || offset + out.size() > s_->spec.bar_sizes[index])
        return error::from_errno(EINVAL, name() + ": region access out of range");
    bar_model bm(*this);
    for (std::size_t i = 0; i < out.size(); i += 4) {
        std::uint32_t v = static_cast<std::uint32_t>(bm.read(index, offset + i, 4));
        std::memcpy(out.data() + i, &v, std::min<std::size_t>(4, out.size() - i));
    }
    return out.size();
}

result<std::size_t> device::region_write(std::uint32_t index, std::uint64_t offset,
                                         std::span<const std::byte> in) {
    if (index == 7) return config_write(static_cast<std::uint32_t>(offset), in);
    if (index >= 6 || offset + in.size() > s_->spec.bar_sizes[index])
        return error::from_errno(EINVAL, name() + ": region access out of range");
    bar_model bm(*this);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        std::uint32_t v = 0;
        std::memcpy(&v, in.data() + i, std::min<std::size_t>(4, in.size() - i));
        bm.write(index, offset + i, 4, v);
    }
    return in.size();
}

result<std::size_t> device::config_read(std::uint32_t offset, std::span<std::byte> out) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    if (int e = s_->take_failure(operation::config_read))
        return error::from_errno(e, name() + ": config read");
    if (offset >= s_->config.size()) return std::size_t{0};
    std::size_t n = std::min(out.size(), s_->config.size() - offset);
    if (s_->unreachable)  // no function answers: the root complex completes with all ones
        std::memset(out.data(), 0xff, n);
    else
        std::memcpy(out.data(), s_->config.data() + offset, n);
    return n;
}

result<std::size_t> device::config_write(std::uint32_t offset, std::span<const std::byte> in) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    if (int e = s_->take_failure(operation::config_write))
        return error::from_errno(e, name() + ": config write");
    if (s_->unreachable) return in.size();  // goes nowhere
    // Only the command register is writable here (bus master, INTx disable), as vfio-pci
    // virtualises the rest.
    for (std::size_t i = 0; i < in.size(); ++i) {
        std::size_t at = offset + i;
        if (at == 0x04 || at == 0x05) s_->config[at] = static_cast<std::uint8_t>(in[i]);
    }
    s_->bus_master = (s_->config[0x04] & 0x04) != 0;
    return in.size();
}

bus::irq_info device::irq(bus::irq_kind kind) const {
    bus::irq_info i;
    i.eventfd = true;
    switch (kind) {
        case bus::irq_kind::intx:
            i.count = s_->spec.intx ? 1 : 0;
            i.maskable = i.automasked = true;
            break;
        case bus::irq_kind::msi:
            i.count = s_->spec.msi_vectors;
            i.noresize = true;
            break;
        case bus::irq_kind::msix:
            i.count = s_->spec.msix_vectors;
            i.noresize = true;
            break;
        case bus::irq_kind::err:
            i.count = s_->spec.pcie ? 1 : 0;
            break;
        case bus::irq_kind::req:
            i.count = 1;
            break;
    }
    return i;
}

result<void> device::enable_irqs(bus::irq_kind kind, std::uint32_t count) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    if (int e = s_->take_failure(operation::enable_irqs))
        return error::from_errno(e, name() + ": enable IRQs");
    if (kind == bus::irq_kind::err || kind == bus::irq_kind::req) return {};
    std::uint32_t avail = irq(kind).count;
    if (count == 0 || count > avail)
        return error::from_errno(EINVAL, name() + ": " + std::to_string(count) + " " +
                                             bus::irq_kind_name(kind) + " vectors requested, " +
                                             std::to_string(avail) + " available");
    if (s_->enabled_count != 0) {
        // VFIO: one of INTx/MSI/MSI-X at a time, and NORESIZE blocks cannot grow.
        if (s_->enabled != kind)
            return error::from_errno(EINVAL, name() + ": another interrupt kind is enabled");
        if (count > s_->enabled_count)
            return error::from_errno(EINVAL, name() + ": the vector block cannot grow (NORESIZE)");
        return {};
    }
    s_->enabled = kind;
    s_->enabled_count = count;
    s_->fds.assign(count, -1);
    s_->intx_masked = false;
    return {};
}

result<void> device::set_irq_eventfds(bus::irq_kind kind, std::uint32_t start,
                                      std::span<const int> fds) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    if (int e = s_->take_failure(operation::set_irq_eventfds))
        return error::from_errno(e, name() + ": set IRQ eventfds");
    if (s_->enabled_count == 0 || s_->enabled != kind)
        return error::from_errno(
            EINVAL, name() + ": " + bus::irq_kind_name(kind) + " vectors are not enabled");
    if (start + fds.size() > s_->enabled_count)
        return error::from_errno(EINVAL, name() + ": vector out of the enabled block");
    for (std::size_t i = 0; i < fds.size(); ++i)
        s_->fds[start + i] = fds[i];
    // A level line already asserted fires as soon as it gets an eventfd.
    if (kind == bus::irq_kind::intx && s_->fds[0] >= 0 && s_->intx_asserted && !s_->intx_masked) {
        s_->intx_masked = true;
        s_->signal_locked(s_->fds[0]);
    }
    return {};
}

result<void> device::disable_irqs(bus::irq_kind kind) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return {};
    if (int e = s_->take_failure(operation::disable_irqs))
        return error::from_errno(e, name() + ": disable IRQs");
    if (s_->enabled == kind) {
        s_->enabled_count = 0;
        s_->fds.clear();
    }
    return {};
}

result<void> device::unmask_intx() noexcept {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    ++s_->cnt.intx_unmasks;
    s_->intx_masked = false;
    // Still asserted: the line fires again at once and is masked again (level-triggered).
    if (s_->enabled == bus::irq_kind::intx && s_->enabled_count != 0 && s_->intx_asserted) {
        s_->intx_masked = true;
        s_->signal_locked(s_->fds[0]);
    }
    return {};
}

result<void> device::mask_intx() {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    s_->intx_masked = true;
    return {};
}

result<void> device::trigger(bus::irq_kind kind, std::uint32_t vector) {
    {
        os::pi_guard g(s_->lock);
        if (s_->gone) return gone_error(name());
        if (s_->enabled_count == 0 || s_->enabled != kind || vector >= s_->enabled_count)
            return error::from_errno(EINVAL, name() + ": trigger of a vector that is not enabled");
        if (kind == bus::irq_kind::intx) {
            // A software INTx trigger behaves like one assertion edge: signal and automask.
            if (!s_->intx_masked) {
                s_->intx_masked = true;
                s_->signal_locked(s_->fds[0]);
            }
            return {};
        }
        // MSI/MSI-X: VFIO_IRQ_SET_DATA_NONE signals the vector's eventfd directly; unlike a
        // message the device sends (raise()), it does not depend on bus mastering.
        s_->signal_locked(s_->fds[vector]);
    }
    return {};
}

bus::dma_limits device::dma() const {
    bus::dma_limits l;
    // The x86 layout VFIO reports with an IOMMU: everything but the MSI window.
    l.iova_ranges = {{0x0, 0xfedfffffull}, {0xfef00000ull, 0xffffffffffffull}};
    l.address_bits = s_->spec.dma_address_bits;
    l.iommu = true;
    return l;
}

result<void> device::dma_map(void* va, std::size_t size, std::uint64_t iova) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    if (int e = s_->take_failure(operation::dma_map))
        return error::from_errno(e, name() + ": DMA map");
    if (size == 0 || (iova & 0xfff) != 0 || (reinterpret_cast<std::uintptr_t>(va) & 0xfff) != 0)
        return error::from_errno(EINVAL,
                                 name() + ": DMA mappings must be page-aligned and non-empty");
    auto it = s_->iommu.lower_bound(iova);
    if (it != s_->iommu.end() && it->first < iova + size)
        return error::from_errno(EEXIST, name() + ": IOVA range already mapped");
    if (it != s_->iommu.begin() && std::prev(it)->first + std::prev(it)->second.size > iova)
        return error::from_errno(EEXIST, name() + ": IOVA range already mapped");
    s_->iommu[iova] = {va, size};
    return {};
}

result<void> device::dma_unmap(std::uint64_t iova, std::size_t size) {
    os::pi_guard g(s_->lock);
    if (int e = s_->take_failure(operation::dma_unmap))
        return error::from_errno(e, name() + ": DMA unmap");
    auto it = s_->iommu.find(iova);
    if (it == s_->iommu.end() || it->second.size != size)
        return error::from_errno(ENOENT, name() + ": no DMA mapping at that IOVA and size");
    s_->iommu.erase(it);
    return {};
}

result<void> device::set_bus_master(bool on) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return gone_error(name());
    if (int e = s_->take_failure(operation::set_bus_master))
        return error::from_errno(e, name() + ": bus master");
    s_->bus_master = on;
    if (on)
        s_->config[0x04] |= 0x04;
    else
        s_->config[0x04] &= static_cast<std::uint8_t>(~0x04);
    return {};
}

bool device::can_reset() const {
    return s_->spec.reset_method;
}

result<void> device::reset() {
    {
        os::pi_guard g(s_->lock);
        if (s_->gone) return gone_error(name());
        if (int e = s_->take_failure(operation::reset))
            return error::from_errno(e, name() + ": reset");
        if (!s_->spec.reset_method)
            return error::from_errno(ENOTTY, name() +
                                                 ": the device has no reset method (no FLR, no PM "
                                                 "reset, not alone behind a bridge)");
        s_->config[0x04] = 0;
        s_->bus_master = false;
        s_->enabled_count = 0;
        s_->fds.clear();
        s_->intx_asserted = false;
        s_->intx_masked = false;
    }
    if (model_) model_->reset();
    return {};
}

void device::set_event_handler(std::function<void(bus::event_kind)> handler) {
    os::pi_guard g(s_->lock);
    s_->events = std::move(handler);
}

void device::raise(bus::irq_kind kind, std::uint32_t vector) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return;
    if (s_->enabled_count == 0 || s_->enabled != kind || vector >= s_->enabled_count) {
        ++s_->cnt.dropped;
        return;
    }
    if (!s_->bus_master) {
        ++s_->cnt.dropped;  // MSI is a memory write: no bus mastering, no interrupt
        return;
    }
    s_->signal_locked(s_->fds[vector]);
}

void device::set_intx_level(bool asserted) {
    os::pi_guard g(s_->lock);
    if (s_->gone) return;
    bool rising = asserted && !s_->intx_asserted;
    s_->intx_asserted = asserted;
    if (!rising) return;
    if (s_->enabled == bus::irq_kind::intx && s_->enabled_count != 0 && !s_->intx_masked &&
        (s_->config[0x05] & 0x04) == 0) {  // INTx disable bit clear
        s_->intx_masked = true;            // automasked until the ISR's unmask
        s_->signal_locked(s_->fds[0]);
    }
}

void device::assert_interrupt() {
    bus::irq_kind k;
    std::uint32_t n;
    {
        os::pi_guard g(s_->lock);
        k = s_->enabled;
        n = s_->enabled_count;
    }
    if (n != 0 && k != bus::irq_kind::intx)
        raise(k, 0);
    else
        set_intx_level(true);
}

void device::deassert_interrupt() {
    set_intx_level(false);
}

result<void> device::dma_read(std::uint64_t iova, void* dst, std::size_t len) {
    os::pi_guard g(s_->lock);
    auto it = s_->iommu.upper_bound(iova);
    if (!s_->bus_master || it == s_->iommu.begin()) {
        ++s_->cnt.iommu_faults;
        return error::from_errno(EFAULT,
                                 name() + ": DMA read fault (unmapped IOVA or no bus master)");
    }
    --it;
    if (iova + len > it->first + it->second.size) {
        ++s_->cnt.iommu_faults;
        return error::from_errno(EFAULT, name() + ": DMA read crosses the end of a mapping");
    }
    std::memcpy(dst, static_cast<const char*>(it->second.va) + (iova - it->first), len);
    return {};
}

result<void> device::dma_write(std::uint64_t iova, const void* src, std::size_t len) {
    os::pi_guard g(s_->lock);
    auto it = s_->iommu.upper_bound(iova);
    if (!s_->bus_master || it == s_->iommu.begin()) {
        ++s_->cnt.iommu_faults;
        return error::from_errno(EFAULT,
                                 name() + ": DMA write fault (unmapped IOVA or no bus master)");
    }
    --it;
    if (iova + len > it->first + it->second.size) {
        ++s_->cnt.iommu_faults;
        return error::from_errno(EFAULT, name() + ": DMA write crosses the end of a mapping");
    }
    std::memcpy(static_cast<char*>(it->second.va) + (iova - it->first), src, len);
    return {};
}

bool device::bus_master() const {
    os::pi_guard g(s_->lock);
    return s_->bus_master;
}

void device::inject_all_ones(bool on) {
    os::pi_guard g(s_->lock);
    s_->all_ones = on;
}

void device::vanish() {
    os::pi_guard g(s_->lock);
    s_->unreachable = true;
}

void device::request_removal() {
    std::function<void(bus::event_kind)> ev;
    {
        os::pi_guard g(s_->lock);
        ev = s_->events;
    }
    if (ev) ev(bus::event_kind::removal_requested);
}

void device::surprise_remove() {
    std::function<void(bus::event_kind)> ev;
    {
        os::pi_guard g(s_->lock);
        s_->gone = true;
        s_->enabled_count = 0;
        s_->fds.clear();
        ev = s_->events;
    }
    if (ev) ev(bus::event_kind::device_gone);
}

void device::report_error() {
    std::function<void(bus::event_kind)> ev;
    {
        os::pi_guard g(s_->lock);
        ev = s_->events;
    }
    if (ev) ev(bus::event_kind::error_reported);
}

void device::fail_next(operation op, int err, unsigned count) {
    os::pi_guard g(s_->lock);
    s_->fail_errno[static_cast<std::size_t>(op)] = err;
    s_->fail_count[static_cast<std::size_t>(op)] = count;
}

device::counters device::get_counters() const {
    os::pi_guard g(s_->lock);
    return s_->cnt;
}

bool device::intx_masked() const {
    os::pi_guard g(s_->lock);
    return s_->intx_masked;
}

bool device::vector_attached(bus::irq_kind kind, std::uint32_t vector) const {
    os::pi_guard g(s_->lock);
    return s_->enabled_count != 0 && s_->enabled == kind && vector < s_->fds.size() &&
           s_->fds[vector] >= 0;
}

bus::irq_kind device::enabled_kind() const {
    os::pi_guard g(s_->lock);
    return s_->enabled;
}

std::uint32_t device::enabled_count() const {
    os::pi_guard g(s_->lock);
    return s_->enabled_count;
}

std::size_t device::dma_mappings() const {
    os::pi_guard g(s_->lock);
    return s_->iommu.size();
}

}  // namespace wdfx::sim
