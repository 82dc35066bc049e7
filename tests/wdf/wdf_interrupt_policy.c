/*
 * Interrupt policy and active state through <wdfx/wdf.h>: WdfInterruptSetPolicy,
 * WdfInterruptSetExtendedPolicy (wdf-semantics §13, §20, §21 rule 15) and
 * WdfInterruptReportActive / WdfInterruptReportInactive (§12, §21 rule 14), called as a KMDF
 * driver calls them (UMDF 2 build: tests named umdf2_*).
 *
 * Policy is only a request, applied when resources are assigned (§13 "When it takes effect"): the
 * driver sets it in EvtDriverDeviceAdd and reads the outcome back with WdfInterruptGetInfo after
 * the start. wdfx applies it to the vector's ISR thread (docs/wdf-substitutes.md): the target
 * processor is the CPU the thread is pinned to (the ISR records where it ran), the priority is
 * reported as WDF_INTERRUPT_INFO.Irql 5, 6 or 7 for Low, Normal or High (docs/porting-from-wdf.md;
 * 6 without a policy). The policy CPU is the last one this process may use, so that a policy that
 * was ignored (machine default: the first CPU for the first device) shows on any machine with two
 * CPUs or more; the priority checks hold on one CPU too.
 *
 * The tests run with WDFX_VERIFIER=report: a rejected call is counted and returns.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "wdf_test_edu.h"

#define IRQL_LOW 5
#define IRQL_NORMAL 6
#define IRQL_HIGH 7

static WDFINTERRUPT g_Interrupt;
static atomic_int g_IsrCalls, g_IsrCpu = -1;
static atomic_int g_EnableCalls, g_DisableCalls, g_SyncCalls;
static ULONG64 g_ReportsInDeviceAdd;
static int g_FirstCpu = -1, g_LastCpu = -1;

static BOOLEAN EvtIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)Interrupt;
    (void)MessageID;
    if (EduTakeInterruptStatus() == 0) return FALSE;
    atomic_store(&g_IsrCpu, sched_getcpu());
    atomic_fetch_add(&g_IsrCalls, 1);
    return TRUE;
}
static NTSTATUS EvtEnable(WDFINTERRUPT Interrupt, WDFDEVICE Device) {
    (void)Interrupt;
    (void)Device;
    atomic_fetch_add(&g_EnableCalls, 1);
    return STATUS_SUCCESS;
}
static NTSTATUS EvtDisable(WDFINTERRUPT Interrupt, WDFDEVICE Device) {
    (void)Interrupt;
    (void)Device;
    atomic_fetch_add(&g_DisableCalls, 1);
    return STATUS_SUCCESS;
}
WDF_TEST_MAYBE_UNUSED static BOOLEAN EvtSynchronize(WDFINTERRUPT Interrupt, WDFCONTEXT Context) {
    (void)Interrupt;
    (void)Context;
    atomic_fetch_add(&g_SyncCalls, 1);
    return TRUE;
}

static void FindCpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
    for (int i = 0; i < 64; ++i) {
        if (!CPU_ISSET(i, &set)) continue;
        if (g_FirstCpu < 0) g_FirstCpu = i;
        g_LastCpu = i;
    }
    REQUIRE(g_LastCpu >= 0);
}
static KAFFINITY Cpu(int c) {
    return (KAFFINITY)1 << c;
}

/* What each test does in EvtDriverDeviceAdd once the interrupt exists. */
static VOID (*g_SetPolicy)(WDFINTERRUPT Interrupt);

static NTSTATUS DeviceAdd(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsr, NULL);
    config.EvtInterruptEnable = EvtEnable;
    config.EvtInterruptDisable = EvtDisable;
    NTSTATUS status = WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_Interrupt);
    if (!NT_SUCCESS(status)) return status;
    ULONG64 before = WdfxGetVerifierReportCount();
    if (g_SetPolicy != NULL) g_SetPolicy(g_Interrupt);
    g_ReportsInDeviceAdd = WdfxGetVerifierReportCount() - before;
    return STATUS_SUCCESS;
}

static void Start(VOID (*SetPolicy)(WDFINTERRUPT)) {
    FindCpus();
    g_SetPolicy = SetPolicy;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = DeviceAdd;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
}

static WDF_INTERRUPT_INFO Info(void) {
    WDF_INTERRUPT_INFO info;
    WDF_INTERRUPT_INFO_INIT(&info);
    WdfInterruptGetInfo(g_Interrupt, &info);
    return info;
}

/* The device interrupts once; returns the CPU its ISR ran on. */
static int RaiseAndWait(void) {
    int calls = atomic_load(&g_IsrCalls);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_IsrCalls) > calls);
    return atomic_load(&g_IsrCpu);
}

/* ---- WdfInterruptSetPolicy ---------------------------------------------------------------------
 */

static VOID SetHighOnLastCpu(WDFINTERRUPT Interrupt) {
    WdfInterruptSetPolicy(Interrupt, WdfIrqPolicySpecifiedProcessors, WdfIrqPriorityHigh,
                          Cpu(g_LastCpu));
}

/* §12: before the interrupt is connected (EvtDriverDeviceAdd). */
static VOID ReportBeforeConnect(WDFINTERRUPT Interrupt) {
    WdfInterruptReportInactive(Interrupt);
    WdfInterruptReportActive(Interrupt);
}

#ifndef WDFX_UMDF2

/* §13 "When it takes effect": set in EvtDriverDeviceAdd, before resources are requested, the
 * policy is what WdfInterruptGetInfo reports after the start (TargetProcessorSet, and the priority
 * as the interrupt's Irql), and where the ISR runs (§21 rule 15). */
WDF_TEST(set_policy_in_device_add_takes_effect_at_start) {
    Start(SetHighOnLastCpu);
    CHECK_EQ_U(g_ReportsInDeviceAdd, 0);
    WDF_INTERRUPT_INFO info = Info();
    CHECK_EQ_U(info.TargetProcessorSet, Cpu(g_LastCpu));
    CHECK_EQ_U(info.Irql, IRQL_HIGH);
    CHECK_EQ_U(info.Group, 0);
    CHECK_EQ_U(RaiseAndWait(), g_LastCpu);
}

/* Without a policy the interrupt gets the machine default: Normal priority (§13; wdfx: Irql 6).
 * The reference point of the priority checks. */
WDF_TEST(without_policy_the_priority_is_normal) {
    Start(NULL);
    CHECK_EQ_U(Info().Irql, IRQL_NORMAL);
    CHECK(Info().TargetProcessorSet != 0);
    RaiseAndWait();
}

static VOID SetLowThenInvalid(WDFINTERRUPT Interrupt) {
    WdfInterruptSetPolicy(Interrupt, WdfIrqPolicySpecifiedProcessors, WdfIrqPriorityLow,
                          Cpu(g_LastCpu));
    /* Each of these is rejected (a verifier break and a return) and changes nothing. */
    WdfInterruptSetPolicy(Interrupt, WdfIrqPolicySpecifiedProcessors, WdfIrqPriorityUndefined,
                          Cpu(g_FirstCpu));
    WdfInterruptSetPolicy(Interrupt, (WDF_INTERRUPT_POLICY)42, WdfIrqPriorityHigh, Cpu(g_FirstCpu));
    WdfInterruptSetPolicy(Interrupt, WdfIrqPolicySpecifiedProcessors, (WDF_INTERRUPT_PRIORITY)9,
                          Cpu(g_FirstCpu));
}

/* §13 Validation, §21 rule 15: "Out-of-range values, including Priority = Undefined, make the call
 * a no-op": each is a verifier report and the earlier, valid policy stands. */
WDF_TEST(priority_undefined_or_out_of_range_is_a_no_op) {
    Start(SetLowThenInvalid);
    CHECK_EQ_U(g_ReportsInDeviceAdd, 3);
    WDF_INTERRUPT_INFO info = Info();
    CHECK_EQ_U(info.Irql, IRQL_LOW);
    CHECK_EQ_U(info.TargetProcessorSet, Cpu(g_LastCpu));
    CHECK_EQ_U(RaiseAndWait(), g_LastCpu);
}

/* ---- WdfInterruptSetExtendedPolicy -------------------------------------------------------------
 */

static VOID SetExtendedHighThenInvalid(WDFINTERRUPT Interrupt) {
    WDF_INTERRUPT_EXTENDED_POLICY policy;
    WDF_INTERRUPT_EXTENDED_POLICY_INIT(&policy);
    policy.Policy = WdfIrqPolicySpecifiedProcessors;
    policy.Priority = WdfIrqPriorityHigh;
    policy.TargetProcessorSetAndGroup.Mask = Cpu(g_LastCpu);
    policy.TargetProcessorSetAndGroup.Group = 0;
    WdfInterruptSetExtendedPolicy(Interrupt, &policy);

    /* §20: WDF_INTERRUPT_EXTENDED_POLICY_INIT leaves Priority Undefined, which is rejected. */
    WDF_INTERRUPT_EXTENDED_POLICY bad;
    WDF_INTERRUPT_EXTENDED_POLICY_INIT(&bad);
    bad.Policy = WdfIrqPolicySpecifiedProcessors;
    bad.TargetProcessorSetAndGroup.Mask = Cpu(g_FirstCpu);
    WdfInterruptSetExtendedPolicy(Interrupt, &bad);
    /* §13: Size != sizeof(WDF_INTERRUPT_EXTENDED_POLICY). */
    bad.Priority = WdfIrqPriorityLow;
    bad.Size = sizeof(WDF_INTERRUPT_EXTENDED_POLICY) - sizeof(ULONG);
    WdfInterruptSetExtendedPolicy(Interrupt, &bad);
    /* §13: non-zero GROUP_AFFINITY.Reserved[0..2], each of them. */
    for (int i = 0; i < 3; ++i) {
        WDF_INTERRUPT_EXTENDED_POLICY_INIT(&bad);
        bad.Policy = WdfIrqPolicySpecifiedProcessors;
        bad.Priority = WdfIrqPriorityLow;
        bad.TargetProcessorSetAndGroup.Mask = Cpu(g_FirstCpu);
        bad.TargetProcessorSetAndGroup.Reserved[i] = 1;
        WdfInterruptSetExtendedPolicy(Interrupt, &bad);
    }
}

/* §13: SetExtendedPolicy takes the policy, priority and GROUP_AFFINITY (one group here) and takes
 * effect at start as SetPolicy does; each invalid structure (Priority left Undefined by _INIT, a
 * wrong Size, non-zero Reserved[0], [1] or [2]) is a verifier break and a no-op. */
WDF_TEST(extended_policy_takes_effect_and_bad_structures_are_no_ops) {
    Start(SetExtendedHighThenInvalid);
    CHECK_EQ_U(g_ReportsInDeviceAdd, 5);
    WDF_INTERRUPT_INFO info = Info();
    CHECK_EQ_U(info.Irql, IRQL_HIGH);
    CHECK_EQ_U(info.TargetProcessorSet, Cpu(g_LastCpu));
    CHECK_EQ_U(info.Group, 0);
    CHECK_EQ_U(RaiseAndWait(), g_LastCpu);
}

/* ---- WdfInterruptReportActive / ReportInactive --------------------------------------------------
 */

/* §12: "When called by the driver ... !m_Connected ... gives a verifier break and a return"
 * (EvtDriverDeviceAdd: not connected yet). Once connected: idempotent through m_Active (repeated
 * calls return, no report); the interrupt "stays connected" (rule 14: AcquireLock and Synchronize
 * of a DIRQL interrupt need it connected, and make no report); "it does not call
 * EvtInterruptEnable/Disable"; after ReportActive the device's interrupts reach the ISR. */
WDF_TEST(report_active_inactive_need_connection_are_idempotent_and_keep_it_connected) {
    Start(ReportBeforeConnect);
    CHECK_EQ_U(g_ReportsInDeviceAdd, 2);
    CHECK_EQ_U(atomic_load(&g_EnableCalls), 1);

    CHECK_REPORTS(0, WdfInterruptReportInactive(g_Interrupt));
    CHECK_REPORTS(0, WdfInterruptReportInactive(g_Interrupt)); /* already inactive */
    CHECK_REPORTS(0, WdfInterruptAcquireLock(g_Interrupt));
    WdfInterruptReleaseLock(g_Interrupt);
    BOOLEAN synced = FALSE;
    CHECK_REPORTS(0, synced = WdfInterruptSynchronize(g_Interrupt, EvtSynchronize, NULL));
    CHECK_EQ_U(synced, TRUE);
    CHECK_EQ_U(atomic_load(&g_SyncCalls), 1);

    CHECK_REPORTS(0, WdfInterruptReportActive(g_Interrupt));
    CHECK_REPORTS(0, WdfInterruptReportActive(g_Interrupt)); /* already active */
    RaiseAndWait();
    CHECK_EQ_U(atomic_load(&g_EnableCalls), 1);
    CHECK_EQ_U(atomic_load(&g_DisableCalls), 0);
    /* The device's removal disables the interrupt once: its real disconnect (§8.3). */
    WdfxRemoveDevice(g_Device);
    CHECK_EQ_U(atomic_load(&g_DisableCalls), 1);
}

#else /* WDFX_UMDF2 */

/* §13 (UMDF: "also sends SetInterruptPolicy to the reflector"): the policy set in
 * EvtDriverDeviceAdd is applied at start in UMDF 2 too. Its interrupts are passive-level (§14.2),
 * so GetInfo's Irql is PASSIVE_LEVEL whatever the priority. */
WDF_TEST(umdf2_set_policy_in_device_add_takes_effect_at_start) {
    Start(SetHighOnLastCpu);
    CHECK_EQ_U(g_ReportsInDeviceAdd, 0);
    WDF_INTERRUPT_INFO info = Info();
    CHECK_EQ_U(info.TargetProcessorSet, Cpu(g_LastCpu));
    CHECK_EQ_U(info.Irql, PASSIVE_LEVEL);
    CHECK_EQ_U(RaiseAndWait(), g_LastCpu);
}

/* §12 (title): ReportActive/ReportInactive are "KM only; no-ops in UMDF": no verifier report even
 * before the interrupt is connected, and an "inactive" interrupt still reaches its ISR. */
WDF_TEST(umdf2_report_active_inactive_are_no_ops) {
    Start(ReportBeforeConnect);
    CHECK_EQ_U(g_ReportsInDeviceAdd, 0);
    CHECK_REPORTS(0, WdfInterruptReportInactive(g_Interrupt));
    RaiseAndWait();
    CHECK_REPORTS(0, WdfInterruptReportActive(g_Interrupt));
    RaiseAndWait();
    CHECK_EQ_U(atomic_load(&g_EnableCalls), 1);
    CHECK_EQ_U(atomic_load(&g_DisableCalls), 0);
}

#endif /* WDFX_UMDF2 */
