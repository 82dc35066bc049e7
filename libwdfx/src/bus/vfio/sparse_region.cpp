#include "bus/vfio/sparse_region.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wdfx::vfio {

result<std::unique_ptr<sparse_region>> sparse_region::map(
    int fd, std::uint64_t fd_offset, std::size_t size,
    std::span<const std::pair<std::uint64_t, std::uint64_t>> areas, std::uint32_t bar,
    const std::string& name) {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    for (const auto& [off, len] : areas)
        if (len == 0 || off % page != 0 || off > size || len > size - off)
            return error::from_errno(
                EINVAL, name + ": BAR " + std::to_string(bar) + ": a sparse mmap area (offset " +
                            std::to_string(off) + ", size " + std::to_string(len) +
                            ") is not page-aligned inside the region");
    std::unique_ptr<sparse_region> r(new sparse_region());
    r->fd_ = fd;
    r->fd_offset_ = fd_offset;
    r->size_ = size;
    r->bar_ = bar;
    r->areas_.assign(areas.begin(), areas.end());
    // One range for the whole BAR, inaccessible but for the areas mapped over it, so the block
    // has one base address (and READ_REGISTER_ULONG(base + off) finds it).
    void* base =
        ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return error::from_errno(errno, name + ": reserving " + std::to_string(size) +
                                            " bytes of address space for BAR " +
                                            std::to_string(bar));
    r->base_ = static_cast<volatile std::uint8_t*>(base);
    for (const auto& [off, len] : r->areas_) {
        void* at = const_cast<std::uint8_t*>(r->base_) + off;
        void* p = ::mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                         static_cast<off_t>(fd_offset + off));
        if (p == MAP_FAILED)
            return error::from_errno(errno, name + ": mmap of BAR " + std::to_string(bar) +
                                                " area at " + std::to_string(off) + " (" +
                                                std::to_string(len) + " bytes)");
    }
    detail::register_model_window(r->base_, size, r.get(), bar);
    return r;
}

sparse_region::~sparse_region() {
    if (base_ == nullptr) return;
    detail::unregister_model_window(base_);
    ::munmap(const_cast<std::uint8_t*>(base_), size_);  // the areas with it
}

register_block sparse_region::block() noexcept {
    return register_block(base_, size_, this, bar_);
}

bool sparse_region::mapped(std::uint64_t off, unsigned width) const noexcept {
    for (const auto& [a, len] : areas_)
        if (off >= a && off - a + width <= len) return true;
    return false;
}

std::uint64_t sparse_region::read(std::uint32_t, std::uint64_t off, unsigned width) noexcept {
    if (off > size_ || width > size_ - off) return ~0ull;
    if (mapped(off, width)) {
        volatile std::uint8_t* p = base_ + off;
        switch (width) {
            case 1:
                return *p;
            case 2:
                return *reinterpret_cast<volatile std::uint16_t*>(p);
            case 4:
                return *reinterpret_cast<volatile std::uint32_t*>(p);
            default:
                return *reinterpret_cast<volatile std::uint64_t*>(p);
        }
    }
    // A hole: the region read vfio-pci serves (one access of this width when aligned). A failed
    // read looks like a master abort: all ones.
    std::uint64_t v = 0;
    if (::pread(fd_, &v, width, static_cast<off_t>(fd_offset_ + off)) !=
        static_cast<ssize_t>(width))
        return width == 8 ? ~0ull : (~0ull >> (64 - 8 * width));
    return v;
}

void sparse_region::write(std::uint32_t, std::uint64_t off, unsigned width,
                          std::uint64_t value) noexcept {
    if (off > size_ || width > size_ - off) return;
    if (mapped(off, width)) {
        volatile std::uint8_t* p = base_ + off;
        switch (width) {
            case 1:
                *p = static_cast<std::uint8_t>(value);
                break;
            case 2:
                *reinterpret_cast<volatile std::uint16_t*>(p) = static_cast<std::uint16_t>(value);
                break;
            case 4:
                *reinterpret_cast<volatile std::uint32_t*>(p) = static_cast<std::uint32_t>(value);
                break;
            default:
                *reinterpret_cast<volatile std::uint64_t*>(p) = value;
                break;
        }
        return;
    }
    ssize_t n = ::pwrite(fd_, &value, width, static_cast<off_t>(fd_offset_ + off));
    (void)n;  // a write that fails goes nowhere, as one to a device that does not answer
}

}  // namespace wdfx::vfio
