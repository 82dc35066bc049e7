/* wdfx/client.h: the client side of a wdfx socket interface (docs/protocol.md), for C11 and
 * C++. Link wdfx_client (CMake: wdfx::client); it does not need the wdfx runtime.
 *
 * A client opens a device by socket path or by interface name (resolved as
 * /run/wdfx/NAME.sock, then $XDG_RUNTIME_DIR/wdfx/NAME.sock), then either calls the synchronous
 * helpers (one request at a time) or submits several requests with ids of its choosing and
 * collects their completions with wdfx_client_wait(). Request results are NTSTATUS values (0 is
 * success; negative values are errors, as in Windows); failures of the connection itself are
 * negative errno values from the int-returning functions.
 *
 * Threads: a wdfx_client is not thread-safe; use one per thread or lock around it.
 */
#ifndef WDFX_CLIENT_H
#define WDFX_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A few NTSTATUS values a client meets (the numbers are Windows'). */
#define WDFX_STATUS_SUCCESS ((int32_t)0x00000000)
#define WDFX_STATUS_INVALID_PARAMETER ((int32_t)0xC000000D)
#define WDFX_STATUS_NO_SUCH_DEVICE ((int32_t)0xC000000E)
#define WDFX_STATUS_INVALID_DEVICE_REQUEST ((int32_t)0xC0000010)
#define WDFX_STATUS_ACCESS_DENIED ((int32_t)0xC0000022)
#define WDFX_STATUS_BUFFER_TOO_SMALL ((int32_t)0xC0000023)
#define WDFX_STATUS_INSUFFICIENT_RESOURCES ((int32_t)0xC000009A)
#define WDFX_STATUS_DEVICE_NOT_CONNECTED ((int32_t)0xC000009D)
#define WDFX_STATUS_NOT_SUPPORTED ((int32_t)0xC00000BB)
#define WDFX_STATUS_CANCELLED ((int32_t)0xC0000120)
#define WDFX_STATUS_INVALID_DEVICE_STATE ((int32_t)0xC0000184)
#define WDFX_STATUS_INVALID_BUFFER_SIZE ((int32_t)0xC0000206)

typedef struct wdfx_client wdfx_client;

/* One completed request. */
typedef struct wdfx_completion {
    uint64_t id;          /* the id the request was submitted with */
    int32_t status;       /* its NTSTATUS */
    uint64_t information; /* bytes transferred (WdfRequestCompleteWithInformation) */
    size_t length;        /* output bytes stored in the caller's buffer (reads, ioctls) */
    size_t dropped;       /* output bytes that did not fit in the caller's buffer */
} wdfx_completion;

/* The socket path of DEVICE: DEVICE itself when it contains a '/', else the first of
 * /run/wdfx/DEVICE.sock and $XDG_RUNTIME_DIR/wdfx/DEVICE.sock that exists. 0 or -ENOENT,
 * -ENAMETOOLONG. */
int wdfx_client_resolve(const char* device, char* path, size_t size);

/* Connect and open (the OPEN exchange). Returns 0 and *out, or a negative errno:
 *   -ENOENT/-ECONNREFUSED/...  no such interface, nobody listening;
 *   -EACCES  the interface's access rule refused this process (*open_status =
 *            WDFX_STATUS_ACCESS_DENIED), or the socket's mode did;
 *   -EIO     the driver refused the open (EvtDeviceFileCreate): *open_status says why.
 * open_status may be NULL. */
int wdfx_client_open(const char* device, wdfx_client** out, int32_t* open_status);
/* CLOSE, then the connection ends; requests still in flight are cancelled by the driver's
 * framework. Frees the client. NULL is a no-op. */
void wdfx_client_close(wdfx_client* client);
/* The socket, for poll(): readable when a completion (or the end) is waiting. */
int wdfx_client_fd(const wdfx_client* client);

/* Asynchronous requests. ids are the caller's; ids >= 2^63 are reserved for the synchronous
 * helpers. Two requests in flight with one id end the connection (the server closes it). 0 or a
 * negative errno. */
int wdfx_client_submit_read(wdfx_client* client, uint64_t id, size_t length, uint64_t offset);
int wdfx_client_submit_write(wdfx_client* client, uint64_t id, const void* data, size_t length,
                             uint64_t offset);
int wdfx_client_submit_ioctl(wdfx_client* client, uint64_t id, uint32_t code, const void* input,
                             size_t input_length, size_t output_length);
/* Ask the driver to cancel request `id`; its completion (often STATUS_CANCELLED) comes as usual.
 */
int wdfx_client_cancel(wdfx_client* client, uint64_t id);
/* The next completion: 0 and *out (output copied into buf, at most size bytes), -ETIMEDOUT after
 * timeout_ms (< 0: wait forever), -ECONNRESET when the server ended the connection, or another
 * negative errno. */
int wdfx_client_wait(wdfx_client* client, wdfx_completion* out, void* buf, size_t size,
                     int timeout_ms);

/* Synchronous helpers: one request, wait for it. They return the request's NTSTATUS, or
 * WDFX_STATUS_DEVICE_NOT_CONNECTED when the connection failed. *transferred (may be NULL) gets
 * the information value. Completions of asynchronous requests that arrive meanwhile are kept for
 * wdfx_client_wait. */
int32_t wdfx_client_read(wdfx_client* client, void* buf, size_t length, uint64_t offset,
                         size_t* transferred);
int32_t wdfx_client_write(wdfx_client* client, const void* data, size_t length, uint64_t offset,
                          size_t* transferred);
int32_t wdfx_client_ioctl(wdfx_client* client, uint32_t code, const void* input,
                          size_t input_length, void* output, size_t output_length,
                          size_t* transferred);

/* "STATUS_CANCELLED", ... or "STATUS_0x%08X" (a static buffer per thread for unknown ones). */
const char* wdfx_status_name(int32_t status);

#ifdef __cplusplus
}
#endif

#endif /* WDFX_CLIENT_H */
