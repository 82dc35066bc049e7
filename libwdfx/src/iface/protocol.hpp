// The server side of the socket protocol (docs/protocol.md): a pure, allocation-free frame parser
// and the reply encoders. The parser sees a byte stream and decides, frame by frame, whether the
// frame is well formed, answerable with an error reply, or so broken that the connection must be
// closed. It keeps no state: the connection's state checks (OPEN first, duplicate ids, in-flight
// limit) are the endpoint's. Fuzzed by tests/fuzz/protocol_fuzz.cpp.
//
// Threads: any (pure functions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <wdfx/status.hpp>

#include "iface/wire.h"

namespace wdfx::detail::iface {

struct limits {
    std::uint32_t max_transfer = 1u << 20;  // a write's payload, a read's length, ioctl in/out
};

enum class verdict : std::uint8_t {
    need_more,    // not a whole frame yet: read more
    frame,        // a well-formed frame: header + payload
    reply_error,  // answer `st` to this frame's id and drop it (the connection stays)
    fatal,        // the stream cannot be trusted: send an ERROR frame with `st`, then close
};

struct parsed {
    verdict v = verdict::need_more;
    std::size_t consumed = 0;  // bytes of the input this frame takes (0 for need_more / fatal)
    wdfx_wire_header h{};
    std::span<const std::byte> payload;
    status st = status::success;
    const char* why = "";  // for logs and tests
};

/// Parse the first frame of `in`.
parsed parse_frame(std::span<const std::byte> in, const limits& lim) noexcept;

/// A reply frame: op | WDFX_OP_REPLY, the request's id, the status in arg0, the information in
/// arg1, the output bytes as payload.
std::vector<std::byte> encode_reply(std::uint16_t op, std::uint64_t id, status st,
                                    std::uint64_t information,
                                    std::span<const std::byte> payload = {});
/// An ERROR frame (the server closes the connection after it).
std::vector<std::byte> encode_error(std::uint64_t id, status st);
/// A request frame (clients, tests).
std::vector<std::byte> encode_request(std::uint16_t op, std::uint64_t id, std::uint32_t arg0,
                                      std::uint64_t arg1, std::span<const std::byte> payload = {});

}  // namespace wdfx::detail::iface
