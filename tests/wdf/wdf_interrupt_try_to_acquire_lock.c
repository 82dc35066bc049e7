/*
 * The reference page "WdfInterruptTryToAcquireLock function"
 * (../shared/seeds/WdfInterruptTryToAcquireLock.md), as executable statements; the source's details
 * from wdf-semantics.md §10.1-§10.4.
 *
 * The page's example (an EvtIoRead that tries the lock and falls back to a work item calling
 * WdfInterruptAcquireLock, on a sequential queue; a manual queue for any other dispatching) is
 * written below as a Windows driver author writes it, and driven with real read requests from a
 * client of the device (wdf_test_io.h).
 *
 * Built twice: KMDF (the default) and UMDF 2 (tests named umdf2_*).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wdf_test_edu.h"
#include "wdf_test_io.h"

/* ---- the driver of the page's example -------------------------------------------------------- */

typedef struct _DEVICE_CONTEXT {
    WDFINTERRUPT InterruptObject;
    WDFWORKITEM ReadWorkItem;
    WDFQUEUE ManualQueue; /* only with non-sequential dispatching */
} DEVICE_CONTEXT, *PDEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_CONTEXT, GetDeviceContext)

typedef struct _WORK_ITEM_CONTEXT {
    WDFREQUEST Request;
} WORK_ITEM_CONTEXT, *PWORK_ITEM_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(WORK_ITEM_CONTEXT, GetWorkItemContext)

typedef struct _INTERRUPT_CONTEXT {
    ULONG SavedStatus; /* what the ISR read from the device, under the interrupt lock */
    ULONG Interrupts;
} INTERRUPT_CONTEXT, *PINTERRUPT_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(INTERRUPT_CONTEXT, GetInterruptContext)

/* What the test observes of the driver. */
static atomic_int g_ReadsLockedInEvtIoRead, g_ReadsDeferred, g_ReadsInWorkItem;
static atomic_int g_Outstanding, g_MaxOutstanding, g_SlotOverwritten, g_WrongLevel;
static atomic_int g_IsrCalls, g_IsrSawLocked = -1, g_LockedByTest;
static BOOLEAN g_Parallel;

static VOID ReadFunctionLocked(WDFREQUEST Request, PDEVICE_CONTEXT devCtx) {
    /* Interrupt-related work, under the interrupt lock: hand out what the ISR saved. */
    PINTERRUPT_CONTEXT interruptCtx = GetInterruptContext(devCtx->InterruptObject);
    PULONG buffer;
    size_t length;
    NTSTATUS status =
        WdfRequestRetrieveOutputBuffer(Request, 2 * sizeof(ULONG), (PVOID*)&buffer, &length);
    if (NT_SUCCESS(status)) {
        buffer[0] = interruptCtx->SavedStatus;
        buffer[1] = interruptCtx->Interrupts;
        WdfRequestSetInformation(Request, 2 * sizeof(ULONG));
    }
    if (KeGetCurrentIrql() != PASSIVE_LEVEL) atomic_fetch_add(&g_WrongLevel, 1);
}

static VOID ReadFunctionFinish(WDFREQUEST Request) {
    /* Post-release work: complete the request. */
    atomic_fetch_sub(&g_Outstanding, 1);
    WdfRequestComplete(Request, STATUS_SUCCESS);
}

static VOID NoteOutstanding(void) {
    int n = atomic_fetch_add(&g_Outstanding, 1) + 1;
    int max = atomic_load(&g_MaxOutstanding);
    while (n > max && !atomic_compare_exchange_weak(&g_MaxOutstanding, &max, n)) {
    }
}

static EVT_WDF_IO_QUEUE_IO_READ EvtIoRead;
static VOID EvtIoRead(WDFQUEUE Queue, WDFREQUEST Request, size_t Length) {
    (void)Length;
    PDEVICE_CONTEXT devCtx = GetDeviceContext(WdfIoQueueGetDevice(Queue));
    NoteOutstanding();

    //
    // Do any pre-acquiring interrupt lock work here.
    //

    //
    // Check if we can acquire the lock.
    //
    if (WdfInterruptTryToAcquireLock(devCtx->InterruptObject)) {
        ReadFunctionLocked(Request, devCtx);
        WdfInterruptReleaseLock(devCtx->InterruptObject);
        //
        // Do any post-releasing interrupt lock work here.
        // For example: complete the request, and so on.
        //
        atomic_fetch_add(&g_ReadsLockedInEvtIoRead, 1);
        ReadFunctionFinish(Request);
    } else {
        if (!g_Parallel) {
            PWORK_ITEM_CONTEXT ctx = GetWorkItemContext(devCtx->ReadWorkItem);
            if (ctx->Request != NULL) atomic_fetch_add(&g_SlotOverwritten, 1);
            ctx->Request = Request;
        } else {
            //
            // The queue is not sequential: retain the request in an additional manual queue for
            // the work item.
            //
            NTSTATUS status = WdfRequestForwardToIoQueue(Request, devCtx->ManualQueue);
            if (!NT_SUCCESS(status)) {
                atomic_fetch_sub(&g_Outstanding, 1);
                WdfRequestComplete(Request, status);
                return;
            }
        }
        atomic_fetch_add(&g_ReadsDeferred, 1);
        WdfWorkItemEnqueue(devCtx->ReadWorkItem);
    }
}

static EVT_WDF_WORKITEM EvtReadWorkItem;
static VOID EvtReadWorkItem(WDFWORKITEM WorkItem) {
    PDEVICE_CONTEXT devCtx = GetDeviceContext(WdfWorkItemGetParentObject(WorkItem));
    for (;;) {
        WDFREQUEST request;
        if (!g_Parallel) {
            PWORK_ITEM_CONTEXT ctx = GetWorkItemContext(WorkItem);
            request = ctx->Request;
            ctx->Request = NULL;
            if (request == NULL) return;
        } else {
            //
            // The queue is not sequential: get the requests from the additional manual queue.
            //
            if (!NT_SUCCESS(WdfIoQueueRetrieveNextRequest(devCtx->ManualQueue, &request))) return;
        }
        WdfInterruptAcquireLock(devCtx->InterruptObject);
        ReadFunctionLocked(request, devCtx);
        WdfInterruptReleaseLock(devCtx->InterruptObject);
        //
        // Do any post-releasing interrupt lock work here.
        // For example: complete the request, and so on.
        //
        atomic_fetch_add(&g_ReadsInWorkItem, 1);
        ReadFunctionFinish(request);
    }
}

static EVT_WDF_INTERRUPT_ISR EvtInterruptIsr;
static BOOLEAN EvtInterruptIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)MessageID;
    ULONG status = EduTakeInterruptStatus();
    if (status == 0) return FALSE;
    PINTERRUPT_CONTEXT interruptCtx = GetInterruptContext(Interrupt);
    interruptCtx->SavedStatus |= status;
    interruptCtx->Interrupts++;
    atomic_store(&g_IsrSawLocked, atomic_load(&g_LockedByTest));
    atomic_fetch_add(&g_IsrCalls, 1);
    return TRUE;
}
static EVT_WDF_INTERRUPT_WORKITEM EvtInterruptWorkItem;
static VOID EvtInterruptWorkItem(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)Interrupt;
    (void)AssociatedObject;
}
static EVT_WDF_INTERRUPT_DPC EvtInterruptDpc;
static VOID EvtInterruptDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)Interrupt;
    (void)AssociatedObject;
}

static BOOLEAN g_Dirql;
static WDFWAITLOCK g_WaitLock;
static WDFSPINLOCK g_SpinLock;

static NTSTATUS ExampleDeviceAdd(WDFDEVICE Device) {
    PDEVICE_CONTEXT devCtx = GetDeviceContext(Device);
    NTSTATUS status;

    /* A passive-level interrupt whose lock is a wait lock the driver configures. */
    status = WdfWaitLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &g_WaitLock);
    if (!NT_SUCCESS(status)) return status;
    WDF_INTERRUPT_CONFIG interruptConfig;
    if (g_Dirql) {
        WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, EvtInterruptIsr, EvtInterruptDpc);
    } else {
        WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, EvtInterruptIsr, NULL);
        interruptConfig.EvtInterruptWorkItem = EvtInterruptWorkItem;
        interruptConfig.PassiveHandling = TRUE;
        interruptConfig.WaitLock = g_WaitLock;
    }
    WDF_OBJECT_ATTRIBUTES interruptAttributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&interruptAttributes, INTERRUPT_CONTEXT);
    status = WdfInterruptCreate(Device, &interruptConfig, &interruptAttributes,
                                &devCtx->InterruptObject);
    if (!NT_SUCCESS(status)) return status;

    /* The work item of the fallback: not automatically serialised, since it takes the interrupt
     * lock itself (EVT_WDF_INTERRUPT_WORKITEM remarks, wdf-semantics §6). */
    WDF_WORKITEM_CONFIG workItemConfig;
    WDF_WORKITEM_CONFIG_INIT(&workItemConfig, EvtReadWorkItem);
    workItemConfig.AutomaticSerialization = FALSE;
    WDF_OBJECT_ATTRIBUTES workItemAttributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&workItemAttributes, WORK_ITEM_CONTEXT);
    workItemAttributes.ParentObject = Device;
    status = WdfWorkItemCreate(&workItemConfig, &workItemAttributes, &devCtx->ReadWorkItem);
    if (!NT_SUCCESS(status)) return status;

    /* "In this example, the driver has specified sequential dispatching for the queue." */
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, g_Parallel ? WdfIoQueueDispatchParallel
                                                                    : WdfIoQueueDispatchSequential);
    queueConfig.EvtIoRead = EvtIoRead;
    WDFQUEUE queue;
    status = WdfIoQueueCreate(Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &queue);
    if (!NT_SUCCESS(status)) return status;
    if (g_Parallel) {
        WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchManual);
        status = WdfIoQueueCreate(Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES,
                                  &devCtx->ManualQueue);
        if (!NT_SUCCESS(status)) return status;
    }
    return WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &g_SpinLock);
}

static WDF_OBJECT_ATTRIBUTES g_DeviceAttributes;
static WDFINTERRUPT g_Interrupt;
static void Start(BOOLEAN Dirql, BOOLEAN Parallel) {
    g_Dirql = Dirql;
    g_Parallel = Parallel;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&g_DeviceAttributes, DEVICE_CONTEXT);
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAttributes = &g_DeviceAttributes;
    hooks.DeviceAdd = ExampleDeviceAdd;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    g_Interrupt = GetDeviceContext(g_Device)->InterruptObject;
}

/* The test thread holds the interrupt lock (as the ISR or another arbitrary thread would). */
static void TestAcquire(void) {
    WdfInterruptAcquireLock(g_Interrupt);
    atomic_store(&g_LockedByTest, 1);
}
static void TestRelease(void) {
    atomic_store(&g_LockedByTest, 0);
    WdfInterruptReleaseLock(g_Interrupt);
}

/* Another thread tries the lock once and reports what it got. */
static atomic_int g_OtherTry = -1, g_OtherWaitLock = -1;
static void* OtherThreadTries(void* arg) {
    (void)arg;
    BOOLEAN got = WdfInterruptTryToAcquireLock(g_Interrupt);
    if (got) WdfInterruptReleaseLock(g_Interrupt);
    LONGLONG zero = 0;
    NTSTATUS status = WdfWaitLockAcquire(g_WaitLock, &zero);
    if (status == STATUS_SUCCESS) WdfWaitLockRelease(g_WaitLock);
    atomic_store(&g_OtherWaitLock, status);
    atomic_store(&g_OtherTry, got);
    return NULL;
}
static int OtherThreadTry(void) {
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, OtherThreadTries, NULL) == 0);
    pthread_join(t, NULL);
    return atomic_load(&g_OtherTry);
}

/* page (Returns): "WdfInterruptTryToAcquireLock returns TRUE if it successfully acquires the
 * interrupt's lock." / "The WdfInterruptTryToAcquireLock method attempts to acquire an interrupt
 * object's passive lock." */
static void TrueWhenFree(void) {
    Start(FALSE, FALSE);
    CHECK_EQ_U(WdfInterruptTryToAcquireLock(g_Interrupt), TRUE);
    CHECK_EQ_U(OtherThreadTry(), FALSE); /* it is held now */
    WdfInterruptReleaseLock(g_Interrupt);
}

#ifndef WDFX_UMDF2

/* Another thread holds the lock until the test says so. */
static atomic_int g_HolderHas, g_HolderRelease;
static void* Holder(void* arg) {
    (void)arg;
    WdfInterruptAcquireLock(g_Interrupt);
    atomic_store(&g_HolderHas, 1);
    WAIT_UNTIL(atomic_load(&g_HolderRelease));
    WdfInterruptReleaseLock(g_Interrupt);
    return NULL;
}

/* page (Returns): "WdfInterruptTryToAcquireLock returns TRUE if it successfully acquires the
 * interrupt's lock." */
WDF_TEST(true_when_free) {
    TrueWhenFree();
}

/* page (Returns): "Otherwise, the method returns FALSE." (held by another thread) */
WDF_TEST(false_when_held_by_another_thread) {
    Start(FALSE, FALSE);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, Holder, NULL) == 0);
    WAIT_UNTIL(atomic_load(&g_HolderHas));
    CHECK_EQ_U(WdfInterruptTryToAcquireLock(g_Interrupt), FALSE);
    atomic_store(&g_HolderRelease, 1);
    pthread_join(t, NULL);
    CHECK_EQ_U(WdfInterruptTryToAcquireLock(g_Interrupt), TRUE);
    WdfInterruptReleaseLock(g_Interrupt);
}

/* page (Returns): "Otherwise, the method returns FALSE." source §10.3: "Returns FALSE if any thread
 * holds the lock, including the calling thread: with a zero timeout the non-recursion assert is
 * skipped, so the call just times out." (no verifier report) */
WDF_TEST(false_when_held_by_caller) {
    Start(FALSE, FALSE);
    TestAcquire();
    BOOLEAN r = TRUE;
    CHECK_REPORTS(0, r = WdfInterruptTryToAcquireLock(g_Interrupt));
    CHECK_EQ_U(r, FALSE);
    TestRelease();
}

/* page (Remarks): "WdfInterruptTryToAcquireLock attempts to acquire the lock and then returns
 * immediately, whether it has acquired the lock or not." (The holder releases only after this call
 * returned: a call that waited would never return; the hang guard would fail the test.) */
WDF_TEST(returns_immediately) {
    Start(FALSE, FALSE);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, Holder, NULL) == 0);
    WAIT_UNTIL(atomic_load(&g_HolderHas));
    long long t0 = wdf_test_now_ns();
    BOOLEAN r = WdfInterruptTryToAcquireLock(g_Interrupt);
    long long took = wdf_test_now_ns() - t0;
    atomic_store(&g_HolderRelease, 1);
    pthread_join(t, NULL);
    CHECK_EQ_U(r, FALSE);
    if (took > 5LL * 1000 * 1000 * 1000)
        wdf_test_fail(__FILE__, __LINE__, "the call took %lld ns", took);
}

/* page (Remarks): "Drivers that use passive-level interrupt handling call
 * WdfInterruptTryToAcquireLock to start a code sequence that executes at IRQL = PASSIVE_LEVEL while
 * holding the passive-level interrupt lock that the driver configured in the interrupt object's
 * WDF_INTERRUPT_CONFIG structure." (the configured WaitLock is held; the ISR waits) */
WDF_TEST(holds_configured_lock_at_passive) {
    Start(FALSE, FALSE);
    REQUIRE(WdfInterruptTryToAcquireLock(g_Interrupt));
    atomic_store(&g_LockedByTest, 1);
    CHECK_EQ_U(KeGetCurrentIrql(), PASSIVE_LEVEL);
    (void)OtherThreadTry();
    CHECK_STATUS(atomic_load(&g_OtherWaitLock), STATUS_TIMEOUT);
    EduRaise(0x1);
    SPIN_UNTIL(atomic_load(&g_IsrCalls) != 0, 200000000LL);
    TestRelease();
    WAIT_UNTIL(atomic_load(&g_IsrCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrSawLocked), 0);
}

/* page (Remarks): "When the driver calls WdfInterruptReleaseLock, the framework releases the
 * interrupt lock." */
WDF_TEST(release_releases) {
    Start(FALSE, FALSE);
    REQUIRE(WdfInterruptTryToAcquireLock(g_Interrupt));
    WdfInterruptReleaseLock(g_Interrupt);
    CHECK_EQ_U(OtherThreadTry(), TRUE);
    CHECK_STATUS(atomic_load(&g_OtherWaitLock), STATUS_SUCCESS);
    CHECK_EQ_U(WdfInterruptTryToAcquireLock(g_Interrupt), TRUE);
    WdfInterruptReleaseLock(g_Interrupt);
}

/* page (Remarks): "Drivers that use passive-level interrupt handling call ..." source §10.3: "DIRQL
 * mode: ASSERTMSG, return FALSE" — the passive lock exists only for passive-level interrupts. */
WDF_TEST(dirql_interrupt_returns_false) {
    Start(TRUE, FALSE);
    CHECK_EQ_U(WdfInterruptTryToAcquireLock(g_Interrupt), FALSE);
    /* the DIRQL lock is free all the same */
    WdfInterruptAcquireLock(g_Interrupt);
    WdfInterruptReleaseLock(g_Interrupt);
}

/* page (Requirements): IRQL "PASSIVE_LEVEL". source §10.3: "IRQL above PASSIVE -> return FALSE"
 * with a verifier break (DISPATCH_LEVEL here: holding a WDFSPINLOCK). */
WDF_TEST(above_passive_report) {
    Start(FALSE, FALSE);
    WdfSpinLockAcquire(g_SpinLock);
    BOOLEAN r = TRUE;
    CHECK_REPORTS(1, r = WdfInterruptTryToAcquireLock(g_Interrupt));
    WdfSpinLockRelease(g_SpinLock);
    CHECK_EQ_U(r, FALSE);
    CHECK_EQ_U(OtherThreadTry(), TRUE); /* nothing was taken */
}

/* page (Requirements): the same with the verifier aborting. */
WDF_TEST_ABORT(above_passive_aborts) {
    Start(FALSE, FALSE);
    WdfSpinLockAcquire(g_SpinLock);
    (void)WdfInterruptTryToAcquireLock(g_Interrupt);
}

/* source §17: "Invalid or wrong-type handle to any DDI: bug check WDF_VIOLATION". */
WDF_TEST_ABORT(invalid_handle_aborts) {
    Start(FALSE, FALSE);
    (void)WdfInterruptTryToAcquireLock((WDFINTERRUPT)(void*)g_Device);
}

/* ---- the deadlock it avoids ------------------------------------------------------------------- */

typedef enum { NestedTry, NestedAcquire } NESTED_KIND;
static NESTED_KIND g_NestedKind;
static atomic_int g_NestedTry = -1, g_NestedWorkItemGotLock, g_NestedDone;
static WDFWORKITEM g_NestedWorkItem;
static VOID EvtNestedWorkItem(WDFWORKITEM WorkItem) {
    (void)WorkItem;
    WdfInterruptAcquireLock(g_Interrupt); /* "a non-arbitrary thread, such as a work item" */
    atomic_store(&g_NestedWorkItemGotLock, 1);
    WdfInterruptReleaseLock(g_Interrupt);
}
/* An "I/O dispatch callback" that runs nested on the thread of the passive ISR, as in the SPB
 * scenario (wdf-semantics §10.4: the bus completes a request in the ISR's thread and the
 * completion sends a request back to the driver). */
static VOID ArbitraryThreadWork(void) {
    if (g_NestedKind == NestedTry) {
        BOOLEAN got = WdfInterruptTryToAcquireLock(g_Interrupt);
        atomic_store(&g_NestedTry, got);
        if (got)
            WdfInterruptReleaseLock(g_Interrupt);
        else
            WdfWorkItemEnqueue(g_NestedWorkItem);
    } else {
        WdfInterruptAcquireLock(g_Interrupt); /* the mistake */
    }
    atomic_store(&g_NestedDone, 1);
}
static BOOLEAN EvtNestingIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)Interrupt;
    (void)MessageID;
    if (EduTakeInterruptStatus() == 0) return FALSE;
    ArbitraryThreadWork();
    return TRUE;
}
static NTSTATUS NestingDeviceAdd(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtNestingIsr, NULL);
    config.EvtInterruptWorkItem = EvtInterruptWorkItem;
    config.PassiveHandling = TRUE;
    NTSTATUS status = WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Interrupt);
    if (!NT_SUCCESS(status)) return status;
    WDF_WORKITEM_CONFIG workItemConfig;
    WDF_WORKITEM_CONFIG_INIT(&workItemConfig, EvtNestedWorkItem);
    workItemConfig.AutomaticSerialization = FALSE;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = Device;
    return WdfWorkItemCreate(&workItemConfig, &attributes, &g_NestedWorkItem);
}
static void StartNesting(NESTED_KIND Kind) {
    g_NestedKind = Kind;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = NestingDeviceAdd;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
}

/* page (Remarks): "For passive-level interrupt objects, drivers must call
 * WdfInterruptTryToAcquireLock instead of WdfInterruptAcquireLock, when running in an arbitrary
 * thread, such as a queue object callback function. ... Doing so avoids the possibility of
 * deadlock" / "When running in a non-arbitrary thread, such as a work item, the driver should use
 * WdfInterruptAcquireLock." (nested on the ISR's thread: FALSE, the work item gets the lock) */
WDF_TEST(arbitrary_thread_try_avoids_deadlock) {
    StartNesting(NestedTry);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_NestedWorkItemGotLock));
    CHECK_EQ_U(atomic_load(&g_NestedTry), FALSE);
}

/* page (Remarks): "... Doing so avoids the possibility of deadlock, as described in the Remarks
 * section of WdfInterruptAcquireLock." source §10.1: the acquire nested on the lock's owner
 * "self-deadlocks"; wdfx knows the owner and makes it a verifier report (no lock taken, no hang). */
WDF_TEST(arbitrary_thread_acquire_report_not_deadlock) {
    StartNesting(NestedAcquire);
    ULONG64 before = WdfxGetVerifierReportCount();
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_NestedDone));
    CHECK_EQ_U(WdfxGetVerifierReportCount() - before, 1);
}

#endif /* !WDFX_UMDF2 */

/* ---- the page's example ---------------------------------------------------------------------- */

static WDF_TEST_FILE g_File;
static void OpenDevice(void) {
    g_File = WdfTestOpen(g_Device);
    REQUIRE(g_File != NULL);
}
static void CloseDevice(void) {
    WdfTestClose(g_File);
    g_File = NULL;
}
/* The device interrupts once with `status`, so a read has something to return. */
static void DeviceInterrupts(ULONG status) {
    int n = atomic_load(&g_IsrCalls);
    EduRaise(status);
    WAIT_UNTIL(atomic_load(&g_IsrCalls) == n + 1);
}
static void CheckRead(ULONG64 Tag, ULONG ExpectedStatus) {
    NTSTATUS status = 0;
    ULONG64 information = 0;
    ULONG data[2] = {0, 0};
    WAIT_UNTIL(WdfTestCompleted(g_File, Tag, &status, &information, data, sizeof data));
    CHECK_STATUS(status, STATUS_SUCCESS);
    CHECK_EQ_U(information, sizeof data);
    CHECK_EQ_U(data[0], ExpectedStatus);
    CHECK_EQ_U(data[1], atomic_load(&g_IsrCalls));
}

/* page (Remarks): "The following code example shows how an EvtIoRead callback function, running in
 * an arbitrary context, might call WdfInterruptTryToAcquireLock before performing
 * interrupt-related work." (the lock is free: the work is done in EvtIoRead, at PASSIVE_LEVEL) */
static void ExampleReadUnderLockInEvtIoRead(void) {
    Start(FALSE, FALSE);
    DeviceInterrupts(0x21);
    OpenDevice();
    WdfTestSubmitRead(g_File, 8, 1);
    CheckRead(1, 0x21);
    CHECK_EQ_U(atomic_load(&g_ReadsLockedInEvtIoRead), 1);
    CHECK_EQ_U(atomic_load(&g_ReadsDeferred), 0);
    CHECK_EQ_U(atomic_load(&g_WrongLevel), 0);
    CloseDevice();
}

/* page (Remarks): "If the method returns FALSE, the driver queues a work item to perform the work
 * in a non-arbitrary thread. The driver also supplies an EvtWorkItem callback function that calls
 * WdfInterruptAcquireLock before it performs the work." (the test thread holds the lock while the
 * read arrives; the work item waits for it) */
static void ExampleFallsBackToWorkItem(void) {
    Start(FALSE, FALSE);
    DeviceInterrupts(0x5);
    OpenDevice();
    TestAcquire();
    WdfTestSubmitRead(g_File, 8, 7);
    WAIT_UNTIL(atomic_load(&g_ReadsDeferred) == 1);
    CHECK(!WdfTestCompleted(g_File, 7, NULL, NULL, NULL, 0));
    TestRelease();
    CheckRead(7, 0x5);
    CHECK_EQ_U(atomic_load(&g_ReadsInWorkItem), 1);
    CHECK_EQ_U(atomic_load(&g_ReadsLockedInEvtIoRead), 0);
    CHECK_EQ_U(atomic_load(&g_WrongLevel), 0);
    CloseDevice();
}

#ifndef WDFX_UMDF2

/* page (Remarks): "The following code example shows how an EvtIoRead callback function, running
 * in an arbitrary context, might call WdfInterruptTryToAcquireLock before performing
 * interrupt-related work." */
WDF_TEST(example_read_under_lock_in_evtioread) {
    ExampleReadUnderLockInEvtIoRead();
}

/* page (Remarks): "If the method returns FALSE, the driver queues a work item to perform the work
 * in a non-arbitrary thread. The driver also supplies an EvtWorkItem callback function that calls
 * WdfInterruptAcquireLock before it performs the work." */
WDF_TEST(example_falls_back_to_work_item) {
    ExampleFallsBackToWorkItem();
}

/* page (Remarks): "In this example, the driver has specified sequential dispatching for the
 * queue." (one work-item slot suffices: the next read is presented only once the deferred one has
 * completed; both complete, in order) */
WDF_TEST(example_sequential_queue) {
    Start(FALSE, FALSE);
    DeviceInterrupts(0x3);
    OpenDevice();
    TestAcquire();
    WdfTestSubmitRead(g_File, 8, 1);
    WdfTestSubmitRead(g_File, 8, 2);
    WAIT_UNTIL(atomic_load(&g_ReadsDeferred) == 1);
    TestRelease();
    CheckRead(1, 0x3);
    CheckRead(2, 0x3);
    CHECK_EQ_U(atomic_load(&g_MaxOutstanding), 1);
    CHECK_EQ_U(atomic_load(&g_SlotOverwritten), 0);
    CloseDevice();
}

/* page (Remarks): "If the driver specified any other dispatching method for the queue, the driver
 * should use an additional manual queue to retain requests for processing in the work item."
 * (a parallel queue presents all three reads while the lock is held; each is forwarded to the
 * manual queue, and the work item drains it with WdfIoQueueRetrieveNextRequest) */
WDF_TEST(example_other_dispatching_uses_manual_queue) {
    /* Queue presentation and work items share the dispatcher pool: while the test holds the lock,
     * up to three work-item runs wait in WdfInterruptAcquireLock, and three reads must still be
     * presented. (On Windows they are presented in the requesting threads.) */
    setenv("WDFX_POOL_THREADS", "8", 1);
    Start(FALSE, TRUE);
    DeviceInterrupts(0x9);
    OpenDevice();
    TestAcquire();
    for (ULONG64 tag = 1; tag <= 3; ++tag)
        WdfTestSubmitRead(g_File, 8, tag);
    WAIT_UNTIL(atomic_load(&g_ReadsDeferred) == 3);
    CHECK_EQ_U(atomic_load(&g_MaxOutstanding), 3);
    TestRelease();
    for (ULONG64 tag = 1; tag <= 3; ++tag)
        CheckRead(tag, 0x9);
    CHECK_EQ_U(atomic_load(&g_ReadsInWorkItem), 3);
    CloseDevice();
}

#else /* WDFX_UMDF2 */

/* page ("[Applies to KMDF and UMDF]", Returns): TRUE when free, FALSE when held (UMDF 2). */
WDF_TEST(umdf2_true_when_free) {
    TrueWhenFree();
}

/* page (Remarks, the example) in a UMDF 2 driver: lock free, the work is done in EvtIoRead. */
WDF_TEST(umdf2_example_read_under_lock_in_evtioread) {
    ExampleReadUnderLockInEvtIoRead();
}

/* page (Remarks, the example) in a UMDF 2 driver: lock held, the work item does it. */
WDF_TEST(umdf2_example_falls_back_to_work_item) {
    ExampleFallsBackToWorkItem();
}

#endif /* WDFX_UMDF2 */
