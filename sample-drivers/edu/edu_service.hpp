// The edu driver's device interface: what clients reach (socket endpoint and CUSE device).
//
// Queues (wdf-semantics §18.4):
//   default  parallel: liveness is answered at once; everything that drives the hardware is
//            forwarded to the hardware queue
//   hw       sequential: one factorial or DMA at a time; the request stays with the driver until
//            the DPC (or passive work item) that the completion interrupt queues completes it
// Interfaces: the socket <dir>/edu<N>.sock (wdfx-io, wdfx-edu) and, where /dev/cuse exists,
// /dev/wdfx-edu<N>.
#pragma once

#include <cstdint>
#include <string>

#include <wdfx/wdfx.hpp>

namespace edu {

class driver;

struct service_options {
    std::string interface_name = "edu0";
    std::string socket_directory = "/run/wdfx";
    std::string socket_group;  // e.g. "wdfx": members may connect
    bool cuse = true;          // also a CUSE device where /dev/cuse exists
};

/// Create the queues and interfaces of `dev` (from EvtDriverDeviceAdd). The returned status
/// fails the AddDevice.
wdfx::status setup_service(driver& drv, wdfx::device dev, const service_options& o);

/// Called by the driver's DPC / work item with the interrupt status bits it collected.
void service_interrupt_work(driver& drv, std::uint32_t bits);

}  // namespace edu
