/* A C11 client of a wdfx socket interface (wdfx/client.h): the synchronous helpers, then two
 * asynchronous requests in flight at once. The unit tests run it against a test driver; it is
 * also the shortest example of the C API.
 *
 * usage: wdfx-client-example DEVICE
 * Prints one line per step; exit 0 when every call succeeded, 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <wdfx/client.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: wdfx-client-example DEVICE\n");
        return 2;
    }
    wdfx_client* c = NULL;
    int32_t open_status = 0;
    int rc = wdfx_client_open(argv[1], &c, &open_status);
    if (rc < 0) {
        fprintf(stderr, "open: %s (%s)\n", strerror(-rc), wdfx_status_name(open_status));
        return 1;
    }
    int failures = 0;
    char buf[64];
    size_t n = 0;
    int32_t st = wdfx_client_write(c, "hello", 5, 0, &n);
    printf("write %s %zu\n", wdfx_status_name(st), n);
    failures += st < 0;
    st = wdfx_client_read(c, buf, 5, 0, &n);
    printf("read %s %zu %.*s\n", wdfx_status_name(st), n, (int)n, buf);
    failures += st < 0;
    st = wdfx_client_ioctl(c, 1, "abc", 3, buf, sizeof buf, &n);
    printf("ioctl %s %zu %.*s\n", wdfx_status_name(st), n, (int)n, buf);
    failures += st < 0;

    /* Two requests in flight; the completions come in whatever order the driver finishes. */
    if (wdfx_client_submit_read(c, 1, 3, 0) < 0 ||
        wdfx_client_submit_ioctl(c, 2, 1, "xy", 2, 8) < 0)
        failures++;
    for (int i = 0; i < 2; ++i) {
        wdfx_completion d;
        if (wdfx_client_wait(c, &d, buf, sizeof buf, 30000) < 0) {
            failures++;
            break;
        }
        printf("async id=%llu %s %.*s\n", (unsigned long long)d.id, wdfx_status_name(d.status),
               (int)d.length, buf);
        failures += d.status < 0;
    }
    wdfx_client_close(c);
    return failures == 0 ? 0 : 1;
}
