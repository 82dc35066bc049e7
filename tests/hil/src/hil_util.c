#define _GNU_SOURCE
#include "hil_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void hil_fail_at(const char *file, int line, int err, const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "FAIL %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (err) fprintf(stderr, ": %s", strerror(err));
  fputc('\n', stderr);
  exit(1);
}

uint64_t hil_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void hil_stats_init(struct hil_stats *s, const char *name, const char *what, size_t cap) {
  memset(s, 0, sizeof *s);
  s->name = name;
  s->what = what;
  s->cap = cap;
  s->ns = calloc(cap, sizeof *s->ns);
  HIL_CHECK(s->ns, "calloc");
}

void hil_stats_add(struct hil_stats *s, uint64_t ns) {
  if (s->n < s->cap) s->ns[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static uint64_t pct(const struct hil_stats *s, unsigned permille) {
  size_t i = (s->n * permille) / 1000;
  return s->ns[i < s->n ? i : s->n - 1];
}

void hil_stats_report(struct hil_stats *s) {
  HIL_EXPECT(s->n > 0, "%s: no samples", s->name);
  double wall_s = (double)(s->t_end - s->t_begin) / 1e9;
  double sum = 0;
  for (size_t i = 0; i < s->n; i++) sum += (double)s->ns[i];
  qsort(s->ns, s->n, sizeof *s->ns, cmp_u64);
  double rate = wall_s > 0 ? (double)s->n / wall_s : 0;
  printf("%s: %s: %zu samples, %.0f round trips/s, p50 %llu ns, p99 %llu ns, p99.9 %llu ns, "
         "min %llu ns, max %llu ns\n",
         s->name, s->what, s->n, rate, (unsigned long long)pct(s, 500), (unsigned long long)pct(s, 990),
         (unsigned long long)pct(s, 999), (unsigned long long)s->ns[0],
         (unsigned long long)s->ns[s->n - 1]);
  hil_figure_string(s->name, "what", s->what);
  hil_figure_value(s->name, "count", (double)s->n);
  hil_figure_value(s->name, "round_trips_per_s", rate);
  hil_figure_value(s->name, "p50_ns", (double)pct(s, 500));
  hil_figure_value(s->name, "p99_ns", (double)pct(s, 990));
  hil_figure_value(s->name, "p999_ns", (double)pct(s, 999));
  hil_figure_value(s->name, "min_ns", (double)s->ns[0]);
  hil_figure_value(s->name, "max_ns", (double)s->ns[s->n - 1]);
  hil_figure_value(s->name, "mean_ns", sum / (double)s->n);
}

void hil_stats_free(struct hil_stats *s) {
  free(s->ns);
  s->ns = NULL;
}

/* The figures are kept as a list of (name, key, rendered value) and grouped per name on output. */
enum { MAX_FIGS = 256 };
static struct {
  char name[48], key[48], value[128];
} figs[MAX_FIGS];
static size_t nfigs;

static void add_fig(const char *name, const char *key, const char *value) {
  HIL_EXPECT(nfigs < MAX_FIGS, "too many figures");
  snprintf(figs[nfigs].name, sizeof figs[nfigs].name, "%s", name);
  snprintf(figs[nfigs].key, sizeof figs[nfigs].key, "%s", key);
  snprintf(figs[nfigs].value, sizeof figs[nfigs].value, "%s", value);
  nfigs++;
}

void hil_figure_value(const char *name, const char *key, double value) {
  char v[64];
  if (value == (double)(long long)value)
    snprintf(v, sizeof v, "%lld", (long long)value);
  else
    snprintf(v, sizeof v, "%.3f", value);
  add_fig(name, key, v);
}

void hil_figure_string(const char *name, const char *key, const char *value) {
  char v[128];
  size_t j = 0;
  v[j++] = '"';
  for (const char *p = value; *p && j < sizeof v - 3; p++) {
    if (*p == '"' || *p == '\\') v[j++] = '\\';
    v[j++] = (*p >= 0x20) ? *p : ' ';
  }
  v[j++] = '"';
  v[j] = 0;
  add_fig(name, key, v);
}

void hil_figures_write(void) {
  const char *path = getenv("HIL_FIGURES");
  if (!path || !*path || nfigs == 0) return;
  FILE *f = fopen(path, "w");
  HIL_CHECK(f, "open %s", path);
  fputc('{', f);
  int first_name = 1;
  for (size_t i = 0; i < nfigs; i++) {
    int seen = 0;
    for (size_t k = 0; k < i; k++) seen |= !strcmp(figs[k].name, figs[i].name);
    if (seen) continue;
    fprintf(f, "%s\"%s\": {", first_name ? "" : ", ", figs[i].name);
    first_name = 0;
    int first_key = 1;
    for (size_t k = i; k < nfigs; k++) {
      if (strcmp(figs[k].name, figs[i].name)) continue;
      fprintf(f, "%s\"%s\": %s", first_key ? "" : ", ", figs[k].key, figs[k].value);
      first_key = 0;
    }
    fputc('}', f);
  }
  fputs("}\n", f);
  HIL_CHECK(fclose(f) == 0, "write %s", path);
}

uint64_t hil_mark(const char *marker) {
  const char *tty = getenv("HIL_RESULT_TTY");
  const char *c = getenv("HIL_CASE");
  char line[256];
  int n = snprintf(line, sizeof line, "HIL-MARK %s %s\n", c ? c : "-", marker);
  printf("%s", line);
  fflush(stdout);
  if (tty && *tty) {
    int fd = open(tty, O_WRONLY | O_NOCTTY);
    HIL_CHECK(fd >= 0, "open %s", tty);
    HIL_CHECK(write(fd, line, (size_t)n) == n, "write %s", tty);
    close(fd);
  }
  return hil_now_ns();
}

static const char *deadline_what = "a blocking step";

static void on_deadline(int sig) {
  (void)sig;
  static const char pre[] = "FAIL: deadline expired: ";
  ssize_t ignored = write(2, pre, sizeof pre - 1);
  ignored = write(2, deadline_what, strlen(deadline_what));
  ignored = write(2, "\n", 1);
  (void)ignored;
  _exit(1);
}

void hil_deadline(unsigned seconds, const char *what) {
  deadline_what = what;
  signal(SIGALRM, on_deadline);
  alarm(seconds);
}

int hil_host_open(void) {
  const char *tty = getenv("HIL_CTL_TTY");
  if (!tty || !*tty) tty = "/dev/ttyS2";
  int fd = open(tty, O_RDONLY | O_NOCTTY | O_CLOEXEC);
  HIL_CHECK(fd >= 0, "open %s", tty);
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(fd, TCSANOW, &t);
  }
  return fd;
}

int hil_host_await(int fd, const char *marker, unsigned timeout_s) {
  char line[512], ok[128], fail[128];
  size_t len = 0;
  if (marker) {
    snprintf(ok, sizeof ok, "HIL-ACK %s OK", marker);
    snprintf(fail, sizeof fail, "HIL-ACK %s FAIL", marker);
  } else { /* the answer to HIL-SYNC */
    snprintf(ok, sizeof ok, "HIL-SYNCED");
    snprintf(fail, sizeof fail, "HIL-SYNC-FAILED");
  }
  uint64_t end = hil_now_ns() + (uint64_t)timeout_s * 1000000000u;
  for (;;) {
    uint64_t now = hil_now_ns();
    if (now >= end) break;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, (int)((end - now) / 1000000u) + 1);
    HIL_CHECK(n >= 0, "poll control channel");
    if (n == 0) continue;
    char ch;
    if (read(fd, &ch, 1) != 1) continue;
    if (ch != '\n' && len < sizeof line - 1) {
      line[len++] = ch;
      continue;
    }
    line[len] = 0;
    len = 0;
    if (strstr(line, ok)) return 0;
    if (strstr(line, fail)) {
      printf("host: %s\n", line);
      return -1;
    }
  }
  printf("host: no answer for %s within %u s\n", marker ? marker : "HIL-SYNC", timeout_s);
  return -1;
}

unsigned long hil_arg_ulong(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 0);
  if (errno || !*s || *end) HIL_FAIL("bad %s '%s'", what, s);
  return v;
}

int hil_sysfs_read(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, buf, len - 1);
  int err = errno;
  close(fd);
  if (n < 0) return -err;
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
  return 0;
}

void hil_sysfs_write(const char *path, const char *value) {
  int fd = open(path, O_WRONLY);
  HIL_CHECK(fd >= 0, "open %s", path);
  ssize_t n = write(fd, value, strlen(value));
  HIL_CHECK(n == (ssize_t)strlen(value), "write '%s' to %s", value, path);
  close(fd);
}
