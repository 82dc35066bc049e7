// The IOVA allocator of the DMA enabler (core/dma.cpp): bus addresses for common buffers mapped
// through the IOMMU. Private to the library (the unit tests include it too).
//
// Threads: allocate() and release() from any thread (one mutex).
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>

#include <wdfx/bus.hpp>

namespace wdfx::detail {

/// First-fit allocator over the IOVA ranges the bus allows, below the device's address width.
/// Never hands out IOVA 0 (a NULL bus address is a classic device bug magnet).
class iova_allocator {
  public:
    iova_allocator(const bus::dma_limits& l, unsigned bits) {
        std::uint64_t top = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
        for (auto [s, e] : l.iova_ranges) {
            std::uint64_t start = std::max<std::uint64_t>(s, kPage);
            std::uint64_t end = std::min(e, top);
            start = (start + kPage - 1) & ~(kPage - 1);
            if (end <= start || end - start + 1 < kPage) continue;
            free_[start] = ((end + 1) & ~(kPage - 1)) - start;
        }
    }
    /// An aligned range of `size` bytes, or 0 when none is left.
    std::uint64_t allocate(std::uint64_t size) {
        std::lock_guard g(lock_);
        size = (size + kPage - 1) & ~(kPage - 1);
        for (auto it = free_.begin(); it != free_.end(); ++it) {
            if (it->second < size) continue;
            std::uint64_t at = it->first;
            std::uint64_t rest = it->second - size;
            free_.erase(it);
            if (rest != 0) free_[at + size] = rest;
            return at;
        }
        return 0;
    }
    void release(std::uint64_t at, std::uint64_t size) {
        std::lock_guard g(lock_);
        size = (size + kPage - 1) & ~(kPage - 1);
        auto it = free_.emplace(at, size).first;
        auto next = std::next(it);
        if (next != free_.end() && it->first + it->second == next->first) {
            it->second += next->second;
            free_.erase(next);
        }
        if (it != free_.begin()) {
            auto prev = std::prev(it);
            if (prev->first + prev->second == it->first) {
                prev->second += it->second;
                free_.erase(it);
            }
        }
    }

  private:
    static constexpr std::uint64_t kPage = 4096;
    std::mutex lock_;
    std::map<std::uint64_t, std::uint64_t> free_;
};

}  // namespace wdfx::detail
