/*
 * WDFTIMER through <wdfx/wdf.h>: WdfTimerCreate, WdfTimerStart, WdfTimerStop and deleting a timer,
 * called as a KMDF driver calls them, with the behaviour of wdf-semantics §18.7 (and §1 for the
 * level its callback runs at, §18.1 for the required parent).
 *
 * "Stop waits" and "delete waits" are observed with a callback that keeps a bounded window open
 * (it spins: a DISPATCH callback must not block) and records that it finished: a Stop or delete
 * that did not wait returns inside the window, before the callback finished. Passing never
 * depends on the window's length.
 */
/* This program drives no interrupt: the header's edu register helpers stay unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "wdf_test_edu.h"
#pragma GCC diagnostic pop

/* The window a running callback keeps open for a broken Stop/delete to return in. */
#define WINDOW_NS (200LL * 1000 * 1000)

typedef struct _TIMER_CONTEXT {
    atomic_int Fired;
    atomic_int Irql;
    atomic_int Entered;
    atomic_int Finished;
    atomic_int StopWaitResult;
    atomic_int StopWaitReports;
    WDFTIMER Self; /* the handle the callback was given */
    BOOLEAN HoldWindow;
    BOOLEAN StopWaitInside;
} TIMER_CONTEXT, *PTIMER_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(TIMER_CONTEXT, GetTimerContext)

static atomic_int g_CleanupSawFinished = -1, g_Cleanups;

static EVT_WDF_TIMER EvtTimer;
static VOID EvtTimer(WDFTIMER Timer) {
    PTIMER_CONTEXT ctx = GetTimerContext(Timer);
    ctx->Self = Timer;
    atomic_store(&ctx->Irql, KeGetCurrentIrql());
    atomic_store(&ctx->Entered, 1);
    if (ctx->HoldWindow) SPIN_UNTIL(0, WINDOW_NS);
    if (ctx->StopWaitInside) {
        /* §18.7: "never call it with Wait = TRUE from inside EvtTimerFunc" (and Wait = TRUE
         * requires PASSIVE): a verifier report and a return, not a self-deadlock. */
        ULONG64 before = WdfxGetVerifierReportCount();
        atomic_store(&ctx->StopWaitResult, WdfTimerStop(Timer, TRUE));
        atomic_store(&ctx->StopWaitReports, (int)(WdfxGetVerifierReportCount() - before));
    }
    atomic_fetch_add(&ctx->Fired, 1);
    atomic_store(&ctx->Finished, 1);
}

static VOID EvtTimerCleanup(WDFOBJECT Object) {
    atomic_store(&g_CleanupSawFinished, atomic_load(&GetTimerContext(Object)->Finished));
    atomic_fetch_add(&g_Cleanups, 1);
}

static void Start(void) {
    REQUIRE_STATUS(WdfTestStart(NULL), STATUS_SUCCESS);
}

/* A timer whose parent is the device; Period 0 is one-shot. */
static WDFTIMER CreateTimer(ULONG Period, WDF_EXECUTION_LEVEL Level) {
    WDF_TIMER_CONFIG config;
    if (Period != 0)
        WDF_TIMER_CONFIG_INIT_PERIODIC(&config, EvtTimer, (LONG)Period);
    else
        WDF_TIMER_CONFIG_INIT(&config, EvtTimer);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, TIMER_CONTEXT);
    attributes.ParentObject = g_Device;
    attributes.EvtCleanupCallback = EvtTimerCleanup;
    if (Level == WdfExecutionLevelPassive) {
        attributes.ExecutionLevel = WdfExecutionLevelPassive;
        /* §18.7: serialisation needs matching levels; the device is at Dispatch (§18.2). */
        config.AutomaticSerialization = FALSE;
    }
    WDFTIMER timer = NULL;
    REQUIRE_STATUS(WdfTimerCreate(&config, &attributes, &timer), STATUS_SUCCESS);
    REQUIRE(timer != NULL);
    return timer;
}

/* §18.7, §1: a timer's EvtTimerFunc runs at DISPATCH_LEVEL by default; WdfTimerStart returns
 * FALSE when the timer was not queued; the callback gets its own handle; a one-shot timer is no
 * longer queued once it fired (WdfTimerStop returns FALSE); WdfTimerGetParentObject is the
 * device. */
WDF_TEST(dispatch_timer_fires_at_dispatch_level) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelInheritFromParent);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    CHECK(WdfTimerGetParentObject(timer) == (WDFOBJECT)g_Device);
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)), FALSE);
    WAIT_UNTIL(atomic_load(&ctx->Finished));
    CHECK_EQ_U(atomic_load(&ctx->Irql), DISPATCH_LEVEL);
    CHECK(ctx->Self == timer);
    CHECK_EQ_U(WdfTimerStop(timer, TRUE), FALSE); /* one-shot: it left the queue when it fired */
    CHECK_EQ_U(atomic_load(&ctx->Fired), 1);
}

/* §18.7: "attributes ExecutionLevel = Passive make the callback run in a work item": at
 * PASSIVE_LEVEL. */
WDF_TEST(passive_timer_fires_at_passive_level) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelPassive);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)), FALSE);
    WAIT_UNTIL(atomic_load(&ctx->Finished));
    CHECK_EQ_U(atomic_load(&ctx->Irql), PASSIVE_LEVEL);
    CHECK(ctx->Self == timer);
}

/* §18.7: "Period in ms (0 = one-shot; it must be 0 for passive-level timers)". */
WDF_TEST(passive_timer_cannot_be_periodic) {
    Start();
    WDF_TIMER_CONFIG config;
    WDF_TIMER_CONFIG_INIT_PERIODIC(&config, EvtTimer, 10);
    config.AutomaticSerialization = FALSE;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = g_Device;
    attributes.ExecutionLevel = WdfExecutionLevelPassive;
    WDFTIMER timer = NULL;
    CHECK(!NT_SUCCESS(WdfTimerCreate(&config, &attributes, &timer)));
    CHECK(timer == NULL);
}

/* §18.1: WDFTIMER has no default parent, a device or queue parent is required
 * (FX_VALIDATE_OPTION_PARENT_REQUIRED): omitting it is STATUS_WDF_PARENT_NOT_SPECIFIED. */
WDF_TEST(create_without_parent_is_parent_not_specified) {
    Start();
    WDF_TIMER_CONFIG config;
    WDF_TIMER_CONFIG_INIT(&config, EvtTimer);
    WDFTIMER timer = NULL;
    CHECK_STATUS(WdfTimerCreate(&config, WDF_NO_OBJECT_ATTRIBUTES, &timer),
                 STATUS_WDF_PARENT_NOT_SPECIFIED);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    CHECK_STATUS(WdfTimerCreate(&config, &attributes, &timer), STATUS_WDF_PARENT_NOT_SPECIFIED);
    CHECK(timer == NULL);
}

/* §18.7: "WdfTimerStart ... returns TRUE if the timer was already queued; it is then re-armed with
 * the new due time." The first due time is an hour away: only the re-arm makes it fire (a timer
 * that kept its first due time would trip the hang guard). */
WDF_TEST(start_of_a_queued_timer_returns_true_and_rearms) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelInheritFromParent);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_SEC(3600)), FALSE);
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)), TRUE);
    WAIT_UNTIL(atomic_load(&ctx->Finished));
    CHECK_EQ_U(atomic_load(&ctx->Fired), 1);
}

/* §18.7: "WdfTimerStop(Wait) returns TRUE if the timer was queued" (and FALSE once it is not). */
WDF_TEST(stop_returns_true_only_for_a_queued_timer) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelInheritFromParent);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    CHECK_EQ_U(WdfTimerStop(timer, FALSE), FALSE); /* never started */
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_SEC(3600)), FALSE);
    CHECK_EQ_U(WdfTimerStop(timer, FALSE), TRUE);
    CHECK_EQ_U(WdfTimerStop(timer, FALSE), FALSE); /* dequeued by the first Stop */
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_SEC(3600)), FALSE); /* not queued */
    CHECK_EQ_U(WdfTimerStop(timer, TRUE), TRUE);
    CHECK_EQ_U(atomic_load(&ctx->Fired), 0);
}

/* §18.7: "Wait = TRUE requires PASSIVE and waits for the queued or running callbacks": Stop called
 * while EvtTimerFunc runs returns after it finished (and FALSE: a fired one-shot timer is no longer
 * queued). */
WDF_TEST(stop_with_wait_returns_after_the_running_callback) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelInheritFromParent);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    ctx->HoldWindow = TRUE;
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)), FALSE);
    WAIT_UNTIL(atomic_load(&ctx->Entered));
    CHECK_EQ_U(WdfTimerStop(timer, TRUE), FALSE);
    CHECK_EQ_U(atomic_load(&ctx->Finished), 1);
}

/* §18.7: a periodic timer fires again and again until stopped; it stays queued between expiries
 * (Stop returns TRUE), and after WdfTimerStop(Wait = TRUE) it is neither queued nor running. */
WDF_TEST(periodic_timer_repeats_until_stopped) {
    Start();
    WDFTIMER timer = CreateTimer(1, WdfExecutionLevelInheritFromParent);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)), FALSE);
    WAIT_UNTIL(atomic_load(&ctx->Fired) >= 3);
    CHECK_EQ_U(WdfTimerStop(timer, TRUE), TRUE);
    int fired = atomic_load(&ctx->Fired);
    CHECK_EQ_U(WdfTimerStop(timer, FALSE), FALSE);
    CHECK_EQ_U(atomic_load(&ctx->Fired), fired); /* nothing was running or queued */
    CHECK_EQ_U(atomic_load(&ctx->Irql), DISPATCH_LEVEL);
}

/* §18.7: "never call it with Wait = TRUE from inside EvtTimerFunc": a verifier report (wdfx:
 * WDFX_VERIFIER=report logs and returns FALSE), not a callback that waits for itself forever. */
WDF_TEST(stop_with_wait_inside_the_callback_is_a_verifier_report) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelInheritFromParent);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    ctx->StopWaitInside = TRUE;
    atomic_store(&ctx->StopWaitResult, -1);
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)), FALSE);
    WAIT_UNTIL(atomic_load(&ctx->Finished));
    CHECK_EQ_U(atomic_load(&ctx->StopWaitReports), 1);
    CHECK_EQ_U(atomic_load(&ctx->StopWaitResult), FALSE);
}

/* §18.7: "Deleting a timer waits for running callbacks before its cleanup callback." */
WDF_TEST(delete_waits_for_the_running_callback_before_cleanup) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelInheritFromParent);
    PTIMER_CONTEXT ctx = GetTimerContext(timer);
    ctx->HoldWindow = TRUE;
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_MS(1)), FALSE);
    WAIT_UNTIL(atomic_load(&ctx->Entered));
    WdfObjectDelete(timer);
    CHECK_EQ_U(atomic_load(&g_Cleanups), 1);
    CHECK_EQ_U(atomic_load(&g_CleanupSawFinished), 1);
}

/* §18.7 with §18.1: a queued timer that is deleted never fires (its cleanup runs, the callback
 * does not); deleting it dequeues it. The due time is an hour away, so the callback could only run
 * if the delete fired it. */
WDF_TEST(delete_of_a_queued_timer_cancels_it) {
    Start();
    WDFTIMER timer = CreateTimer(0, WdfExecutionLevelInheritFromParent);
    CHECK_EQ_U(WdfTimerStart(timer, WDF_REL_TIMEOUT_IN_SEC(3600)), FALSE);
    WdfObjectDelete(timer);
    CHECK_EQ_U(atomic_load(&g_Cleanups), 1);
    CHECK_EQ_U(atomic_load(&g_CleanupSawFinished), 0);
}
