// The UIO bus over uio_pci_generic.
//
// Threads: a relay thread (wdfx-uio/N) blocks in read() of /dev/uioN and forwards each interrupt
// count to the attached eventfd, where the ISR thread waits like on any bus. That hop costs one
// cross-thread wake-up more than VFIO; UIO is the fallback for machines without an IOMMU.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include <wdfx/uio.hpp>
#include <wdfx/vfio.hpp>

#include "os/fd.hpp"
#include "os/log.hpp"
#include "os/thread.hpp"

namespace wdfx::uio {

namespace {

error errno_error(int e, std::string msg) {
    return error::from_errno(e, std::move(msg));
}

std::string link_base(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return {};
    buf[n] = '\0';
    const char* s = std::strrchr(buf, '/');
    return s != nullptr ? s + 1 : buf;
}

class uio_device final : public bus::device {
  public:
    ~uio_device() override {
        stop_relay();
        for (auto& m : maps_)
            ::munmap(m.second.first, m.second.second);
    }

    static result<std::shared_ptr<bus::device>> open(const std::string& in) {
        std::string bdf = vfio::normalize_bdf(in);
        if (bdf.empty()) return errno_error(EINVAL, "'" + in + "' is not a PCI address");
        std::string sys = "/sys/bus/pci/devices/" + bdf;
        if (::access(sys.c_str(), F_OK) != 0) return errno_error(ENODEV, "no PCI device " + bdf);
        std::string drv = link_base(sys + "/driver");
        if (drv != "uio_pci_generic")
            return errno_error(
                ENODEV, bdf + " is bound to " + (drv.empty() ? std::string("no driver") : drv) +
                            ", not uio_pci_generic: run 'wdfxctl bind --uio " + bdf + "' as root");
        std::string uio;
        if (DIR* d = ::opendir((sys + "/uio").c_str())) {
            while (dirent* e = ::readdir(d))
                if (std::strncmp(e->d_name, "uio", 3) == 0) uio = e->d_name;
            ::closedir(d);
        }
        if (uio.empty())
            return errno_error(ENODEV, bdf + ": no uio device node under " + sys + "/uio");
        std::shared_ptr<uio_device> dev(new uio_device());
        dev->bdf_ = bdf;
        dev->sys_ = sys;
        dev->uio_name_ = uio;
        dev->uio_.reset(::open(("/dev/" + uio).c_str(), O_RDWR | O_CLOEXEC));
        if (!dev->uio_)
            return errno_error(
                errno, "open /dev/" + uio + ": give the driver's user access to it (udev rule)");
        dev->config_.reset(::open((sys + "/config").c_str(), O_RDWR | O_CLOEXEC));
        if (!dev->config_)
            dev->config_.reset(::open((sys + "/config").c_str(), O_RDONLY | O_CLOEXEC));
        if (!dev->config_) return errno_error(errno, "open " + sys + "/config");
        dev->load_resources();
        dev->load_ids();
        dev->stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        os::log(os::log_level::warning,
                "%s on uio_pci_generic: no IOMMU protection (the device can DMA anywhere), DMA by "
                "physical "
                "address (needs CAP_SYS_ADMIN; more than one page needs a huge page), INTx only",
                bdf.c_str());
        dev->relay_ = os::thread("wdfx-uio", [raw = dev.get()] { raw->relay_loop(); });
        return std::shared_ptr<bus::device>(dev);
    }

    std::string name() const override { return bdf_; }
    bus::pci_id id() const override { return id_; }
    std::uint32_t num_regions() const override { return 8; }

    result<bus::region_info> region(std::uint32_t index) const override {
        bus::region_info r;
        r.index = index;
        if (index < 6) {
            r.size = bars_[index].size;
            r.io_port = bars_[index].io;
            r.readable = r.writable = r.size != 0;
            r.mappable = r.size != 0 && !r.io_port;
            return r;
        }
        if (index == 7) {
            r.size = 256;
            r.readable = r.writable = true;
            return r;
        }
        if (index == 6) return r;
        return errno_error(EINVAL, "no such region");
    }

    result<register_block> map_region(std::uint32_t index) override {
        std::lock_guard g(lock_);
        if (index >= 6 || bars_[index].size == 0 || bars_[index].io)
            return errno_error(EINVAL,
                               bdf_ + ": BAR " + std::to_string(index) + " is not a memory BAR");
        auto it = maps_.find(index);
        if (it == maps_.end()) {
            std::string path = sys_ + "/resource" + std::to_string(index);
            os::unique_fd fd(::open(path.c_str(), O_RDWR | O_SYNC | O_CLOEXEC));
            if (!fd)
                return errno_error(
                    errno, "open " + path + " (root or a udev rule is needed for sysfs resources)");
            void* p =
                ::mmap(nullptr, bars_[index].size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
            if (p == MAP_FAILED) return errno_error(errno, "mmap " + path);
            it =
                maps_.emplace(index, std::make_pair(p, static_cast<std::size_t>(bars_[index].size)))
                    .first;
        }
        return register_block(it->second.first, it->second.second);
    }

    void unmap_region(std::uint32_t index) override {
        std::lock_guard g(lock_);
        auto it = maps_.find(index);
        if (it == maps_.end()) return;
        ::munmap(it->second.first, it->second.second);
        maps_.erase(it);
    }

    result<std::size_t> region_read(std::uint32_t index, std::uint64_t off,
                                    std::span<std::byte> out) override {
        if (index == 7) return config_read(static_cast<std::uint32_t>(off), out);
        auto m = map_region(index);
        if (!m) return m.err();
        // Width-exact accesses, the widest the alignment allows (as vfio-pci's pread does):
        // devices decode their registers at their width (QEMU's edu ignores 1-byte reads).
        for (std::size_t i = 0; i < out.size();) {
            std::uint64_t at = off + i;
            std::size_t left = out.size() - i;
            if (left >= 4 && at % 4 == 0) {
                std::uint32_t v = m->read32(at);
                std::memcpy(out.data() + i, &v, 4);
                i += 4;
            } else if (left >= 2 && at % 2 == 0) {
                std::uint16_t v = m->read16(at);
                std::memcpy(out.data() + i, &v, 2);
                i += 2;
            } else {
                out[i++] = static_cast<std::byte>(m->read8(at));
            }
        }
        return out.size();
    }

    result<std::size_t> region_write(std::uint32_t index, std::uint64_t off,
                                     std::span<const std::byte> in) override {
        if (index == 7) return config_write(static_cast<std::uint32_t>(off), in);
        auto m = map_region(index);
        if (!m) return m.err();
        for (std::size_t i = 0; i < in.size();) {  // width-exact, as region_read
            std::uint64_t at = off + i;
            std::size_t left = in.size() - i;
            if (left >= 4 && at % 4 == 0) {
                std::uint32_t v;
                std::memcpy(&v, in.data() + i, 4);
                m->write32(at, v);
                i += 4;
            } else if (left >= 2 && at % 2 == 0) {
                std::uint16_t v;
                std::memcpy(&v, in.data() + i, 2);
                m->write16(at, v);
                i += 2;
            } else {
                m->write8(at, std::to_integer<std::uint8_t>(in[i++]));
            }
        }
        return in.size();
    }

    result<std::size_t> config_read(std::uint32_t off, std::span<std::byte> out) override {
        ssize_t n = ::pread(config_.get(), out.data(), out.size(), off);
        if (n < 0) return errno_error(errno, bdf_ + ": config read");
        return static_cast<std::size_t>(n);
    }

    result<std::size_t> config_write(std::uint32_t off, std::span<const std::byte> in) override {
        ssize_t n = ::pwrite(config_.get(), in.data(), in.size(), off);
        if (n < 0) return errno_error(errno, bdf_ + ": config write (needs root on sysfs config)");
        return static_cast<std::size_t>(n);
    }

    bus::irq_info irq(bus::irq_kind kind) const override {
        bus::irq_info i;
        if (kind == bus::irq_kind::intx) {
            i.count = 1;
            i.eventfd = true;
            i.maskable = true;
            i.automasked = true;  // the kernel's handler sets INTx-disable when it fires
        }
        return i;
    }

    result<void> enable_irqs(bus::irq_kind kind, std::uint32_t count) override {
        if (kind != bus::irq_kind::intx || count != 1)
            return errno_error(ENOTSUP,
                               bdf_ + ": uio_pci_generic offers INTx only (MSI/MSI-X need VFIO)");
        return {};
    }

    result<void> set_irq_eventfds(bus::irq_kind kind, std::uint32_t start,
                                  std::span<const int> fds) override {
        if (kind != bus::irq_kind::intx || start != 0 || fds.size() != 1)
            return errno_error(EINVAL, bdf_ + ": INTx has one vector");
        target_.store(fds[0], std::memory_order_release);
        if (fds[0] >= 0) return unmask_intx();  // a line left disabled would never fire
        return {};
    }

    result<void> disable_irqs(bus::irq_kind) override {
        target_.store(-1, std::memory_order_release);
        return mask_intx();
    }

    result<void> unmask_intx() noexcept override { return set_intx_disable(false); }
    result<void> mask_intx() override { return set_intx_disable(true); }

    result<void> trigger(bus::irq_kind, std::uint32_t) override {
        return errno_error(ENOTSUP, bdf_ + ": UIO has no software-triggered interrupts");
    }

    bus::dma_limits dma() const override {
        bus::dma_limits l;
        l.iommu = false;
        l.address_bits = 64;
        l.iova_ranges = {{0, ~0ull}};
        return l;
    }

    result<std::uint64_t> physical_address(const void* va) override {
        os::unique_fd pm(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
        if (!pm) return errno_error(errno, "open /proc/self/pagemap");
        long page = ::sysconf(_SC_PAGESIZE);
        auto v = reinterpret_cast<std::uintptr_t>(va);
        std::uint64_t entry = 0;
        if (::pread(pm.get(), &entry, sizeof entry,
                    static_cast<off_t>(v / static_cast<std::uintptr_t>(page) * 8)) != 8)
            return errno_error(errno, "read /proc/self/pagemap");
        std::uint64_t pfn = entry & ((1ull << 55) - 1);
        if (!(entry & (1ull << 63)))
            return errno_error(EFAULT, "the page is not present: lock it (MAP_LOCKED) first");
        if (pfn == 0)
            return errno_error(
                EPERM,
                "physical addresses need CAP_SYS_ADMIN (/proc/self/pagemap hides them): run "
                "the UIO driver as root, or use VFIO");
        return pfn * static_cast<std::uint64_t>(page) + (v % static_cast<std::uintptr_t>(page));
    }

    result<void> dma_map(void* va, std::size_t size, std::uint64_t iova) override {
        // No IOMMU: the bus address must be the physical address, and the range contiguous.
        long page = ::sysconf(_SC_PAGESIZE);
        auto first = physical_address(va);
        if (!first) return first.err();
        if (*first != iova)
            return errno_error(EINVAL, bdf_ + ": on UIO the bus address is the physical address");
        for (std::size_t off = static_cast<std::size_t>(page); off < size;
             off += static_cast<std::size_t>(page)) {
            auto pa = physical_address(static_cast<char*>(va) + off);
            if (!pa) return pa.err();
            if (*pa != *first + off)
                return errno_error(
                    EINVAL,
                    bdf_ +
                        ": the buffer is not physically contiguous; on UIO a DMA buffer larger "
                        "than one page needs a huge page (hugetlbfs), or use VFIO");
        }
        return {};
    }

    result<void> dma_unmap(std::uint64_t, std::size_t) override { return {}; }

    result<void> set_bus_master(bool on) override {
        std::byte cmd[2];
        auto r = config_read(0x04, cmd);
        if (!r) return r.err();
        unsigned v = std::to_integer<unsigned>(cmd[0]) | std::to_integer<unsigned>(cmd[1]) << 8;
        v = on ? (v | 0x4) : (v & ~0x4u);
        cmd[0] = static_cast<std::byte>(v & 0xff);
        cmd[1] = static_cast<std::byte>(v >> 8);
        auto w = config_write(0x04, cmd);
        if (!w) return w.err();
        return {};
    }

    bool set_irq_affinity(bus::irq_kind kind, std::uint32_t, int cpu) override {
        // The INTx line's host IRQ (sysfs irq) and the relay thread to the ISR thread's CPU, so
        // the interrupt, its relay and its ISR stay on one CPU (VFIO steers its vectors the same
        // way). Spread over two CPUs, a completion took 8 ms at p50 in the HIL guest instead of
        // 0.2 ms (passive-level with the IRQ elsewhere, or DIRQL with only the IRQ moved).
        if (kind != bus::irq_kind::intx || cpu < 0) return false;
        relay_cpu_.store(cpu, std::memory_order_seq_cst);
        if (pid_t tid = relay_tid_.load(std::memory_order_seq_cst)) pin(tid, cpu);
        std::string irq;
        {
            os::unique_fd f(::open((sys_ + "/irq").c_str(), O_RDONLY | O_CLOEXEC));
            char buf[16] = {};
            if (!f || ::read(f.get(), buf, sizeof buf - 1) <= 0) return false;
            irq = std::to_string(std::strtoul(buf, nullptr, 10));
        }
        os::unique_fd fd(
            ::open(("/proc/irq/" + irq + "/smp_affinity_list").c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) return false;
        std::string v = std::to_string(cpu);
        return ::write(fd.get(), v.data(), v.size()) == static_cast<ssize_t>(v.size());
    }

    bool can_reset() const override { return ::access((sys_ + "/reset").c_str(), W_OK) == 0; }

    result<void> reset() override {
        os::unique_fd fd(::open((sys_ + "/reset").c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd)
            return errno_error(errno,
                               bdf_ + " has no reset method usable here (" + sys_ + "/reset)");
        if (::write(fd.get(), "1", 1) != 1) return errno_error(errno, bdf_ + ": reset");
        return {};
    }

    void set_event_handler(std::function<void(bus::event_kind)> h) override {
        std::lock_guard g(lock_);
        handler_ = std::move(h);
    }

  private:
    struct bar {
        std::uint64_t size = 0;
        bool io = false;
    };

    result<void> set_intx_disable(bool disable) noexcept {
        // Order matters for a level line: the device is acknowledged (by the ISR) before this.
        // The whole 16-bit command register, as the kernel writes it: QEMU re-evaluates the INTx
        // line only on a write that covers byte 4, so a 1-byte write of byte 5 left the line's
        // level stale (an unmask while asserted delivered nothing, the next deassert stormed).
        std::uint8_t b[2];
        if (::pread(config_.get(), b, 2, 4) != 2) return errno_error(errno, bdf_ + ": config read");
        unsigned v = b[0] | static_cast<unsigned>(b[1]) << 8;
        v = disable ? (v | 0x400u) : (v & ~0x400u);  // PCI_COMMAND_INTX_DISABLE, bit 10
        b[0] = static_cast<std::uint8_t>(v & 0xff);
        b[1] = static_cast<std::uint8_t>(v >> 8);
        if (::pwrite(config_.get(), b, 2, 4) != 2)
            return errno_error(errno, bdf_ + ": config write");
        return {};
    }

    void load_resources() {
        FILE* f = std::fopen((sys_ + "/resource").c_str(), "r");
        if (f == nullptr) return;
        for (int i = 0; i < 6; ++i) {
            unsigned long long s = 0, e = 0, fl = 0;
            if (std::fscanf(f, "%llx %llx %llx", &s, &e, &fl) != 3) break;
            if (e > s) {
                bars_[i].size = e - s + 1;
                bars_[i].io = fl & 0x100;  // IORESOURCE_IO
            }
        }
        std::fclose(f);
    }

    void load_ids() {
        std::byte c[64] = {};
        (void)config_read(0, c);
        auto u8 = [&](int o) { return std::to_integer<unsigned>(c[o]); };
        auto u16 = [&](int o) { return static_cast<std::uint16_t>(u8(o) | u8(o + 1) << 8); };
        id_.vendor = u16(0);
        id_.device = u16(2);
        id_.revision = static_cast<std::uint8_t>(u8(8));
        id_.class_code = u8(9) | u8(10) << 8 | u8(11) << 16;
        id_.subsystem_vendor = u16(0x2c);
        id_.subsystem_device = u16(0x2e);
    }

    static void pin(pid_t tid, int cpu) noexcept {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        (void)::sched_setaffinity(tid, sizeof set, &set);
    }

    void relay_loop() {
        // Dekker with set_irq_affinity: one of the two sees the other's store and pins.
        relay_tid_.store(static_cast<pid_t>(::gettid()), std::memory_order_seq_cst);
        if (int cpu = relay_cpu_.load(std::memory_order_seq_cst); cpu >= 0) pin(0, cpu);
        std::uint32_t last = 0;
        bool first = true;
        for (;;) {
            pollfd p[2] = {{stop_.get(), POLLIN, 0}, {uio_.get(), POLLIN, 0}};
            int n = ::poll(p, 2, -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 || (p[0].revents & POLLIN)) return;
            if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
                deliver(bus::event_kind::device_gone);
                return;
            }
            std::uint32_t total = 0;
            ssize_t r = ::read(uio_.get(), &total, sizeof total);
            if (r != sizeof total) {
                if (r < 0 && errno == EINTR) continue;
                deliver(bus::event_kind::device_gone);
                return;
            }
            // /dev/uioN returns the running total of interrupts.
            std::uint64_t delta = first ? 1 : static_cast<std::uint32_t>(total - last);
            first = false;
            last = total;
            int fd = target_.load(std::memory_order_acquire);
            if (fd >= 0 && delta > 0) {
                ssize_t w = ::write(fd, &delta, sizeof delta);
                (void)w;
            }
        }
    }

    void stop_relay() {
        if (!relay_.joinable()) return;
        std::uint64_t one = 1;
        ssize_t w = ::write(stop_.get(), &one, sizeof one);
        (void)w;
        relay_.join();
    }

    void deliver(bus::event_kind k) {
        std::function<void(bus::event_kind)> h;
        {
            std::lock_guard g(lock_);
            h = handler_;
        }
        if (h) h(k);
    }

    std::string bdf_, sys_, uio_name_;
    os::unique_fd uio_, config_, stop_;
    bar bars_[6];
    bus::pci_id id_;
    std::mutex lock_;
    std::map<std::uint32_t, std::pair<void*, std::size_t>> maps_;
    std::atomic<int> target_{-1};
    std::atomic<int> relay_cpu_{-1};  // the ISR thread's CPU (set_irq_affinity)
    std::atomic<pid_t> relay_tid_{0};
    std::function<void(bus::event_kind)> handler_;
    os::thread relay_;
};

}  // namespace

result<std::shared_ptr<bus::device>> open(const std::string& bdf) {
    return uio_device::open(bdf);
}

}  // namespace wdfx::uio
