// wdfx/resources.hpp: hardware resources handed to EvtDevicePrepareHardware (CM_RESOURCE_LIST).
//
// On Linux the raw and translated lists are the same. Interrupt resources come in WDF's order
// (§7.1): one per MSI-X vector, one with message_count = N for an N-message MSI, or one
// level-sensitive line (INTx). Each has a synthetic, never-zero `vector` (kind << 16 | n + 1):
// a vector of 0 means "no resource" (§4).
#pragma once

#include <cstdint>
#include <vector>

#include <wdfx/bus.hpp>

namespace wdfx {

/// KINTERRUPT_MODE
enum class interrupt_mode : std::uint8_t { level_sensitive = 0, latched = 1 };

/// CM_SHARE_DISPOSITION
enum class share_disposition : std::uint8_t {
    undetermined = 0,
    device_exclusive = 1,
    driver_exclusive = 2,
    shared = 3,
};

enum class resource_type : std::uint8_t { interrupt = 2, memory = 3, port = 1 };

/// CM_PARTIAL_RESOURCE_DESCRIPTOR, the parts a PCI driver uses.
struct resource {
    resource_type type = resource_type::memory;
    share_disposition share = share_disposition::device_exclusive;
    // interrupt
    bus::irq_kind irq_kind = bus::irq_kind::intx;
    std::uint32_t first_vector = 0;   // the bus's vector number (VFIO subindex)
    std::uint32_t vector = 0;         // synthetic, never 0
    std::uint32_t message_count = 0;  // > 1 for a multi-message MSI descriptor
    std::uint8_t irql = 0;            // synthetic DIRQL
    std::uint64_t affinity = 0;       // CPU mask
    interrupt_mode mode = interrupt_mode::level_sensitive;
    bool message_signaled = false;
    // memory / port (a BAR)
    std::uint32_t bar = 0;
    std::uint64_t start = 0;
    std::uint64_t length = 0;
};

using resource_list = std::vector<resource>;

}  // namespace wdfx
