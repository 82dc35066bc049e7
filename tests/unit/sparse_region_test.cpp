// The VFIO bus's sparse BARs (bus/vfio/sparse_region.hpp): the areas VFIO says can be mmapped are
// mapped at their offsets, every other access goes through pread/pwrite of the region. A memfd
// stands in for the VFIO device fd: the same mmap, pread and pwrite calls at the region's offset
// in the fd (what differs, vfio-pci serving them from the device, is the HIL guest's business).
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include <wdfx/registers.hpp>

#include "bus/vfio/sparse_region.hpp"
#include "test_support.hpp"

using wdfx::vfio::sparse_region;

namespace {

constexpr std::size_t kPage = 4096;

/// A "device fd": one page before the region (another region's), then three pages of BAR, each
/// 32-bit word holding its own offset in the BAR plus a tag.
class fake_device_fd {
  public:
    static constexpr std::uint64_t kRegionOffset = kPage;
    static constexpr std::size_t kSize = 3 * kPage;
    fake_device_fd() : fd_(::memfd_create("wdfx-sparse-bar", MFD_CLOEXEC)) {
        REQUIRE(fd_ >= 0);
        REQUIRE(::ftruncate(fd_, static_cast<off_t>(kRegionOffset + kSize)) == 0);
        for (std::uint32_t off = 0; off < kSize; off += 4) {
            std::uint32_t v = 0xa5000000u | off;
            REQUIRE(::pwrite(fd_, &v, 4, static_cast<off_t>(kRegionOffset + off)) == 4);
        }
    }
    ~fake_device_fd() { ::close(fd_); }
    int fd() const { return fd_; }
    std::uint32_t word(std::uint32_t off) const {
        std::uint32_t v = 0;
        REQUIRE(::pread(fd_, &v, 4, static_cast<off_t>(kRegionOffset + off)) == 4);
        return v;
    }

  private:
    int fd_;
};

const std::vector<std::pair<std::uint64_t, std::uint64_t>> kAreas = {{0, kPage},
                                                                     {2 * kPage, kPage}};

}  // namespace

TEST_CASE(
    "vfio sparse BAR: the mmappable areas are mapped, the hole between them is served by "
    "pread/pwrite, through the block and the address accessors") {
    fake_device_fd dev;
    auto sp = sparse_region::map(dev.fd(), fake_device_fd::kRegionOffset, fake_device_fd::kSize,
                                 kAreas, 2, "0000:00:04.0");
    REQUIRE(sp.ok());
    wdfx::register_block b = (*sp)->block();
    REQUIRE(b.valid());
    CHECK(b.size() == fake_device_fd::kSize);
    CHECK(b.is_model());

    CHECK((*sp)->mapped(0, 4));
    CHECK((*sp)->mapped(kPage - 4, 4));
    CHECK_FALSE((*sp)->mapped(kPage - 2, 4));  // straddles into the hole
    CHECK_FALSE((*sp)->mapped(kPage, 4));
    CHECK_FALSE((*sp)->mapped(2 * kPage - 4, 4));
    CHECK((*sp)->mapped(2 * kPage, 8));
    CHECK((*sp)->mapped(3 * kPage - 8, 8));

    // Reads: mapped areas and the hole alike see the region's contents. The hole of the
    // reservation is PROT_NONE: an access that did not go through pread would fault here.
    CHECK(b.read32(0) == 0xa5000000u);
    CHECK(b.read32(kPage + 0x40) == (0xa5000000u | (kPage + 0x40)));
    CHECK(b.read16(kPage + 0x40) == ((kPage + 0x40) & 0xffff));
    CHECK(b.read8(kPage + 0x43) == 0xa5);
    CHECK(b.read32(2 * kPage + 8) == (0xa5000000u | (2 * kPage + 8)));
    CHECK(b.read64(2 * kPage) ==
          ((std::uint64_t{0xa5000000u | (2 * kPage + 4)} << 32) | (0xa5000000u | (2 * kPage))));

    // Writes land in the region: through the mapping (MAP_SHARED) and through pwrite.
    b.write32(0x10, 0x11111111u);
    b.write32(kPage + 0x10, 0x22222222u);
    b.write16(kPage + 0x20, 0x3333);
    b.write64(2 * kPage + 0x10, 0x4444444455555555ull);
    CHECK(dev.word(0x10) == 0x11111111u);
    CHECK(dev.word(kPage + 0x10) == 0x22222222u);
    CHECK(dev.word(kPage + 0x20) == ((0xa5000000u | (kPage + 0x20)) & 0xffff0000u) + 0x3333);
    CHECK(dev.word(2 * kPage + 0x10) == 0x55555555u);
    CHECK(dev.word(2 * kPage + 0x14) == 0x44444444u);
    // A change made behind the mapping's back is seen by both paths.
    std::uint32_t v = 0x66666666u;
    REQUIRE(::pwrite(dev.fd(), &v, 4, fake_device_fd::kRegionOffset + kPage + 0x80) == 4);
    CHECK(b.read32(kPage + 0x80) == 0x66666666u);

    // READ_REGISTER_ULONG(base + off)-style code finds the block too.
    auto* base = static_cast<volatile std::uint8_t*>(b.base());
    CHECK(wdfx::read_register_32(base + kPage + 0x10) == 0x22222222u);
    wdfx::write_register_32(base + kPage + 0x14, 0x77777777u);
    CHECK(dev.word(kPage + 0x14) == 0x77777777u);
    CHECK(wdfx::read_register_32(base + 0x10) == 0x11111111u);

    // Outside the BAR: all ones, and a write goes nowhere.
    CHECK(b.read32(fake_device_fd::kSize) == 0xffffffffu);
    b.write32(fake_device_fd::kSize, 0);
}

TEST_CASE("vfio sparse BAR: a hole whose pread fails reads as all ones, like a master abort") {
    fake_device_fd dev;
    // The region claims to extend past the end of the fd: the last page is a hole pread cannot
    // serve (0 bytes at end of file).
    const std::size_t size = fake_device_fd::kSize + kPage;
    auto sp = sparse_region::map(dev.fd(), fake_device_fd::kRegionOffset, size,
                                 std::vector<std::pair<std::uint64_t, std::uint64_t>>{{0, kPage}},
                                 0, "0000:00:04.0");
    REQUIRE(sp.ok());
    wdfx::register_block b = (*sp)->block();
    CHECK(b.read32(fake_device_fd::kSize + 4) == 0xffffffffu);
    CHECK(b.read16(fake_device_fd::kSize + 4) == 0xffffu);
    CHECK(b.read32(kPage) == (0xa5000000u | kPage));  // a hole that pread serves
}

TEST_CASE("vfio sparse BAR: areas that are not page-aligned or leave the region are refused") {
    fake_device_fd dev;
    using areas = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
    for (const areas& bad : {areas{{16, kPage}}, areas{{2 * kPage, 2 * kPage}}, areas{{0, 0}},
                             areas{{4 * kPage, kPage}}}) {
        auto sp = sparse_region::map(dev.fd(), fake_device_fd::kRegionOffset, fake_device_fd::kSize,
                                     bad, 1, "0000:00:04.0");
        REQUIRE_FALSE(sp.ok());
        CHECK(sp.err().code.value() == EINVAL);
        CHECK(sp.err().message.find("0000:00:04.0: BAR 1") != std::string::npos);
    }
}
