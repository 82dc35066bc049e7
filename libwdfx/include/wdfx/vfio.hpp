// wdfx/vfio.hpp: the VFIO bus (vfio-pci with the type1 IOMMU).
//
// open() takes a PCI address bound to vfio-pci and returns a bus::device: the group is checked for
// viability (every member bound to vfio-pci or to no driver), the container gets the type1 IOMMU,
// BARs are mmapped (sparse areas honoured, the rest through pread/pwrite), interrupts are VFIO
// eventfds (MSI/MSI-X blocks enabled up front: NORESIZE on 6.1; INTx unmasked through an unmask
// eventfd), the request IRQ becomes a removal_requested event and the error IRQ an error_reported
// event, DMA goes through VFIO_IOMMU_MAP_DMA inside the IOVA ranges the kernel reports.
//
// Failures say what to do: a device not bound to vfio-pci, no permission on /dev/vfio/N, a group
// held by another process (named), a memlock limit too low for a DMA mapping.
#pragma once

#include <memory>
#include <string>

#include <wdfx/bus.hpp>
#include <wdfx/status.hpp>

namespace wdfx::vfio {

/// Normalise "4.0", "00:04.0" or "0000:00:04.0" to "0000:00:04.0"; empty if malformed.
std::string normalize_bdf(const std::string& bdf);

/// Open a PCI function bound to vfio-pci.
result<std::shared_ptr<bus::device>> open(const std::string& bdf);

}  // namespace wdfx::vfio
