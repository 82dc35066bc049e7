/*
 * EvtDeviceD0Exit through <wdfx/wdf.h>: when it is called, in which order and with which
 * TargetState (wdf-semantics §8.3, §18.3, §21 rules 4 and 5), for a KMDF driver that registers
 * the whole power-up/power-down set with WdfDeviceInitSetPnpPowerEventCallbacks.
 *
 * Every callback appends one letter to a log, so the order is checked exactly:
 *   E EvtDeviceD0Entry   e EvtInterruptEnable   P EvtDeviceD0EntryPostInterruptsEnabled
 *   p EvtDeviceD0ExitPreInterruptsDisabled   d EvtInterruptDisable   X EvtDeviceD0Exit
 *   R EvtDeviceReleaseHardware
 */
#include <string.h>

/* The device is never made to interrupt here: EduRaise stays unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "wdf_test_edu.h"
#pragma GCC diagnostic pop

static char g_Log[64];
static atomic_int g_LogLength;
static void Log(char c) {
    int i = atomic_fetch_add(&g_LogLength, 1);
    if (i < (int)sizeof g_Log - 1) g_Log[i] = c;
}
#define CHECK_LOG(expected)                                                                      \
    do {                                                                                         \
        if (strcmp(g_Log, (expected)) != 0)                                                      \
            wdf_test_fail(__FILE__, __LINE__, "callbacks ran as \"%s\", expected \"%s\"", g_Log, \
                          (expected));                                                           \
    } while (0)

static atomic_int g_D0ExitCalls, g_D0ExitTarget = -1, g_D0ExitIrql = -1, g_D0EntryPrevious = -1;
static atomic_int g_PreDisabledTarget = -1;
static NTSTATUS g_InterruptEnableStatus = STATUS_SUCCESS;
static NTSTATUS g_PostEnabledStatus = STATUS_SUCCESS;
static int g_ReplaceCallbacks;

static NTSTATUS EvtD0Entry(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState) {
    (void)Device;
    atomic_store(&g_D0EntryPrevious, PreviousState);
    Log('E');
    return STATUS_SUCCESS;
}
static NTSTATUS EvtD0EntryPostInterruptsEnabled(WDFDEVICE Device,
                                                WDF_POWER_DEVICE_STATE PreviousState) {
    (void)Device;
    (void)PreviousState;
    Log('P');
    return g_PostEnabledStatus;
}
static NTSTATUS EvtD0ExitPreInterruptsDisabled(WDFDEVICE Device,
                                               WDF_POWER_DEVICE_STATE TargetState) {
    (void)Device;
    atomic_store(&g_PreDisabledTarget, TargetState);
    Log('p');
    return STATUS_SUCCESS;
}
static NTSTATUS EvtD0Exit(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState) {
    (void)Device;
    atomic_store(&g_D0ExitTarget, TargetState);
    atomic_store(&g_D0ExitIrql, KeGetCurrentIrql());
    atomic_fetch_add(&g_D0ExitCalls, 1);
    Log('X');
    return STATUS_SUCCESS;
}
static NTSTATUS EvtReleaseHardware(WDFDEVICE Device, WDFCMRESLIST ResourcesTranslated) {
    Log('R');
    return TestEvtDeviceReleaseHardware(Device, ResourcesTranslated);
}

static VOID InitDevice(PWDFDEVICE_INIT DeviceInit) {
    WDF_PNPPOWER_EVENT_CALLBACKS callbacks;
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&callbacks);
    callbacks.EvtDevicePrepareHardware = TestEvtDevicePrepareHardware; /* maps BAR0 */
    callbacks.EvtDeviceReleaseHardware = EvtReleaseHardware;
    callbacks.EvtDeviceD0Entry = EvtD0Entry;
    callbacks.EvtDeviceD0EntryPostInterruptsEnabled = EvtD0EntryPostInterruptsEnabled;
    callbacks.EvtDeviceD0ExitPreInterruptsDisabled = EvtD0ExitPreInterruptsDisabled;
    callbacks.EvtDeviceD0Exit = EvtD0Exit;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &callbacks);
    if (g_ReplaceCallbacks) {
        /* A second call replaces the whole set (the structure is copied): only these remain. */
        WDF_PNPPOWER_EVENT_CALLBACKS fewer;
        WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&fewer);
        fewer.EvtDevicePrepareHardware = TestEvtDevicePrepareHardware;
        fewer.EvtDeviceReleaseHardware = EvtReleaseHardware;
        fewer.EvtDeviceD0Entry = EvtD0Entry;
        WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &fewer);
    }
}

static BOOLEAN EvtIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)Interrupt;
    (void)MessageID;
    return EduTakeInterruptStatus() != 0;
}
static NTSTATUS EvtInterruptEnable(WDFINTERRUPT Interrupt, WDFDEVICE Device) {
    (void)Interrupt;
    (void)Device;
    Log('e');
    return g_InterruptEnableStatus;
}
static NTSTATUS EvtInterruptDisable(WDFINTERRUPT Interrupt, WDFDEVICE Device) {
    (void)Interrupt;
    (void)Device;
    Log('d');
    return STATUS_SUCCESS;
}
static NTSTATUS DeviceAdd(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsr, NULL);
    config.EvtInterruptEnable = EvtInterruptEnable;
    config.EvtInterruptDisable = EvtInterruptDisable;
    WDFINTERRUPT interrupt;
    return WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &interrupt);
}

static NTSTATUS Start(void) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.InitDevice = InitDevice;
    hooks.DeviceAdd = DeviceAdd;
    return WdfTestStart(&hooks);
}

/* §8.3 power-down steps 5-7 (and §18.3's table, §21 rule 5), final power-down for removal
 * ("D3Final: ForceDisconnect"): EvtDeviceD0ExitPreInterruptsDisabled, then EvtInterruptDisable,
 * then EvtDeviceD0Exit with TargetState WdfPowerDeviceD3Final, at PASSIVE (PnP and power
 * callbacks, §1, §18.3), once, before EvtDeviceReleaseHardware. The first D0 entry after the start
 * comes from WdfPowerDeviceD3Final. */
WDF_TEST(d0_exit_on_removal_gets_d3_final_after_interrupts_are_disabled) {
    REQUIRE_STATUS(Start(), STATUS_SUCCESS);
    CHECK_LOG("EeP");
    CHECK_EQ_U(atomic_load(&g_D0EntryPrevious), WdfPowerDeviceD3Final);
    CHECK_EQ_U(atomic_load(&g_D0ExitCalls), 0);
    WdfxRemoveDevice(g_Device);
    CHECK_LOG("EePpdXR");
    CHECK_EQ_U(atomic_load(&g_D0ExitCalls), 1);
    CHECK_EQ_U(atomic_load(&g_D0ExitTarget), WdfPowerDeviceD3Final);
    CHECK_EQ_U(atomic_load(&g_PreDisabledTarget), WdfPowerDeviceD3Final);
    CHECK_EQ_U(atomic_load(&g_D0ExitIrql), PASSIVE_LEVEL);
}

/* §8.3 Failure paths, §21 rule 4: "If ... EvtDeviceD0EntryPostInterruptsEnabled fails,
 * PowerConnectInterruptFailed runs: NotifyResourceObjectsDx(ForceDisconnect) (the enabled
 * interrupts get EvtInterruptDisable), then EvtDeviceD0Exit(WdfPowerDeviceD3Final). The device then
 * fails." A failed start still releases the hardware it prepared (§8.3 "PnP start and stop":
 * Dx(D3Final) -> EvtDeviceReleaseHardware). */
WDF_TEST(d0_exit_after_a_failed_post_interrupts_enabled_gets_d3_final) {
    g_PostEnabledStatus = STATUS_UNSUCCESSFUL;
    CHECK(!NT_SUCCESS(Start()));
    CHECK_LOG("EePdXR");
    CHECK_EQ_U(atomic_load(&g_D0ExitCalls), 1);
    CHECK_EQ_U(atomic_load(&g_D0ExitTarget), WdfPowerDeviceD3Final);
}

/* §8.3 Failure paths, §21 rules 4 and 5: "If Connect fails" (EvtInterruptEnable failing is part of
 * it, §8.1) the same teardown runs and ends in EvtDeviceD0Exit(WdfPowerDeviceD3Final); the
 * interrupt whose Enable never succeeded gets no EvtInterruptDisable; then the release of the
 * hardware. */
WDF_TEST(d0_exit_after_a_failed_interrupt_enable_gets_d3_final) {
    g_InterruptEnableStatus = STATUS_UNSUCCESSFUL;
    CHECK(!NT_SUCCESS(Start()));
    CHECK_LOG("EeXR");
    CHECK_EQ_U(atomic_load(&g_D0ExitCalls), 1);
    CHECK_EQ_U(atomic_load(&g_D0ExitTarget), WdfPowerDeviceD3Final);
}

/* WdfDeviceInitSetPnpPowerEventCallbacks copies the driver's WDF_PNPPOWER_EVENT_CALLBACKS into
 * the WDFDEVICE_INIT: a second call replaces the first set whole, so a callback the second
 * structure leaves NULL (EvtDeviceD0EntryPostInterruptsEnabled, the D0 exit pair) is not called. */
WDF_TEST(a_second_set_of_pnp_power_callbacks_replaces_the_first) {
    g_ReplaceCallbacks = 1;
    REQUIRE_STATUS(Start(), STATUS_SUCCESS);
    CHECK_LOG("Ee");
    WdfxRemoveDevice(g_Device);
    CHECK_LOG("EedR");
    CHECK_EQ_U(atomic_load(&g_D0ExitCalls), 0);
}
