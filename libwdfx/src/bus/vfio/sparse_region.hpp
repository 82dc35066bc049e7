// A BAR that can be mmapped only in parts (VFIO's sparse mmap capability): the mappable areas
// are mapped at their offsets inside one reserved address range the size of the BAR, and an
// access anywhere else goes through pread/pwrite of the region, width-exact, as vfio-pci's
// region read/write does.
//
// The register_block it hands out is model-served (register_model): every access makes one
// virtual call and an area lookup, then a volatile load/store for the mapped parts or a syscall
// for the holes. That is the price of a sparse BAR (a device whose MSI-X table may not be mapped,
// or a variant driver that traps part of the BAR); a BAR mapped whole costs nothing of it.
//
// Threads: any thread may access the block while it is mapped (like a mapped BAR); map and
// destruction are the PnP thread's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <wdfx/registers.hpp>
#include <wdfx/status.hpp>

namespace wdfx::vfio {

class sparse_region final : public register_model {
  public:
    /// Map the `areas` ((offset, size) pairs inside [0, size), page-aligned, as VFIO reports
    /// them) of the region found at `fd_offset` in `fd`; the rest is served by pread/pwrite.
    static result<std::unique_ptr<sparse_region>> map(
        int fd, std::uint64_t fd_offset, std::size_t size,
        std::span<const std::pair<std::uint64_t, std::uint64_t>> areas, std::uint32_t bar,
        const std::string& name);
    ~sparse_region() override;
    sparse_region(const sparse_region&) = delete;
    sparse_region& operator=(const sparse_region&) = delete;

    register_block block() noexcept;
    /// True when [off, off + width) lies inside one mapped area.
    bool mapped(std::uint64_t off, unsigned width) const noexcept;

    std::uint64_t read(std::uint32_t bar, std::uint64_t off, unsigned width) noexcept override;
    void write(std::uint32_t bar, std::uint64_t off, unsigned width,
               std::uint64_t value) noexcept override;

  private:
    sparse_region() = default;
    int fd_ = -1;
    std::uint64_t fd_offset_ = 0;
    std::size_t size_ = 0;
    std::uint32_t bar_ = 0;
    volatile std::uint8_t* base_ = nullptr;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> areas_;
};

}  // namespace wdfx::vfio
