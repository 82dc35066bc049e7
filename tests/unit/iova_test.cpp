// The IOVA allocator of the DMA enabler (core/iova.hpp): inside the bus's IOVA ranges and below the
// device's address width, never 0, page-aligned, 0 when exhausted, coalescing on release, the x86
// MSI window left out, and QEMU edu's 28 bits. Then the same through the public API on the sim
// bus: dma_enabler with 28 bits, common buffers whose logical addresses fit, the sim IOMMU seeing
// each mapping and losing it when the buffer is deleted.
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include <wdfx/dma.hpp>
#include <wdfx/sim.hpp>

#include "core/iova.hpp"
#include "test_support.hpp"

using wdfx::detail::iova_allocator;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kMsiLo = 0xfee00000ull, kMsiHi = 0xfeefffffull;

/// The ranges VFIO reports on x86 with an IOMMU (and the sim bus): everything but the MSI window.
wdfx::bus::dma_limits x86_limits() {
    wdfx::bus::dma_limits l;
    l.iova_ranges = {{0x0, 0xfedfffffull}, {0xfef00000ull, 0xffffffffffffull}};
    return l;
}

wdfx::bus::dma_limits limits(std::vector<std::pair<std::uint64_t, std::uint64_t>> r) {
    wdfx::bus::dma_limits l;
    l.iova_ranges = std::move(r);
    return l;
}

bool overlaps(std::uint64_t a, std::uint64_t alen, std::uint64_t b, std::uint64_t blen) {
    return a < b + blen && b < a + alen;
}

/// Everything the allocator hands out until it returns 0, in `size` steps.
std::vector<std::uint64_t> drain(iova_allocator& a, std::uint64_t size, std::size_t cap) {
    std::vector<std::uint64_t> out;
    while (out.size() < cap) {
        std::uint64_t at = a.allocate(size);
        if (at == 0) break;
        out.push_back(at);
    }
    return out;
}

}  // namespace

TEST_CASE("iova: allocations stay inside the ranges, page-aligned, never at 0, never overlapping") {
    iova_allocator a(limits({{0x0, 0x7fff}, {0x10000, 0x13fff}, {0x20800, 0x237ff}}), 64);
    // Usable: [0x1000, 0x8000) (page 0 is never handed out), [0x10000, 0x14000), and the whole
    // pages of the unaligned third range: [0x21000, 0x23000).
    std::vector<std::uint64_t> got = drain(a, 1, 1000);
    CHECK(got.size() == 7 + 4 + 2);
    std::map<std::uint64_t, int> seen;
    for (std::uint64_t at : got) {
        CAPTURE(at);
        CHECK(at != 0);
        CHECK(at % kPage == 0);
        bool inside = (at >= 0x1000 && at + kPage <= 0x8000) ||
                      (at >= 0x10000 && at + kPage <= 0x14000) ||
                      (at >= 0x21000 && at + kPage <= 0x23000);
        CHECK(inside);
        CHECK(++seen[at] == 1);
    }
    CHECK(a.allocate(1) == 0);
}

TEST_CASE("iova: sizes round up to whole pages") {
    iova_allocator a(limits({{0x100000, 0x1fffff}}), 64);
    std::uint64_t x = a.allocate(1);
    std::uint64_t y = a.allocate(kPage + 1);  // two pages
    std::uint64_t z = a.allocate(kPage);
    CHECK(x == 0x100000);
    CHECK(y == 0x101000);
    CHECK(z == 0x103000);
    for (std::uint64_t at : {x, y, z})
        CHECK(at % kPage == 0);
}

TEST_CASE("iova: exhaustion returns 0, and a freed range is handed out again") {
    iova_allocator a(limits({{0x0, 0xffff}}), 64);  // 15 usable pages (page 0 never)
    CHECK(a.allocate(16 * kPage) == 0);             // larger than all there is
    std::uint64_t all = a.allocate(15 * kPage);
    CHECK(all == kPage);
    CHECK(a.allocate(1) == 0);
    CHECK(a.allocate(1) == 0);
    a.release(all, 15 * kPage);
    std::vector<std::uint64_t> pages = drain(a, kPage, 100);
    CHECK(pages.size() == 15);
    CHECK(a.allocate(kPage) == 0);
    a.release(pages[7], kPage);
    CHECK(a.allocate(kPage) == pages[7]);
    CHECK(a.allocate(kPage) == 0);
}

TEST_CASE("iova: freeing coalesces neighbours - A B C, free B then A, A+B is one range again") {
    iova_allocator a(limits({{0x10000, 0x1ffff}}), 64);  // 16 pages
    std::uint64_t A = a.allocate(4 * kPage);
    std::uint64_t B = a.allocate(4 * kPage);
    std::uint64_t C = a.allocate(4 * kPage);
    std::uint64_t D = a.allocate(4 * kPage);
    REQUIRE(A == 0x10000);
    REQUIRE(B == A + 4 * kPage);
    REQUIRE(C == B + 4 * kPage);
    REQUIRE(D == C + 4 * kPage);
    REQUIRE(a.allocate(kPage) == 0);
    a.release(B, 4 * kPage);
    CHECK(a.allocate(8 * kPage) == 0);  // B alone is too small
    a.release(A, 4 * kPage);
    CHECK(a.allocate(8 * kPage) == A);  // A+B as one range
    CHECK(a.allocate(kPage) == 0);
    // The other direction: free C then D (D merges into C's free range from the left side).
    a.release(C, 4 * kPage);
    a.release(D, 4 * kPage);
    CHECK(a.allocate(8 * kPage) == C);
    // And a hole filled from both sides at once: free A+B, then C+D: one range of 16 pages.
    a.release(A, 8 * kPage);
    a.release(C, 8 * kPage);
    CHECK(a.allocate(16 * kPage) == A);
}

TEST_CASE("iova: release merges the range before, the range after, and both") {
    iova_allocator a(limits({{0x1000, 0x8fff}}), 64);  // pages 1..8
    std::vector<std::uint64_t> p = drain(a, kPage, 100);
    REQUIRE(p.size() == 8);
    // Free pages 2, 4 and 6 (indexes 1, 3, 5): three single holes.
    for (int i : {1, 3, 5})
        a.release(p[static_cast<std::size_t>(i)], kPage);
    CHECK(a.allocate(2 * kPage) == 0);
    a.release(p[2], kPage);  // between two holes: 2+3+4 become one
    CHECK(a.allocate(3 * kPage) == p[1]);
    a.release(p[1], 3 * kPage);
    a.release(p[6], kPage);  // after the hole at 6 (index 5): 6+7
    CHECK(a.allocate(4 * kPage) == 0);
    a.release(p[4], kPage);  // now 2..7 (indexes 1..6) are free
    CHECK(a.allocate(6 * kPage) == p[1]);
}

TEST_CASE("iova: the x86 MSI window 0xfee00000-0xfeefffff is never handed out") {
    SUBCASE("drained in 1 MiB steps up to 4 GiB") {
        iova_allocator a(x86_limits(), 32);
        std::vector<std::uint64_t> got = drain(a, 1 << 20, 10000);
        for (std::uint64_t at : got) {
            CAPTURE(at);
            CHECK_FALSE(overlaps(at, 1 << 20, kMsiLo, kMsiHi - kMsiLo + 1));
            CHECK(at + (1 << 20) - 1 <= 0xffffffffull);
        }
        // Below the window: [0x1000, 0xfee00000) holds 4077 whole MiB (page 0 cuts the first
        // short); above it, up to 4 GiB: 17 MiB.
        CHECK(got.size() == 4077 + 17);
        // The 255 pages left below the window still go, one by one, and none inside it.
        std::vector<std::uint64_t> tail = drain(a, kPage, 10000);
        CHECK(tail.size() == 255);
        for (std::uint64_t at : tail)
            CHECK_FALSE(overlaps(at, kPage, kMsiLo, kMsiHi - kMsiLo + 1));
    }
    SUBCASE("a buffer that would straddle the window goes above it") {
        iova_allocator a(x86_limits(), 64);
        // Take everything below the window but 8 pages, then ask for 16.
        std::uint64_t low = a.allocate(0xfee00000ull - kPage - 8 * kPage);
        REQUIRE(low == kPage);
        std::uint64_t big = a.allocate(16 * kPage);
        CHECK(big == 0xfef00000ull);
        std::uint64_t small = a.allocate(8 * kPage);
        CHECK(small + 8 * kPage == 0xfee00000ull);  // the last pages below the window
        CHECK(a.allocate(kPage) == 0xfef00000ull + 16 * kPage);
    }
}

TEST_CASE("iova: 28 address bits like QEMU edu - everything below 256 MiB, then exhausted") {
    iova_allocator a(x86_limits(), 28);
    const std::uint64_t limit = 1ull << 28;
    std::vector<std::uint64_t> got = drain(a, 1 << 20, 1000);
    CHECK(got.size() == 255);  // 256 MiB less page 0 leaves 255 whole MiB
    for (std::uint64_t at : got) {
        CAPTURE(at);
        CHECK(at + (1 << 20) <= limit);
        CHECK(at != 0);
    }
    std::vector<std::uint64_t> tail = drain(a, kPage, 1000);
    CHECK(tail.size() == 255);  // the MiB that page 0 cut short
    for (std::uint64_t at : tail)
        CHECK(at + kPage <= limit);
    CHECK(a.allocate(kPage) == 0);
}

TEST_CASE("iova: address widths and ranges combine - the lower of the two limits wins") {
    SUBCASE("a width below every range: nothing") {
        iova_allocator a(limits({{0x10000000ull, 0x1fffffffull}}), 24);
        CHECK(a.allocate(kPage) == 0);
    }
    SUBCASE("a range ending below the width") {
        iova_allocator a(limits({{0x0, 0x3fff}}), 48);
        CHECK(drain(a, kPage, 100).size() == 3);
    }
    SUBCASE("a range crossing the width is cut at the width") {
        iova_allocator a(limits({{0xff0000ull, 0x1ffffffull}}), 24);  // 16 MiB
        std::vector<std::uint64_t> got = drain(a, kPage, 1000);
        CHECK(got.size() == 16);
        CHECK(got.back() == 0xfff000ull);
    }
    SUBCASE("64 bits and a range up to the top of the address space") {
        iova_allocator a(limits({{0xfffffffffff00000ull, ~0ull}}), 64);
        std::vector<std::uint64_t> got = drain(a, 64 * kPage, 100);
        CHECK(got.size() == 4);
        CHECK(got.back() == 0xfffffffffffc0000ull);
        a.release(got[1], 64 * kPage);
        a.release(got[3], 64 * kPage);
        a.release(got[2], 64 * kPage);
        CHECK(a.allocate(3 * 64 * kPage) == got[1]);
    }
    SUBCASE("no ranges at all") {
        iova_allocator a(limits({}), 64);
        CHECK(a.allocate(1) == 0);
    }
    SUBCASE("a range smaller than a page, and one that is only page 0") {
        iova_allocator a(limits({{0x0, 0xfff}, {0x5800, 0x67ff}}), 64);
        CHECK(a.allocate(1) == 0);
    }
}

TEST_CASE("iova: random allocate/release keeps every live range disjoint and inside the ranges") {
    iova_allocator a(x86_limits(), 32);
    std::mt19937_64 rng(4);
    std::map<std::uint64_t, std::uint64_t> live;  // start -> length (whole pages)
    for (int step = 0; step < 20000; ++step) {
        if (live.empty() || rng() % 3 != 0) {
            std::uint64_t len = (1 + rng() % 64) * kPage;
            std::uint64_t at = a.allocate(len);
            if (at == 0) continue;
            CHECK(at % kPage == 0);
            CHECK(at + len - 1 <= 0xffffffffull);
            CHECK_FALSE(overlaps(at, len, kMsiLo, kMsiHi - kMsiLo + 1));
            auto next = live.lower_bound(at);
            if (next != live.end()) REQUIRE(at + len <= next->first);
            if (next != live.begin()) {
                auto prev = std::prev(next);
                REQUIRE(prev->first + prev->second <= at);
            }
            live[at] = len;
        } else {
            auto it = live.begin();
            std::advance(it, static_cast<long>(rng() % live.size()));
            a.release(it->first, it->second);
            live.erase(it);
        }
    }
    for (auto [at, len] : live)
        a.release(at, len);
    // Everything came back: the whole space below the window is one range again.
    CHECK(a.allocate(0xfee00000ull - kPage) == kPage);
}

// ---- through the public API on the sim bus ----------------------------------------------------

TEST_CASE(
    "iova: dma_enabler with 28 bits on the sim bus - logical addresses fit, the sim IOMMU maps and "
    "unmaps them") {
    wdfx_test::sim_harness::options o;
    o.device = wdfx::sim::make_edu({.name = "edu28", .msi = true, .dma_address_bits = 28});
    wdfx::dma_enabler en;
    wdfx_test::sim_harness h(std::move(o), {}, [&](wdfx::device d) {
        wdfx::dma_enabler_config dc;
        dc.address_bits = 28;
        auto e = wdfx::dma_enabler::create(d, dc);
        if (!e) return e.code();
        en = *e;
        return wdfx::status::success;
    });
    REQUIRE(h.start() == wdfx::status::success);  // D0: bus mastering on
    REQUIRE(en);
    CHECK(en.address_bits() == 28);
    CHECK(h.sim->dma_mappings() == 0);

    std::vector<wdfx::common_buffer> bufs;
    const std::size_t sizes[] = {1, 4096, 4097, 3 * 4096, 64 * 1024, 1 << 20};
    for (std::size_t len : sizes) {
        auto b = wdfx::common_buffer::create(en, len);
        REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.err().describe()));
        std::uint64_t iova = b->logical_address();
        CAPTURE(len);
        CAPTURE(iova);
        CHECK(iova != 0);
        CHECK(iova % 4096 == 0);
        CHECK(iova + len - 1 < (std::uint64_t{1} << 28));
        CHECK(b->length() == len);
        // The sim IOMMU sees the mapping: the device writes through it into the buffer and
        // reads back what the driver wrote, at both ends.
        auto* va = static_cast<unsigned char*>(b->virtual_address());
        REQUIRE(va != nullptr);
        CHECK(va[0] == 0);  // zeroed
        const char msg[] = "through the sim IOMMU";
        REQUIRE(h.sim->dma_write(iova, msg, sizeof msg).ok());
        CHECK(std::memcmp(va, msg, sizeof msg) == 0);
        va[len - 1] = 0x5a;
        unsigned char back = 0;
        REQUIRE(h.sim->dma_read(iova + len - 1, &back, 1).ok());
        CHECK(back == 0x5a);
        bufs.push_back(*b);
    }
    CHECK(h.sim->dma_mappings() == std::size(sizes));
    // Deleting a buffer unmaps it: the device faults on its old IOVA, the others still work.
    const std::uint64_t gone = bufs[2].logical_address();
    const std::uint64_t faults = h.sim->get_counters().iommu_faults;
    CHECK(bufs[2].delete_object() == wdfx::status::success);
    CHECK(h.sim->dma_mappings() == std::size(sizes) - 1);
    unsigned char x = 1;
    CHECK_FALSE(h.sim->dma_write(gone, &x, 1).ok());
    CHECK(h.sim->get_counters().iommu_faults == faults + 1);
    CHECK(h.sim->dma_write(bufs[3].logical_address(), &x, 1).ok());
    // Its IOVA is free again: a buffer of the same size reuses it (first fit).
    auto again = wdfx::common_buffer::create(en, sizes[2]);
    REQUIRE(again.ok());
    CHECK(again->logical_address() == gone);
    CHECK(h.sim->dma_mappings() == std::size(sizes));
    // Deleting the enabler deletes its buffers (children): every mapping goes.
    CHECK(en.delete_object() == wdfx::status::success);
    CHECK(h.sim->dma_mappings() == 0);
}

TEST_CASE(
    "iova: the sim bus runs out of IOVA space below 24 bits with an error that names the limit") {
    wdfx_test::sim_harness::options o;
    o.device = wdfx::sim::make_edu({.name = "edu24", .msi = true, .dma_address_bits = 24});
    wdfx::dma_enabler en;
    wdfx_test::sim_harness h(std::move(o), {}, [&](wdfx::device d) {
        wdfx::dma_enabler_config dc;
        dc.address_bits = 24;
        auto e = wdfx::dma_enabler::create(d, dc);
        if (!e) return e.code();
        en = *e;
        return wdfx::status::success;
    });
    REQUIRE(h.add() == wdfx::status::success);
    // 16 MiB of IOVA space less page 0: a 16 MiB buffer never fits; 8 MiB fits once.
    auto whole = wdfx::common_buffer::create(en, std::size_t{16} << 20);
    REQUIRE_FALSE(whole.ok());
    CHECK(whole.err().describe().find("24-bit") != std::string::npos);
    CHECK(h.sim->dma_mappings() == 0);
    auto half = wdfx::common_buffer::create(en, std::size_t{8} << 20);
    REQUIRE(half.ok());
    CHECK(half->logical_address() + (std::size_t{8} << 20) <= (1u << 24));
    auto second = wdfx::common_buffer::create(en, std::size_t{8} << 20);
    CHECK_FALSE(second.ok());
    CHECK(h.sim->dma_mappings() == 1);
    // Freed, the space is whole again.
    CHECK(half->delete_object() == wdfx::status::success);
    CHECK(h.sim->dma_mappings() == 0);
    auto again = wdfx::common_buffer::create(en, std::size_t{8} << 20);
    CHECK(again.ok());
}
