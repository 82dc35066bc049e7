// DMA enablers and common buffers (wdf-semantics §18.10) with an IOVA allocator.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <wdfx/dma.hpp>

#include "core/device_impl.hpp"
#include "core/iova.hpp"
#include "core/object_impl.hpp"
#include "core/verifier.hpp"
#include "os/log.hpp"

namespace wdfx {
namespace detail {

class dma_enabler_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::dma_enabler;
    dma_enabler_impl(device_impl* d, const dma_enabler_config& c)
        : object_impl(kType), dev(d), config(c), iova(d->bus->dma(), c.address_bits) {}
    device_impl* dev;
    dma_enabler_config config;
    iova_allocator iova;
};

class common_buffer_impl final : public object_impl {
  public:
    static constexpr object_type kType = object_type::common_buffer;
    explicit common_buffer_impl(dma_enabler_impl* e) : object_impl(kType), enabler(e) {}
    ~common_buffer_impl() override {
        if (mapped) {
            auto r = enabler->dev->bus->dma_unmap(logical, map_length);
            if (!r && !enabler->dev->surprise_removed.load())
                os::log(os::log_level::warning, "%s: DMA unmap: %s", enabler->dev->name.c_str(),
                        r.err().describe().c_str());
            if (enabler->dev->bus->dma().iommu) enabler->iova.release(logical, map_length);
        }
        if (va != nullptr) ::munmap(va, map_length);
    }
    dma_enabler_impl* enabler;
    void* va = nullptr;
    std::uint64_t logical = 0;
    std::size_t length = 0;
    std::size_t map_length = 0;
    bool mapped = false;
};

}  // namespace detail

using namespace detail;

result<dma_enabler> dma_enabler::create(device d, const dma_enabler_config& config,
                                        const object_attributes& a) {
    constexpr const char* api = "WdfDmaEnablerCreate";
    auto* dev = resolve<device_impl>(d.handle(), api);
    if (dev == nullptr)
        return error::from_status(status::invalid_handle, "WdfDmaEnablerCreate: bad WDFDEVICE");
    if (!verify_level_max(level::passive, api, d.handle()))
        return error::from_status(status::invalid_device_state,
                                  "WdfDmaEnablerCreate above PASSIVE_LEVEL");
    if (!dev->bus)
        return error::from_status(status::not_supported,
                                  "WdfDmaEnablerCreate: the device has no bus");
    if (config.address_bits < 24 || config.address_bits > 64)
        return error::from_status(status::invalid_parameter,
                                  "WdfDmaEnablerCreate: address width must be 24..64 bits");
    if (a.parent != 0 && a.parent != d.handle())
        return error::from_status(status::wdf_parent_assignment_not_allowed,
                                  "WdfDmaEnablerCreate: the parent is always the device");
    auto* e = new dma_enabler_impl(dev, config);
    object_attributes attrs = a;
    attrs.parent = 0;
    e->commit(attrs, dev);
    return dma_enabler(e->handle());
}

unsigned dma_enabler::address_bits() const {
    auto* e = resolve<dma_enabler_impl>(h_, "WdfDmaEnablerGetAddressBits");
    return e != nullptr ? e->config.address_bits : 0;
}

result<common_buffer> common_buffer::create(dma_enabler en, std::size_t length,
                                            const object_attributes& a) {
    constexpr const char* api = "WdfCommonBufferCreate";
    auto* e = resolve<dma_enabler_impl>(en.handle(), api);
    if (e == nullptr)
        return error::from_status(status::invalid_handle,
                                  "WdfCommonBufferCreate: bad WDFDMAENABLER");
    if (!verify_level_max(level::passive, api, en.handle()))
        return error::from_status(status::invalid_device_state,
                                  "WdfCommonBufferCreate above PASSIVE_LEVEL");
    if (length == 0)
        return error::from_status(status::invalid_parameter, "WdfCommonBufferCreate: zero length");
    const long page = ::sysconf(_SC_PAGESIZE);
    const std::size_t map_len =
        (length + static_cast<std::size_t>(page) - 1) & ~(static_cast<std::size_t>(page) - 1);
    auto& busdev = *e->dev->bus;
    const bool iommu = busdev.dma().iommu;
    auto b = std::make_unique<common_buffer_impl>(e);
    b->length = length;
    b->map_length = map_len;
    // VFIO pins the pages when it maps them and charges RLIMIT_MEMLOCK for that; locking them too
    // would charge the limit twice (a LimitMEMLOCK= of the DMA size failed). Without an IOMMU the
    // physical address the device uses must not change: lock.
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (iommu ? 0 : MAP_LOCKED);
    if (!iommu && map_len > static_cast<std::size_t>(page)) {
        // No IOMMU: the bus address is physical, so the buffer must be contiguous: a huge page.
        if (map_len > (2u << 20))
            return error::from_status(
                status::insufficient_resources,
                "WdfCommonBufferCreate: " + std::to_string(length) +
                    " bytes on UIO: at most one 2 MiB huge page can be physically contiguous; "
                    "use VFIO for larger buffers");
        b->map_length = 2u << 20;
        flags |= MAP_HUGETLB;
    }
    void* va = ::mmap(nullptr, b->map_length, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (va == MAP_FAILED) {
        int err = errno;
        if (flags & MAP_HUGETLB)
            return error::from_errno(
                err,
                "WdfCommonBufferCreate: no huge page for a contiguous UIO DMA buffer: reserve "
                "some (sysctl vm.nr_hugepages=8)");
        return error::from_errno(
            err, "WdfCommonBufferCreate: locking " + std::to_string(map_len) +
                     " bytes failed: raise RLIMIT_MEMLOCK (ulimit -l, LimitMEMLOCK=)");
    }
    std::memset(va, 0, b->map_length);
    b->va = va;
    std::uint64_t bus_addr = 0;
    if (iommu) {
        bus_addr = e->iova.allocate(b->map_length);
        if (bus_addr == 0)
            return error::from_status(
                status::insufficient_resources,
                "WdfCommonBufferCreate: no IOVA space left below the device's " +
                    std::to_string(e->config.address_bits) + "-bit DMA limit");
    } else {
        auto pa = busdev.physical_address(va);
        if (!pa) return pa.err();
        bus_addr = *pa;
        if (e->config.address_bits < 64 && (bus_addr + b->map_length - 1) >> e->config.address_bits)
            return error::from_status(
                status::insufficient_resources,
                "WdfCommonBufferCreate: the buffer's physical address is above the device's "
                "DMA limit (no IOMMU to remap it)");
    }
    auto m = busdev.dma_map(va, b->map_length, bus_addr);
    if (!m) {
        if (iommu) e->iova.release(bus_addr, b->map_length);
        return m.err();
    }
    b->logical = bus_addr;
    b->mapped = true;
    object_attributes attrs = a;
    attrs.parent = 0;
    auto* raw = b.release();
    raw->commit(attrs, e);
    return common_buffer(raw->handle());
}

void* common_buffer::virtual_address() const {
    auto* b = resolve<common_buffer_impl>(h_, "WdfCommonBufferGetAlignedVirtualAddress");
    return b != nullptr ? b->va : nullptr;
}

std::uint64_t common_buffer::logical_address() const {
    auto* b = resolve<common_buffer_impl>(h_, "WdfCommonBufferGetAlignedLogicalAddress");
    return b != nullptr ? b->logical : 0;
}

std::size_t common_buffer::length() const {
    auto* b = resolve<common_buffer_impl>(h_, "WdfCommonBufferGetLength");
    return b != nullptr ? b->length : 0;
}

}  // namespace wdfx
