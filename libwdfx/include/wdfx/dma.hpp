// wdfx/dma.hpp: DMA enablers and common buffers (wdf-semantics §18.10).
//
// A dma_enabler holds the device's DMA profile (its address width) and an IOVA allocator that
// stays inside the IOVA ranges the bus reports and below the device's address width. A
// common_buffer is locked memory mapped for the device (WdfCommonBufferCreate): its virtual
// address for the driver, its logical (bus) address for the device. On VFIO the logical address is
// an IOVA mapped through the IOMMU; on UIO it is the physical address, which needs the buffer to
// be physically contiguous: more than one page needs a huge page, and the error says so.
//
// Threads: create at PASSIVE; the addresses may be read from any context.
#pragma once

#include <cstddef>
#include <cstdint>

#include <wdfx/device.hpp>
#include <wdfx/object.hpp>

namespace wdfx {

/// WDF_DMA_ENABLER_CONFIG, reduced to what a userspace driver controls.
struct dma_enabler_config {
    unsigned address_bits = 64;      // the device's DMA address width (profile 32 or 64 bits)
    std::size_t maximum_length = 0;  // the largest single transfer (informative)
};

class dma_enabler : public object {
  public:
    dma_enabler() = default;
    explicit dma_enabler(std::uint64_t h) : object(h) {}
    /// WdfDmaEnablerCreate: PASSIVE; the parent is the device.
    static result<dma_enabler> create(device dev, const dma_enabler_config& config,
                                      const object_attributes& attributes = {});
    unsigned address_bits() const;
};

class common_buffer : public object {
  public:
    common_buffer() = default;
    explicit common_buffer(std::uint64_t h) : object(h) {}
    /// WdfCommonBufferCreate: PASSIVE; the parent is the enabler. The memory is zeroed.
    static result<common_buffer> create(dma_enabler enabler, std::size_t length,
                                        const object_attributes& attributes = {});
    void* virtual_address() const;          // WdfCommonBufferGetAlignedVirtualAddress
    std::uint64_t logical_address() const;  // WdfCommonBufferGetAlignedLogicalAddress
    std::size_t length() const;             // WdfCommonBufferGetLength
};

}  // namespace wdfx
