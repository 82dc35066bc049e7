// libFuzzer target for the socket protocol's frame parser (iface/protocol.hpp): the input is a
// byte stream as a client would send it, parsed frame by frame as the endpoint does. Invariants:
// the parser never reads past its input, a frame's payload lies inside the frame, every verdict
// consumes what it says, and a well-formed frame survives an encode/parse round trip.
// Built with clang when WDFX_FUZZ=ON (libwdfx/CMakeLists.txt); `libwdfx/protocol_fuzzer -runs=N` in
// the build tree.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "iface/protocol.hpp"

using namespace wdfx::detail::iface;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
    limits lim;
    lim.max_transfer = 1u << 16;  // small enough that the fuzzer reaches the limits
    while (!in.empty()) {
        parsed p = parse_frame(in, lim);
        if (p.v == verdict::need_more || p.v == verdict::fatal) {
            if (p.consumed != 0) std::abort();
            break;
        }
        if (p.consumed < WDFX_WIRE_HEADER_SIZE || p.consumed > in.size()) std::abort();
        if (p.payload.data() < in.data() ||
            p.payload.data() + p.payload.size() > in.data() + p.consumed)
            std::abort();
        if (p.v == verdict::frame) {
            auto again = encode_request(p.h.op, p.h.id, p.h.arg0, p.h.arg1, p.payload);
            parsed q = parse_frame(again, lim);
            if (q.v != verdict::frame || q.consumed != again.size() || q.h.id != p.h.id)
                std::abort();
        }
        in = in.subspan(p.consumed);
    }
    return 0;
}
