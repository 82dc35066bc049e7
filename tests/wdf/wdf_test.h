/*
 * tests/wdf/wdf_test.h: the runner of the executable reference documents (C11 and C++).
 *
 * Each program is one reference page; each WDF_TEST(name) is one statement of that page, run as its
 * own ctest (`<program> <name>`). The runner forks before anything of wdfx exists, runs the test in
 * the child and judges the child's end:
 *   WDF_TEST(name)        passes if the child exits 0 with no failed CHECK;
 *   WDF_TEST_ABORT(name)  passes only if the child dies of SIGABRT (the verifier's abort: WDF's bug
 *                         check or verifier break with break-on-error), and fails if it returns.
 * A name that matches no test fails. `<program> --list` prints the names (CMake registers them from
 * the WDF_TEST lines of the source; the two agree because both come from the same macro uses).
 *
 * Tests wait on events, never on sleeps: WAIT_UNTIL polls a condition (an atomic flag set by a
 * callback) and turns a hang into a failure after a generous guard; it asserts nothing about time.
 */
#ifndef WDFX_TESTS_WDF_TEST_H
#define WDFX_TESTS_WDF_TEST_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*wdf_test_fn)(void);

void wdf_test_register(const char* name, wdf_test_fn fn, int expect_abort);
/* Run the test named by argv[1] (see above). */
int wdf_test_main(int argc, char** argv);
/* Record a failure (any thread). */
void wdf_test_fail(const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
int wdf_test_failures(void);
/* Give up on the test now (after a failure that makes the rest meaningless). */
void wdf_test_abandon(void) __attribute__((noreturn));
/* Run at the end of the test body in the child (teardown of the driver, set by the helpers). */
void wdf_test_at_end(void (*fn)(void));

/* Polling support for WAIT_UNTIL: 0 once the hang guard has expired. */
typedef struct wdf_test_deadline {
    long long start_ns;
    unsigned polls;
} wdf_test_deadline;
void wdf_test_deadline_start(wdf_test_deadline* d);
int wdf_test_poll(wdf_test_deadline* d);
long long wdf_test_now_ns(void);
void wdf_test_cpu_relax(void);

#ifdef __cplusplus
}
#endif

#define WDF_TEST_DEFINE_(name, abort_expected)                                 \
    static void wdf_test_body_##name(void);                                    \
    __attribute__((constructor)) static void wdf_test_register_##name(void) {  \
        wdf_test_register(#name, wdf_test_body_##name, abort_expected);        \
    }                                                                          \
    static void wdf_test_body_##name(void)

/* Helpers a program's UMDF 2 build may not use. */
#define WDF_TEST_MAYBE_UNUSED __attribute__((unused))

/* One statement of a reference page. The comment above it cites the page and the sentence. */
#define WDF_TEST(name) WDF_TEST_DEFINE_(name, 0)
/* A statement whose WDF behaviour is a bug check: wdfx's verifier aborts the process. */
#define WDF_TEST_ABORT(name) WDF_TEST_DEFINE_(name, 1)

#define CHECK(cond) \
    ((cond) ? (void)0 : wdf_test_fail(__FILE__, __LINE__, "CHECK(%s) is false", #cond))
#define REQUIRE(cond)                                                               \
    do {                                                                            \
        if (!(cond)) {                                                              \
            wdf_test_fail(__FILE__, __LINE__, "REQUIRE(%s) is false", #cond);       \
            wdf_test_abandon();                                                     \
        }                                                                           \
    } while (0)
#define CHECK_EQ_U(a, b)                                                                        \
    do {                                                                                        \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);          \
        if (a_ != b_)                                                                           \
            wdf_test_fail(__FILE__, __LINE__, "%s is %llu (0x%llx), expected %s = %llu", #a, a_, \
                          a_, #b, b_);                                                          \
    } while (0)
#define CHECK_STATUS(expr, expected)                                                           \
    do {                                                                                       \
        long s_ = (long)(expr), e_ = (long)(expected);                                         \
        if (s_ != e_)                                                                          \
            wdf_test_fail(__FILE__, __LINE__, "%s returned 0x%08lX, expected %s (0x%08lX)", \
                          #expr, (unsigned long)s_ & 0xffffffffUL, #expected,                \
                          (unsigned long)e_ & 0xffffffffUL);                                 \
    } while (0)
#define REQUIRE_STATUS(expr, expected)                                                         \
    do {                                                                                       \
        long s_ = (long)(expr), e_ = (long)(expected);                                         \
        if (s_ != e_) {                                                                        \
            wdf_test_fail(__FILE__, __LINE__, "%s returned 0x%08lX, expected %s (0x%08lX)", \
                          #expr, (unsigned long)s_ & 0xffffffffUL, #expected,                \
                          (unsigned long)e_ & 0xffffffffUL);                                 \
            wdf_test_abandon();                                                                \
        }                                                                                      \
    } while (0)
/* Wait for `cond` (an event: a flag a callback sets), failing the test if it never comes. */
#define WAIT_UNTIL(cond)                                                                \
    do {                                                                                \
        wdf_test_deadline d_;                                                           \
        wdf_test_deadline_start(&d_);                                                   \
        while (!(cond)) {                                                               \
            if (!wdf_test_poll(&d_)) {                                                  \
                wdf_test_fail(__FILE__, __LINE__, "hang guard: %s never became true", \
                              #cond);                                                   \
                wdf_test_abandon();                                                     \
            }                                                                           \
        }                                                                               \
    } while (0)

/* Busy-wait in a callback that must not block (DIRQL, DISPATCH) until `cond` holds or `max_ns`
 * have passed: a bound on a window a test keeps open, not a synchronisation. */
#define SPIN_UNTIL(cond, max_ns)                                                \
    do {                                                                        \
        long long t0_ = wdf_test_now_ns();                                      \
        while (!(cond) && wdf_test_now_ns() - t0_ < (long long)(max_ns))        \
            wdf_test_cpu_relax();                                               \
    } while (0)

#endif /* WDFX_TESTS_WDF_TEST_H */
