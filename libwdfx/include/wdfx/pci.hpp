// wdfx/pci.hpp: PCI discovery (libpci) and match tables (an INF's hardware IDs).
//
// A driver declares the devices it serves as match entries: vendor, device, subsystem vendor and
// device (each may be `any`) and a class code with a mask. The framework finds the devices a
// driver serves, or opens one by PCI address. Installed drivers publish their tables as manifest
// files (one line per entry: "<driver> <vendor>:<device>[:<subvendor>:<subdevice>] [class=C/M]")
// in /usr/share/wdfx/drivers and /etc/wdfx/drivers.d, so wdfxctl can say which driver matches a
// device and generate udev rules.
//
// Discovery (scan/find) lives in the wdfx_pci library, which links libpci.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <wdfx/bus.hpp>
#include <wdfx/status.hpp>

namespace wdfx::pci {

inline constexpr std::uint32_t any = 0xffffffffu;

struct match {
    std::uint32_t vendor = any;
    std::uint32_t device = any;
    std::uint32_t subsystem_vendor = any;
    std::uint32_t subsystem_device = any;
    std::uint32_t class_code = 0;  // base << 16 | sub << 8 | prog-if
    std::uint32_t class_mask = 0;  // 0: any class
};

constexpr bool matches(const match& m, const bus::pci_id& id) noexcept {
    return (m.vendor == any || m.vendor == id.vendor) &&
           (m.device == any || m.device == id.device) &&
           (m.subsystem_vendor == any || m.subsystem_vendor == id.subsystem_vendor) &&
           (m.subsystem_device == any || m.subsystem_device == id.subsystem_device) &&
           ((id.class_code & m.class_mask) == (m.class_code & m.class_mask));
}

/// Parse "1234:11e8", "1234:11e8:1af4:1100", "*:*" or with " class=010802/ffffff".
std::optional<match> parse_match(const std::string& text);
/// The manifest line of an entry (parse_match's inverse).
std::string format_match(const match& m);

struct manifest {
    std::string driver;
    std::vector<match> ids;
};
/// Read manifests from `dirs` (default: /usr/share/wdfx/drivers, /etc/wdfx/drivers.d, and
/// $WDFX_MANIFEST_DIRS, colon-separated). Malformed lines are skipped with a warning.
std::vector<manifest> load_manifests(const std::vector<std::string>& dirs = {});

struct device_info {
    std::string bdf;
    bus::pci_id id;
    std::string vendor_name;
    std::string device_name;
    std::string driver;                      // the kernel driver bound now, "" if none
    int iommu_group = -1;                    // -1: no IOMMU group (no IOMMU)
    std::vector<std::string> group_members;  // the group's other devices
};

/// Every PCI function of the machine (libpci, sysfs access method).
result<std::vector<device_info>> scan();
/// The devices that match any entry of `table`.
result<std::vector<device_info>> find(const std::vector<match>& table);

}  // namespace wdfx::pci
