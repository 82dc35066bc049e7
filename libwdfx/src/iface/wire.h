/* The wdfx device-interface wire format (docs/protocol.md), shared by the server (C++) and the
 * client library (C11). Every frame is a 32-byte little-endian header followed by `payload`
 * bytes. This header only encodes and decodes headers; validation against limits is the
 * server's parser (iface/protocol.hpp) and the client's reply check.
 */
#ifndef WDFX_IFACE_WIRE_H
#define WDFX_IFACE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WDFX_WIRE_MAGIC 0x58464457u /* "WDFX" in little-endian byte order */
#define WDFX_WIRE_VERSION 1u
#define WDFX_WIRE_HEADER_SIZE 32u

/* Operations. A reply carries the request's op with WDFX_OP_REPLY set. */
enum {
    WDFX_OP_OPEN = 1,     /* first frame of a connection: creates the file object */
    WDFX_OP_CLOSE = 2,    /* the server replies, then closes the connection */
    WDFX_OP_READ = 3,     /* arg0 = bytes wanted, arg1 = offset */
    WDFX_OP_WRITE = 4,    /* payload = data, arg1 = offset */
    WDFX_OP_IOCTL = 5,    /* payload = input, arg0 = control code, arg1 = output length */
    WDFX_OP_CANCEL = 6,   /* arg1 = the id of the request to cancel; no reply of its own */
    WDFX_OP_ERROR = 0x7f, /* server -> client: a fatal protocol error; the server then closes */
    WDFX_OP_REPLY = 0x80
};

/* A frame header as numbers (the wire form is little-endian, packed). */
struct wdfx_wire_header {
    uint32_t magic;
    uint16_t version;
    uint16_t op;
    uint64_t id;      /* the client's request id, echoed in the reply */
    uint32_t payload; /* bytes that follow the header */
    uint32_t arg0;    /* read: length; ioctl: code; reply: NTSTATUS */
    uint64_t arg1;    /* read/write: offset; ioctl: output length; cancel: id; reply: information */
};

static inline void wdfx_wire_put16(unsigned char* p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void wdfx_wire_put32(unsigned char* p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void wdfx_wire_put64(unsigned char* p, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint16_t wdfx_wire_get16(const unsigned char* p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t wdfx_wire_get32(const unsigned char* p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t wdfx_wire_get64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

static inline void wdfx_wire_encode(const struct wdfx_wire_header* h, unsigned char* out) {
    wdfx_wire_put32(out + 0, h->magic);
    wdfx_wire_put16(out + 4, h->version);
    wdfx_wire_put16(out + 6, h->op);
    wdfx_wire_put64(out + 8, h->id);
    wdfx_wire_put32(out + 16, h->payload);
    wdfx_wire_put32(out + 20, h->arg0);
    wdfx_wire_put64(out + 24, h->arg1);
}

static inline void wdfx_wire_decode(const unsigned char* in, struct wdfx_wire_header* h) {
    h->magic = wdfx_wire_get32(in + 0);
    h->version = wdfx_wire_get16(in + 4);
    h->op = wdfx_wire_get16(in + 6);
    h->id = wdfx_wire_get64(in + 8);
    h->payload = wdfx_wire_get32(in + 16);
    h->arg0 = wdfx_wire_get32(in + 20);
    h->arg1 = wdfx_wire_get64(in + 24);
}

#endif /* WDFX_IFACE_WIRE_H */
