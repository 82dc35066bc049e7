/*
 * tests/wdf/wdf_test_edu.h: one WDF driver with one device on the sim bus's model of QEMU's edu
 * device, written the way a Windows driver author writes it, for the page tests. Compiled into
 * each test program (static functions), so a program built with WDFX_UMDF2 gets a UMDF 2 driver.
 *
 * The test fills a WDF_TEST_HOOKS and calls WdfTestStart(): DriverEntry-style WdfDriverCreate,
 * then WdfxAddSimEduDevice, which runs EvtDriverDeviceAdd (WdfDeviceCreate, then the test's
 * DeviceAdd hook), EvtDevicePrepareHardware (BAR0 mapped with WdfDeviceMapIoSpace, then the
 * test's hook), EvtDeviceD0Entry and the interrupts' connection. The device is removed and the
 * driver unloaded when the test ends.
 *
 * The edu registers (QEMU docs/specs/edu.rst): writing 0x60 raises an interrupt whose status is the
 * value written, 0x24 reads the status, 0x64 acknowledges it. With MSI (the sim edu's default) each
 * write of 0x60 is one message; edu has one vector.
 */
#ifndef WDFX_TESTS_WDF_TEST_EDU_H
#define WDFX_TESTS_WDF_TEST_EDU_H

#include <stdatomic.h>
#include <wdfx/wdf.h>

#include "wdf_test.h"

#define EDU_REG_ID 0x00
#define EDU_REG_FACTORIAL 0x08
#define EDU_REG_STATUS 0x20
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64

typedef struct WDF_TEST_HOOKS {
    /* Before WdfDeviceCreate (WdfDeviceInitSetPowerNotPageable ...). */
    VOID (*InitDevice)(PWDFDEVICE_INIT DeviceInit);
    /* WdfDeviceCreate's attributes (execution level, synchronization scope, context). */
    PWDF_OBJECT_ATTRIBUTES DeviceAttributes;
    /* In EvtDriverDeviceAdd after WdfDeviceCreate; its status is EvtDriverDeviceAdd's. */
    NTSTATUS (*DeviceAdd)(WDFDEVICE Device);
    /* In EvtDevicePrepareHardware, BAR0 mapped. */
    NTSTATUS (*PrepareHardware)(WDFDEVICE Device, WDFCMRESLIST Raw, WDFCMRESLIST Translated);
    PFN_WDF_DEVICE_D0_ENTRY D0Entry;
} WDF_TEST_HOOKS;

static WDF_TEST_HOOKS g_Hooks;
static WDFDRIVER g_Driver;
static WDFDEVICE g_Device;
static PUCHAR g_Bar0;
static atomic_int g_PrepareHardwareCalls;

static VOID EduWrite(ULONG Offset, ULONG Value) {
    WRITE_REGISTER_ULONG((PULONG)(g_Bar0 + Offset), Value);
}
static ULONG EduRead(ULONG Offset) {
    return READ_REGISTER_ULONG((PULONG)(g_Bar0 + Offset));
}
/* The device raises an interrupt with this status (one MSI message). */
static VOID EduRaise(ULONG Status) {
    EduWrite(EDU_REG_IRQ_RAISE, Status);
}
/* In an ISR: "is it mine?" Reads the status and acknowledges it; 0 when the device is quiet. */
static ULONG EduTakeInterruptStatus(void) {
    ULONG status = EduRead(EDU_REG_IRQ_STATUS);
    if (status == 0 || status == 0xffffffffu) return 0;
    EduWrite(EDU_REG_IRQ_ACK, status);
    return status;
}

static NTSTATUS TestEvtDevicePrepareHardware(WDFDEVICE Device, WDFCMRESLIST ResourcesRaw,
                                             WDFCMRESLIST ResourcesTranslated) {
    atomic_fetch_add(&g_PrepareHardwareCalls, 1);
    for (ULONG i = 0; i < WdfCmResourceListGetCount(ResourcesTranslated); ++i) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (d->Type == CmResourceTypeMemory && g_Bar0 == NULL) {
            PVOID base = NULL;
            NTSTATUS status = WdfDeviceMapIoSpace(Device, d->u.Memory.Start, d->u.Memory.Length,
                                                  MmNonCached, &base);
            if (!NT_SUCCESS(status)) return status;
            g_Bar0 = (PUCHAR)base;
        }
    }
    if (g_Bar0 == NULL) return STATUS_INSUFFICIENT_RESOURCES;
    if ((EduRead(EDU_REG_ID) & 0xff) != 0xed) return STATUS_NO_SUCH_DEVICE;
    if (g_Hooks.PrepareHardware != NULL)
        return g_Hooks.PrepareHardware(Device, ResourcesRaw, ResourcesTranslated);
    return STATUS_SUCCESS;
}

static NTSTATUS TestEvtDeviceReleaseHardware(WDFDEVICE Device, WDFCMRESLIST ResourcesTranslated) {
    (void)Device;
    (void)ResourcesTranslated;
    g_Bar0 = NULL;
    return STATUS_SUCCESS;
}

static NTSTATUS TestEvtDriverDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit) {
    (void)Driver;
    WDF_PNPPOWER_EVENT_CALLBACKS pnpPowerCallbacks;
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnpPowerCallbacks);
    pnpPowerCallbacks.EvtDevicePrepareHardware = TestEvtDevicePrepareHardware;
    pnpPowerCallbacks.EvtDeviceReleaseHardware = TestEvtDeviceReleaseHardware;
    pnpPowerCallbacks.EvtDeviceD0Entry = g_Hooks.D0Entry;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnpPowerCallbacks);
    if (g_Hooks.InitDevice != NULL) g_Hooks.InitDevice(DeviceInit);
    WDFDEVICE device;
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, g_Hooks.DeviceAttributes, &device);
    if (!NT_SUCCESS(status)) return status;
    g_Device = device;
    if (g_Hooks.DeviceAdd != NULL) return g_Hooks.DeviceAdd(device);
    return STATUS_SUCCESS;
}

static void WdfTestEnd(void) {
    if (g_Driver != NULL) {
        if (g_Device != NULL) WdfxRemoveDevice(g_Device);
        WdfxUnloadDriver(g_Driver);
    }
}

/* Create the driver (the flavour of the including program) and add + start one sim edu device.
 * Returns the status of adding and starting it (EvtDriverDeviceAdd's failure, for instance). */
static NTSTATUS WdfTestStart(const WDF_TEST_HOOKS* Hooks) {
    if (Hooks != NULL) g_Hooks = *Hooks;
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, TestEvtDriverDeviceAdd);
    NTSTATUS status = WdfDriverCreate(NULL, NULL, WDF_NO_OBJECT_ATTRIBUTES, &config, &g_Driver);
    REQUIRE(NT_SUCCESS(status));
    wdf_test_at_end(WdfTestEnd);
    WDFDEVICE device = NULL;
    status = WdfxAddSimEduDevice(g_Driver, FALSE, &device);
    if (NT_SUCCESS(status)) REQUIRE(device == g_Device);
    return status;
}

/* Counts verifier reports made while evaluating `stmt` (the tests run with WDFX_VERIFIER=report:
 * a misuse is logged and the API returns an error or does nothing, as WDF with its verifier's
 * break-on-error off). */
#define CHECK_REPORTS(n, stmt)                                                               \
    do {                                                                                     \
        ULONG64 before_ = WdfxGetVerifierReportCount();                                      \
        stmt;                                                                                \
        ULONG64 made_ = WdfxGetVerifierReportCount() - before_;                              \
        if (made_ != (ULONG64)(n))                                                           \
            wdf_test_fail(__FILE__, __LINE__, "%s made %llu verifier report(s), expected %d", \
                          #stmt, (unsigned long long)made_, (int)(n));                       \
    } while (0)

#endif /* WDFX_TESTS_WDF_TEST_EDU_H */
