/* hil-await: the guest side of waiting for the host (packed into every boot as /hil/bin/hil-await).
 *   hil-await mark <case> <marker> [seconds]   print HIL-MARK, wait for HIL-ACK <marker> OK
 *   hil-await sync [seconds]                   print HIL-SYNC, wait for HIL-SYNCED
 * The control tty is opened with O_NOCTTY before the request is printed, so the answer cannot be
 * missed and the tty never becomes a controlling terminal (a shell redirection in a systemd service
 * would make it one, and a reader in a background process group would then stop on SIGTTIN).
 * Exit status 0 on OK, 1 on FAIL or timeout. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hil_util.h"

static void emit(const char *line) {
  const char *tty = getenv("HIL_RESULT_TTY");
  int fd = open(tty && *tty ? tty : "/dev/ttyS1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  HIL_CHECK(fd >= 0, "open result tty");
  HIL_CHECK(write(fd, line, strlen(line)) == (ssize_t)strlen(line), "write result tty");
  close(fd);
  printf("%s", line);
  fflush(stdout);
}

int main(int argc, char **argv) {
  char line[256];
  if (argc >= 4 && !strcmp(argv[1], "mark")) {
    unsigned t = argc > 4 ? (unsigned)hil_arg_ulong(argv[4], "seconds") : 60;
    int fd = hil_host_open();
    snprintf(line, sizeof line, "HIL-MARK %s %s\n", argv[2], argv[3]);
    emit(line);
    return hil_host_await(fd, argv[3], t) == 0 ? 0 : 1;
  }
  if (argc >= 2 && !strcmp(argv[1], "sync")) {
    unsigned t = argc > 2 ? (unsigned)hil_arg_ulong(argv[2], "seconds") : 60;
    int fd = hil_host_open();
    emit("HIL-SYNC\n");
    /* HIL-SYNCED is matched like an acknowledgement of the pseudo-marker "SYNCED". */
    return hil_host_await(fd, NULL, t) == 0 ? 0 : 1;
  }
  fprintf(stderr, "usage: %s mark <case> <marker> [seconds] | sync [seconds]\n", argv[0]);
  return 2;
}
