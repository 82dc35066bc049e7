// PCI discovery with libpci (sysfs access): identity, class, subsystem, the bound kernel driver
// and the IOMMU group with its other members.
extern "C" {
#include <pci/pci.h>
}

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <wdfx/pci.hpp>

namespace wdfx::pci {

result<std::vector<device_info>> scan() {
    pci_access* pa = pci_alloc();
    if (pa == nullptr)
        return error::from_status(status::insufficient_resources, "pci_alloc failed");
    pa->method = PCI_ACCESS_SYS_BUS_PCI;
    pci_init(pa);
    pci_scan_bus(pa);
    std::vector<device_info> out;
    for (pci_dev* d = pa->devices; d != nullptr; d = d->next) {
        pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_SUBSYS | PCI_FILL_IOMMU_GROUP |
                             PCI_FILL_DRIVER);
        device_info i;
        char bdf[16];
        std::snprintf(bdf, sizeof bdf, "%04x:%02x:%02x.%x", d->domain, d->bus, d->dev, d->func);
        i.bdf = bdf;
        i.id.vendor = d->vendor_id;
        i.id.device = d->device_id;
        i.id.subsystem_vendor = d->subsys_vendor_id;
        i.id.subsystem_device = d->subsys_id;
        i.id.class_code =
            static_cast<std::uint32_t>(d->device_class) << 8 | pci_read_byte(d, PCI_CLASS_PROG);
        i.id.revision = pci_read_byte(d, PCI_REVISION_ID);
        char name[256];
        if (pci_lookup_name(pa, name, sizeof name, PCI_LOOKUP_VENDOR, d->vendor_id))
            i.vendor_name = name;
        if (pci_lookup_name(pa, name, sizeof name, PCI_LOOKUP_DEVICE, d->vendor_id, d->device_id))
            i.device_name = name;
        if (const char* drv = pci_get_string_property(d, PCI_FILL_DRIVER)) {
            const char* slash = std::strrchr(drv, '/');
            i.driver = slash != nullptr ? slash + 1 : drv;
        }
        if (const char* g = pci_get_string_property(d, PCI_FILL_IOMMU_GROUP))
            i.iommu_group = std::atoi(g);
        out.push_back(std::move(i));
    }
    pci_cleanup(pa);
    // Group members from sysfs.
    for (auto& i : out) {
        if (i.iommu_group < 0) continue;
        std::string dir = "/sys/kernel/iommu_groups/" + std::to_string(i.iommu_group) + "/devices";
        if (DIR* g = ::opendir(dir.c_str())) {
            while (dirent* e = ::readdir(g))
                if (e->d_name[0] != '.' && i.bdf != e->d_name) i.group_members.push_back(e->d_name);
            ::closedir(g);
        }
        std::sort(i.group_members.begin(), i.group_members.end());
    }
    std::sort(out.begin(), out.end(),
              [](const device_info& a, const device_info& b) { return a.bdf < b.bdf; });
    return out;
}

result<std::vector<device_info>> find(const std::vector<match>& table) {
    auto all = scan();
    if (!all) return all.err();
    std::vector<device_info> out;
    for (auto& d : *all)
        for (const match& m : table)
            if (matches(m, d.id)) {
                out.push_back(d);
                break;
            }
    return out;
}

}  // namespace wdfx::pci
