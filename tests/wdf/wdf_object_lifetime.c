/*
 * Deleting objects and flushing work items through <wdfx/wdf.h>: WdfObjectDelete (wdf-semantics
 * §18.1, §18.5, §8.7) and WdfWorkItemFlush (§18.5), called as a KMDF driver calls them.
 *
 * "Waits for the running callback" is observed with a callback that keeps a bounded window open
 * and records that it finished: a flush or delete that did not wait returns inside the window,
 * before the callback finished. Passing never depends on the window's length.
 */
#include "wdf_test_edu.h"

#define WINDOW_NS (200LL * 1000 * 1000)

/* ---- what the callbacks saw, in order ------------------------------------------------------- */

#define MAX_EVENTS 16
static atomic_int g_EventCount;
static int g_Events[MAX_EVENTS]; /* Tag*10 + kind: 1 cleanup, 2 destroy */
static void Note(int Tag, int Kind) {
    int i = atomic_fetch_add(&g_EventCount, 1);
    if (i < MAX_EVENTS) g_Events[i] = Tag * 10 + Kind;
}
static int Event(int i) {
    return i < atomic_load(&g_EventCount) && i < MAX_EVENTS ? g_Events[i] : -1;
}

typedef struct _OBJECT_CONTEXT {
    int Tag;
} OBJECT_CONTEXT, *POBJECT_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(OBJECT_CONTEXT, GetObjectContext)

static VOID EvtObjectCleanup(WDFOBJECT Object) {
    Note(GetObjectContext(Object)->Tag, 1);
}
static VOID EvtObjectDestroy(WDFOBJECT Object) {
    /* §18.1: "may touch the context" */
    Note(GetObjectContext(Object)->Tag, 2);
}

/* The driver (and a device) exist, as in a driver: a WDFOBJECT's default parent is the driver
 * (§18.1). */
static void StartDriver(void) {
    REQUIRE_STATUS(WdfTestStart(NULL), STATUS_SUCCESS);
}

static WDFOBJECT CreateObject(int Tag, WDFOBJECT Parent) {
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, OBJECT_CONTEXT);
    attributes.EvtCleanupCallback = EvtObjectCleanup;
    attributes.EvtDestroyCallback = EvtObjectDestroy;
    attributes.ParentObject = Parent;
    WDFOBJECT object = NULL;
    REQUIRE_STATUS(WdfObjectCreate(&attributes, &object), STATUS_SUCCESS);
    GetObjectContext(object)->Tag = Tag;
    return object;
}

/* §18.1 (Deletion order 3-4): WdfObjectDelete runs the object's EvtCleanupCallback, then, the
 * reference count being 0, its EvtDestroyCallback (which may still touch the context). */
WDF_TEST(object_delete_runs_cleanup_then_destroy) {
    StartDriver();
    WDFOBJECT object = CreateObject(1, NULL);
    CHECK_EQ_U(atomic_load(&g_EventCount), 0);
    WdfObjectDelete(object);
    CHECK_EQ_U(atomic_load(&g_EventCount), 2);
    CHECK_EQ_U(Event(0), 11);
    CHECK_EQ_U(Event(1), 12);
}

/* §18.1 (Reference counts, Deletion order 4): an object referenced by the driver is cleaned up by
 * WdfObjectDelete, but destroyed only "when the count reaches 0": at the last
 * WdfObjectDereference. */
WDF_TEST(object_delete_with_a_reference_defers_destroy_to_the_dereference) {
    StartDriver();
    WDFOBJECT object = CreateObject(1, NULL);
    WdfObjectReference(object);
    WdfObjectDelete(object);
    CHECK_EQ_U(atomic_load(&g_EventCount), 1);
    CHECK_EQ_U(Event(0), 11);
    WdfObjectDereference(object);
    CHECK_EQ_U(atomic_load(&g_EventCount), 2);
    CHECK_EQ_U(Event(1), 12);
}

/* §18.1 (Deletion order 1, 3): deleting a parent disposes its children first, recursively:
 * "Children's cleanups come before the parent's"; destroys too, children first. */
WDF_TEST(object_delete_of_a_parent_cleans_up_children_first) {
    StartDriver();
    WDFOBJECT parent = CreateObject(1, NULL);
    WDFOBJECT child = CreateObject(2, parent);
    (void)CreateObject(3, child);
    WdfObjectDelete(parent);
    CHECK_EQ_U(atomic_load(&g_EventCount), 6);
    int cleanup_at[4] = {-1, -1, -1, -1}, destroy_at[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 6; ++i) {
        int e = Event(i);
        REQUIRE(e / 10 >= 1 && e / 10 <= 3);
        if (e % 10 == 1) cleanup_at[e / 10] = i;
        if (e % 10 == 2) destroy_at[e / 10] = i;
    }
    CHECK(cleanup_at[3] >= 0 && cleanup_at[3] < cleanup_at[2]);
    CHECK(cleanup_at[2] < cleanup_at[1]);
    CHECK(destroy_at[3] >= 0 && destroy_at[3] < destroy_at[1]);
    CHECK(destroy_at[2] >= 0 && destroy_at[2] < destroy_at[1]);
    for (int t = 1; t <= 3; ++t)
        CHECK(cleanup_at[t] >= 0 && cleanup_at[t] < destroy_at[t]);
}

/* ---- an interrupt cannot be deleted ------------------------------------------------------------
 */

static WDFINTERRUPT g_Interrupt;
static atomic_int g_IsrCalls;
static BOOLEAN EvtIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)Interrupt;
    (void)MessageID;
    if (EduTakeInterruptStatus() == 0) return FALSE;
    atomic_fetch_add(&g_IsrCalls, 1);
    return TRUE;
}
static NTSTATUS CreateInterrupt(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsr, NULL);
    return WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Interrupt);
}

/* §8.7, §20, §21 rule 1: "WdfObjectDelete(interrupt) gives a verifier break ...
 * STATUS_CANNOT_DELETE and has no effect" (MarkNoDeleteDDI): the interrupt is still there and its
 * ISR still runs. */
WDF_TEST(object_delete_of_an_interrupt_is_a_verifier_no_op) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateInterrupt;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_REPORTS(1, WdfObjectDelete(g_Interrupt));
    CHECK(WdfInterruptGetDevice(g_Interrupt) == g_Device);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_IsrCalls) == 1);
}

/* ---- work items
 * ----------------------------------------------------------------------------------- */

typedef struct _WORK_CONTEXT {
    atomic_int Runs;
    atomic_int Entered;
    atomic_int Finished; /* runs that returned */
    atomic_int FlushReports;
    BOOLEAN HoldWindow;
    BOOLEAN RequeueOnce;
    BOOLEAN FlushInside;
    BOOLEAN DeleteInside;
} WORK_CONTEXT, *PWORK_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WORK_CONTEXT, GetWorkContext)

static atomic_int g_WorkCleanups, g_WorkFinishedAtCleanup = -1;
static atomic_int g_DeleteReturned, g_CleanupsWhenDeleteReturned = -1;

static VOID EvtWorkItem(WDFWORKITEM WorkItem) {
    PWORK_CONTEXT ctx = GetWorkContext(WorkItem);
    int run = atomic_fetch_add(&ctx->Runs, 1);
    atomic_store(&ctx->Entered, 1);
    if (run == 0 && ctx->RequeueOnce) WdfWorkItemEnqueue(WorkItem);
    if (run == 0 && ctx->HoldWindow) SPIN_UNTIL(0, WINDOW_NS);
    if (ctx->FlushInside) {
        ULONG64 before = WdfxGetVerifierReportCount();
        WdfWorkItemFlush(WorkItem);
        atomic_store(&ctx->FlushReports, (int)(WdfxGetVerifierReportCount() - before));
    }
    if (ctx->DeleteInside) {
        WdfObjectDelete(WorkItem);
        /* §18.5: "called from its own callback -> returns at once, and cleanup happens after the
         * callback": the context is still ours until we return. */
        atomic_store(&g_CleanupsWhenDeleteReturned, atomic_load(&g_WorkCleanups));
        atomic_store(&g_DeleteReturned, 1);
    }
    atomic_fetch_add(&ctx->Finished, 1);
}
static VOID EvtWorkItemCleanup(WDFOBJECT Object) {
    atomic_store(&g_WorkFinishedAtCleanup, atomic_load(&GetWorkContext(Object)->Finished));
    atomic_fetch_add(&g_WorkCleanups, 1);
}

static WDFWORKITEM CreateWorkItem(void) {
    REQUIRE_STATUS(WdfTestStart(NULL), STATUS_SUCCESS);
    WDF_WORKITEM_CONFIG config;
    WDF_WORKITEM_CONFIG_INIT(&config, EvtWorkItem);
    config.AutomaticSerialization = FALSE; /* the device is at Dispatch (§18.2, §18.5) */
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, WORK_CONTEXT);
    attributes.ParentObject = g_Device;
    attributes.EvtCleanupCallback = EvtWorkItemCleanup;
    WDFWORKITEM item = NULL;
    REQUIRE_STATUS(WdfWorkItemCreate(&config, &attributes, &item), STATUS_SUCCESS);
    CHECK(WdfWorkItemGetParentObject(item) == (WDFOBJECT)g_Device);
    return item;
}

/* §18.5: "WdfWorkItemFlush (PASSIVE) waits until the item is neither queued nor running": called
 * while the callback runs, it returns after that run, and after the run the callback queued again
 * (§18.5: m_Enqueued is cleared before the callback, so the re-enqueue runs again). */
WDF_TEST(work_item_flush_waits_until_neither_queued_nor_running) {
    WDFWORKITEM item = CreateWorkItem();
    PWORK_CONTEXT ctx = GetWorkContext(item);
    ctx->HoldWindow = TRUE;
    ctx->RequeueOnce = TRUE;
    WdfWorkItemEnqueue(item);
    WAIT_UNTIL(atomic_load(&ctx->Entered));
    WdfWorkItemFlush(item);
    CHECK_EQ_U(atomic_load(&ctx->Finished), 2);
    CHECK_EQ_U(atomic_load(&ctx->Runs), 2);
    WdfWorkItemFlush(item); /* nothing queued or running: returns */
    CHECK_EQ_U(atomic_load(&ctx->Runs), 2);
}

/* §18.5: WdfWorkItemFlush "called from inside its own callback ... is a verifier break and a return
 * (it would deadlock)". */
WDF_TEST(work_item_flush_from_its_own_callback_is_a_verifier_report) {
    WDFWORKITEM item = CreateWorkItem();
    PWORK_CONTEXT ctx = GetWorkContext(item);
    ctx->FlushInside = TRUE;
    atomic_store(&ctx->FlushReports, -1);
    WdfWorkItemEnqueue(item);
    WAIT_UNTIL(atomic_load(&ctx->Finished) == 1);
    CHECK_EQ_U(atomic_load(&ctx->FlushReports), 1);
}

/* §18.5: "WdfObjectDelete(workitem): queued or running -> waits for completion ... Before
 * EvtCleanupCallback, the framework waits for every running instance." */
WDF_TEST(work_item_delete_waits_for_the_running_callback_before_cleanup) {
    WDFWORKITEM item = CreateWorkItem();
    PWORK_CONTEXT ctx = GetWorkContext(item);
    ctx->HoldWindow = TRUE;
    WdfWorkItemEnqueue(item);
    WAIT_UNTIL(atomic_load(&ctx->Entered));
    WdfObjectDelete(item);
    CHECK_EQ_U(atomic_load(&g_WorkCleanups), 1);
    CHECK_EQ_U(atomic_load(&g_WorkFinishedAtCleanup), 1);
}

/* §18.5: WdfObjectDelete "called from its own callback -> returns at once, and cleanup happens
 * after the callback". */
WDF_TEST(work_item_delete_from_its_own_callback_cleans_up_after_it) {
    WDFWORKITEM item = CreateWorkItem();
    PWORK_CONTEXT ctx = GetWorkContext(item);
    ctx->DeleteInside = TRUE;
    WdfWorkItemEnqueue(item);
    WAIT_UNTIL(atomic_load(&g_WorkCleanups) == 1);
    /* The item (and its context) is gone now: only the globals are read. */
    CHECK_EQ_U(atomic_load(&g_DeleteReturned), 1);
    CHECK_EQ_U(atomic_load(&g_CleanupsWhenDeleteReturned), 0);
    CHECK_EQ_U(atomic_load(&g_WorkFinishedAtCleanup), 1);
}
