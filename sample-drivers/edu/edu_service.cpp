#include "edu_service.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include <wdfx/interface.hpp>

#include "edu_driver.hpp"
#include "edu_ioctl.h"

namespace edu {

namespace {

/// The request the hardware queue has in flight (sequential: at most one).
struct in_flight {
    enum class op { none, factorial, raise, dma_to_device, dma_from_device };
    std::mutex m;
    wdfx::request req;
    op what = op::none;
    std::uint32_t raise_bits = 0;
    std::size_t length = 0;
};

struct service_state {
    driver* drv = nullptr;
    wdfx::io_queue hw;
    in_flight flight;
};
service_state g_service;  // one edu device per driver process

bool read_u32(wdfx::request r, std::uint32_t* v) {
    auto in = r.retrieve_input_buffer(sizeof *v);
    if (!in) return false;
    std::memcpy(v, in->data(), sizeof *v);
    return true;
}

bool write_u32(wdfx::request r, std::uint32_t v) {
    auto out = r.retrieve_output_buffer(sizeof v);
    if (!out) return false;
    std::memcpy(out->data(), &v, sizeof v);
    return true;
}

void begin(wdfx::request r, in_flight::op what, std::uint32_t raise_bits, std::size_t length) {
    std::lock_guard g(g_service.flight.m);
    g_service.flight.req = r;
    g_service.flight.what = what;
    g_service.flight.raise_bits = raise_bits;
    g_service.flight.length = length;
}

/// Take the in-flight request if `bits` complete it.
wdfx::request take(std::uint32_t bits, in_flight::op* what, std::size_t* length) {
    std::lock_guard g(g_service.flight.m);
    auto& f = g_service.flight;
    bool done =
        (f.what == in_flight::op::factorial && (bits & wdfx::sim::edu::irq_factorial)) ||
        ((f.what == in_flight::op::dma_to_device || f.what == in_flight::op::dma_from_device) &&
         (bits & wdfx::sim::edu::irq_dma)) ||
        (f.what == in_flight::op::raise && (bits & f.raise_bits) == f.raise_bits);
    if (!done) return wdfx::request();
    *what = f.what;
    *length = f.length;
    wdfx::request r = f.req;
    f.req = wdfx::request();
    f.what = in_flight::op::none;
    return r;
}

// The default queue (parallel): answers what needs no interrupt, forwards the rest.
void default_ioctl(wdfx::io_queue, wdfx::request r, std::size_t, std::size_t, std::uint32_t code) {
    if (code == WDFX_EDU_IOCTL_LIVENESS) {
        std::uint32_t v = 0;
        if (!read_u32(r, &v)) return r.complete(wdfx::status::buffer_too_small);
        auto l = g_service.drv->liveness(v);
        if (!l || !write_u32(r, *l))
            return r.complete(l ? wdfx::status::buffer_too_small : l.code());
        return r.complete_with_information(wdfx::status::success, sizeof(std::uint32_t));
    }
    if (code == WDFX_EDU_IOCTL_FACTORIAL || code == WDFX_EDU_IOCTL_RAISE) {
        wdfx::status st = r.forward_to_io_queue(g_service.hw);
        if (!wdfx::nt_success(st)) r.complete(st);
        return;
    }
    r.complete(wdfx::status::invalid_device_request);
}

void default_rw(wdfx::io_queue, wdfx::request r, std::size_t length) {
    auto p = r.get_parameters();
    if (length == 0 || p.offset + length > WDFX_EDU_BUFFER_SIZE)
        return r.complete(wdfx::status::invalid_buffer_size);
    wdfx::status st = r.forward_to_io_queue(g_service.hw);
    if (!wdfx::nt_success(st)) r.complete(st);
}

// The hardware queue (sequential): one operation on the device at a time.
void hw_ioctl(wdfx::io_queue, wdfx::request r, std::size_t, std::size_t, std::uint32_t code) {
    std::uint32_t v = 0;
    if (!read_u32(r, &v)) return r.complete(wdfx::status::buffer_too_small);
    if (code == WDFX_EDU_IOCTL_FACTORIAL) {
        begin(r, in_flight::op::factorial, 0, 0);
        g_service.drv->start_factorial(v);
    } else if (code == WDFX_EDU_IOCTL_RAISE) {
        if (v == 0) return r.complete(wdfx::status::invalid_parameter);
        begin(r, in_flight::op::raise, v, 0);
        g_service.drv->start_raise(v);
    } else {
        r.complete(wdfx::status::invalid_device_request);
    }
}

void hw_write(wdfx::io_queue, wdfx::request r, std::size_t length) {
    auto in = r.retrieve_input_buffer(length);
    if (!in) return r.complete(in.code());
    begin(r, in_flight::op::dma_to_device, 0, length);
    wdfx::status st = g_service.drv->start_dma_to_device(*in, r.get_parameters().offset);
    if (!wdfx::nt_success(st)) {
        in_flight::op w;
        std::size_t n;
        if (take(wdfx::sim::edu::irq_dma, &w, &n)) r.complete(st);
    }
}

void hw_read(wdfx::io_queue, wdfx::request r, std::size_t length) {
    begin(r, in_flight::op::dma_from_device, 0, length);
    wdfx::status st = g_service.drv->start_dma_from_device(length, r.get_parameters().offset);
    if (!wdfx::nt_success(st)) {
        in_flight::op w;
        std::size_t n;
        if (take(wdfx::sim::edu::irq_dma, &w, &n)) r.complete(st);
    }
}

void hw_stop(wdfx::io_queue, wdfx::request r, std::uint32_t action) {
    // At removal the completion interrupt may never come (the device is going away): complete
    // the request in flight. At a power-down, the interrupt is still enabled when the queues
    // stop (§8.3): let the hardware finish it.
    if (!(action & wdfx::stop_action_purge)) return;
    std::lock_guard g(g_service.flight.m);
    if (g_service.flight.req == r) {
        g_service.flight.req = wdfx::request();
        g_service.flight.what = in_flight::op::none;
        r.complete(wdfx::status::device_removed);
    }
}

}  // namespace

wdfx::status setup_service(driver& drv, wdfx::device dev, const service_options& o) {
    g_service.drv = &drv;
    wdfx::io_queue_config dq;
    dq.dispatch = wdfx::dispatch_type::parallel;
    dq.default_queue = true;
    dq.on_io_device_control = default_ioctl;
    dq.on_io_read = default_rw;
    dq.on_io_write = default_rw;
    auto q = wdfx::io_queue::create(dev, dq);
    if (!q) {
        std::fprintf(stderr, "edu: WdfIoQueueCreate (default): %s\n", q.err().describe().c_str());
        return q.code();
    }
    wdfx::io_queue_config hq;
    hq.dispatch = wdfx::dispatch_type::sequential;
    hq.on_io_device_control = hw_ioctl;
    hq.on_io_read = hw_read;
    hq.on_io_write = hw_write;
    hq.on_io_stop = hw_stop;
    auto h = wdfx::io_queue::create(dev, hq);
    if (!h) {
        std::fprintf(stderr, "edu: WdfIoQueueCreate (hardware): %s\n", h.err().describe().c_str());
        return h.code();
    }
    g_service.hw = *h;

    wdfx::socket_interface_config sc;
    sc.name = o.interface_name;
    sc.directory = o.socket_directory;
    sc.group = o.socket_group;
    sc.mode = 0660;
    sc.access.group_members = !o.socket_group.empty();
    auto s = wdfx::socket_interface::create(dev, sc);
    if (!s) {
        std::fprintf(stderr, "edu: device interface: %s\n", s.err().describe().c_str());
        return s.code();
    }
    if (o.cuse && ::access("/dev/cuse", F_OK) == 0) {
        wdfx::cuse_interface_config cc;
        cc.name = "wdfx-" + o.interface_name;
        auto c = wdfx::cuse_interface::create(dev, cc);
        if (!c)
            std::fprintf(stderr, "edu: CUSE device not available: %s\n",
                         c.err().describe().c_str());
    }
    return wdfx::status::success;
}

void service_interrupt_work(driver& drv, std::uint32_t bits) {
    in_flight::op what = in_flight::op::none;
    std::size_t length = 0;
    wdfx::request r = take(bits, &what, &length);
    if (!r) return;
    switch (what) {
        case in_flight::op::factorial:
            if (!write_u32(r, drv.read_factorial()))
                return r.complete(wdfx::status::buffer_too_small);
            return r.complete_with_information(wdfx::status::success, sizeof(std::uint32_t));
        case in_flight::op::raise:
            return r.complete(wdfx::status::success);
        case in_flight::op::dma_to_device:
            return r.complete_with_information(wdfx::status::success, length);
        case in_flight::op::dma_from_device: {
            auto out = r.retrieve_output_buffer(length);
            if (!out) return r.complete(out.code());
            auto data = drv.dma_result(length);
            std::memcpy(out->data(), data.data(), data.size());
            return r.complete_with_information(wdfx::status::success, data.size());
        }
        case in_flight::op::none:
            return;
    }
}

}  // namespace edu
