// The capability walker (wdfx/pci_config.hpp) over config spaces recorded from real (emulated)
// devices: QEMU's edu, NVMe, e1000e, AHCI and pcie-root-port in the HIL guest, and the virtio
// devices and host bridge of a Firecracker host (tests/unit/data/*.config, each names its source).
// The expected values are what lspci -vvv decodes from the same bytes. Then malicious chains: a
// cycle, a pointer into the header, a pointer beyond the end, a structure that does not fit, the
// 64 bytes a non-root reader gets, and random images (no read out of bounds: ASan checks).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <wdfx/pci_config.hpp>

#include "test_support.hpp"

using namespace wdfx::pci;

namespace {

/// A recorded config space: hex bytes, blanks and newlines ignored, '#' starts a comment line.
std::vector<std::uint8_t> load(const std::string& name) {
    const std::string path = std::string(WDFX_TEST_DATA_DIR) + "/" + name;
    std::ifstream f(path);
    REQUIRE_MESSAGE(f.good(), "cannot open " << path);
    std::string line, hex;
    while (std::getline(f, line)) {
        if (!line.empty() && line[0] == '#') continue;
        for (char c : line)
            if (c != ' ' && c != '\t' && c != '\r') hex += c;
    }
    REQUIRE_MESSAGE(hex.size() % 2 == 0, path << ": odd number of hex digits");
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        char* end = nullptr;
        std::string byte = hex.substr(i, 2);
        unsigned long v = std::strtoul(byte.c_str(), &end, 16);
        REQUIRE_MESSAGE(*end == '\0', path << ": not hex: " << byte);
        out.push_back(static_cast<std::uint8_t>(v));
    }
    return out;
}

std::uint16_t le16(const std::vector<std::uint8_t>& c, std::size_t off) {
    return static_cast<std::uint16_t>(c[off] | c[off + 1] << 8);
}

void put16(std::vector<std::uint8_t>& c, std::size_t off, std::uint16_t v) {
    c[off] = static_cast<std::uint8_t>(v);
    c[off + 1] = static_cast<std::uint8_t>(v >> 8);
}

void put32(std::vector<std::uint8_t>& c, std::size_t off, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        c[off + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// "[40] 11, [80] 10, ..." for messages and comparisons of the list's shape.
std::string shape(const capability_walk& w, bool extended) {
    std::string s;
    char b[32];
    for (const capability& c : w.caps) {
        if (c.extended != extended) continue;
        std::snprintf(b, sizeof b, "%s[%x] %x", s.empty() ? "" : ", ", c.offset, c.id);
        s += b;
        if (extended) {
            std::snprintf(b, sizeof b, " v%u", c.version);
            s += b;
        }
    }
    return s;
}

/// An empty conventional config space with the capabilities list bit set and `first` at 0x34.
std::vector<std::uint8_t> blank(std::size_t size, std::uint8_t first) {
    std::vector<std::uint8_t> c(size, 0);
    put16(c, 0x00, 0x1234);
    put16(c, 0x02, 0x5678);
    put16(c, 0x06, 0x0010);
    c[0x34] = first;
    return c;
}

}  // namespace

// ---- recorded config spaces ------------------------------------------------------------------

TEST_CASE("pci config: QEMU edu recorded in the HIL guest - 256 bytes, one 64-bit MSI capability") {
    auto c = load("qemu_edu.config");
    REQUIRE(c.size() == 256);
    CHECK(le16(c, 0) == 0x1234);
    CHECK(le16(c, 2) == 0x11e8);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(w.has_capability_list);
    CHECK_FALSE(w.extended_space);
    CHECK(shape(w, false) == "[40] 5");
    CHECK(w.count(true) == 0);
    const capability* msi = w.find(cap::msi);
    REQUIRE(msi != nullptr);
    auto m = parse_msi(c, msi->offset);
    REQUIRE(m.has_value());
    CHECK(m->vectors_capable == 1);
    CHECK(m->vectors_enabled == 1);
    CHECK(m->address_64bit);
    CHECK_FALSE(m->per_vector_masking);
    CHECK_FALSE(m->enabled);
    CHECK(m->length == 14);
    CHECK(w.find(cap::msix) == nullptr);
    CHECK(w.find(cap::pci_express) == nullptr);
    CHECK(w.find(cap::power_management) == nullptr);
}

TEST_CASE(
    "pci config: QEMU NVMe recorded in the HIL guest - MSI-X 65 in BAR 0, PCIe integrated endpoint "
    "with FLR, PM in D3hot") {
    auto c = load("qemu_nvme.config");
    REQUIRE(c.size() == 4096);
    CHECK(le16(c, 0) == 0x1b36);
    CHECK(le16(c, 2) == 0x0010);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(w.extended_space);
    CHECK(shape(w, false) == "[40] 11, [80] 10, [60] 1");
    CHECK(w.count(true) == 0);  // QEMU's NVMe has no extended capability without SR-IOV

    auto x = parse_msix(c, w.find(cap::msix)->offset);
    REQUIRE(x.has_value());
    CHECK(x->table_size == 65);
    CHECK(x->table_bar == 0);
    CHECK(x->table_offset == 0x2000);
    CHECK(x->pba_bar == 0);
    CHECK(x->pba_offset == 0x3000);
    CHECK_FALSE(x->enabled);  // vfio-pci holds it, nobody enabled MSI-X
    CHECK_FALSE(x->function_mask);

    auto e = parse_pcie(c, w.find(cap::pci_express)->offset);
    REQUIRE(e.has_value());
    CHECK(e->version == 2);
    CHECK(e->port_type == pcie_port_type::rc_integrated_endpoint);
    CHECK(std::string(pcie_port_type_name(e->port_type)) == "Root Complex Integrated Endpoint");
    CHECK(e->function_level_reset);
    CHECK(e->max_payload_supported == 128);
    CHECK_FALSE(e->slot_implemented);

    auto p = parse_pm(c, w.find(cap::power_management)->offset);
    REQUIRE(p.has_value());
    CHECK(p->version == 3);
    CHECK(p->power_state == 3);  // vfio-pci put the idle function in D3hot
    CHECK(p->no_soft_reset);
    CHECK_FALSE(p->d1_support);
    CHECK_FALSE(p->d2_support);
    CHECK(w.find(cap::msi) == nullptr);
}

TEST_CASE(
    "pci config: QEMU NVMe behind a root port, on the guest nvme driver - an endpoint with MSI-X "
    "enabled, in D0") {
    auto c = load("qemu_nvme_endpoint.config");
    REQUIRE(c.size() == 4096);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(shape(w, false) == "[40] 11, [80] 10, [60] 1");
    auto x = parse_msix(c, 0x40);
    REQUIRE(x.has_value());
    CHECK(x->enabled);
    CHECK(x->table_size == 65);
    auto e = parse_pcie(c, 0x80);
    REQUIRE(e.has_value());
    CHECK(e->port_type == pcie_port_type::endpoint);
    CHECK(e->function_level_reset);
    auto p = parse_pm(c, 0x60);
    REQUIRE(p.has_value());
    CHECK(p->power_state == 0);
}

TEST_CASE(
    "pci config: QEMU pcie-root-port - a type 1 header, Root Port with a slot, MSI-X 1, AER and "
    "ACS") {
    auto c = load("qemu_pcie_root_port.config");
    REQUIRE(c.size() == 4096);
    CHECK((c[0x0e] & 0x7f) == 1);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(shape(w, false) == "[54] 10, [48] 11, [40] d");
    CHECK(shape(w, true) == "[100] 1 v2, [148] d v1");
    auto e = parse_pcie(c, 0x54);
    REQUIRE(e.has_value());
    CHECK(e->version == 2);
    CHECK(e->port_type == pcie_port_type::root_port);
    CHECK(e->slot_implemented);
    CHECK_FALSE(e->function_level_reset);
    auto x = parse_msix(c, 0x48);
    REQUIRE(x.has_value());
    CHECK(x->table_size == 1);
    CHECK(x->table_bar == 0);
    CHECK(x->table_offset == 0);
    CHECK(x->pba_bar == 0);
    CHECK(x->pba_offset == 0x800);
    CHECK(x->enabled);
    const capability* aer = w.find(ext_cap::aer, true);
    REQUIRE(aer != nullptr);
    CHECK(aer->offset == 0x100);
    CHECK(aer->version == 2);
    CHECK(std::string(extended_capability_name(aer->id)) == "Advanced Error Reporting");
    REQUIRE(w.find(ext_cap::acs, true) != nullptr);
    CHECK(std::string(extended_capability_name(ext_cap::acs)) == "Access Control Services");
    CHECK(w.find(ext_cap::aer) == nullptr);  // the standard list has no ID 1 (PM) here
}

TEST_CASE(
    "pci config: QEMU e1000e - PM, MSI, PCIe v1, MSI-X 5 in BAR 3, AER and the serial number") {
    auto c = load("qemu_e1000e.config");
    REQUIRE(c.size() == 4096);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(shape(w, false) == "[c8] 1, [d0] 5, [e0] 10, [a0] 11");
    CHECK(shape(w, true) == "[100] 1 v2, [140] 3 v1");
    auto p = parse_pm(c, 0xc8);
    REQUIRE(p.has_value());
    CHECK(p->version == 2);
    CHECK(p->power_state == 0);
    CHECK_FALSE(p->no_soft_reset);
    auto m = parse_msi(c, 0xd0);
    REQUIRE(m.has_value());
    CHECK(m->vectors_capable == 1);
    CHECK(m->address_64bit);
    auto e = parse_pcie(c, 0xe0);
    REQUIRE(e.has_value());
    CHECK(e->version == 1);
    CHECK(e->port_type == pcie_port_type::rc_integrated_endpoint);
    CHECK_FALSE(e->function_level_reset);
    auto x = parse_msix(c, 0xa0);
    REQUIRE(x.has_value());
    CHECK(x->table_size == 5);
    CHECK(x->table_bar == 3);
    CHECK(x->table_offset == 0);
    CHECK(x->pba_bar == 3);
    CHECK(x->pba_offset == 0x2000);
    CHECK(x->enabled);
    // The serial number lspci prints: 52-54-00-ff-ff-12-34-56.
    const capability* dsn = w.find(ext_cap::serial_number, true);
    REQUIRE(dsn != nullptr);
    CHECK(c[dsn->offset + 4] == 0x56);
    CHECK(c[dsn->offset + 11] == 0x52);
}

TEST_CASE("pci config: QEMU ICH9 AHCI - MSI and SATA") {
    auto c = load("qemu_ich9_ahci.config");
    REQUIRE(c.size() == 256);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(shape(w, false) == "[80] 5, [a8] 12");
    CHECK(std::string(capability_name(cap::sata)) == "SATA");
}

TEST_CASE(
    "pci config: this host's virtio-net and virtio-blk - five vendor capabilities and MSI-X") {
    struct expect {
        const char* file;
        std::uint16_t device;
        unsigned vectors;
    };
    for (const expect& x : {expect{"host_virtio_net.config", 0x1041, 3},
                            expect{"host_virtio_blk.config", 0x1042, 2}}) {
        CAPTURE(x.file);
        auto c = load(x.file);
        REQUIRE(c.size() == 256);
        CHECK(le16(c, 2) == x.device);
        capability_walk w = walk_capabilities(c);
        CHECK(w.ok());
        CHECK(shape(w, false) == "[40] 9, [50] 9, [60] 9, [70] 9, [84] 9, [98] 11");
        auto m = parse_msix(c, 0x98);
        REQUIRE(m.has_value());
        CHECK(m->table_size == x.vectors);
        CHECK(m->table_bar == 0);
        CHECK(m->table_offset == 0x8000);
        CHECK(m->pba_bar == 0);
        CHECK(m->pba_offset == 0x48000);
        CHECK(m->enabled);
    }
}

TEST_CASE("pci config: this host's bridge - 4 KiB of config space and no capability at all") {
    auto c = load("host_bridge.config");
    REQUIRE(c.size() == 4096);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK_FALSE(w.has_capability_list);
    CHECK(w.extended_space);
    CHECK(w.caps.empty());
}

TEST_CASE("pci config: the 64 bytes a non-root reader gets - the list points beyond them") {
    for (const char* f : {"qemu_nvme.config", "qemu_edu.config", "host_virtio_net.config"}) {
        CAPTURE(f);
        auto c = load(f);
        std::uint8_t first = c[0x34];
        c.resize(64);
        capability_walk w = walk_capabilities(c);
        CHECK(w.has_capability_list);
        CHECK(w.caps.empty());
        CHECK_FALSE(w.extended_space);
        CHECK(w.standard_error == walk_error::beyond_end);
        CHECK(w.standard_error_at == first);
        CHECK_FALSE(w.ok());
    }
    // Shorter still: no header at all, or it ends before the capabilities pointer.
    CHECK(walk_capabilities(std::span<const std::uint8_t>()).caps.empty());
    CHECK_FALSE(walk_capabilities(std::span<const std::uint8_t>()).has_capability_list);
    auto c = load("qemu_edu.config");
    c.resize(0x34);
    capability_walk w = walk_capabilities(c);
    CHECK(w.standard_error == walk_error::beyond_end);
    CHECK(w.standard_error_at == 0x34);
}

TEST_CASE(
    "pci config: an image cut inside the extended space - the next header is beyond the end") {
    auto c = load("qemu_e1000e.config");
    c.resize(0x140);  // AER at 0x100 points to the serial number at 0x140
    capability_walk w = walk_capabilities(c);
    CHECK(w.standard_error == walk_error::none);
    CHECK(shape(w, true) == "[100] 1 v2");
    CHECK(w.extended_error == walk_error::beyond_end);
    CHECK(w.extended_error_at == 0x140);
    c.resize(0x102);  // not even the first header
    w = walk_capabilities(c);
    CHECK(w.count(true) == 0);
    CHECK(w.extended_error == walk_error::beyond_end);
    CHECK(w.extended_error_at == 0x100);
}

// ---- malicious chains ---------------------------------------------------------------------------

TEST_CASE("pci config: a cycle in the standard list ends the walk after each capability once") {
    auto c = load("qemu_nvme.config");
    c[0x61] = 0x40;  // PM (last) -> MSI-X (first)
    capability_walk w = walk_capabilities(c);
    CHECK(shape(w, false) == "[40] 11, [80] 10, [60] 1");
    CHECK(w.standard_error == walk_error::cycle);
    CHECK(w.standard_error_at == 0x40);
    CHECK_FALSE(w.ok());
    // A capability pointing at itself, and through the reserved low bits (0x43 is 0x40).
    auto e = load("qemu_edu.config");
    e[0x41] = 0x43;
    w = walk_capabilities(e);
    CHECK(shape(w, false) == "[40] 5");
    CHECK(w.standard_error == walk_error::cycle);
    CHECK(w.standard_error_at == 0x40);
}

TEST_CASE("pci config: a pointer into the header ends the list") {
    auto c = load("qemu_edu.config");
    c[0x41] = 0x10;  // MSI -> the BARs
    capability_walk w = walk_capabilities(c);
    CHECK(shape(w, false) == "[40] 5");
    CHECK(w.standard_error == walk_error::into_header);
    CHECK(w.standard_error_at == 0x10);
    c[0x34] = 0x3c;  // the capabilities pointer itself points into the header
    w = walk_capabilities(c);
    CHECK(w.caps.empty());
    CHECK(w.standard_error == walk_error::into_header);
    CHECK(w.standard_error_at == 0x3c);
    // Extended: AER -> 0x80 (standard space) and -> 0x000 + version bits only (the end).
    auto x = load("qemu_pcie_root_port.config");
    std::uint32_t aer = static_cast<std::uint32_t>(x[0x100]) | x[0x101] << 8 | x[0x102] << 16;
    put32(x, 0x100, (aer & 0xfffffu) | 0x080u << 20);
    w = walk_capabilities(x);
    CHECK(w.standard_error == walk_error::none);
    CHECK(shape(w, true) == "[100] 1 v2");
    CHECK(w.extended_error == walk_error::into_header);
    CHECK(w.extended_error_at == 0x80);
    put32(x, 0x100, aer & 0xfffffu);
    w = walk_capabilities(x);
    CHECK(w.ok());
    CHECK(shape(w, true) == "[100] 1 v2");
}

TEST_CASE("pci config: a cycle in the extended list, and a list that fills the extended space") {
    auto x = load("qemu_pcie_root_port.config");
    // ACS (last, at 0x148) -> AER at 0x100.
    std::uint32_t acs = static_cast<std::uint32_t>(x[0x148]) | x[0x149] << 8 | x[0x14a] << 16;
    put32(x, 0x148, (acs & 0xfffffu) | 0x100u << 20);
    capability_walk w = walk_capabilities(x);
    CHECK(shape(w, true) == "[100] 1 v2, [148] d v1");
    CHECK(w.extended_error == walk_error::cycle);
    CHECK(w.extended_error_at == 0x100);

    // 960 headers, one per dword from 0x100 to 0xffc: all listed; then the last points back.
    std::vector<std::uint8_t> c(4096, 0);
    for (std::uint32_t at = 0x100; at < 0x1000; at += 4)
        put32(c, at, 0x000bu | 1u << 16 | (at + 4 == 0x1000 ? 0u : at + 4) << 20);
    w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(w.count(true) == 960);
    put32(c, 0xffc, 0x000bu | 1u << 16 | 0x800u << 20);
    w = walk_capabilities(c);
    CHECK(w.count(true) == 960);
    CHECK(w.extended_error == walk_error::cycle);
    CHECK(w.extended_error_at == 0x800);
}

TEST_CASE(
    "pci config: 48 chained capabilities fill the standard space - all listed, a 49th pointer is a "
    "cycle") {
    std::vector<std::uint8_t> c = blank(256, 0x40);
    for (std::size_t at = 0x40; at < 0x100; at += 4) {
        c[at] = cap::vendor_specific;
        c[at + 1] = static_cast<std::uint8_t>(at + 4 == 0x100 ? 0 : at + 4);
    }
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(w.count(false) == 48);
    CHECK(w.caps.back().offset == 0xfc);
    c[0xfd] = 0x80;
    w = walk_capabilities(c);
    CHECK(w.count(false) == 48);
    CHECK(w.standard_error == walk_error::cycle);
}

TEST_CASE("pci config: an all-ones or zero header at 0x100 means no extended capability") {
    auto c = load("qemu_e1000e.config");
    put32(c, 0x100, 0xffffffffu);
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(w.count(true) == 0);
    put32(c, 0x100, 0);
    w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(w.count(true) == 0);
    // The capabilities-list status bit clear: no standard list, whatever 0x34 says.
    put16(c, 0x06, static_cast<std::uint16_t>(le16(c, 0x06) & ~0x0010));
    w = walk_capabilities(c);
    CHECK_FALSE(w.has_capability_list);
    CHECK(w.count(false) == 0);
}

TEST_CASE("pci config: a CardBus header (type 2) keeps its capabilities pointer at 0x14") {
    std::vector<std::uint8_t> c = blank(256, 0x00);
    c[0x0e] = 0x02;
    c[0x14] = 0x80;
    c[0x80] = cap::power_management;
    capability_walk w = walk_capabilities(c);
    CHECK(w.ok());
    CHECK(shape(w, false) == "[80] 1");
}

TEST_CASE("pci config: structures that do not fit in the image are not parsed") {
    // A 64-bit MSI with per-vector masking at 0xe8 needs 24 bytes: up to 0x100. At 0xec it does not
    // fit; as 32-bit without masking (10 bytes) it does.
    std::vector<std::uint8_t> c = blank(256, 0xe8);
    c[0xe8] = cap::msi;
    put16(c, 0xea, 0x0180 | 5 << 1);  // 64-bit, PVM, 32 messages
    auto m = parse_msi(c, 0xe8);
    REQUIRE(m.has_value());
    CHECK(m->length == 24);
    CHECK(m->per_vector_masking);
    CHECK(m->vectors_capable == 32);
    c[0x34] = 0xec;
    c[0xec] = cap::msi;
    put16(c, 0xee, 0x0180);
    CHECK(walk_capabilities(c).ok());  // the list itself is fine
    CHECK_FALSE(parse_msi(c, 0xec).has_value());
    put16(c, 0xee, 0x0000);
    REQUIRE(parse_msi(c, 0xec).has_value());
    CHECK(parse_msi(c, 0xec)->length == 10);
    // MSI-X needs 12 bytes, PCIe and PM 8.
    CHECK_FALSE(parse_msix(c, 0xf8).has_value());
    CHECK(parse_msix(c, 0xf4).has_value());
    CHECK_FALSE(parse_pcie(c, 0xfc).has_value());
    CHECK(parse_pcie(c, 0xf8).has_value());
    CHECK_FALSE(parse_pm(c, 0xfc).has_value());
    CHECK_FALSE(parse_msi(c, 0x1000).has_value());
}

TEST_CASE("pci config: reserved encodings - MSI counts above 32, MSI-X BIR 6 and 7") {
    std::vector<std::uint8_t> c = blank(256, 0x40);
    c[0x40] = cap::msi;
    put16(c, 0x42, 7 << 1 | 6 << 4);
    auto m = parse_msi(c, 0x40);
    REQUIRE(m.has_value());
    CHECK(m->vectors_capable == 32);
    CHECK(m->vectors_enabled == 32);
    c[0x50] = cap::msix;
    put16(c, 0x52, 0xc7ff);  // enabled, function masked, 2048 entries
    put32(c, 0x54, 0x1000 | 5);
    put32(c, 0x58, 0x2000 | 4);
    auto x = parse_msix(c, 0x50);
    REQUIRE(x.has_value());
    CHECK(x->table_size == 2048);
    CHECK(x->enabled);
    CHECK(x->function_mask);
    CHECK(x->table_bar == 5);
    CHECK(x->table_offset == 0x1000);
    CHECK(x->pba_bar == 4);
    CHECK(x->pba_offset == 0x2000);
    put32(c, 0x54, 0x1000 | 6);
    CHECK_FALSE(parse_msix(c, 0x50).has_value());
    put32(c, 0x54, 0x1000 | 5);
    put32(c, 0x58, 0x2000 | 7);
    CHECK_FALSE(parse_msix(c, 0x50).has_value());
}

TEST_CASE(
    "pci config: random images of every length - the walk ends, stays in bounds, lists each "
    "capability once") {
    std::mt19937 rng(20261123);
    std::uniform_int_distribution<int> byte(0, 255);
    const std::size_t sizes[] = {0,    1,   6,   0x35,  0x40,  0x41, 0x80,
                                 0xff, 256, 257, 0x104, 0x800, 4096};
    for (int round = 0; round < 3000; ++round) {
        std::size_t size = sizes[static_cast<std::size_t>(round) % std::size(sizes)];
        // A heap image of exactly `size` bytes: ASan catches any read past it.
        std::vector<std::uint8_t> c(size);
        for (auto& b : c)
            b = static_cast<std::uint8_t>(byte(rng));
        if (size > 7) c[6] |= 0x10;
        // Make pointers likelier to be plausible: some land in the capability area.
        if (size > 0x34 && round % 2 == 0)
            c[0x34] = static_cast<std::uint8_t>(0x40 + byte(rng) % 0xc0);
        capability_walk w = walk_capabilities(c);
        std::vector<bool> seen(4096, false);
        for (const capability& x : w.caps) {
            REQUIRE(x.offset + (x.extended ? 4u : 2u) <= size);
            REQUIRE(x.offset >= (x.extended ? 0x100u : 0x40u));
            REQUIRE_FALSE(seen[x.offset]);
            seen[x.offset] = true;
            (void)parse_msi(c, x.offset);
            (void)parse_msix(c, x.offset);
            (void)parse_pcie(c, x.offset);
            (void)parse_pm(c, x.offset);
        }
        REQUIRE(w.count(false) <= 48);
        REQUIRE(w.count(true) <= 960);
    }
}
