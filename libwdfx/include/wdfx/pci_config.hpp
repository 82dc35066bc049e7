// wdfx/pci_config.hpp: a PCI function's configuration space: the capability lists (standard and
// extended) and the capabilities the framework and its tools read (MSI, MSI-X, PCI Express, power
// management).
//
// Header-only, with nothing but the C++ standard library, so wdfxctl, the bus conformance suite
// (tests/unit/bus_conformance.hpp) and static guest programs share one walker. It works on a byte
// image of the config space as read: sysfs `config`, VFIO's config region or a recording. The
// image is 256 bytes for conventional PCI and 4096 for PCI Express, and shorter when the reader
// could not read it all: sysfs gives readers without CAP_SYS_ADMIN only the first 64 bytes.
//
// The walk trusts nothing it reads. Every pointer is checked against the image before it is
// followed: a pointer into the header (below 0x40, or below 0x100 for the extended list), a
// pointer past the end of the image, and a pointer to a capability already visited (a cycle)
// each end the list with an error that names the bad pointer, so a broken or malicious device
// cannot make it loop or read out of bounds. The capability parsers check that the structure
// they read lies inside the image and return nothing when it does not.
//
// Threads: pure functions of their arguments.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace wdfx::pci {

/// Standard capability IDs (PCI Code and ID Assignment Specification, section 2).
namespace cap {
inline constexpr std::uint8_t power_management = 0x01;
inline constexpr std::uint8_t agp = 0x02;
inline constexpr std::uint8_t vpd = 0x03;
inline constexpr std::uint8_t slot_id = 0x04;
inline constexpr std::uint8_t msi = 0x05;
inline constexpr std::uint8_t hot_swap = 0x06;
inline constexpr std::uint8_t pcix = 0x07;
inline constexpr std::uint8_t hypertransport = 0x08;
inline constexpr std::uint8_t vendor_specific = 0x09;
inline constexpr std::uint8_t debug_port = 0x0a;
inline constexpr std::uint8_t hot_plug = 0x0c;
inline constexpr std::uint8_t bridge_subsystem = 0x0d;
inline constexpr std::uint8_t agp_8x = 0x0e;
inline constexpr std::uint8_t secure_device = 0x0f;
inline constexpr std::uint8_t pci_express = 0x10;
inline constexpr std::uint8_t msix = 0x11;
inline constexpr std::uint8_t sata = 0x12;
inline constexpr std::uint8_t advanced_features = 0x13;
inline constexpr std::uint8_t enhanced_allocation = 0x14;
inline constexpr std::uint8_t flattening_portal_bridge = 0x15;
}  // namespace cap

/// Extended capability IDs (section 3 of the same specification).
namespace ext_cap {
inline constexpr std::uint16_t aer = 0x0001;
inline constexpr std::uint16_t virtual_channel = 0x0002;
inline constexpr std::uint16_t serial_number = 0x0003;
inline constexpr std::uint16_t power_budgeting = 0x0004;
inline constexpr std::uint16_t rc_link_declaration = 0x0005;
inline constexpr std::uint16_t rc_internal_link_control = 0x0006;
inline constexpr std::uint16_t rc_event_collector = 0x0007;
inline constexpr std::uint16_t mfvc = 0x0008;
inline constexpr std::uint16_t virtual_channel_9 = 0x0009;
inline constexpr std::uint16_t rcrb = 0x000a;
inline constexpr std::uint16_t vendor_specific = 0x000b;
inline constexpr std::uint16_t acs = 0x000d;
inline constexpr std::uint16_t ari = 0x000e;
inline constexpr std::uint16_t ats = 0x000f;
inline constexpr std::uint16_t sriov = 0x0010;
inline constexpr std::uint16_t mriov = 0x0011;
inline constexpr std::uint16_t multicast = 0x0012;
inline constexpr std::uint16_t page_request = 0x0013;
inline constexpr std::uint16_t resizable_bar = 0x0015;
inline constexpr std::uint16_t dpa = 0x0016;
inline constexpr std::uint16_t tph = 0x0017;
inline constexpr std::uint16_t ltr = 0x0018;
inline constexpr std::uint16_t secondary_pcie = 0x0019;
inline constexpr std::uint16_t pmux = 0x001a;
inline constexpr std::uint16_t pasid = 0x001b;
inline constexpr std::uint16_t lnr = 0x001c;
inline constexpr std::uint16_t dpc = 0x001d;
inline constexpr std::uint16_t l1_pm_substates = 0x001e;
inline constexpr std::uint16_t ptm = 0x001f;
inline constexpr std::uint16_t designated_vendor_specific = 0x0023;
inline constexpr std::uint16_t vf_resizable_bar = 0x0024;
inline constexpr std::uint16_t data_link_feature = 0x0025;
inline constexpr std::uint16_t physical_layer_16gt = 0x0026;
inline constexpr std::uint16_t lane_margining = 0x0027;
inline constexpr std::uint16_t physical_layer_32gt = 0x002a;
inline constexpr std::uint16_t doe = 0x002e;
}  // namespace ext_cap

/// Where a config space image is laid out (PCI Local Bus 3.0, PCIe Base 6.6.1).
namespace cfg {
inline constexpr std::size_t vendor_id = 0x00;
inline constexpr std::size_t device_id = 0x02;
inline constexpr std::size_t command = 0x04;
inline constexpr std::size_t status = 0x06;
inline constexpr std::size_t header_type = 0x0e;
inline constexpr std::size_t capabilities_pointer = 0x34;          // header types 0 and 1
inline constexpr std::size_t cardbus_capabilities_pointer = 0x14;  // header type 2
inline constexpr std::uint16_t status_capabilities_list = 0x0010;
inline constexpr std::size_t header_size = 0x40;       // standard capabilities start here
inline constexpr std::size_t conventional_size = 256;  // extended capabilities start here
inline constexpr std::size_t extended_size = 4096;
}  // namespace cfg

/// One entry of a capability list.
struct capability {
    std::uint16_t id = 0;      // cap:: (8 bits) or ext_cap:: (16 bits)
    std::uint16_t offset = 0;  // where its header is in config space
    std::uint8_t version = 0;  // extended capabilities: the header's version field; else 0
    bool extended = false;
};

/// Why a list ended before its last entry said so.
enum class walk_error : std::uint8_t {
    none,
    into_header,  // a pointer into the header: below 0x40 (standard) or 0x100 (extended)
    beyond_end,   // a pointer, or the capability header it names, past the end of the image
    cycle,        // a pointer to a capability already visited
};

inline const char* walk_error_name(walk_error e) noexcept {
    switch (e) {
        case walk_error::none:
            return "none";
        case walk_error::into_header:
            return "pointer into the header";
        case walk_error::beyond_end:
            return "pointer beyond the end of the config space read";
        case walk_error::cycle:
            return "pointer to a capability already listed (a cycle)";
    }
    return "?";
}

/// What walk_capabilities() found.
struct capability_walk {
    std::vector<capability> caps;  // the standard list, then the extended list, in list order
    walk_error standard_error = walk_error::none;
    std::uint16_t standard_error_at = 0;  // the pointer that ended the standard list
    walk_error extended_error = walk_error::none;
    std::uint16_t extended_error_at = 0;  // the pointer that ended the extended list
    bool has_capability_list = false;     // the status register says there is a standard list
    bool extended_space = false;          // the image reaches into the extended space (> 256 bytes)

    bool ok() const noexcept {
        return standard_error == walk_error::none && extended_error == walk_error::none;
    }
    /// The first capability with this ID (standard, or extended with `extended`), or nullptr.
    const capability* find(std::uint16_t id, bool extended = false) const noexcept {
        for (const capability& c : caps)
            if (c.id == id && c.extended == extended) return &c;
        return nullptr;
    }
    std::size_t count(bool extended) const noexcept {
        std::size_t n = 0;
        for (const capability& c : caps)
            n += c.extended == extended ? 1 : 0;
        return n;
    }
};

namespace detail {
inline std::uint16_t le16(std::span<const std::uint8_t> c, std::size_t off) noexcept {
    return static_cast<std::uint16_t>(c[off] | c[off + 1] << 8);
}
inline std::uint32_t le32(std::span<const std::uint8_t> c, std::size_t off) noexcept {
    return static_cast<std::uint32_t>(c[off]) | static_cast<std::uint32_t>(c[off + 1]) << 8 |
           static_cast<std::uint32_t>(c[off + 2]) << 16 |
           static_cast<std::uint32_t>(c[off + 3]) << 24;
}
inline bool fits(std::span<const std::uint8_t> c, std::size_t off, std::size_t len) noexcept {
    return off <= c.size() && len <= c.size() - off;
}
}  // namespace detail

/// Walks both capability lists of a config space image.
///
/// The standard list starts at the capabilities pointer (0x34, or 0x14 for a CardBus header)
/// when the status register's Capabilities List bit is set; each pointer has its two low bits
/// masked off (they are reserved). The extended list starts at 0x100 when the image holds more
/// than 256 bytes; a first header of 0 or of all ones means there is none. Each list stops at
/// its first bad pointer (walk_error), keeping the entries before it.
inline capability_walk walk_capabilities(std::span<const std::uint8_t> c) {
    capability_walk w;
    // The standard list.
    if (detail::fits(c, cfg::status, 2) &&
        (detail::le16(c, cfg::status) & cfg::status_capabilities_list) != 0) {
        w.has_capability_list = true;
        const std::size_t ptr_at =
            detail::fits(c, cfg::header_type, 1) && (c[cfg::header_type] & 0x7f) == 2
                ? cfg::cardbus_capabilities_pointer
                : cfg::capabilities_pointer;
        std::array<bool, cfg::conventional_size / 4> seen{};
        std::size_t at = 0;
        if (!detail::fits(c, ptr_at, 1)) {
            w.standard_error = walk_error::beyond_end;
            w.standard_error_at = static_cast<std::uint16_t>(ptr_at);
        } else {
            at = c[ptr_at] & 0xfcu;
        }
        while (at != 0) {
            walk_error e = walk_error::none;
            if (at < cfg::header_size)
                e = walk_error::into_header;
            else if (!detail::fits(c, at, 2))
                e = walk_error::beyond_end;
            else if (seen[at / 4])
                e = walk_error::cycle;
            if (e != walk_error::none) {
                w.standard_error = e;
                w.standard_error_at = static_cast<std::uint16_t>(at);
                break;
            }
            seen[at / 4] = true;
            w.caps.push_back({c[at], static_cast<std::uint16_t>(at), 0, false});
            at = c[at + 1] & 0xfcu;
        }
    }
    // The extended list.
    if (c.size() > cfg::conventional_size) {
        w.extended_space = true;
        std::vector<bool> seen(cfg::extended_size / 4, false);
        std::size_t at = cfg::conventional_size;
        if (detail::fits(c, at, 4)) {
            std::uint32_t first = detail::le32(c, at);
            if (first == 0 || first == 0xffffffffu) at = 0;  // no extended capability
        }
        while (at != 0) {
            walk_error e = walk_error::none;
            if (at < cfg::conventional_size)
                e = walk_error::into_header;
            else if (!detail::fits(c, at, 4))
                e = walk_error::beyond_end;
            else if (seen[at / 4])
                e = walk_error::cycle;
            if (e != walk_error::none) {
                w.extended_error = e;
                w.extended_error_at = static_cast<std::uint16_t>(at);
                break;
            }
            seen[at / 4] = true;
            std::uint32_t h = detail::le32(c, at);
            w.caps.push_back({static_cast<std::uint16_t>(h & 0xffff),
                              static_cast<std::uint16_t>(at),
                              static_cast<std::uint8_t>((h >> 16) & 0xf), true});
            at = (h >> 20) & 0xffcu;
        }
    }
    return w;
}

/// MSI (PCI Local Bus 3.0, 6.8.1).
struct msi_capability {
    std::uint16_t offset = 0;
    bool enabled = false;
    unsigned vectors_capable = 1;  // Multiple Message Capable: 1, 2, 4, 8, 16 or 32
    unsigned vectors_enabled = 1;  // Multiple Message Enable
    bool address_64bit = false;
    bool per_vector_masking = false;
    std::size_t length = 0;  // 10, 14, 20 or 24 bytes
};

/// The MSI capability at `offset`, or nothing if the structure its flags describe does not fit in
/// the image. The reserved encodings of the message counts (above 32) read as 32.
inline std::optional<msi_capability> parse_msi(std::span<const std::uint8_t> c,
                                               std::size_t offset) {
    if (!detail::fits(c, offset, 4)) return std::nullopt;
    const std::uint16_t ctl = detail::le16(c, offset + 2);
    msi_capability m;
    m.offset = static_cast<std::uint16_t>(offset);
    m.enabled = (ctl & 0x0001) != 0;
    unsigned mmc = (ctl >> 1) & 7, mme = (ctl >> 4) & 7;
    m.vectors_capable = 1u << (mmc > 5 ? 5 : mmc);
    m.vectors_enabled = 1u << (mme > 5 ? 5 : mme);
    m.address_64bit = (ctl & 0x0080) != 0;
    m.per_vector_masking = (ctl & 0x0100) != 0;
    m.length = (m.address_64bit ? 14 : 10) + (m.per_vector_masking ? 10 : 0);
    if (!detail::fits(c, offset, m.length)) return std::nullopt;
    return m;
}

/// MSI-X (PCI Local Bus 3.0, 6.8.2).
struct msix_capability {
    std::uint16_t offset = 0;
    bool enabled = false;
    bool function_mask = false;
    unsigned table_size = 1;  // entries: 1..2048
    unsigned table_bar = 0;   // BIR: 0..5
    std::uint32_t table_offset = 0;
    unsigned pba_bar = 0;
    std::uint32_t pba_offset = 0;
};

/// The MSI-X capability at `offset`, or nothing if it does not fit in the image or names a
/// reserved BAR indicator (6 or 7) for its table or PBA.
inline std::optional<msix_capability> parse_msix(std::span<const std::uint8_t> c,
                                                 std::size_t offset) {
    if (!detail::fits(c, offset, 12)) return std::nullopt;
    const std::uint16_t ctl = detail::le16(c, offset + 2);
    const std::uint32_t table = detail::le32(c, offset + 4), pba = detail::le32(c, offset + 8);
    msix_capability m;
    m.offset = static_cast<std::uint16_t>(offset);
    m.enabled = (ctl & 0x8000) != 0;
    m.function_mask = (ctl & 0x4000) != 0;
    m.table_size = (ctl & 0x07ffu) + 1;
    m.table_bar = table & 7;
    m.table_offset = table & ~7u;
    m.pba_bar = pba & 7;
    m.pba_offset = pba & ~7u;
    if (m.table_bar > 5 || m.pba_bar > 5) return std::nullopt;
    return m;
}

/// The Device/Port Type of a PCI Express capability.
enum class pcie_port_type : std::uint8_t {
    endpoint = 0x0,
    legacy_endpoint = 0x1,
    root_port = 0x4,
    upstream_port = 0x5,
    downstream_port = 0x6,
    pcie_to_pci_bridge = 0x7,
    pci_to_pcie_bridge = 0x8,
    rc_integrated_endpoint = 0x9,
    rc_event_collector = 0xa,
};

inline const char* pcie_port_type_name(pcie_port_type t) noexcept {
    switch (t) {
        case pcie_port_type::endpoint:
            return "Endpoint";
        case pcie_port_type::legacy_endpoint:
            return "Legacy Endpoint";
        case pcie_port_type::root_port:
            return "Root Port";
        case pcie_port_type::upstream_port:
            return "Upstream Port";
        case pcie_port_type::downstream_port:
            return "Downstream Port";
        case pcie_port_type::pcie_to_pci_bridge:
            return "PCIe to PCI/PCI-X Bridge";
        case pcie_port_type::pci_to_pcie_bridge:
            return "PCI/PCI-X to PCIe Bridge";
        case pcie_port_type::rc_integrated_endpoint:
            return "Root Complex Integrated Endpoint";
        case pcie_port_type::rc_event_collector:
            return "Root Complex Event Collector";
    }
    return "reserved type";
}

/// PCI Express capability (PCIe Base 7.5.3): the fields that say what the function is.
struct pcie_capability {
    std::uint16_t offset = 0;
    unsigned version = 0;  // 1 or 2
    pcie_port_type port_type = pcie_port_type::endpoint;
    bool slot_implemented = false;
    unsigned interrupt_message_number = 0;
    unsigned max_payload_supported = 128;  // bytes
    bool function_level_reset = false;     // Device Capabilities: FLR capable
};

/// The PCI Express capability at `offset` (its flags and Device Capabilities register), or
/// nothing if those do not fit in the image.
inline std::optional<pcie_capability> parse_pcie(std::span<const std::uint8_t> c,
                                                 std::size_t offset) {
    if (!detail::fits(c, offset, 8)) return std::nullopt;
    const std::uint16_t flags = detail::le16(c, offset + 2);
    const std::uint32_t devcap = detail::le32(c, offset + 4);
    pcie_capability p;
    p.offset = static_cast<std::uint16_t>(offset);
    p.version = flags & 0xf;
    p.port_type = static_cast<pcie_port_type>((flags >> 4) & 0xf);
    p.slot_implemented = (flags & 0x0100) != 0;
    p.interrupt_message_number = (flags >> 9) & 0x1f;
    unsigned mps = devcap & 7;
    p.max_payload_supported = 128u << (mps > 5 ? 5 : mps);
    p.function_level_reset = (devcap & (1u << 28)) != 0;
    return p;
}

/// PCI Power Management (PCI Bus Power Management Interface 1.2).
struct pm_capability {
    std::uint16_t offset = 0;
    unsigned version = 0;
    bool d1_support = false;
    bool d2_support = false;
    unsigned pme_support = 0;  // bit i: PME# can be asserted from D<i> (bit 4: D3cold)
    unsigned power_state = 0;  // 0..3: D0, D1, D2, D3hot
    bool no_soft_reset = false;
};

/// The power management capability at `offset`, or nothing if it does not fit in the image.
inline std::optional<pm_capability> parse_pm(std::span<const std::uint8_t> c, std::size_t offset) {
    if (!detail::fits(c, offset, 8)) return std::nullopt;
    const std::uint16_t pmc = detail::le16(c, offset + 2), csr = detail::le16(c, offset + 4);
    pm_capability p;
    p.offset = static_cast<std::uint16_t>(offset);
    p.version = pmc & 7;
    p.d1_support = (pmc & 0x0200) != 0;
    p.d2_support = (pmc & 0x0400) != 0;
    p.pme_support = (pmc >> 11) & 0x1f;
    p.power_state = csr & 3;
    p.no_soft_reset = (csr & 0x0008) != 0;
    return p;
}

inline const char* capability_name(std::uint8_t id) noexcept {
    switch (id) {
        case cap::power_management:
            return "Power Management";
        case cap::agp:
            return "AGP";
        case cap::vpd:
            return "Vital Product Data";
        case cap::slot_id:
            return "Slot ID";
        case cap::msi:
            return "MSI";
        case cap::hot_swap:
            return "CompactPCI Hot Swap";
        case cap::pcix:
            return "PCI-X";
        case cap::hypertransport:
            return "HyperTransport";
        case cap::vendor_specific:
            return "Vendor Specific";
        case cap::debug_port:
            return "Debug Port";
        case cap::hot_plug:
            return "PCI Hot-Plug";
        case cap::bridge_subsystem:
            return "Bridge Subsystem IDs";
        case cap::agp_8x:
            return "AGP 8x";
        case cap::secure_device:
            return "Secure Device";
        case cap::pci_express:
            return "PCI Express";
        case cap::msix:
            return "MSI-X";
        case cap::sata:
            return "SATA";
        case cap::advanced_features:
            return "PCI Advanced Features";
        case cap::enhanced_allocation:
            return "Enhanced Allocation";
        case cap::flattening_portal_bridge:
            return "Flattening Portal Bridge";
        default:
            return "other";
    }
}

inline const char* extended_capability_name(std::uint16_t id) noexcept {
    switch (id) {
        case ext_cap::aer:
            return "Advanced Error Reporting";
        case ext_cap::virtual_channel:
        case ext_cap::virtual_channel_9:
            return "Virtual Channel";
        case ext_cap::serial_number:
            return "Device Serial Number";
        case ext_cap::power_budgeting:
            return "Power Budgeting";
        case ext_cap::rc_link_declaration:
            return "Root Complex Link Declaration";
        case ext_cap::rc_internal_link_control:
            return "Root Complex Internal Link Control";
        case ext_cap::rc_event_collector:
            return "Root Complex Event Collector Endpoint Association";
        case ext_cap::mfvc:
            return "Multi-Function Virtual Channel";
        case ext_cap::rcrb:
            return "RCRB Header";
        case ext_cap::vendor_specific:
            return "Vendor Specific";
        case ext_cap::acs:
            return "Access Control Services";
        case ext_cap::ari:
            return "Alternative Routing-ID Interpretation";
        case ext_cap::ats:
            return "Address Translation Services";
        case ext_cap::sriov:
            return "Single Root I/O Virtualization";
        case ext_cap::mriov:
            return "Multi-Root I/O Virtualization";
        case ext_cap::multicast:
            return "Multicast";
        case ext_cap::page_request:
            return "Page Request";
        case ext_cap::resizable_bar:
            return "Resizable BAR";
        case ext_cap::dpa:
            return "Dynamic Power Allocation";
        case ext_cap::tph:
            return "TPH Requester";
        case ext_cap::ltr:
            return "Latency Tolerance Reporting";
        case ext_cap::secondary_pcie:
            return "Secondary PCI Express";
        case ext_cap::pmux:
            return "Protocol Multiplexing";
        case ext_cap::pasid:
            return "Process Address Space ID";
        case ext_cap::lnr:
            return "LN Requester";
        case ext_cap::dpc:
            return "Downstream Port Containment";
        case ext_cap::l1_pm_substates:
            return "L1 PM Substates";
        case ext_cap::ptm:
            return "Precision Time Measurement";
        case ext_cap::designated_vendor_specific:
            return "Designated Vendor-Specific";
        case ext_cap::vf_resizable_bar:
            return "VF Resizable BAR";
        case ext_cap::data_link_feature:
            return "Data Link Feature";
        case ext_cap::physical_layer_16gt:
            return "Physical Layer 16.0 GT/s";
        case ext_cap::lane_margining:
            return "Lane Margining at the Receiver";
        case ext_cap::physical_layer_32gt:
            return "Physical Layer 32.0 GT/s";
        case ext_cap::doe:
            return "Data Object Exchange";
        default:
            return "other";
    }
}

}  // namespace wdfx::pci
