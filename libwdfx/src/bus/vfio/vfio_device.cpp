// The VFIO bus: legacy container/group with the type1 IOMMU (the guest kernel of the HIL harness,
// 6.1, has no iommufd or VFIO cdev).
//
// Threads: bus::device calls come from the PnP thread, except unmask_intx (never called: INTx is
// unmasked through the unmask eventfd by the ISR thread) and trigger (tests). The event thread
// (wdfx-vfio-evt) waits on the request and error eventfds and calls the event handler.
#include <dirent.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include <wdfx/vfio.hpp>

#include "bus/vfio/sparse_region.hpp"
#include "os/fd.hpp"
#include "os/log.hpp"
#include "os/thread.hpp"

namespace wdfx::vfio {

namespace {

std::string read_link_base(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return {};
    buf[n] = '\0';
    const char* slash = std::strrchr(buf, '/');
    return slash != nullptr ? slash + 1 : buf;
}

std::string read_file(const std::string& path) {
    os::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return {};
    char buf[256];
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n <= 0) return {};
    buf[n] = '\0';
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

/// Who holds /dev/vfio/N open (for the "group busy" message): "pid 1234 (name)".
std::string group_holders(const std::string& node) {
    std::string out;
    DIR* proc = ::opendir("/proc");
    if (proc == nullptr) return out;
    while (dirent* e = ::readdir(proc)) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
        std::string fddir = std::string("/proc/") + e->d_name + "/fd";
        DIR* fds = ::opendir(fddir.c_str());
        if (fds == nullptr) continue;
        bool holds = false;
        while (dirent* f = ::readdir(fds)) {
            char target[256];
            std::string link = fddir + "/" + f->d_name;
            ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                if (node == target) holds = true;
            }
        }
        ::closedir(fds);
        if (holds && std::atoi(e->d_name) != ::getpid()) {
            if (!out.empty()) out += ", ";
            out += std::string("pid ") + e->d_name + " (" +
                   read_file(std::string("/proc/") + e->d_name + "/comm") + ")";
        }
    }
    ::closedir(proc);
    return out;
}

error errno_error(int e, std::string msg) {
    return error::from_errno(e, std::move(msg));
}

constexpr unsigned kRegionConfig = VFIO_PCI_CONFIG_REGION_INDEX;

class vfio_device final : public bus::device {
  public:
    ~vfio_device() override {
        stop_events();
        sparse_.clear();
        for (auto& m : maps_)
            if (m.second.addr != nullptr) ::munmap(m.second.addr, m.second.size);
        // Unmap every DMA mapping still there (the IOMMU forgets them when the container closes,
        // but say it explicitly: bus mastering was turned off by the framework before this).
        for (auto& d : dma_) {
            vfio_iommu_type1_dma_unmap u{};
            u.argsz = sizeof u;
            u.iova = d.first;
            u.size = d.second;
            ::ioctl(container_.get(), VFIO_IOMMU_UNMAP_DMA, &u);
        }
    }

    static result<std::shared_ptr<bus::device>> open(const std::string& bdf_in) {
        std::string bdf = normalize_bdf(bdf_in);
        if (bdf.empty())
            return errno_error(EINVAL,
                               "'" + bdf_in + "' is not a PCI address (expected DDDD:BB:DD.F)");
        std::string sys = "/sys/bus/pci/devices/" + bdf;
        if (::access(sys.c_str(), F_OK) != 0)
            return errno_error(ENODEV, "no PCI device " + bdf + " (see lspci -D or wdfxctl list)");
        std::string drv = read_link_base(sys + "/driver");
        if (drv != "vfio-pci")
            return errno_error(
                ENODEV, bdf + " is bound to " + (drv.empty() ? std::string("no driver") : drv) +
                            ", not vfio-pci: run 'wdfxctl bind " + bdf + "' as root");
        std::string group = read_link_base(sys + "/iommu_group");
        if (group.empty())
            return errno_error(ENODEV,
                               bdf +
                                   " has no IOMMU group: enable the IOMMU (intel_iommu=on / "
                                   "amd_iommu=on on the kernel command line)");
        std::shared_ptr<vfio_device> d(new vfio_device());
        d->bdf_ = bdf;
        d->group_no_ = group;
        d->container_.reset(::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC));
        if (!d->container_)
            return errno_error(errno,
                               "open /dev/vfio/vfio: load the vfio module (modprobe vfio-pci)");
        if (::ioctl(d->container_.get(), VFIO_GET_API_VERSION) != VFIO_API_VERSION)
            return errno_error(EINVAL, "unknown VFIO API version");
        int iommu_type = VFIO_TYPE1v2_IOMMU;
        if (::ioctl(d->container_.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) != 1) {
            iommu_type = VFIO_TYPE1_IOMMU;
            if (::ioctl(d->container_.get(), VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) != 1)
                return errno_error(
                    ENOTSUP,
                    "the kernel's VFIO has no type1 IOMMU support (modprobe vfio_iommu_type1)");
        }
        std::string node = "/dev/vfio/" + group;
        d->group_.reset(::open(node.c_str(), O_RDWR | O_CLOEXEC));
        if (!d->group_) {
            int e = errno;
            if (e == EBUSY) {
                std::string who = group_holders(node);
                return errno_error(e, "IOMMU group " + group + " (" + node +
                                          ") is in use by another process" +
                                          (who.empty() ? std::string("") : ": " + who) +
                                          "; one process per IOMMU group");
            }
            if (e == EACCES || e == EPERM)
                return errno_error(
                    e, "no permission on " + node +
                           ": give the driver's user read/write access (the wdfx udev rule puts it "
                           "in group 'wdfx' with mode 0660; wdfxctl udev-rules prints it)");
            return errno_error(e, "open " + node);
        }
        vfio_group_status gs{};
        gs.argsz = sizeof gs;
        if (::ioctl(d->group_.get(), VFIO_GROUP_GET_STATUS, &gs) != 0)
            return errno_error(errno, "VFIO_GROUP_GET_STATUS on " + node);
        if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
            std::string others;
            std::string dir = "/sys/kernel/iommu_groups/" + group + "/devices";
            if (DIR* g = ::opendir(dir.c_str())) {
                while (dirent* e = ::readdir(g)) {
                    if (e->d_name[0] == '.') continue;
                    std::string od = read_link_base(dir + "/" + e->d_name + "/driver");
                    if (od != "vfio-pci" && !od.empty())
                        others += std::string(" ") + e->d_name + " (" + od + ")";
                }
                ::closedir(g);
            }
            return errno_error(EBUSY, "IOMMU group " + group +
                                          " is not viable: every device in it must be bound "
                                          "to vfio-pci or to no driver; still bound:" +
                                          others + " (wdfxctl bind each of them)");
        }
        int container_fd = d->container_.get();
        if (::ioctl(d->group_.get(), VFIO_GROUP_SET_CONTAINER, &container_fd) != 0)
            return errno_error(errno, "VFIO_GROUP_SET_CONTAINER");
        if (::ioctl(d->container_.get(), VFIO_SET_IOMMU, iommu_type) != 0)
            return errno_error(errno, "VFIO_SET_IOMMU (type1)");
        int fd = ::ioctl(d->group_.get(), VFIO_GROUP_GET_DEVICE_FD, bdf.c_str());
        if (fd < 0) return errno_error(errno, "VFIO_GROUP_GET_DEVICE_FD " + bdf);
        d->dev_.reset(fd);
        vfio_device_info di{};
        di.argsz = sizeof di;
        if (::ioctl(fd, VFIO_DEVICE_GET_INFO, &di) != 0)
            return errno_error(errno, "VFIO_DEVICE_GET_INFO");
        if (!(di.flags & VFIO_DEVICE_FLAGS_PCI))
            return errno_error(ENODEV, bdf + " is not a PCI device");
        d->info_ = di;
        d->load_regions();
        d->load_irqs();
        d->load_iova_ranges();
        d->load_ids();
        auto ev = d->start_events();
        if (!ev) return ev.err();
        return std::shared_ptr<bus::device>(d);
    }

    std::string name() const override { return bdf_; }
    bus::pci_id id() const override { return id_; }
    std::uint32_t num_regions() const override { return info_.num_regions; }

    result<bus::region_info> region(std::uint32_t index) const override {
        if (index >= regions_.size() || !regions_[index].valid)
            return errno_error(EINVAL,
                               bdf_ + ": region " + std::to_string(index) + " does not exist");
        return regions_[index].info;
    }

    result<register_block> map_region(std::uint32_t index) override {
        std::lock_guard g(lock_);
        if (index >= regions_.size() || !regions_[index].valid || regions_[index].info.size == 0)
            return errno_error(EINVAL, bdf_ + ": BAR " + std::to_string(index) + " is empty");
        const auto& r = regions_[index];
        if (!r.info.mappable && !r.info.io_port && !r.info.sparse.empty()) {
            // Sparse: the areas mapped, the holes through pread/pwrite (sparse_region).
            auto it = sparse_.find(index);
            if (it == sparse_.end()) {
                auto sp = sparse_region::map(dev_.get(), r.offset, r.info.size, r.info.sparse,
                                             index, bdf_);
                if (!sp) return sp.err();
                it = sparse_.emplace(index, std::move(*sp)).first;
            }
            return it->second->block();
        }
        if (!r.info.mappable || r.info.io_port)
            return errno_error(ENOTSUP, bdf_ + ": region " + std::to_string(index) +
                                            " cannot be mmapped (use region_read/region_write)");
        auto it = maps_.find(index);
        if (it == maps_.end()) {
            void* p = ::mmap(nullptr, r.info.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev_.get(),
                             static_cast<off_t>(r.offset));
            if (p == MAP_FAILED)
                return errno_error(errno, bdf_ + ": mmap of BAR " + std::to_string(index));
            it = maps_.emplace(index, mapping{p, r.info.size}).first;
        }
        return register_block(it->second.addr, it->second.size);
    }

    void unmap_region(std::uint32_t index) override {
        std::lock_guard g(lock_);
        sparse_.erase(index);
        auto it = maps_.find(index);
        if (it == maps_.end()) return;
        ::munmap(it->second.addr, it->second.size);
        maps_.erase(it);
    }

    result<std::size_t> region_read(std::uint32_t index, std::uint64_t off,
                                    std::span<std::byte> out) override {
        if (index >= regions_.size() || !regions_[index].valid)
            return errno_error(EINVAL, "no such region");
        ssize_t n = ::pread(dev_.get(), out.data(), out.size(),
                            static_cast<off_t>(regions_[index].offset + off));
        if (n < 0) return errno_error(errno, bdf_ + ": region read");
        return static_cast<std::size_t>(n);
    }

    result<std::size_t> region_write(std::uint32_t index, std::uint64_t off,
                                     std::span<const std::byte> in) override {
        if (index >= regions_.size() || !regions_[index].valid)
            return errno_error(EINVAL, "no such region");
        ssize_t n = ::pwrite(dev_.get(), in.data(), in.size(),
                             static_cast<off_t>(regions_[index].offset + off));
        if (n < 0) return errno_error(errno, bdf_ + ": region write");
        return static_cast<std::size_t>(n);
    }

    result<std::size_t> config_read(std::uint32_t off, std::span<std::byte> out) override {
        return region_read(kRegionConfig, off, out);
    }
    result<std::size_t> config_write(std::uint32_t off, std::span<const std::byte> in) override {
        return region_write(kRegionConfig, off, in);
    }

    bus::irq_info irq(bus::irq_kind kind) const override {
        auto i = static_cast<std::size_t>(kind);
        return i < irqs_.size() ? irqs_[i] : bus::irq_info{};
    }

    result<void> enable_irqs(bus::irq_kind kind, std::uint32_t count) override {
        std::lock_guard g(lock_);
        if (kind == bus::irq_kind::intx) {
            // Enabled with no trigger (fd -1), like the MSI blocks below: vfio-pci then refuses
            // MSI/MSI-X while INTx is on (one index at a time), and a trigger can come and go.
            if (count != 1 || irqs_[0].count == 0)
                return errno_error(
                    EINVAL, bdf_ + ": INTx has " + std::to_string(irqs_[0].count) + " vector(s)");
            int none[1] = {-1};
            auto r =
                set_irqs(kind, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, none);
            if (r) intx_enabled_ = true;
            return r;
        }
        // MSI/MSI-X: enable the whole block with no eventfds (NORESIZE on 6.1: it cannot grow).
        std::vector<int> fds(count, -1);
        return set_irqs(kind, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, fds);
    }

    result<void> set_irq_eventfds(bus::irq_kind kind, std::uint32_t start,
                                  std::span<const int> fds) override {
        std::lock_guard g(lock_);
        if (kind == bus::irq_kind::intx) {
            if (fds.size() != 1 || start != 0) return errno_error(EINVAL, "INTx has one vector");
            // Attach or detach (fd -1) the trigger; INTx stays enabled (vfio_intx_set_signal).
            auto r =
                set_irqs(kind, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, fds);
            if (!r || fds[0] < 0) return r;
            if (!unmask_efd_) unmask_efd_.reset(::eventfd(0, EFD_CLOEXEC));
            // The ISR thread unmasks with one write(1) to this eventfd after every ISR. vfio-pci
            // refuses a second unmask eventfd (EBUSY): drop the one a previous attach left.
            int u[1] = {-1};
            (void)set_irqs(kind, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, u);
            u[0] = unmask_efd_.get();
            return set_irqs(kind, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK, 0, u);
        }
        return set_irqs(kind, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, start, fds);
    }

    result<void> disable_irqs(bus::irq_kind kind) override {
        std::lock_guard g(lock_);
        if (kind == bus::irq_kind::intx) intx_enabled_ = false;
        return set_irqs(kind, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 0, {});
    }

    result<void> unmask_intx() noexcept override {
        vfio_irq_set s{};
        s.argsz = sizeof s;
        s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK;
        s.index = VFIO_PCI_INTX_IRQ_INDEX;
        s.start = 0;
        s.count = 1;
        if (::ioctl(dev_.get(), VFIO_DEVICE_SET_IRQS, &s) != 0)
            return errno_error(errno, "INTx unmask");
        return {};
    }

    result<void> mask_intx() override {
        vfio_irq_set s{};
        s.argsz = sizeof s;
        s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK;
        s.index = VFIO_PCI_INTX_IRQ_INDEX;
        s.start = 0;
        s.count = 1;
        if (::ioctl(dev_.get(), VFIO_DEVICE_SET_IRQS, &s) != 0)
            return errno_error(errno, "INTx mask");
        return {};
    }

    int intx_unmask_eventfd() const noexcept override { return unmask_efd_.get(); }

    result<void> trigger(bus::irq_kind kind, std::uint32_t vector) override {
        vfio_irq_set s{};
        s.argsz = sizeof s;
        s.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
        s.index = static_cast<std::uint32_t>(kind);
        s.start = vector;
        s.count = 1;
        if (::ioctl(dev_.get(), VFIO_DEVICE_SET_IRQS, &s) != 0)
            return errno_error(errno, bdf_ + ": software trigger of " + bus::irq_kind_name(kind) +
                                          " vector " + std::to_string(vector));
        return {};
    }

    bus::dma_limits dma() const override { return dma_limits_; }

    result<void> dma_map(void* va, std::size_t size, std::uint64_t iova) override {
        vfio_iommu_type1_dma_map m{};
        m.argsz = sizeof m;
        m.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
        m.vaddr = reinterpret_cast<std::uintptr_t>(va);
        m.iova = iova;
        m.size = size;
        if (::ioctl(container_.get(), VFIO_IOMMU_MAP_DMA, &m) != 0) {
            int e = errno;
            if (e == ENOMEM) {
                rlimit rl{};
                ::getrlimit(RLIMIT_MEMLOCK, &rl);
                char buf[256];
                std::snprintf(buf, sizeof buf,
                              "%s: VFIO_IOMMU_MAP_DMA of %zu bytes: the memlock limit "
                              "(RLIMIT_MEMLOCK %llu bytes) is too "
                              "low for the driver's DMA memory: raise it (ulimit -l, or "
                              "LimitMEMLOCK= in the service)",
                              bdf_.c_str(), size, static_cast<unsigned long long>(rl.rlim_cur));
                return errno_error(e, buf);
            }
            return errno_error(e, bdf_ + ": VFIO_IOMMU_MAP_DMA");
        }
        std::lock_guard g(lock_);
        dma_[iova] = size;
        return {};
    }

    result<void> dma_unmap(std::uint64_t iova, std::size_t size) override {
        vfio_iommu_type1_dma_unmap u{};
        u.argsz = sizeof u;
        u.iova = iova;
        u.size = size;
        if (::ioctl(container_.get(), VFIO_IOMMU_UNMAP_DMA, &u) != 0)
            return errno_error(errno, bdf_ + ": VFIO_IOMMU_UNMAP_DMA");
        if (u.size != size)
            return errno_error(ENOENT, bdf_ + ": no DMA mapping at that IOVA and size");
        std::lock_guard g(lock_);
        dma_.erase(iova);
        return {};
    }

    result<void> set_bus_master(bool on) override {
        std::byte cmd[2];
        auto r = config_read(0x04, cmd);
        if (!r) return r.err();
        auto v = static_cast<std::uint16_t>(std::to_integer<unsigned>(cmd[0]) |
                                            std::to_integer<unsigned>(cmd[1]) << 8);
        v = on ? static_cast<std::uint16_t>(v | 0x4) : static_cast<std::uint16_t>(v & ~0x4);
        cmd[0] = static_cast<std::byte>(v & 0xff);
        cmd[1] = static_cast<std::byte>(v >> 8);
        auto w = config_write(0x04, cmd);
        if (!w) return w.err();
        return {};
    }

    bool can_reset() const override { return (info_.flags & VFIO_DEVICE_FLAGS_RESET) != 0; }

    bool set_irq_affinity(bus::irq_kind kind, std::uint32_t vector, int cpu) override {
        // /proc/interrupts names the host IRQs "vfio-msix[N](BDF)", "vfio-msi[N](BDF)",
        // "vfio-intx(BDF)"; writing smp_affinity_list needs root (or CAP_SYS_ADMIN-free
        // /proc/irq ownership), so this is best effort and silent when not permitted.
        if (cpu < 0) return false;
        std::string tag;
        if (kind == bus::irq_kind::msix)
            tag = "vfio-msix[" + std::to_string(vector) + "](" + bdf_ + ")";
        else if (kind == bus::irq_kind::msi)
            tag = "vfio-msi[" + std::to_string(vector) + "](" + bdf_ + ")";
        else if (kind == bus::irq_kind::intx)
            tag = "vfio-intx(" + bdf_ + ")";
        else
            return false;
        FILE* f = std::fopen("/proc/interrupts", "r");
        if (f == nullptr) return false;
        char line[1024];
        long irq = -1;
        while (std::fgets(line, sizeof line, f) != nullptr)
            if (std::strstr(line, tag.c_str()) != nullptr) irq = std::strtol(line, nullptr, 10);
        std::fclose(f);
        if (irq < 0) return false;
        std::string path = "/proc/irq/" + std::to_string(irq) + "/smp_affinity_list";
        os::unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd) return false;
        std::string v = std::to_string(cpu);
        return ::write(fd.get(), v.data(), v.size()) == static_cast<ssize_t>(v.size());
    }

    result<void> reset() override {
        if (!(info_.flags & VFIO_DEVICE_FLAGS_RESET))
            return errno_error(ENOTTY,
                               bdf_ +
                                   " has no reset method (no FLR, no PM reset, not alone behind a "
                                   "bridge): see /sys/bus/pci/devices/" +
                                   bdf_ + "/reset_method");
        if (::ioctl(dev_.get(), VFIO_DEVICE_RESET) != 0)
            return errno_error(errno, bdf_ + ": VFIO_DEVICE_RESET");
        return {};
    }

    void set_event_handler(std::function<void(bus::event_kind)> h) override {
        std::lock_guard g(events_lock_);
        handler_ = std::move(h);
    }

  private:
    struct region_state {
        bool valid = false;
        std::uint64_t offset = 0;
        bus::region_info info;
    };
    struct mapping {
        void* addr;
        std::size_t size;
    };

    result<void> set_irqs(bus::irq_kind kind, std::uint32_t flags, std::uint32_t start,
                          std::span<const int> fds) {
        std::vector<std::uint8_t> buf(sizeof(vfio_irq_set) + fds.size() * sizeof(int));
        auto* s = reinterpret_cast<vfio_irq_set*>(buf.data());
        s->argsz = static_cast<std::uint32_t>(buf.size());
        s->flags = flags;
        s->index = static_cast<std::uint32_t>(kind);
        s->start = start;
        s->count = static_cast<std::uint32_t>(fds.size());
        if (!fds.empty()) std::memcpy(s->data, fds.data(), fds.size() * sizeof(int));
        if (::ioctl(dev_.get(), VFIO_DEVICE_SET_IRQS, s) != 0)
            return errno_error(errno, bdf_ + ": VFIO_DEVICE_SET_IRQS " + bus::irq_kind_name(kind) +
                                          " [" + std::to_string(start) + ", +" +
                                          std::to_string(fds.size()) + ")");
        return {};
    }

    void load_regions() {
        regions_.resize(info_.num_regions);
        for (std::uint32_t i = 0; i < info_.num_regions; ++i) {
            std::vector<std::uint8_t> buf(sizeof(vfio_region_info));
            auto* ri = reinterpret_cast<vfio_region_info*>(buf.data());
            ri->argsz = static_cast<std::uint32_t>(buf.size());
            ri->index = i;
            if (::ioctl(dev_.get(), VFIO_DEVICE_GET_REGION_INFO, ri) != 0) continue;  // VGA: EINVAL
            if (ri->argsz > buf.size()) {  // capabilities follow
                std::uint32_t need = ri->argsz;
                buf.assign(need, 0);
                ri = reinterpret_cast<vfio_region_info*>(buf.data());
                ri->argsz = need;
                ri->index = i;
                if (::ioctl(dev_.get(), VFIO_DEVICE_GET_REGION_INFO, ri) != 0) continue;
            }
            region_state& r = regions_[i];
            r.valid = true;
            r.offset = ri->offset;
            r.info.index = i;
            r.info.size = ri->size;
            r.info.readable = ri->flags & VFIO_REGION_INFO_FLAG_READ;
            r.info.writable = ri->flags & VFIO_REGION_INFO_FLAG_WRITE;
            r.info.mappable = ri->flags & VFIO_REGION_INFO_FLAG_MMAP;
            if ((ri->flags & VFIO_REGION_INFO_FLAG_CAPS) && ri->cap_offset != 0) {
                std::uint32_t off = ri->cap_offset;
                while (off != 0 && off + sizeof(vfio_info_cap_header) <= buf.size()) {
                    auto* h = reinterpret_cast<vfio_info_cap_header*>(buf.data() + off);
                    if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
                        auto* sp = reinterpret_cast<vfio_region_info_cap_sparse_mmap*>(h);
                        for (std::uint32_t a = 0; a < sp->nr_areas; ++a)
                            r.info.sparse.emplace_back(sp->areas[a].offset, sp->areas[a].size);
                        r.info.mappable = false;  // only the areas; the rest through pread/pwrite
                    }
                    off = h->next;
                }
            }
        }
        // An I/O-port BAR reads as such in config space (bit 0 of the BAR register).
        for (std::uint32_t i = 0; i < 6 && i < regions_.size(); ++i) {
            if (!regions_[i].valid || regions_[i].info.size == 0) continue;
            std::byte bar[4];
            if (config_read(0x10 + 4 * i, bar) && (std::to_integer<unsigned>(bar[0]) & 1)) {
                regions_[i].info.io_port = true;
                regions_[i].info.mappable = false;
            }
        }
    }

    void load_irqs() {
        irqs_.resize(5);
        for (std::uint32_t i = 0; i < info_.num_irqs && i < 5; ++i) {
            vfio_irq_info ii{};
            ii.argsz = sizeof ii;
            ii.index = i;
            if (::ioctl(dev_.get(), VFIO_DEVICE_GET_IRQ_INFO, &ii) != 0)
                continue;  // ERR on non-PCIe
            auto& o = irqs_[i];
            o.count = ii.count;
            o.eventfd = ii.flags & VFIO_IRQ_INFO_EVENTFD;
            o.maskable = ii.flags & VFIO_IRQ_INFO_MASKABLE;
            o.automasked = ii.flags & VFIO_IRQ_INFO_AUTOMASKED;
            o.noresize = ii.flags & VFIO_IRQ_INFO_NORESIZE;
        }
    }

    void load_iova_ranges() {
        dma_limits_.iommu = true;
        dma_limits_.address_bits = 64;
        std::vector<std::uint8_t> buf(sizeof(vfio_iommu_type1_info));
        auto* ii = reinterpret_cast<vfio_iommu_type1_info*>(buf.data());
        ii->argsz = static_cast<std::uint32_t>(buf.size());
        if (::ioctl(container_.get(), VFIO_IOMMU_GET_INFO, ii) == 0 && ii->argsz > buf.size()) {
            std::uint32_t need = ii->argsz;
            buf.assign(need, 0);
            ii = reinterpret_cast<vfio_iommu_type1_info*>(buf.data());
            ii->argsz = need;
            if (::ioctl(container_.get(), VFIO_IOMMU_GET_INFO, ii) == 0 &&
                (ii->flags & VFIO_IOMMU_INFO_CAPS)) {
                std::uint32_t off = ii->cap_offset;
                while (off != 0 && off + sizeof(vfio_info_cap_header) <= buf.size()) {
                    auto* h = reinterpret_cast<vfio_info_cap_header*>(buf.data() + off);
                    if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
                        auto* c = reinterpret_cast<vfio_iommu_type1_info_cap_iova_range*>(h);
                        for (std::uint32_t k = 0; k < c->nr_iovas; ++k)
                            dma_limits_.iova_ranges.emplace_back(c->iova_ranges[k].start,
                                                                 c->iova_ranges[k].end);
                    }
                    off = h->next;
                }
            }
        }
        if (dma_limits_.iova_ranges.empty()) dma_limits_.iova_ranges.emplace_back(0, ~0ull);
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

    result<void> start_events() {
        // The request IRQ (orderly removal) and, on PCIe devices, the error IRQ.
        req_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        stop_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (irq(bus::irq_kind::req).count > 0) {
            int f[1] = {req_efd_.get()};
            auto r = set_irqs(bus::irq_kind::req,
                              VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, f);
            if (!r)
                os::log(os::log_level::warning, "%s: no request IRQ: %s", bdf_.c_str(),
                        r.err().describe().c_str());
        }
        if (irq(bus::irq_kind::err).count > 0) {
            err_efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
            int f[1] = {err_efd_.get()};
            auto r = set_irqs(bus::irq_kind::err,
                              VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, f);
            if (!r) err_efd_.reset();
        }
        events_ = os::thread("wdfx-vfio-evt", [this] { event_loop(); });
        return {};
    }

    void stop_events() {
        if (!events_.joinable()) return;
        std::uint64_t one = 1;
        ssize_t w = ::write(stop_efd_.get(), &one, sizeof one);
        (void)w;
        events_.join();
    }

    void event_loop() {
        bool requested = false;
        for (;;) {
            pollfd p[3] = {{stop_efd_.get(), POLLIN, 0},
                           {req_efd_.get(), POLLIN, 0},
                           {err_efd_.get(), POLLIN, 0}};
            int n = ::poll(p, err_efd_ ? 3 : 2, -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return;
            std::uint64_t v;
            if (p[0].revents & POLLIN) return;
            if (p[1].revents & POLLIN) {
                ssize_t r = ::read(req_efd_.get(), &v, sizeof v);
                (void)r;
                // The kernel repeats the request every 10 s until the device is released; the
                // framework acts on the first one.
                if (!requested) {
                    requested = true;
                    os::log_fields(os::log_level::info, bdf_.c_str(), -1,
                                   "%s: the kernel requests the device back (unbind or hot-unplug)",
                                   bdf_.c_str());
                    deliver(bus::event_kind::removal_requested);
                }
            }
            if (n > 0 && err_efd_ && (p[2].revents & POLLIN)) {
                ssize_t r = ::read(err_efd_.get(), &v, sizeof v);
                (void)r;
                deliver(bus::event_kind::error_reported);
            }
        }
    }

    void deliver(bus::event_kind k) {
        std::function<void(bus::event_kind)> h;
        {
            std::lock_guard g(events_lock_);
            h = handler_;
        }
        if (h) h(k);
    }

    std::string bdf_;
    std::string group_no_;
    os::unique_fd container_, group_, dev_;
    vfio_device_info info_{};
    std::vector<region_state> regions_;
    std::vector<bus::irq_info> irqs_;
    bus::dma_limits dma_limits_;
    bus::pci_id id_;
    std::mutex lock_;
    std::map<std::uint32_t, mapping> maps_;
    std::map<std::uint32_t, std::unique_ptr<sparse_region>> sparse_;
    std::map<std::uint64_t, std::size_t> dma_;
    bool intx_enabled_ = false;
    os::unique_fd unmask_efd_;
    os::unique_fd req_efd_, err_efd_, stop_efd_;
    std::mutex events_lock_;
    std::function<void(bus::event_kind)> handler_;
    os::thread events_;
};

}  // namespace

std::string normalize_bdf(const std::string& in) {
    unsigned dom = 0, bus = 0, dev = 0, fn = 0;
    char tail;
    if (std::sscanf(in.c_str(), "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4) {
    } else if (std::sscanf(in.c_str(), "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3) {
        dom = 0;
    } else if (std::sscanf(in.c_str(), "%x.%x%c", &dev, &fn, &tail) == 2) {
        dom = bus = 0;
    } else {
        return {};
    }
    if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7) return {};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return buf;
}

result<std::shared_ptr<bus::device>> open(const std::string& bdf) {
    return vfio_device::open(bdf);
}

}  // namespace wdfx::vfio
