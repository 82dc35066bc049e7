// wdfx/uio.hpp: the UIO bus (uio_pci_generic).
//
// For machines without an IOMMU or without VFIO. What it gives up, and says so when opened:
//  - no IOMMU protection: the device can DMA anywhere in memory;
//  - DMA by physical address (from /proc/self/pagemap, which needs CAP_SYS_ADMIN), so a buffer
//    larger than one page must be physically contiguous (a huge page);
//  - INTx only; uio_pci_generic has no irqcontrol, so the line is re-enabled by clearing the
//    INTx-disable bit of the command register through sysfs config after every ISR;
//  - no software-triggered interrupts, no request IRQ (an unbind is seen as the device going away).
#pragma once

#include <memory>
#include <string>

#include <wdfx/bus.hpp>
#include <wdfx/status.hpp>

namespace wdfx::uio {

/// Open a PCI function bound to uio_pci_generic.
result<std::shared_ptr<bus::device>> open(const std::string& bdf);

}  // namespace wdfx::uio
