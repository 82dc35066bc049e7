// The socket protocol's parser and encoders (docs/protocol.md).
#include "iface/protocol.hpp"

#include <cstring>

namespace wdfx::detail::iface {

namespace {
parsed fail(verdict v, status st, const char* why, std::size_t consumed = 0) {
    parsed p;
    p.v = v;
    p.st = st;
    p.why = why;
    p.consumed = consumed;
    return p;
}
}  // namespace

parsed parse_frame(std::span<const std::byte> in, const limits& lim) noexcept {
    const auto* b = reinterpret_cast<const unsigned char*>(in.data());
    // The magic is checked as soon as it is there, so a client speaking something else is told
    // at once instead of the server waiting for a header that never comes.
    if (in.size() >= 4 && wdfx_wire_get32(b) != WDFX_WIRE_MAGIC)
        return fail(verdict::fatal, status::invalid_parameter, "bad magic");
    if (in.size() >= 6 && wdfx_wire_get16(b + 4) != WDFX_WIRE_VERSION)
        return fail(verdict::fatal, status::not_supported, "unsupported version");
    if (in.size() < WDFX_WIRE_HEADER_SIZE) return parsed{};
    wdfx_wire_header h;
    wdfx_wire_decode(b, &h);
    // A payload larger than any legal frame: the length cannot be trusted, nor skipped safely.
    if (h.payload > lim.max_transfer)
        return fail(verdict::fatal, status::invalid_buffer_size, "payload too large");
    std::size_t total = WDFX_WIRE_HEADER_SIZE + static_cast<std::size_t>(h.payload);
    if (in.size() < total) return parsed{};
    parsed p;
    p.h = h;
    p.consumed = total;
    p.payload = in.subspan(WDFX_WIRE_HEADER_SIZE, h.payload);
    auto reject = [&](status st, const char* why) {
        p.v = verdict::reply_error;
        p.st = st;
        p.why = why;
        return p;
    };
    switch (h.op) {
        case WDFX_OP_OPEN:
        case WDFX_OP_CLOSE:
        case WDFX_OP_CANCEL:
            if (h.payload != 0) return reject(status::invalid_parameter, "payload on a bare op");
            break;
        case WDFX_OP_READ:
            if (h.payload != 0) return reject(status::invalid_parameter, "payload on a read");
            if (h.arg0 > lim.max_transfer)
                return reject(status::invalid_buffer_size, "read longer than max_transfer");
            break;
        case WDFX_OP_WRITE:
            break;
        case WDFX_OP_IOCTL:
            if (h.arg1 > lim.max_transfer)
                return reject(status::invalid_buffer_size, "ioctl output longer than max_transfer");
            break;
        default:
            return reject(status::invalid_device_request, "unknown op");
    }
    p.v = verdict::frame;
    return p;
}

namespace {
std::vector<std::byte> encode(const wdfx_wire_header& h, std::span<const std::byte> payload) {
    std::vector<std::byte> out(WDFX_WIRE_HEADER_SIZE + payload.size());
    wdfx_wire_encode(&h, reinterpret_cast<unsigned char*>(out.data()));
    if (!payload.empty())
        std::memcpy(out.data() + WDFX_WIRE_HEADER_SIZE, payload.data(), payload.size());
    return out;
}
}  // namespace

std::vector<std::byte> encode_reply(std::uint16_t op, std::uint64_t id, status st,
                                    std::uint64_t information, std::span<const std::byte> payload) {
    wdfx_wire_header h{};
    h.magic = WDFX_WIRE_MAGIC;
    h.version = WDFX_WIRE_VERSION;
    h.op = static_cast<std::uint16_t>((op & 0x7f) | WDFX_OP_REPLY);
    h.id = id;
    h.payload = static_cast<std::uint32_t>(payload.size());
    h.arg0 = static_cast<std::uint32_t>(st);
    h.arg1 = information;
    return encode(h, payload);
}

std::vector<std::byte> encode_error(std::uint64_t id, status st) {
    wdfx_wire_header h{};
    h.magic = WDFX_WIRE_MAGIC;
    h.version = WDFX_WIRE_VERSION;
    h.op = WDFX_OP_ERROR;
    h.id = id;
    h.arg0 = static_cast<std::uint32_t>(st);
    return encode(h, {});
}

std::vector<std::byte> encode_request(std::uint16_t op, std::uint64_t id, std::uint32_t arg0,
                                      std::uint64_t arg1, std::span<const std::byte> payload) {
    wdfx_wire_header h{};
    h.magic = WDFX_WIRE_MAGIC;
    h.version = WDFX_WIRE_VERSION;
    h.op = op;
    h.id = id;
    h.payload = static_cast<std::uint32_t>(payload.size());
    h.arg0 = arg0;
    h.arg1 = arg1;
    return encode(h, payload);
}

}  // namespace wdfx::detail::iface
