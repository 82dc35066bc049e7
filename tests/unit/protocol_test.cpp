// The socket protocol's frame parser (iface/protocol.hpp, docs/protocol.md): every malformed
// case of the table in docs/protocol.md, table-driven, plus the encoders. The same parser is
// fuzzed by tests/fuzz/protocol_fuzz.cpp.
#include <cstring>
#include <string>
#include <vector>

#include "iface/protocol.hpp"
#include "test_support.hpp"

using namespace wdfx;
using namespace wdfx::detail::iface;

namespace {

using bytes = std::vector<std::byte>;

bytes req(std::uint16_t op, std::uint64_t id = 7, std::uint32_t arg0 = 0, std::uint64_t arg1 = 0,
          std::size_t payload = 0) {
    bytes p(payload, std::byte{0x5a});
    return encode_request(op, id, arg0, arg1, p);
}

/// A header whose payload field claims `claimed` bytes, followed by `actual` bytes.
bytes claims(std::uint32_t claimed, std::size_t actual, std::uint16_t op = WDFX_OP_WRITE) {
    bytes b = req(op, 7, 0, 0, 0);
    wdfx_wire_put32(reinterpret_cast<unsigned char*>(b.data()) + 16, claimed);
    b.resize(b.size() + actual, std::byte{1});
    return b;
}

bytes patched(bytes b, std::size_t at, std::uint8_t v) {
    b[at] = std::byte{v};
    return b;
}

bytes prefix(bytes b, std::size_t n) {
    b.resize(n);
    return b;
}

struct row {
    const char* name;
    bytes in;
    verdict v;
    status st;
    std::size_t consumed;
};

constexpr std::uint32_t kMax = 4096;

}  // namespace

TEST_CASE("protocol parser: every well-formed and malformed frame gets its verdict") {
    const std::size_t H = WDFX_WIRE_HEADER_SIZE;
    bytes big_reply_op = req(WDFX_OP_READ | WDFX_OP_REPLY);
    const row rows[] = {
        // Incomplete input: wait for more (a truncated frame before EOF is just a closed
        // connection: the endpoint never sees a whole frame).
        {"empty input", {}, verdict::need_more, status::success, 0},
        {"three bytes of a good magic", prefix(req(WDFX_OP_OPEN), 3), verdict::need_more,
         status::success, 0},
        {"a header one byte short", prefix(req(WDFX_OP_OPEN), H - 1), verdict::need_more,
         status::success, 0},
        {"a payload one byte short", claims(10, 9), verdict::need_more, status::success, 0},
        // The stream cannot be trusted: ERROR frame, close.
        {"bad magic", patched(req(WDFX_OP_OPEN), 0, 'X'), verdict::fatal, status::invalid_parameter,
         0},
        {"bad magic seen in the first four bytes", prefix(patched(req(WDFX_OP_OPEN), 3, 0), 4),
         verdict::fatal, status::invalid_parameter, 0},
        {"HTTP instead of frames",
         bytes{std::byte{'G'}, std::byte{'E'}, std::byte{'T'}, std::byte{' '}}, verdict::fatal,
         status::invalid_parameter, 0},
        {"unsupported version", patched(req(WDFX_OP_OPEN), 4, 2), verdict::fatal,
         status::not_supported, 0},
        {"payload larger than max_transfer", claims(kMax + 1, 0), verdict::fatal,
         status::invalid_buffer_size, 0},
        {"payload length 0xffffffff", claims(0xffffffffu, 0), verdict::fatal,
         status::invalid_buffer_size, 0},
        // Well formed.
        {"open", req(WDFX_OP_OPEN), verdict::frame, status::success, H},
        {"close", req(WDFX_OP_CLOSE), verdict::frame, status::success, H},
        {"cancel", req(WDFX_OP_CANCEL, 7, 0, 9), verdict::frame, status::success, H},
        {"read", req(WDFX_OP_READ, 7, kMax), verdict::frame, status::success, H},
        {"zero-length read", req(WDFX_OP_READ, 7, 0), verdict::frame, status::success, H},
        {"write", req(WDFX_OP_WRITE, 7, 0, 0, 100), verdict::frame, status::success, H + 100},
        {"write of max_transfer bytes", req(WDFX_OP_WRITE, 7, 0, 0, kMax), verdict::frame,
         status::success, H + kMax},
        {"empty write", req(WDFX_OP_WRITE), verdict::frame, status::success, H},
        {"ioctl", req(WDFX_OP_IOCTL, 7, 0x222000, 16, 8), verdict::frame, status::success, H + 8},
        {"ioctl with max output", req(WDFX_OP_IOCTL, 7, 1, kMax), verdict::frame, status::success,
         H},
        // Answerable: an error reply to this id, the connection stays.
        {"open with a payload", req(WDFX_OP_OPEN, 7, 0, 0, 3), verdict::reply_error,
         status::invalid_parameter, H + 3},
        {"close with a payload", req(WDFX_OP_CLOSE, 7, 0, 0, 1), verdict::reply_error,
         status::invalid_parameter, H + 1},
        {"cancel with a payload", req(WDFX_OP_CANCEL, 7, 0, 0, 1), verdict::reply_error,
         status::invalid_parameter, H + 1},
        {"read with a payload", req(WDFX_OP_READ, 7, 4, 0, 4), verdict::reply_error,
         status::invalid_parameter, H + 4},
        {"read longer than max_transfer", req(WDFX_OP_READ, 7, kMax + 1), verdict::reply_error,
         status::invalid_buffer_size, H},
        {"ioctl output longer than max_transfer", req(WDFX_OP_IOCTL, 7, 1, kMax + 1),
         verdict::reply_error, status::invalid_buffer_size, H},
        {"ioctl output length above 4 GiB", req(WDFX_OP_IOCTL, 7, 1, 1ull << 40),
         verdict::reply_error, status::invalid_buffer_size, H},
        {"op 0", req(0), verdict::reply_error, status::invalid_device_request, H},
        {"unknown op 7", req(7), verdict::reply_error, status::invalid_device_request, H},
        {"unknown op 0xffff", req(0xffff), verdict::reply_error, status::invalid_device_request, H},
        {"an ERROR frame from a client", req(WDFX_OP_ERROR), verdict::reply_error,
         status::invalid_device_request, H},
        {"a reply frame from a client", big_reply_op, verdict::reply_error,
         status::invalid_device_request, H},
        {"unknown op with a payload is skipped whole", req(9, 7, 0, 0, 5), verdict::reply_error,
         status::invalid_device_request, H + 5},
    };
    limits lim;
    lim.max_transfer = kMax;
    for (const row& r : rows) {
        std::string name = r.name;
        CAPTURE(name);
        parsed p = parse_frame(r.in, lim);
        CHECK(p.v == r.v);
        CHECK(p.consumed == r.consumed);
        if (r.v == verdict::fatal || r.v == verdict::reply_error) {
            CHECK(p.st == r.st);
            CHECK(std::strlen(p.why) > 0);
        }
        if (r.v == verdict::frame || r.v == verdict::reply_error) {
            CHECK(p.h.id == 7u);
            CHECK(p.payload.size() == p.consumed - WDFX_WIRE_HEADER_SIZE);
        }
    }
}

TEST_CASE("protocol parser: a stream of frames is taken one frame at a time") {
    bytes s = req(WDFX_OP_OPEN, 1);
    bytes w = req(WDFX_OP_WRITE, 2, 0, 5, 3);
    bytes r = req(WDFX_OP_READ, 3, 10, 20);
    s.insert(s.end(), w.begin(), w.end());
    s.insert(s.end(), r.begin(), r.end());
    std::span<const std::byte> in(s);
    std::vector<std::uint64_t> ids;
    for (;;) {
        parsed p = parse_frame(in, limits{});
        if (p.v == verdict::need_more) break;
        REQUIRE(p.v == verdict::frame);
        ids.push_back(p.h.id);
        if (p.h.op == WDFX_OP_WRITE) {
            CHECK(p.payload.size() == 3);
            CHECK(p.h.arg1 == 5u);
        }
        if (p.h.op == WDFX_OP_READ) {
            CHECK(p.h.arg0 == 10u);
            CHECK(p.h.arg1 == 20u);
        }
        in = in.subspan(p.consumed);
    }
    CHECK(ids == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(in.empty());
}

TEST_CASE("protocol encoders: a reply carries op|REPLY and the id and the status and the bytes") {
    bytes payload{std::byte{1}, std::byte{2}, std::byte{3}};
    bytes f = encode_reply(WDFX_OP_READ, 0x1122334455667788ull, status::cancelled, 3, payload);
    REQUIRE(f.size() == WDFX_WIRE_HEADER_SIZE + 3);
    wdfx_wire_header h;
    wdfx_wire_decode(reinterpret_cast<const unsigned char*>(f.data()), &h);
    CHECK(h.magic == WDFX_WIRE_MAGIC);
    CHECK(h.version == WDFX_WIRE_VERSION);
    CHECK(h.op == (WDFX_OP_READ | WDFX_OP_REPLY));
    CHECK(h.id == 0x1122334455667788ull);
    CHECK(static_cast<status>(h.arg0) == status::cancelled);
    CHECK(h.arg1 == 3u);
    CHECK(h.payload == 3u);
    CHECK(f[WDFX_WIRE_HEADER_SIZE + 2] == std::byte{3});
    // Little-endian on the wire, whatever the host.
    CHECK(f[0] == std::byte{'W'});
    CHECK(f[3] == std::byte{'X'});
    CHECK(f[8] == std::byte{0x88});

    bytes e = encode_error(5, status::access_denied);
    wdfx_wire_decode(reinterpret_cast<const unsigned char*>(e.data()), &h);
    CHECK(h.op == WDFX_OP_ERROR);
    CHECK(h.id == 5u);
    CHECK(static_cast<status>(h.arg0) == status::access_denied);
    CHECK(h.payload == 0u);
    // The server never parses its own replies as requests.
    CHECK(parse_frame(f, limits{}).v == verdict::reply_error);
}
