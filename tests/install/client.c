/* A minimal out-of-tree client of a wdfx socket interface, in C, built against an installed
 * wdfx_client only (no runtime): opens the interface SOCKET, reads as many bytes as EXPECTED has
 * and compares them.
 *   third_party_client SOCKET EXPECTED
 * Exit status: 0 when the driver returned EXPECTED, 1 when the exchange went wrong, 2 when no
 * driver could be reached (the reason printed), 64 on a usage error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <wdfx/client.h>

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: third_party_client SOCKET EXPECTED\n");
        return 64;
    }
    const char* sock = argv[1];
    const char* expected = argv[2];
    size_t want = strlen(expected);
    char buf[256];
    if (want == 0 || want > sizeof buf) {
        fprintf(stderr, "third-party client: EXPECTED must have 1 to %zu bytes\n", sizeof buf);
        return 64;
    }
    wdfx_client* c = NULL;
    int32_t open_status = WDFX_STATUS_SUCCESS;
    int e = wdfx_client_open(sock, &c, &open_status);
    if (e < 0) {
        printf("third-party client: no driver at %s: %s (errno %d, open status %s)\n", sock,
               strerror(-e), -e, wdfx_status_name(open_status));
        return 2;
    }
    size_t got = 0;
    int32_t st = wdfx_client_read(c, buf, want, 0, &got);
    wdfx_client_close(c);
    if (st < 0) {
        printf("third-party client: read of %zu bytes from %s: %s\n", want, sock,
               wdfx_status_name(st));
        return 1;
    }
    if (got != want || memcmp(buf, expected, want) != 0) {
        printf("third-party client: read %zu bytes \"%.*s\" from %s, expected \"%s\"\n", got,
               (int)(got < want ? got : want), buf, sock, expected);
        return 1;
    }
    printf("third-party client: read \"%s\" from %s: OK\n", expected, sock);
    return 0;
}
