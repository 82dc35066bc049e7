/* The runner of tests/wdf (see wdf_test.h). Plain C11 and POSIX: no wdfx in here. */
#define _POSIX_C_SOURCE 200809L
#include "wdf_test.h"

#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WDF_TEST_MAX 256
/* A test that hangs is killed by SIGALRM after this long (ctest's TIMEOUT is the outer guard). */
#define WDF_TEST_ALARM_S 120
/* WAIT_UNTIL gives up after this long: a lost event, not a slow one (machines here are loaded). */
#define WDF_TEST_HANG_GUARD_NS (60LL * 1000 * 1000 * 1000)

static struct {
    const char* name;
    wdf_test_fn fn;
    int expect_abort;
} g_tests[WDF_TEST_MAX];
static int g_count;
static atomic_int g_failures;
static void (*g_at_end)(void);

void wdf_test_register(const char* name, wdf_test_fn fn, int expect_abort) {
    if (g_count == WDF_TEST_MAX) {
        fprintf(stderr, "wdf_test: too many tests\n");
        abort();
    }
    g_tests[g_count].name = name;
    g_tests[g_count].fn = fn;
    g_tests[g_count].expect_abort = expect_abort;
    ++g_count;
}

void wdf_test_fail(const char* file, int line, const char* fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, msg);
    fflush(stderr);
    atomic_fetch_add(&g_failures, 1);
}

int wdf_test_failures(void) {
    return atomic_load(&g_failures);
}

void wdf_test_abandon(void) {
    fprintf(stderr, "wdf_test: test abandoned after %d failure(s)\n", wdf_test_failures());
    fflush(NULL);
    _exit(1); /* the framework's threads may be stuck: do not run exit handlers */
}

void wdf_test_at_end(void (*fn)(void)) {
    g_at_end = fn;
}

long long wdf_test_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void wdf_test_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void wdf_test_deadline_start(wdf_test_deadline* d) {
    d->start_ns = wdf_test_now_ns();
    d->polls = 0;
}

int wdf_test_poll(wdf_test_deadline* d) {
    /* Yield at first (events usually come within microseconds), then poll every 50 us so a
     * waiting test leaves the CPU to the threads it waits for. */
    if (++d->polls < 1000) {
        sched_yield();
    } else {
        struct timespec t = {0, 50 * 1000};
        nanosleep(&t, NULL);
    }
    return wdf_test_now_ns() - d->start_ns < WDF_TEST_HANG_GUARD_NS;
}

static int run_child(int i) {
    alarm(WDF_TEST_ALARM_S);
    g_tests[i].fn();
    if (g_at_end != NULL) g_at_end();
    fflush(NULL);
    return wdf_test_failures() == 0 ? 0 : 1;
}

int wdf_test_main(int argc, char** argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < g_count; ++i)
            printf("%s%s\n", g_tests[i].name, g_tests[i].expect_abort ? " (abort)" : "");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s <test name> | --list\n", argv[0]);
        return 2;
    }
    int i = 0;
    while (i < g_count && strcmp(g_tests[i].name, argv[1]) != 0)
        ++i;
    if (i == g_count) {
        fprintf(stderr, "%s: no test named '%s' (--list shows them)\n", argv[0], argv[1]);
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    fflush(NULL);
    /* Fork before any framework thread exists; the child is the test. */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) exit(run_child(i));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
    }
    const char* name = g_tests[i].name;
    if (g_tests[i].expect_abort) {
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
            printf("%s: PASSED (aborted as WDF bug-checks)\n", name);
            return 0;
        }
        if (WIFSIGNALED(st))
            printf("%s: FAILED: expected SIGABRT, died of signal %d\n", name, WTERMSIG(st));
        else
            printf("%s: FAILED: expected SIGABRT, exited with %d\n", name, WEXITSTATUS(st));
        return 1;
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        printf("%s: PASSED\n", name);
        return 0;
    }
    if (WIFSIGNALED(st))
        printf("%s: FAILED: died of signal %d%s\n", name, WTERMSIG(st),
               WTERMSIG(st) == SIGALRM ? " (hang guard)" : "");
    else
        printf("%s: FAILED\n", name);
    return 1;
}

int main(int argc, char** argv) {
    return wdf_test_main(argc, argv);
}
