/* Helpers shared by the HIL guest programs: failing loudly, clocks, latency statistics, figures.
 * These programs run inside the guest (busybox initramfs or systemd root), statically linked, and
 * need nothing from libwdfx: they measure the raw mechanisms the framework is later compared with. */
#ifndef HIL_UTIL_H
#define HIL_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Prints "FAIL <file>:<line>: <message>[: <errno text>]" and exits 1. */
void hil_fail_at(const char *file, int line, int err, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));
#define HIL_FAIL(...) hil_fail_at(__FILE__, __LINE__, 0, __VA_ARGS__)
/* Fails with errno's text when cond is false (for syscalls that set errno). */
#define HIL_CHECK(cond, ...)                                            \
  do {                                                                  \
    if (!(cond)) hil_fail_at(__FILE__, __LINE__, errno, __VA_ARGS__);   \
  } while (0)
/* Fails without errno (for checks of values read from the device). */
#define HIL_EXPECT(cond, ...)                                           \
  do {                                                                  \
    if (!(cond)) hil_fail_at(__FILE__, __LINE__, 0, __VA_ARGS__);       \
  } while (0)

uint64_t hil_now_ns(void); /* CLOCK_MONOTONIC */

/* Latency samples of one mechanism; percentiles are taken over the sorted samples. */
struct hil_stats {
  const char *name; /* key in the figures object, e.g. "vfio_msi" */
  const char *what; /* what one sample measures, for the log and the JSON */
  uint64_t *ns;
  size_t n, cap;
  uint64_t t_begin, t_end; /* wall time of the whole loop, for round trips per second */
};
void hil_stats_init(struct hil_stats *s, const char *name, const char *what, size_t cap);
void hil_stats_add(struct hil_stats *s, uint64_t ns);
/* Sorts, prints one human line, and adds the measurement to the figures. */
void hil_stats_report(struct hil_stats *s);
void hil_stats_free(struct hil_stats *s);

/* Figures: one JSON object per case, {"<name>": {...}, ...}, written to $HIL_FIGURES at exit. */
void hil_figure_value(const char *name, const char *key, double value);
void hil_figure_string(const char *name, const char *key, const char *value);
void hil_figures_write(void);

/* Prints "HIL-MARK <case> <marker>" on the result channel ($HIL_RESULT_TTY), so the host runs the
 * boot's HOST_ACTIONS for <marker>; returns the time it was printed. */
uint64_t hil_mark(const char *marker);

/* Arms a deadline for a blocking step: when it expires the program fails with "<what> timed out"
 * (a lost interrupt then fails the case instead of hanging the boot). 0 disarms. */
void hil_deadline(unsigned seconds, const char *what);

/* Waiting for the host: open the control channel ($HIL_CTL_TTY, the guest's ttyS2) BEFORE
 * hil_mark(), so the answer cannot be missed; then hil_host_await() returns 0 when the host reports
 * HIL-ACK <marker> OK (its actions for the marker are done), -1 on FAIL or after timeout_s.
 * marker NULL waits for HIL-SYNCED, the answer to HIL-SYNC. */
int hil_host_open(void);
int hil_host_await(int fd, const char *marker, unsigned timeout_s);

/* Parses an unsigned number argument or fails. */
unsigned long hil_arg_ulong(const char *s, const char *what);

/* Small sysfs helpers. */
int hil_sysfs_read(const char *path, char *buf, size_t len); /* 0 or -errno; strips the newline */
void hil_sysfs_write(const char *path, const char *value);   /* fails loudly */

/* Register accessors: one volatile, width-exact load or store on a mapped BAR. */
static inline uint32_t hil_rd32(volatile void *bar, unsigned off) {
  return *(volatile uint32_t *)((volatile char *)bar + off);
}
static inline void hil_wr32(volatile void *bar, unsigned off, uint32_t v) {
  *(volatile uint32_t *)((volatile char *)bar + off) = v;
}
static inline uint64_t hil_rd64(volatile void *bar, unsigned off) {
  return *(volatile uint64_t *)((volatile char *)bar + off);
}
static inline void hil_wr64(volatile void *bar, unsigned off, uint64_t v) {
  *(volatile uint64_t *)((volatile char *)bar + off) = v;
}

#endif
