/*
 * The reference page "WdfInterruptQueueWorkItemForIsr function"
 * (../shared/seeds/WdfInterruptQueueWorkItemForIsr.md), as executable statements; the source's
 * details from wdf-semantics.md §9.2/§9.3.
 *
 * To observe "previously queued and has not executed" deterministically, the tests hold the
 * executor the item is queued on:
 *  - passive case: the dispatcher pool runs with one thread (WDFX_POOL_THREADS=1), kept busy by a
 *    WDFWORKITEM that waits for the test; the interrupt's work item stays queued behind it;
 *  - DIRQL case: a second interrupt object's EvtInterruptDpc, queued from the ISR just before,
 *    occupies the DPC thread of the ISR's CPU; the internal DPC stays queued behind it (one FIFO
 *    per CPU, as a KDPC queue).
 *
 * Built twice: KMDF (the default) and UMDF 2 (tests named umdf2_*).
 */
#include <stdlib.h>

#include "wdf_test_edu.h"

typedef enum { ActionQueueTwice, ActionHoldDpcThenQueueTwice, ActionQueueThenMarkDpc } ISR_ACTION;

static ISR_ACTION g_Action;
static WDFINTERRUPT g_Interrupt, g_Second;
static atomic_int g_IsrCalls, g_IsrIrql = -1;
static atomic_int g_First = -1, g_Second_ = -1, g_Third = -1; /* the ISR's return values */
static atomic_int g_WorkItemCalls, g_WorkItemIrql = -1, g_RequeueResult = -1;
static atomic_int g_RequeueInCallback;
static WDFOBJECT g_AssociatedObject;
static atomic_int g_DpcHeld, g_ReleaseDpc, g_MarkDpcRan;

static BOOLEAN EvtIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)MessageID;
    if (EduTakeInterruptStatus() == 0) return FALSE;
    atomic_store(&g_IsrIrql, KeGetCurrentIrql());
    int n = atomic_fetch_add(&g_IsrCalls, 1);
    switch (g_Action) {
        case ActionQueueTwice:
            if (n == 0) {
                atomic_store(&g_First, WdfInterruptQueueWorkItemForIsr(Interrupt));
                atomic_store(&g_Second_, WdfInterruptQueueWorkItemForIsr(Interrupt));
                atomic_store(&g_Third, WdfInterruptQueueWorkItemForIsr(Interrupt));
            }
            break;
        case ActionHoldDpcThenQueueTwice:
            /* The other object's DPC first: it occupies this CPU's DPC thread. */
            WdfInterruptQueueDpcForIsr(g_Second);
            atomic_store(&g_First, WdfInterruptQueueWorkItemForIsr(Interrupt));
            atomic_store(&g_Second_, WdfInterruptQueueWorkItemForIsr(Interrupt));
            break;
        case ActionQueueThenMarkDpc:
            /* The other object's DPC after the internal one: when it runs, the internal DPC has
             * run (same CPU, FIFO). */
            atomic_store(n == 0 ? &g_First : &g_Second_, WdfInterruptQueueWorkItemForIsr(Interrupt));
            WdfInterruptQueueDpcForIsr(g_Second);
            break;
    }
    return TRUE;
}

static VOID EvtWorkItem(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    atomic_store(&g_WorkItemIrql, KeGetCurrentIrql());
    g_AssociatedObject = AssociatedObject;
    int n = atomic_fetch_add(&g_WorkItemCalls, 1);
    if (n == 0 && atomic_load(&g_RequeueInCallback))
        atomic_store(&g_RequeueResult, WdfInterruptQueueWorkItemForIsr(Interrupt));
}

static VOID EvtSecondDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)Interrupt;
    (void)AssociatedObject;
    if (g_Action == ActionQueueThenMarkDpc) {
        atomic_fetch_add(&g_MarkDpcRan, 1);
        return;
    }
    /* DISPATCH_LEVEL must not block: spin (bounded) until the test lets this CPU's DPCs go on. */
    atomic_store(&g_DpcHeld, 1);
    SPIN_UNTIL(atomic_load(&g_ReleaseDpc), 60LL * 1000 * 1000 * 1000);
}
static BOOLEAN EvtSecondIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)Interrupt;
    (void)MessageID;
    return FALSE; /* never connected: edu has one vector, and it went to the first object */
}

static BOOLEAN g_Passive;
static NTSTATUS CreateInterrupts(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsr, NULL);
    config.EvtInterruptWorkItem = EvtWorkItem;
    if (g_Passive) config.PassiveHandling = TRUE;
    NTSTATUS status = WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Interrupt);
    if (!NT_SUCCESS(status)) return status;
    if (!g_Passive) {
        WDF_INTERRUPT_CONFIG_INIT(&config, EvtSecondIsr, EvtSecondDpc);
        status = WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Second);
    }
    return status;
}

static void Start(BOOLEAN Passive) {
    g_Passive = Passive;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateInterrupts;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
}

/* ---- holding the dispatcher pool -------------------------------------------------------------- */
static atomic_int g_PoolHeld, g_ReleasePool;
static WDFWORKITEM g_Blocker;
static VOID EvtBlockerWorkItem(WDFWORKITEM WorkItem) {
    (void)WorkItem;
    atomic_store(&g_PoolHeld, 1);
    WAIT_UNTIL(atomic_load(&g_ReleasePool)); /* PASSIVE: waiting is allowed */
}
/* Before WdfTestStart: the pool gets one thread (read when the runtime starts). */
static void OnePoolThread(void) {
    setenv("WDFX_POOL_THREADS", "1", 1);
    setenv("WDFX_POOL_MAX", "1", 1); /* no growth while the test holds the worker on purpose */
}
static void HoldPool(void) {
    WDF_WORKITEM_CONFIG config;
    WDF_WORKITEM_CONFIG_INIT(&config, EvtBlockerWorkItem);
    config.AutomaticSerialization = FALSE;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = g_Device;
    REQUIRE(NT_SUCCESS(WdfWorkItemCreate(&config, &attributes, &g_Blocker)));
    WdfWorkItemEnqueue(g_Blocker);
    WAIT_UNTIL(atomic_load(&g_PoolHeld));
}
static void ReleasePool(void) {
    atomic_store(&g_ReleasePool, 1);
}
/* Every deferred run has finished: removing the device flushes them (§8.2, §8.6). */
static void RemoveDevice(void) {
    WdfxRemoveDevice(g_Device);
    g_Device = NULL;
}

static void PassiveTrueThenFalse(void) {
    OnePoolThread();
    Start(TRUE);
    HoldPool();
    g_Action = ActionQueueTwice;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_Third) != -1);
    CHECK_EQ_U(atomic_load(&g_IsrIrql), PASSIVE_LEVEL);
    CHECK_EQ_U(atomic_load(&g_First), TRUE);
    CHECK_EQ_U(atomic_load(&g_Second_), FALSE);
    CHECK_EQ_U(atomic_load(&g_Third), FALSE);
    CHECK_EQ_U(atomic_load(&g_WorkItemCalls), 0);
    ReleasePool();
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 1);
    RemoveDevice();
    CHECK_EQ_U(atomic_load(&g_WorkItemCalls), 1);
}

#ifndef WDFX_UMDF2

/* page: "The WdfInterruptQueueWorkItemForIsr method queues a framework interrupt object's
 * EvtInterruptWorkItem callback function for execution." / Remarks: "Drivers typically call
 * WdfInterruptQueueWorkItemForIsr from within an EvtInterruptIsr callback function." The work item
 * runs at PASSIVE_LEVEL with the device as AssociatedObject (source §6, §5 "Parent"). */
WDF_TEST(queues_work_item) {
    Start(FALSE);
    g_Action = ActionQueueTwice;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 1);
    CHECK(atomic_load(&g_IsrIrql) > DISPATCH_LEVEL);
    CHECK_EQ_U(atomic_load(&g_WorkItemIrql), PASSIVE_LEVEL);
    CHECK(g_AssociatedObject == (WDFOBJECT)g_Device);
}

/* page (Return Value): "If the driver's ISR is running at IRQL = PASSIVE_LEVEL,
 * WdfInterruptQueueWorkItemForIsr returns TRUE if it successfully queues the interrupt object's
 * EvtInterruptWorkItem callback function." */
WDF_TEST(passive_returns_true_when_queued) {
    Start(TRUE);
    g_Action = ActionQueueTwice;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 1 && atomic_load(&g_Third) != -1);
    CHECK_EQ_U(atomic_load(&g_IsrIrql), PASSIVE_LEVEL);
    CHECK_EQ_U(atomic_load(&g_First), TRUE);
}

/* page (Return Value): "The method returns FALSE if the callback function was previously queued
 * and has not executed." (PASSIVE_LEVEL ISR; the work item is held queued behind a busy pool.) */
WDF_TEST(passive_returns_false_when_pending) {
    PassiveTrueThenFalse();
}

/* page (Return Value): "If the driver's ISR is running at IRQL = DIRQL, the framework first queues
 * an internal DPC and then queues a work item from that DPC." While the DPC thread of the ISR's
 * CPU is occupied, the work item is not queued (so does not run); once it is free, it runs. */
WDF_TEST(dirql_queues_dpc_then_work_item) {
    Start(FALSE);
    g_Action = ActionHoldDpcThenQueueTwice;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcHeld) && atomic_load(&g_Second_) != -1);
    CHECK(atomic_load(&g_IsrIrql) > DISPATCH_LEVEL);
    /* A window in which a directly queued work item would run on the idle pool (not a sync). */
    wdf_test_deadline d;
    wdf_test_deadline_start(&d);
    while (atomic_load(&g_WorkItemCalls) == 0 && wdf_test_now_ns() - d.start_ns < 200000000LL)
        (void)wdf_test_poll(&d);
    CHECK_EQ_U(atomic_load(&g_WorkItemCalls), 0);
    atomic_store(&g_ReleaseDpc, 1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 1);
    CHECK_EQ_U(atomic_load(&g_WorkItemIrql), PASSIVE_LEVEL);
}

/* page (Return Value): "In this case, WdfInterruptQueueWorkItemForIsr returns TRUE if the framework
 * successfully queues the internal DPC." */
WDF_TEST(dirql_returns_true_when_dpc_queued) {
    Start(FALSE);
    g_Action = ActionHoldDpcThenQueueTwice;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_Second_) != -1);
    CHECK_EQ_U(atomic_load(&g_First), TRUE);
    atomic_store(&g_ReleaseDpc, 1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 1);
}

/* page (Return Value): "The method returns FALSE if the internal DPC was previously queued." */
WDF_TEST(dirql_returns_false_when_dpc_pending) {
    Start(FALSE);
    g_Action = ActionHoldDpcThenQueueTwice;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_Second_) != -1);
    CHECK_EQ_U(atomic_load(&g_First), TRUE);
    CHECK_EQ_U(atomic_load(&g_Second_), FALSE);
    atomic_store(&g_ReleaseDpc, 1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 1);
    RemoveDevice();
    CHECK_EQ_U(atomic_load(&g_WorkItemCalls), 1); /* both calls: one run */
}

/* source: §9.2 "Return from DIRQL: the result of KeInsertQueueDpc. The result of the work item's
 * TryToEnqueue, which happens later inside the DPC, is lost": with the work item still queued
 * (behind a busy pool) but the internal DPC done, the DIRQL ISR's call returns TRUE; the two
 * requests still make one run (page, Remarks: "queued only once before it executes"). */
WDF_TEST(dirql_work_item_result_lost) {
    OnePoolThread();
    Start(FALSE);
    HoldPool();
    g_Action = ActionQueueThenMarkDpc;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_MarkDpcRan) == 1); /* the internal DPC queued the work item */
    EduRaise(0x2);
    WAIT_UNTIL(atomic_load(&g_MarkDpcRan) == 2);
    CHECK_EQ_U(atomic_load(&g_First), TRUE);
    CHECK_EQ_U(atomic_load(&g_Second_), TRUE);
    CHECK_EQ_U(atomic_load(&g_WorkItemCalls), 0);
    ReleasePool();
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 1);
    RemoveDevice();
    CHECK_EQ_U(atomic_load(&g_WorkItemCalls), 1);
}

/* page (Remarks): "An interrupt object's EvtInterruptWorkItem callback function can be queued only
 * once before it executes. Therefore, if a call to WdfInterruptQueueWorkItemForIsr succeeds,
 * subsequent calls will not queue additional callbacks." (three calls, one run) */
WDF_TEST(queued_only_once_before_it_executes) {
    PassiveTrueThenFalse();
}

/* page (Remarks): "... can be queued only once before it executes": once it executes, it can be
 * queued again; source §9.3 "It is cleared when the item is dequeued, before the callback is
 * invoked", so a call from the callback itself returns TRUE and makes another run. */
WDF_TEST(queued_again_once_it_executes) {
    atomic_store(&g_RequeueInCallback, 1);
    Start(TRUE);
    g_Action = ActionQueueTwice;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) >= 2 && atomic_load(&g_RequeueResult) != -1);
    CHECK_EQ_U(atomic_load(&g_RequeueResult), TRUE);
}

/* source: §9.2 "At <= DISPATCH ... it queues the work item directly" (a driver thread at PASSIVE,
 * outside any ISR; the page's IRQL requirement is "<=DIRQL"). */
WDF_TEST(from_passive_thread_queues_directly) {
    Start(TRUE);
    CHECK_EQ_U(WdfInterruptQueueWorkItemForIsr(g_Interrupt), TRUE);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrCalls), 0);
}

static NTSTATUS CreateWithoutWorkItem(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtSecondIsr, EvtSecondDpc);
    return WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Interrupt);
}

/* page (Remarks): "A bug check occurs if drivers call WdfInterruptQueueWorkItemForIsr with an
 * interrupt object that does not specify an EvtInterruptWorkItem callback function." */
WDF_TEST_ABORT(no_work_item_callback_aborts) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithoutWorkItem;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    (void)WdfInterruptQueueWorkItemForIsr(g_Interrupt);
}

/* page (Remarks): the same bug check, with the verifier reporting: nothing is queued, FALSE. */
WDF_TEST(no_work_item_callback_report) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithoutWorkItem;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    BOOLEAN r = TRUE;
    CHECK_REPORTS(1, r = WdfInterruptQueueWorkItemForIsr(g_Interrupt));
    CHECK_EQ_U(r, FALSE);
}

/* page (Return Value): "A bug check occurs if the driver supplies an invalid object handle." */
WDF_TEST_ABORT(invalid_handle_aborts) {
    Start(FALSE);
    (void)WdfInterruptQueueWorkItemForIsr((WDFINTERRUPT)(void*)g_Device);
}

/* page (Return Value): the same, with the verifier reporting: FALSE, nothing queued. */
WDF_TEST(invalid_handle_report) {
    Start(FALSE);
    BOOLEAN r = TRUE;
    CHECK_REPORTS(1, r = WdfInterruptQueueWorkItemForIsr((WDFINTERRUPT)(void*)g_Device));
    CHECK_EQ_U(r, FALSE);
}

#else /* WDFX_UMDF2 */

/* page ("[Applies to KMDF and UMDF]", Return Value, PASSIVE_LEVEL case): a UMDF 2 ISR runs at
 * PASSIVE_LEVEL (source §1): TRUE when queued, FALSE while queued and not executed, one run. */
WDF_TEST(umdf2_passive_true_then_false_when_pending) {
    PassiveTrueThenFalse();
}

#endif /* WDFX_UMDF2 */
