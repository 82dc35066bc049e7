// wdfx/client.hpp: the C++ face of wdfx/client.h (docs/protocol.md). Header-only over the C
// library; link wdfx_client (CMake: wdfx::client). Does not need the wdfx runtime.
//
//   auto c = wdfx::client::open("edu0");          // or a socket path
//   if (!c) { /* c.error(): -errno, c.open_status(): the driver's NTSTATUS */ }
//   auto r = c.read(64);                           // r.status, r.information, r.data
//
// Threads: like wdfx_client, one client per thread (or a lock around it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <wdfx/client.h>

namespace wdfx {

class client {
  public:
    /// The result of one request.
    struct reply {
        std::int32_t status = WDFX_STATUS_DEVICE_NOT_CONNECTED;
        std::size_t information = 0;
        std::vector<std::byte> data;  // reads and ioctls: the output bytes
        bool ok() const noexcept { return status >= 0; }
    };

    client() = default;
    client(client&& o) noexcept
        : c_(std::exchange(o.c_, nullptr)), err_(o.err_), open_status_(o.open_status_) {}
    client& operator=(client&& o) noexcept {
        if (this != &o) {
            wdfx_client_close(c_);
            c_ = std::exchange(o.c_, nullptr);
            err_ = o.err_;
            open_status_ = o.open_status_;
        }
        return *this;
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() { wdfx_client_close(c_); }

    /// Connect and open DEVICE (a socket path or an interface name).
    static client open(const std::string& device) {
        client c;
        c.err_ = wdfx_client_open(device.c_str(), &c.c_, &c.open_status_);
        return c;
    }
    explicit operator bool() const noexcept { return c_ != nullptr; }
    /// 0, or the negative errno of the failed open.
    int error() const noexcept { return err_; }
    /// The OPEN's NTSTATUS (STATUS_ACCESS_DENIED when refused).
    std::int32_t open_status() const noexcept { return open_status_; }
    wdfx_client* native() const noexcept { return c_; }

    reply read(std::size_t length, std::uint64_t offset = 0) {
        reply r;
        r.data.resize(length);
        r.status = wdfx_client_read(c_, r.data.data(), length, offset, &r.information);
        r.data.resize(r.status >= 0 ? std::min(r.information, length) : 0);
        return r;
    }
    reply write(const void* data, std::size_t length, std::uint64_t offset = 0) {
        reply r;
        r.status = wdfx_client_write(c_, data, length, offset, &r.information);
        return r;
    }
    reply ioctl(std::uint32_t code, const void* input, std::size_t input_length,
                std::size_t output_length) {
        reply r;
        r.data.resize(output_length);
        r.status = wdfx_client_ioctl(c_, code, input, input_length, r.data.data(), output_length,
                                     &r.information);
        r.data.resize(r.status >= 0 ? std::min(r.information, output_length) : 0);
        return r;
    }

  private:
    wdfx_client* c_ = nullptr;
    int err_ = 0;
    std::int32_t open_status_ = 0;
};

}  // namespace wdfx
