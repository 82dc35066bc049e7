/*
 * The reference page "WdfInterruptSynchronize function"
 * (../shared/seeds/WdfInterruptSynchronize.md), as executable statements; the source's details
 * from wdf-semantics.md §10.1, §10.5.
 *
 * "While holding the interrupt's lock" is observed two ways: another thread's attempt to take the
 * same lock (WdfInterruptTryToAcquireLock / WdfWaitLockAcquire with a zero timeout return at once:
 * exact), and the device's interrupt raised inside the callback, whose ISR must not start before
 * the callback returns (the callback keeps a window open, bounded, and the ISR records what it saw).
 *
 * Built twice: KMDF (the default) and UMDF 2 (tests named umdf2_*).
 */
#include <pthread.h>

#include "wdf_test_edu.h"

static WDFINTERRUPT g_Interrupt;
static WDFWAITLOCK g_WaitLock;
static WDFSPINLOCK g_SpinLock;
static atomic_int g_IsrCalls, g_IsrSawInside = -1, g_Inside;
static atomic_int g_CallbackCalls, g_CallbackIrql = -1, g_Finished;
static WDFINTERRUPT g_CallbackInterrupt;
static WDFCONTEXT g_CallbackContext;

static BOOLEAN EvtIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)Interrupt;
    (void)MessageID;
    if (EduTakeInterruptStatus() == 0) return FALSE;
    atomic_store(&g_IsrSawInside, atomic_load(&g_Inside));
    atomic_fetch_add(&g_IsrCalls, 1);
    return TRUE;
}
static BOOLEAN EvtSynchronize(WDFINTERRUPT Interrupt, WDFCONTEXT Context);
static atomic_int g_DpcIrql = -1, g_DpcSyncResult = -1;
static VOID EvtDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)AssociatedObject;
    atomic_store(&g_DpcIrql, KeGetCurrentIrql());
    atomic_store(&g_DpcSyncResult, WdfInterruptSynchronize(Interrupt, EvtSynchronize, NULL));
}
static VOID EvtWorkItem(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)Interrupt;
    (void)AssociatedObject;
}

static BOOLEAN g_Passive;
static NTSTATUS CreateInterrupt(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    if (g_Passive) {
        NTSTATUS status = WdfWaitLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &g_WaitLock);
        if (!NT_SUCCESS(status)) return status;
        WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsr, NULL);
        config.EvtInterruptWorkItem = EvtWorkItem;
        config.PassiveHandling = TRUE;
        config.WaitLock = g_WaitLock; /* the lock "that the driver configured" */
    } else {
        WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsr, EvtDpc);
    }
    NTSTATUS status = WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Interrupt);
    if (!NT_SUCCESS(status)) return status;
    return WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &g_SpinLock);
}
static void Start(BOOLEAN Passive) {
    g_Passive = Passive;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateInterrupt;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
}

/* Another thread tries the interrupt's lock (and the configured wait lock) without waiting. */
static atomic_int g_OtherTry = -1, g_OtherWaitLock = -1;
static void* TryFromOtherThread(void* arg) {
    (void)arg;
    BOOLEAN got = WdfInterruptTryToAcquireLock(g_Interrupt);
    if (got) WdfInterruptReleaseLock(g_Interrupt);
    atomic_store(&g_OtherTry, got);
    if (g_WaitLock != NULL) {
        LONGLONG zero = 0;
        NTSTATUS status = WdfWaitLockAcquire(g_WaitLock, &zero);
        if (status == STATUS_SUCCESS) WdfWaitLockRelease(g_WaitLock);
        atomic_store(&g_OtherWaitLock, status);
    }
    return NULL;
}
static void TryLockFromOtherThread(void) {
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, TryFromOtherThread, NULL) == 0);
    pthread_join(t, NULL);
}

/* Another thread takes the lock and waits for it (DIRQL: WdfInterruptAcquireLock). */
static atomic_int g_OtherAcquired;
static void* AcquireFromOtherThread(void* arg) {
    (void)arg;
    WdfInterruptAcquireLock(g_Interrupt);
    atomic_store(&g_OtherAcquired, 1);
    WdfInterruptReleaseLock(g_Interrupt);
    return NULL;
}

typedef enum {
    CbRecord,
    CbRaiseAndWatch,
    CbOtherThreadTries,
    CbOtherThreadWaits,
    CbNested
} CALLBACK_ACTION;
static CALLBACK_ACTION g_CbAction;
static BOOLEAN g_CbReturn;
static pthread_t g_Waiter;
static atomic_int g_NestedResult = -1, g_NestedCalls;

static BOOLEAN EvtNestedSynchronize(WDFINTERRUPT Interrupt, WDFCONTEXT Context) {
    (void)Interrupt;
    (void)Context;
    atomic_fetch_add(&g_NestedCalls, 1);
    return TRUE;
}
static BOOLEAN EvtSynchronize(WDFINTERRUPT Interrupt, WDFCONTEXT Context) {
    atomic_store(&g_CallbackIrql, KeGetCurrentIrql());
    g_CallbackInterrupt = Interrupt;
    g_CallbackContext = Context;
    atomic_fetch_add(&g_CallbackCalls, 1);
    switch (g_CbAction) {
        case CbRecord:
            break;
        case CbRaiseAndWatch:
            /* The device interrupts now; its ISR must wait for this callback to return. */
            atomic_store(&g_Inside, 1);
            EduRaise(0x1);
            SPIN_UNTIL(atomic_load(&g_IsrCalls) != 0, 200000000LL);
            atomic_store(&g_Inside, 0);
            break;
        case CbOtherThreadTries:
            TryLockFromOtherThread();
            break;
        case CbOtherThreadWaits:
            REQUIRE(pthread_create(&g_Waiter, NULL, AcquireFromOtherThread, NULL) == 0);
            SPIN_UNTIL(atomic_load(&g_OtherAcquired) != 0, 200000000LL);
            atomic_store(&g_Inside, atomic_load(&g_OtherAcquired));
            break;
        case CbNested:
            atomic_store(&g_NestedResult,
                         WdfInterruptSynchronize(Interrupt, EvtNestedSynchronize, NULL));
            break;
    }
    atomic_store(&g_Finished, 1);
    return g_CbReturn;
}

#ifndef WDFX_UMDF2

/* page: "The WdfInterruptSynchronize method executes a specified callback function at the device's
 * DIRQL while holding an interrupt object's spin lock." (the level: above DISPATCH_LEVEL) */
WDF_TEST(dirql_runs_at_dirql) {
    Start(FALSE);
    g_CbAction = CbRecord;
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL);
    CHECK_EQ_U(atomic_load(&g_CallbackCalls), 1);
    CHECK(atomic_load(&g_CallbackIrql) > DISPATCH_LEVEL);
    CHECK_EQ_U(KeGetCurrentIrql(), PASSIVE_LEVEL); /* restored on return */
}

/* page: "... while holding an interrupt object's spin lock." Another thread's
 * WdfInterruptAcquireLock waits until the callback has returned. */
WDF_TEST(dirql_holds_interrupt_spin_lock) {
    Start(FALSE);
    g_CbAction = CbOtherThreadWaits;
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL);
    CHECK_EQ_U(atomic_load(&g_Inside), 0); /* not acquired while the callback ran */
    pthread_join(g_Waiter, NULL);
    CHECK_EQ_U(atomic_load(&g_OtherAcquired), 1);
}

/* page (Remarks): "If you want your driver to execute code that must run without being preempted
 * and with servicing of device interrupts effectively disabled, you should place that code in an
 * EvtInterruptSynchronize callback function." (the ISR of an interrupt raised inside runs after) */
WDF_TEST(device_interrupt_serviced_after_callback) {
    Start(FALSE);
    g_CbAction = CbRaiseAndWatch;
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL);
    WAIT_UNTIL(atomic_load(&g_IsrCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrSawInside), 0);
}
static BOOLEAN EvtIsrQueueDpc(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)MessageID;
    if (EduTakeInterruptStatus() == 0) return FALSE;
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}
static NTSTATUS CreateInterruptWithDpc(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    return WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Interrupt);
}

/* page (Requirements): IRQL "<=DISPATCH_LEVEL" (a DIRQL interrupt object, from its DPC). */
WDF_TEST(callable_at_dispatch_level) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateInterruptWithDpc;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    g_CbAction = CbRecord;
    g_CbReturn = TRUE;
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcSyncResult) != -1);
    CHECK_EQ_U(atomic_load(&g_DpcIrql), DISPATCH_LEVEL);
    CHECK_EQ_U(atomic_load(&g_DpcSyncResult), TRUE);
    CHECK(atomic_load(&g_CallbackIrql) > DISPATCH_LEVEL);
}
#endif /* !WDFX_UMDF2 */

static void PassiveRunsUnderLock(void) {
    Start(TRUE);
    g_CbAction = CbOtherThreadTries;
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL);
    CHECK_EQ_U(atomic_load(&g_CallbackCalls), 1);
    CHECK_EQ_U(atomic_load(&g_CallbackIrql), PASSIVE_LEVEL);
    CHECK_EQ_U(atomic_load(&g_OtherTry), FALSE);
    CHECK_STATUS(atomic_load(&g_OtherWaitLock), STATUS_TIMEOUT);
    /* and the ISR waits for it */
    atomic_store(&g_CallbackCalls, 0);
    g_CbAction = CbRaiseAndWatch;
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL);
    WAIT_UNTIL(atomic_load(&g_IsrCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrSawInside), 0);
    /* free again afterwards */
    TryLockFromOtherThread();
    CHECK_EQ_U(atomic_load(&g_OtherTry), TRUE);
}

static void ReturnsCallbackValue(BOOLEAN Passive) {
    Start(Passive);
    g_CbAction = CbRecord;
    g_CbReturn = TRUE;
    CHECK_EQ_U(WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL), TRUE);
    g_CbReturn = FALSE;
    CHECK_EQ_U(WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL), FALSE);
    CHECK_EQ_U(atomic_load(&g_CallbackCalls), 2);
}

#ifndef WDFX_UMDF2

/* page: "For passive level interrupt objects, this method executes a specified callback function
 * at passive level while holding an interrupt object's passive-level interrupt lock." (another
 * thread can take neither the interrupt's lock nor the WaitLock configured for it; the ISR waits) */
WDF_TEST(passive_runs_at_passive_under_lock) {
    PassiveRunsUnderLock();
}

/* page (Returns): "WdfInterruptSynchronize returns the Boolean status value that the
 * EvtInterruptSynchronize callback function returns." (DIRQL) */
WDF_TEST(returns_callback_value) {
    ReturnsCallbackValue(FALSE);
}

/* page (Returns): the same for a passive-level interrupt object. */
WDF_TEST(returns_callback_value_passive) {
    ReturnsCallbackValue(TRUE);
}

/* page (Parameters): Interrupt "A handle to a framework interrupt object." / Context "An untyped
 * pointer to driver-supplied information that the framework passes to the EvtInterruptSynchronize
 * callback function." */
WDF_TEST(passes_interrupt_and_context) {
    static int driverInformation;
    Start(FALSE);
    g_CbAction = CbRecord;
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, &driverInformation);
    CHECK(g_CallbackInterrupt == g_Interrupt);
    CHECK(g_CallbackContext == (WDFCONTEXT)&driverInformation);
}

/* page (Remarks): "The WdfInterruptSynchronize method returns after the EvtInterruptSynchronize
 * callback function has finished executing." */
WDF_TEST(returns_after_callback_finished) {
    Start(FALSE);
    g_CbAction = CbRaiseAndWatch; /* a callback that takes a while */
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL);
    CHECK_EQ_U(atomic_load(&g_Finished), 1);
}

static atomic_int g_LockedIrql = -1;
/* page (Remarks): "Instead of calling WdfInterruptSynchronize, your driver can call
 * WdfInterruptAcquireLock and WdfInterruptReleaseLock." (the same level, the same exclusion) */
WDF_TEST(acquire_release_lock_instead) {
    Start(FALSE);
    WdfInterruptAcquireLock(g_Interrupt);
    atomic_store(&g_LockedIrql, KeGetCurrentIrql());
    atomic_store(&g_Inside, 1);
    EduRaise(0x1);
    SPIN_UNTIL(atomic_load(&g_IsrCalls) != 0, 200000000LL);
    atomic_store(&g_Inside, 0);
    WdfInterruptReleaseLock(g_Interrupt);
    CHECK(atomic_load(&g_LockedIrql) > DISPATCH_LEVEL);
    CHECK_EQ_U(KeGetCurrentIrql(), PASSIVE_LEVEL);
    WAIT_UNTIL(atomic_load(&g_IsrCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrSawInside), 0);
}

/* page (Remarks): "For passive level interrupts, the driver must call WdfInterruptSynchronize at
 * IRQL = PASSIVE_LEVEL." source §10.5: above PASSIVE, a verifier break and FALSE, "callback not
 * run". (DISPATCH_LEVEL here: holding a WDFSPINLOCK.) */
WDF_TEST(passive_requires_passive_level_report) {
    Start(TRUE);
    g_CbReturn = TRUE;
    WdfSpinLockAcquire(g_SpinLock);
    CHECK_EQ_U(KeGetCurrentIrql(), DISPATCH_LEVEL);
    BOOLEAN r = TRUE;
    CHECK_REPORTS(1, r = WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL));
    WdfSpinLockRelease(g_SpinLock);
    CHECK_EQ_U(r, FALSE);
    CHECK_EQ_U(atomic_load(&g_CallbackCalls), 0);
}

/* page (Remarks): the same rule with the verifier aborting. */
WDF_TEST_ABORT(passive_requires_passive_level_aborts) {
    Start(TRUE);
    WdfSpinLockAcquire(g_SpinLock);
    (void)WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL);
}

/* page (Remarks): "Do not call WdfInterruptSynchronize from an arbitrary thread context, such as a
 * request handler." The hazard is a thread that already holds the lock (source §10.1: "Calling
 * WdfInterruptAcquireLock or WdfInterruptSynchronize from inside the ISR, EvtInterruptSynchronize
 * ... self-deadlocks"). wdfx knows the lock's owner: a verifier report and FALSE, not a deadlock. */
WDF_TEST(nested_call_report_not_deadlock) {
    Start(FALSE);
    g_CbAction = CbNested;
    g_CbReturn = TRUE;
    BOOLEAN r = FALSE;
    CHECK_REPORTS(1, r = WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL));
    CHECK_EQ_U(r, TRUE);
    CHECK_EQ_U(atomic_load(&g_NestedResult), FALSE);
    CHECK_EQ_U(atomic_load(&g_NestedCalls), 0);
}

/* page (Returns): "A bug check occurs if the driver supplies an invalid object handle." */
WDF_TEST_ABORT(invalid_handle_aborts) {
    Start(FALSE);
    (void)WdfInterruptSynchronize((WDFINTERRUPT)(void*)g_Device, EvtSynchronize, NULL);
}

/* page (Returns): the same with the verifier reporting: FALSE, the callback is not run. */
WDF_TEST(invalid_handle_report) {
    Start(FALSE);
    BOOLEAN r = TRUE;
    g_CbReturn = TRUE;
    CHECK_REPORTS(1, r = WdfInterruptSynchronize((WDFINTERRUPT)(void*)g_Device, EvtSynchronize,
                                                 NULL));
    CHECK_EQ_U(r, FALSE);
    CHECK_EQ_U(atomic_load(&g_CallbackCalls), 0);
}

/* source §10.5: "Callback == NULL -> bug check (FxPointerNotNull)". */
WDF_TEST_ABORT(null_callback_aborts) {
    Start(FALSE);
    (void)WdfInterruptSynchronize(g_Interrupt, NULL, NULL);
}

/* source §10.5 "KM: ASSERTMSG(kinterrupt != NULL), meaning it must be connected" (§21 rule 14):
 * a DIRQL interrupt that is not connected (after WdfInterruptDisable) is a verifier report, FALSE,
 * the callback not run. */
WDF_TEST(dirql_not_connected_report) {
    Start(FALSE);
    WdfInterruptDisable(g_Interrupt);
    g_CbReturn = TRUE;
    BOOLEAN r = TRUE;
    CHECK_REPORTS(1, r = WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL));
    CHECK_EQ_U(r, FALSE);
    CHECK_EQ_U(atomic_load(&g_CallbackCalls), 0);
    WdfInterruptEnable(g_Interrupt);
    CHECK_EQ_U(WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL), TRUE);
}

/* ---- the page's example, as written there -------------------------------------------------- */
static EVT_WDF_INTERRUPT_SYNCHRONIZE MyEvtInterruptSynchronize;
static BOOLEAN MyEvtInterruptSynchronize(WDFINTERRUPT Interrupt, WDFCONTEXT Context) {
    (void)Interrupt;
    *(ULONG*)Context = READ_REGISTER_ULONG((PULONG)(g_Bar0 + EDU_REG_ID));
    return TRUE;
}

/* page (Examples): "The following code example shows how to call WdfInterruptSynchronize to
 * schedule execution of an EvtInterruptSynchronize callback function." */
WDF_TEST(example) {
    Start(FALSE);
    WDFINTERRUPT WdfInterrupt = g_Interrupt;
    ULONG identification = 0;
    PVOID CallbackContext = &identification;

    BOOLEAN synchronizeReturnValue;

    synchronizeReturnValue =
        WdfInterruptSynchronize(WdfInterrupt, MyEvtInterruptSynchronize, CallbackContext);

    CHECK_EQ_U(synchronizeReturnValue, TRUE);
    CHECK_EQ_U(identification & 0xff, 0xed);
}

#else /* WDFX_UMDF2 */

/* page: "For passive level interrupt objects, this method executes a specified callback function
 * at passive level while holding an interrupt object's passive-level interrupt lock." (UMDF 2:
 * every interrupt object is a passive-level one) */
WDF_TEST(umdf2_passive_runs_at_passive_under_lock) {
    PassiveRunsUnderLock();
}

/* page (Returns): "returns the Boolean status value that the EvtInterruptSynchronize callback
 * function returns." source §10.5 "UMDF: ... it works even when not connected". */
WDF_TEST(umdf2_returns_callback_value_even_disconnected) {
    ReturnsCallbackValue(TRUE);
    WdfInterruptDisable(g_Interrupt);
    g_CbReturn = TRUE;
    BOOLEAN r = FALSE;
    CHECK_REPORTS(0, r = WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL));
    CHECK_EQ_U(r, TRUE);
    CHECK_EQ_U(atomic_load(&g_CallbackCalls), 3);
}

#endif /* WDFX_UMDF2 */
