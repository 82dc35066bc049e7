// wdfx/wdfx.hpp: everything a driver includes.
#pragma once

#include <wdfx/bus.hpp>
#include <wdfx/device.hpp>
#include <wdfx/dma.hpp>
#include <wdfx/driver.hpp>
#include <wdfx/execution.hpp>
#include <wdfx/interface.hpp>
#include <wdfx/interrupt.hpp>
#include <wdfx/object.hpp>
#include <wdfx/queue.hpp>
#include <wdfx/registers.hpp>
#include <wdfx/resources.hpp>
#include <wdfx/sim.hpp>
#include <wdfx/status.hpp>
#include <wdfx/sync.hpp>
#include <wdfx/timer.hpp>
#include <wdfx/verifier.hpp>
#include <wdfx/work_item.hpp>
