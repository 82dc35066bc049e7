/* The client library of the socket interface (wdfx/client.h, docs/protocol.md). Plain C11 and
 * POSIX: no wdfx runtime, no C++ runtime. */
#define _GNU_SOURCE
#include <wdfx/client.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "iface/wire.h"

#define SYNC_ID_BASE (UINT64_C(1) << 63)

/* A completion received while the caller waited for another one. */
struct stashed {
    struct stashed* next;
    wdfx_completion c;
    unsigned char* data;
};

struct wdfx_client {
    int fd;
    int dead; /* the server ended the connection (an ERROR frame or EOF) */
    uint64_t next_sync_id;
    struct stashed* head;
    struct stashed* tail;
};

static int send_all(int fd, const void* p, size_t n) {
    const unsigned char* b = (const unsigned char*)p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int recv_all(int fd, void* p, size_t n) {
    unsigned char* b = (unsigned char*)p;
    while (n > 0) {
        ssize_t k = recv(fd, b, n, 0);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (k == 0) return -ECONNRESET;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int send_frame(wdfx_client* c, uint16_t op, uint64_t id, uint32_t arg0, uint64_t arg1,
                      const void* payload, size_t length) {
    if (c->dead) return -ECONNRESET;
    if (length > UINT32_MAX) return -EMSGSIZE;
    struct wdfx_wire_header h = {
        WDFX_WIRE_MAGIC, WDFX_WIRE_VERSION, op, id, (uint32_t)length, arg0, arg1};
    unsigned char hdr[WDFX_WIRE_HEADER_SIZE];
    wdfx_wire_encode(&h, hdr);
    int rc = send_all(c->fd, hdr, sizeof hdr);
    if (rc == 0 && length > 0) rc = send_all(c->fd, payload, length);
    return rc;
}

/* Read one frame from the server. The payload goes into buf (up to size); the rest is read and
 * dropped. An ERROR frame marks the client dead and returns -ECONNRESET (or -EACCES for
 * STATUS_ACCESS_DENIED), its status in *error_status. */
static int read_frame(wdfx_client* c, wdfx_completion* out, void* buf, size_t size,
                      int32_t* error_status) {
    unsigned char hdr[WDFX_WIRE_HEADER_SIZE];
    int rc = recv_all(c->fd, hdr, sizeof hdr);
    if (rc < 0) {
        c->dead = 1;
        return rc;
    }
    struct wdfx_wire_header h;
    wdfx_wire_decode(hdr, &h);
    if (h.magic != WDFX_WIRE_MAGIC || h.version != WDFX_WIRE_VERSION) {
        c->dead = 1;
        return -EPROTO;
    }
    size_t keep = h.payload < size ? h.payload : size;
    if (keep > 0 && (rc = recv_all(c->fd, buf, keep)) < 0) {
        c->dead = 1;
        return rc;
    }
    size_t rest = h.payload - keep;
    while (rest > 0) {
        unsigned char junk[4096];
        size_t n = rest < sizeof junk ? rest : sizeof junk;
        if ((rc = recv_all(c->fd, junk, n)) < 0) {
            c->dead = 1;
            return rc;
        }
        rest -= n;
    }
    if (h.op == WDFX_OP_ERROR) {
        c->dead = 1;
        if (error_status) *error_status = (int32_t)h.arg0;
        return (int32_t)h.arg0 == WDFX_STATUS_ACCESS_DENIED ? -EACCES : -ECONNRESET;
    }
    if ((h.op & WDFX_OP_REPLY) == 0) {
        c->dead = 1;
        return -EPROTO;
    }
    out->id = h.id;
    out->status = (int32_t)h.arg0;
    out->information = h.arg1;
    out->length = keep;
    out->dropped = h.payload - keep;
    return 0;
}

int wdfx_client_resolve(const char* device, char* path, size_t size) {
    if (device == NULL || *device == '\0') return -ENOENT;
    if (strchr(device, '/') != NULL) {
        if (strlen(device) + 1 > size) return -ENAMETOOLONG;
        memcpy(path, device, strlen(device) + 1);
        return 0;
    }
    const char* xdg = getenv("XDG_RUNTIME_DIR");
    const char* dirs[2] = {"/run/wdfx", NULL};
    char xdg_dir[4096];
    if (xdg != NULL && *xdg != '\0') {
        snprintf(xdg_dir, sizeof xdg_dir, "%s/wdfx", xdg);
        dirs[1] = xdg_dir;
    }
    for (int i = 0; i < 2; ++i) {
        if (dirs[i] == NULL) continue;
        int n = snprintf(path, size, "%s/%s.sock", dirs[i], device);
        if (n < 0 || (size_t)n >= size) return -ENAMETOOLONG;
        if (access(path, F_OK) == 0) return 0;
    }
    return -ENOENT;
}

int wdfx_client_open(const char* device, wdfx_client** out, int32_t* open_status) {
    *out = NULL;
    if (open_status) *open_status = WDFX_STATUS_DEVICE_NOT_CONNECTED;
    char path[sizeof(((struct sockaddr_un*)0)->sun_path)];
    int rc = wdfx_client_resolve(device, path, sizeof path);
    if (rc < 0) return rc;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    wdfx_client* c = (wdfx_client*)calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return -ENOMEM;
    }
    c->fd = fd;
    c->next_sync_id = SYNC_ID_BASE;
    uint64_t id = c->next_sync_id++;
    rc = send_frame(c, WDFX_OP_OPEN, id, 0, 0, NULL, 0);
    wdfx_completion done;
    int32_t err = WDFX_STATUS_DEVICE_NOT_CONNECTED;
    /* A refused peer may get its ERROR frame before (or instead of) reading our OPEN. */
    if (rc == 0 || rc == -EPIPE || rc == -ECONNRESET) rc = read_frame(c, &done, NULL, 0, &err);
    if (rc < 0) {
        if (open_status) *open_status = err;
        wdfx_client_close(c);
        return rc;
    }
    if (open_status) *open_status = done.status;
    if (done.id != id || done.status < 0) {
        wdfx_client_close(c);
        return done.id != id ? -EPROTO : -EIO;
    }
    *out = c;
    return 0;
}

void wdfx_client_close(wdfx_client* c) {
    if (c == NULL) return;
    if (!c->dead && send_frame(c, WDFX_OP_CLOSE, UINT64_MAX, 0, 0, NULL, 0) == 0) {
        /* Wait for the server to end the connection, so a program that exits right after
         * knows its requests were handed back. Replies still on their way are dropped. */
        shutdown(c->fd, SHUT_WR);
        for (;;) {
            wdfx_completion d;
            if (read_frame(c, &d, NULL, 0, NULL) < 0) break;
        }
    }
    while (c->head != NULL) {
        struct stashed* s = c->head;
        c->head = s->next;
        free(s->data);
        free(s);
    }
    close(c->fd);
    free(c);
}

int wdfx_client_fd(const wdfx_client* c) {
    return c->fd;
}

int wdfx_client_submit_read(wdfx_client* c, uint64_t id, size_t length, uint64_t offset) {
    if (length > UINT32_MAX) return -EMSGSIZE;
    return send_frame(c, WDFX_OP_READ, id, (uint32_t)length, offset, NULL, 0);
}

int wdfx_client_submit_write(wdfx_client* c, uint64_t id, const void* data, size_t length,
                             uint64_t offset) {
    return send_frame(c, WDFX_OP_WRITE, id, 0, offset, data, length);
}

int wdfx_client_submit_ioctl(wdfx_client* c, uint64_t id, uint32_t code, const void* input,
                             size_t input_length, size_t output_length) {
    return send_frame(c, WDFX_OP_IOCTL, id, code, output_length, input, input_length);
}

int wdfx_client_cancel(wdfx_client* c, uint64_t id) {
    return send_frame(c, WDFX_OP_CANCEL, 0, 0, id, NULL, 0);
}

static int wait_readable(wdfx_client* c, int timeout_ms) {
    struct pollfd p = {c->fd, POLLIN, 0};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n > 0) return 0;
        if (n == 0) return -ETIMEDOUT;
        if (errno != EINTR) return -errno;
    }
}

int wdfx_client_wait(wdfx_client* c, wdfx_completion* out, void* buf, size_t size, int timeout_ms) {
    if (c->head != NULL) {
        struct stashed* s = c->head;
        c->head = s->next;
        if (c->head == NULL) c->tail = NULL;
        *out = s->c;
        size_t keep = s->c.length < size ? s->c.length : size;
        if (keep > 0) memcpy(buf, s->data, keep);
        out->dropped += s->c.length - keep;
        out->length = keep;
        free(s->data);
        free(s);
        return 0;
    }
    if (c->dead) return -ECONNRESET;
    int rc = wait_readable(c, timeout_ms);
    if (rc < 0) return rc;
    return read_frame(c, out, buf, size, NULL);
}

/* Wait for the reply to `id`, stashing the others. */
static int32_t wait_for(wdfx_client* c, uint64_t id, void* buf, size_t size, size_t* transferred) {
    for (;;) {
        /* Read into a scratch buffer the size of the caller's: a stashed reply keeps its bytes. */
        unsigned char* tmp = size > 0 ? (unsigned char*)malloc(size) : NULL;
        if (size > 0 && tmp == NULL) return WDFX_STATUS_INSUFFICIENT_RESOURCES;
        wdfx_completion d;
        int rc = read_frame(c, &d, tmp, size, NULL);
        if (rc < 0) {
            free(tmp);
            return WDFX_STATUS_DEVICE_NOT_CONNECTED;
        }
        if (d.id == id) {
            if (d.length > 0) memcpy(buf, tmp, d.length);
            free(tmp);
            if (transferred) *transferred = (size_t)d.information;
            return d.status;
        }
        struct stashed* s = (struct stashed*)calloc(1, sizeof *s);
        if (s == NULL) {
            free(tmp);
            continue;
        }
        s->c = d;
        s->data = tmp;
        if (c->tail)
            c->tail->next = s;
        else
            c->head = s;
        c->tail = s;
    }
}

int32_t wdfx_client_read(wdfx_client* c, void* buf, size_t length, uint64_t offset,
                         size_t* transferred) {
    if (transferred) *transferred = 0;
    uint64_t id = c->next_sync_id++;
    if (wdfx_client_submit_read(c, id, length, offset) < 0) return WDFX_STATUS_DEVICE_NOT_CONNECTED;
    return wait_for(c, id, buf, length, transferred);
}

int32_t wdfx_client_write(wdfx_client* c, const void* data, size_t length, uint64_t offset,
                          size_t* transferred) {
    if (transferred) *transferred = 0;
    uint64_t id = c->next_sync_id++;
    if (wdfx_client_submit_write(c, id, data, length, offset) < 0)
        return WDFX_STATUS_DEVICE_NOT_CONNECTED;
    return wait_for(c, id, NULL, 0, transferred);
}

int32_t wdfx_client_ioctl(wdfx_client* c, uint32_t code, const void* input, size_t input_length,
                          void* output, size_t output_length, size_t* transferred) {
    if (transferred) *transferred = 0;
    uint64_t id = c->next_sync_id++;
    if (wdfx_client_submit_ioctl(c, id, code, input, input_length, output_length) < 0)
        return WDFX_STATUS_DEVICE_NOT_CONNECTED;
    return wait_for(c, id, output, output_length, transferred);
}

const char* wdfx_status_name(int32_t st) {
    switch (st) {
        case WDFX_STATUS_SUCCESS:
            return "STATUS_SUCCESS";
        case WDFX_STATUS_INVALID_PARAMETER:
            return "STATUS_INVALID_PARAMETER";
        case WDFX_STATUS_NO_SUCH_DEVICE:
            return "STATUS_NO_SUCH_DEVICE";
        case WDFX_STATUS_INVALID_DEVICE_REQUEST:
            return "STATUS_INVALID_DEVICE_REQUEST";
        case WDFX_STATUS_ACCESS_DENIED:
            return "STATUS_ACCESS_DENIED";
        case WDFX_STATUS_BUFFER_TOO_SMALL:
            return "STATUS_BUFFER_TOO_SMALL";
        case WDFX_STATUS_INSUFFICIENT_RESOURCES:
            return "STATUS_INSUFFICIENT_RESOURCES";
        case WDFX_STATUS_DEVICE_NOT_CONNECTED:
            return "STATUS_DEVICE_NOT_CONNECTED";
        case WDFX_STATUS_NOT_SUPPORTED:
            return "STATUS_NOT_SUPPORTED";
        case WDFX_STATUS_CANCELLED:
            return "STATUS_CANCELLED";
        case WDFX_STATUS_INVALID_DEVICE_STATE:
            return "STATUS_INVALID_DEVICE_STATE";
        case WDFX_STATUS_INVALID_BUFFER_SIZE:
            return "STATUS_INVALID_BUFFER_SIZE";
        default:
            break;
    }
    static _Thread_local char buf[24];
    snprintf(buf, sizeof buf, "STATUS_0x%08X", (unsigned)st);
    return buf;
}
