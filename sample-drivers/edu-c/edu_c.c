/*
 * edu-c: a KMDF-style driver for QEMU's educational PCI device (vendor 1234, device 11e8), written
 * in C against <wdfx/wdf.h> the way a Windows driver author writes it (docs/porting-from-wdf.md).
 *
 *   DriverEntry                      WdfDriverCreate
 *   EduEvtDeviceAdd                  WdfDeviceCreate, WdfInterruptCreate (ISR + DPC)
 *   EduEvtDevicePrepareHardware      BAR0 mapped with WdfDeviceMapIoSpace, identification checked
 *   EduEvtInterruptEnable/Disable    the device's factorial interrupt on/off (DIRQL, under the lock)
 *   EduEvtDeviceSelfManagedIoInit    starts a self-test: a raised interrupt, then 1! .. 12!, each
 *                                    computed by the device and completed by its interrupt
 *   EduEvtInterruptIsr               DIRQL: "is it mine?", acknowledge, save the status, queue DPC
 *   EduEvtInterruptDpc               DISPATCH: take the saved status under the interrupt lock,
 *                                    check the result, start the next factorial; or complete the
 *                                    client's factorial request
 *   EduEvtIoDeviceControl            IOCTL_EDU_C_FACTORIAL (in: ULONG n, out: ULONG n!): starts
 *                                    the device; the DPC completes the request
 *   EduEvtIoRead                     8 bytes: the identification register and the number of
 *                                    interrupts claimed
 * The default queue is sequential: one request at a time. It is published as the device interface
 * "edu-c" (a Unix socket: `wdfx-io edu-c ioctl 0x222000 0a000000 --out 4` asks for 10!); the
 * environment variable EDU_C_INTERFACE names it otherwise.
 *
 * main() hands DriverEntry to WdfxRunDriver, which adds the devices named on the command line:
 *   edu-c --sim-edu                 the sim bus's model of edu (any machine)
 *   edu-c --vfio 0000:00:04.0       QEMU's edu bound to vfio-pci
 * With EDU_C_STOP_WHEN_DONE=1 in the environment the driver stops itself once the self-test is
 * over; the exit status is 0 only if it passed (tests and the HIL guest use this).
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wdfx/wdf.h>

/* QEMU docs/specs/edu.rst */
#define EDU_REG_ID 0x00
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_FACTORIAL 0x08
#define EDU_REG_STATUS 0x20
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_STATUS_COMPUTING 0x01
#define EDU_STATUS_IRQ_FACTORIAL 0x80
#define EDU_IRQ_FACTORIAL 0x00000001
#define EDU_IRQ_SELF_TEST 0x00010000 /* a value of our own for the raise register */
#define EDU_BAR0_LENGTH 0x100000
#define EDU_LAST_N 12 /* 13! does not fit in 32 bits */

/* The device interface's control code: in ULONG n (0..12), out ULONG n!. */
#define IOCTL_EDU_C_FACTORIAL CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DEVICE_CONTEXT {
    PUCHAR Bar0;
    WDFINTERRUPT Interrupt;
    /* The self-test, advanced by the DPC. Two runs of one DPC can overlap on two CPUs (the next
     * interrupt may come while the previous run is still printing), so its state takes a lock. */
    WDFSPINLOCK Lock;
    ULONG NextN;
    ULONG Completed;
    ULONG Errors;
    BOOLEAN RaisedSeen;
    BOOLEAN Done;
    /* the client's factorial request (the queue is sequential: one at a time), under Lock */
    WDFREQUEST Request;
    ULONG RequestN;
    BOOLEAN RequestStarted;
    BOOLEAN Computing; /* a factorial was started and its interrupt has not come yet */
} DEVICE_CONTEXT, *PDEVICE_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_CONTEXT, EduGetDeviceContext)

/* What the ISR saved for the DPC: guarded by the interrupt lock. */
typedef struct _INTERRUPT_CONTEXT {
    ULONG SavedStatus;
    ULONG IsrClaimed;
    KIRQL IsrIrql;
} INTERRUPT_CONTEXT, *PINTERRUPT_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(INTERRUPT_CONTEXT, EduGetInterruptContext)

DRIVER_INITIALIZE DriverEntry;
static EVT_WDF_DRIVER_DEVICE_ADD EduEvtDeviceAdd;
static EVT_WDF_DRIVER_UNLOAD EduEvtDriverUnload;
static EVT_WDF_DEVICE_PREPARE_HARDWARE EduEvtDevicePrepareHardware;
static EVT_WDF_DEVICE_RELEASE_HARDWARE EduEvtDeviceReleaseHardware;
static EVT_WDF_DEVICE_SELF_MANAGED_IO_INIT EduEvtDeviceSelfManagedIoInit;
static EVT_WDF_INTERRUPT_ISR EduEvtInterruptIsr;
static EVT_WDF_INTERRUPT_DPC EduEvtInterruptDpc;
static EVT_WDF_INTERRUPT_ENABLE EduEvtInterruptEnable;
static EVT_WDF_INTERRUPT_DISABLE EduEvtInterruptDisable;
static EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL EduEvtIoDeviceControl;
static EVT_WDF_IO_QUEUE_IO_READ EduEvtIoRead;
static EVT_WDF_REQUEST_CANCEL EduEvtRequestCancel;

static BOOLEAN g_StopWhenDone;
static volatile sig_atomic_t g_SelfTestPassed;

#define EduPrint(...)                 \
    do {                              \
        printf("edu-c: " __VA_ARGS__); \
        fflush(stdout);               \
    } while (0)

static ULONG EduRead(PDEVICE_CONTEXT DevCtx, ULONG Offset) {
    return READ_REGISTER_ULONG((PULONG)(DevCtx->Bar0 + Offset));
}
static VOID EduWrite(PDEVICE_CONTEXT DevCtx, ULONG Offset, ULONG Value) {
    WRITE_REGISTER_ULONG((PULONG)(DevCtx->Bar0 + Offset), Value);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, EduEvtDeviceAdd);
    config.EvtDriverUnload = EduEvtDriverUnload;
    const char* stop = getenv("EDU_C_STOP_WHEN_DONE");
    g_StopWhenDone = stop != NULL && strcmp(stop, "1") == 0;
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config,
                           WDF_NO_HANDLE);
}

static VOID EduEvtDriverUnload(WDFDRIVER Driver) {
    (void)Driver;
    EduPrint("unloaded\n");
}

static NTSTATUS EduEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit) {
    (void)Driver;
    NTSTATUS status;

    WDF_PNPPOWER_EVENT_CALLBACKS pnpPowerCallbacks;
    WDF_PNPPOWER_EVENT_CALLBACKS_INIT(&pnpPowerCallbacks);
    pnpPowerCallbacks.EvtDevicePrepareHardware = EduEvtDevicePrepareHardware;
    pnpPowerCallbacks.EvtDeviceReleaseHardware = EduEvtDeviceReleaseHardware;
    pnpPowerCallbacks.EvtDeviceSelfManagedIoInit = EduEvtDeviceSelfManagedIoInit;
    WdfDeviceInitSetPnpPowerEventCallbacks(DeviceInit, &pnpPowerCallbacks);

    WDF_OBJECT_ATTRIBUTES deviceAttributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&deviceAttributes, DEVICE_CONTEXT);
    WDFDEVICE device;
    status = WdfDeviceCreate(&DeviceInit, &deviceAttributes, &device);
    if (!NT_SUCCESS(status)) return status;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(device);

    /* One interrupt object for edu's one vector (MSI, or the INTx line). */
    WDF_INTERRUPT_CONFIG interruptConfig;
    WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, EduEvtInterruptIsr, EduEvtInterruptDpc);
    interruptConfig.EvtInterruptEnable = EduEvtInterruptEnable;
    interruptConfig.EvtInterruptDisable = EduEvtInterruptDisable;
    WDF_OBJECT_ATTRIBUTES interruptAttributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&interruptAttributes, INTERRUPT_CONTEXT);
    status = WdfInterruptCreate(device, &interruptConfig, &interruptAttributes,
                                &devCtx->Interrupt);
    if (!NT_SUCCESS(status)) {
        EduPrint("WdfInterruptCreate failed: 0x%08x\n", (unsigned)status);
        return status;
    }
    WDF_OBJECT_ATTRIBUTES lockAttributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&lockAttributes);
    lockAttributes.ParentObject = device;
    status = WdfSpinLockCreate(&lockAttributes, &devCtx->Lock);
    if (!NT_SUCCESS(status)) return status;

    /* Requests from applications: a sequential default queue, published as an interface. */
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queueConfig, WdfIoQueueDispatchSequential);
    queueConfig.EvtIoDeviceControl = EduEvtIoDeviceControl;
    queueConfig.EvtIoRead = EduEvtIoRead;
    WDFQUEUE queue;
    status = WdfIoQueueCreate(device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &queue);
    if (!NT_SUCCESS(status)) return status;
    const char* name = getenv("EDU_C_INTERFACE");
    if (name == NULL || name[0] == '\0') name = "edu-c";
    UNICODE_STRING referenceString;
    referenceString.Length = referenceString.MaximumLength = (USHORT)strlen(name);
    referenceString.Buffer = name;
    status = WdfDeviceCreateDeviceInterface(device, NULL, &referenceString);
    if (!NT_SUCCESS(status)) {
        EduPrint("WdfDeviceCreateDeviceInterface failed: 0x%08x\n", (unsigned)status);
        return status;
    }
    EduPrint("device interface '%s' published\n", name);
    return STATUS_SUCCESS;
}

static NTSTATUS EduEvtDevicePrepareHardware(WDFDEVICE Device, WDFCMRESLIST ResourcesRaw,
                                            WDFCMRESLIST ResourcesTranslated) {
    (void)ResourcesRaw;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(Device);
    for (ULONG i = 0; i < WdfCmResourceListGetCount(ResourcesTranslated); ++i) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR descriptor =
            WdfCmResourceListGetDescriptor(ResourcesTranslated, i);
        if (descriptor->Type != CmResourceTypeMemory || devCtx->Bar0 != NULL) continue;
        if (descriptor->u.Memory.Length < EDU_BAR0_LENGTH) continue;
        PVOID base;
        NTSTATUS status = WdfDeviceMapIoSpace(Device, descriptor->u.Memory.Start,
                                              descriptor->u.Memory.Length, MmNonCached, &base);
        if (!NT_SUCCESS(status)) {
            EduPrint("WdfDeviceMapIoSpace failed: 0x%08x\n", (unsigned)status);
            return status;
        }
        devCtx->Bar0 = (PUCHAR)base;
    }
    if (devCtx->Bar0 == NULL) return STATUS_INSUFFICIENT_RESOURCES;
    ULONG id = EduRead(devCtx, EDU_REG_ID);
    if ((id & 0xff) != 0xed) {
        EduPrint("BAR0 identification 0x%08x is not an edu device\n", (unsigned)id);
        return STATUS_NO_SUCH_DEVICE;
    }
    EduWrite(devCtx, EDU_REG_LIVENESS, 0x12345678);
    if (EduRead(devCtx, EDU_REG_LIVENESS) != ~0x12345678u) return STATUS_IO_DEVICE_ERROR;
    EduPrint("edu %u.%u found, BAR0 mapped\n", (unsigned)(id >> 24), (unsigned)((id >> 16) & 0xff));
    return STATUS_SUCCESS;
}

static NTSTATUS EduEvtDeviceReleaseHardware(WDFDEVICE Device, WDFCMRESLIST ResourcesTranslated) {
    (void)ResourcesTranslated;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(Device);
    WdfDeviceUnmapIoSpace(Device, devCtx->Bar0, EDU_BAR0_LENGTH);
    devCtx->Bar0 = NULL;
    return STATUS_SUCCESS;
}

/* DIRQL, under the interrupt lock, after the interrupt is connected: let the device interrupt. */
static NTSTATUS EduEvtInterruptEnable(WDFINTERRUPT Interrupt, WDFDEVICE AssociatedDevice) {
    (void)Interrupt;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(AssociatedDevice);
    EduWrite(devCtx, EDU_REG_IRQ_ACK, EduRead(devCtx, EDU_REG_IRQ_STATUS)); /* stale ones */
    EduWrite(devCtx, EDU_REG_STATUS, EDU_STATUS_IRQ_FACTORIAL);
    return STATUS_SUCCESS;
}

/* DIRQL, under the interrupt lock, before the interrupt is disconnected. */
static NTSTATUS EduEvtInterruptDisable(WDFINTERRUPT Interrupt, WDFDEVICE AssociatedDevice) {
    (void)Interrupt;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(AssociatedDevice);
    EduWrite(devCtx, EDU_REG_STATUS, 0);
    return STATUS_SUCCESS;
}

static NTSTATUS EduEvtDeviceSelfManagedIoInit(WDFDEVICE Device) {
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(Device);
    WDF_INTERRUPT_INFO info;
    WDF_INTERRUPT_INFO_INIT(&info);
    WdfInterruptGetInfo(devCtx->Interrupt, &info);
    EduPrint("interrupt: %s, message %u\n", info.MessageSignaled ? "MSI" : "INTx (line)",
             (unsigned)info.MessageNumber);
    /* The self-test starts with an interrupt the device raises on request; the DPC goes on. */
    WdfSpinLockAcquire(devCtx->Lock);
    devCtx->NextN = 1;
    EduWrite(devCtx, EDU_REG_IRQ_RAISE, EDU_IRQ_SELF_TEST);
    WdfSpinLockRelease(devCtx->Lock);
    return STATUS_SUCCESS;
}

/* DIRQL. Must tolerate being called when the device did not interrupt (a shared line, a late
 * signal after EvtInterruptDisable), and several interrupts coalesced into one call. */
static BOOLEAN EduEvtInterruptIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)MessageID;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(WdfInterruptGetDevice(Interrupt));
    ULONG status = EduRead(devCtx, EDU_REG_IRQ_STATUS);
    if (status == 0 || status == 0xffffffffu) return FALSE; /* not ours, or the device is gone */
    EduWrite(devCtx, EDU_REG_IRQ_ACK, status);
    PINTERRUPT_CONTEXT interruptCtx = EduGetInterruptContext(Interrupt);
    interruptCtx->SavedStatus |= status; /* the ISR holds the interrupt lock */
    interruptCtx->IsrClaimed++;
    interruptCtx->IsrIrql = KeGetCurrentIrql();
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}

static VOID EduStartFactorial(PDEVICE_CONTEXT DevCtx) {
    if ((EduRead(DevCtx, EDU_REG_STATUS) & EDU_STATUS_COMPUTING) != 0) {
        ++DevCtx->Errors;
        return;
    }
    DevCtx->Computing = TRUE;
    EduWrite(DevCtx, EDU_REG_FACTORIAL, DevCtx->NextN);
}

static VOID EduSelfTestStep(PDEVICE_CONTEXT devCtx, ULONG status, ULONG isrClaimed,
                            KIRQL isrIrql);

static VOID EduSelfTestDone(PDEVICE_CONTEXT DevCtx, ULONG IsrClaimed) {
    DevCtx->Done = TRUE;
    if (DevCtx->Errors == 0 && DevCtx->RaisedSeen && DevCtx->Completed == EDU_LAST_N) {
        g_SelfTestPassed = 1;
        EduPrint("self-test passed: %u factorials completed by interrupt, %u ISR calls claimed\n",
                 (unsigned)DevCtx->Completed, (unsigned)IsrClaimed);
    } else {
        EduPrint("self-test FAILED: %u factorials, %u errors\n", (unsigned)DevCtx->Completed,
                 (unsigned)DevCtx->Errors);
    }
    if (g_StopWhenDone) kill(getpid(), SIGTERM); /* WdfxRunDriver stops the driver */
}

/* Under Lock: the device computes the waiting request's factorial. */
static VOID EduStartRequest(PDEVICE_CONTEXT DevCtx) {
    if (DevCtx->Computing) return; /* the DPC starts it when the device is free */
    DevCtx->RequestStarted = TRUE;
    DevCtx->Computing = TRUE;
    EduWrite(DevCtx, EDU_REG_FACTORIAL, DevCtx->RequestN);
}

static VOID EduCompleteFactorial(WDFREQUEST Request, ULONG Result) {
    /* The cancel routine may have completed it already (the client went away). */
    if (WdfRequestUnmarkCancelable(Request) == STATUS_CANCELLED) return;
    PULONG out;
    NTSTATUS status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), (PVOID*)&out, NULL);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    *out = Result;
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ULONG));
}

/* PASSIVE_LEVEL (the dispatcher pool), one request at a time (sequential queue). */
static VOID EduEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength,
                                  size_t InputBufferLength, ULONG IoControlCode) {
    (void)OutputBufferLength;
    (void)InputBufferLength;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(WdfIoQueueGetDevice(Queue));
    if (IoControlCode != IOCTL_EDU_C_FACTORIAL) {
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
    PULONG in;
    PULONG out;
    NTSTATUS status = WdfRequestRetrieveInputBuffer(Request, sizeof(ULONG), (PVOID*)&in, NULL);
    if (NT_SUCCESS(status))
        status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), (PVOID*)&out, NULL);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    if (*in > EDU_LAST_N) {
        WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
        return;
    }
    status = WdfRequestMarkCancelableEx(Request, EduEvtRequestCancel);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    WdfSpinLockAcquire(devCtx->Lock);
    devCtx->Request = Request;
    devCtx->RequestN = *in;
    devCtx->RequestStarted = FALSE;
    if (devCtx->Done) EduStartRequest(devCtx); /* else when the self-test is over */
    WdfSpinLockRelease(devCtx->Lock);
}

static VOID EduEvtRequestCancel(WDFREQUEST Request) {
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(WdfIoQueueGetDevice(WdfRequestGetIoQueue(Request)));
    WdfSpinLockAcquire(devCtx->Lock);
    if (devCtx->Request == Request) devCtx->Request = NULL;
    WdfSpinLockRelease(devCtx->Lock);
    WdfRequestComplete(Request, STATUS_CANCELLED);
}

static VOID EduEvtIoRead(WDFQUEUE Queue, WDFREQUEST Request, size_t Length) {
    (void)Length;
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(WdfIoQueueGetDevice(Queue));
    PULONG buffer;
    NTSTATUS status =
        WdfRequestRetrieveOutputBuffer(Request, 2 * sizeof(ULONG), (PVOID*)&buffer, NULL);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    buffer[0] = EduRead(devCtx, EDU_REG_ID);
    WdfInterruptAcquireLock(devCtx->Interrupt);
    buffer[1] = EduGetInterruptContext(devCtx->Interrupt)->IsrClaimed;
    WdfInterruptReleaseLock(devCtx->Interrupt);
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, 2 * sizeof(ULONG));
}

/* DISPATCH_LEVEL, without the interrupt lock. */
static VOID EduEvtInterruptDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    PDEVICE_CONTEXT devCtx = EduGetDeviceContext(AssociatedObject);
    PINTERRUPT_CONTEXT interruptCtx = EduGetInterruptContext(Interrupt);

    /* Everything the ISR saved since the last run (it may have run several times). */
    WdfInterruptAcquireLock(Interrupt);
    ULONG status = interruptCtx->SavedStatus;
    ULONG isrClaimed = interruptCtx->IsrClaimed;
    KIRQL isrIrql = interruptCtx->IsrIrql;
    interruptCtx->SavedStatus = 0;
    WdfInterruptReleaseLock(Interrupt);

    WDFREQUEST completed = NULL;
    ULONG result = 0;
    WdfSpinLockAcquire(devCtx->Lock);
    if (!devCtx->Done) {
        EduSelfTestStep(devCtx, status, isrClaimed, isrIrql);
        if (devCtx->Done && devCtx->Request != NULL) EduStartRequest(devCtx); /* it waited */
    } else if ((status & EDU_IRQ_FACTORIAL) != 0) {
        devCtx->Computing = FALSE;
        if (devCtx->Request != NULL && devCtx->RequestStarted) {
            completed = devCtx->Request;
            devCtx->Request = NULL;
            result = EduRead(devCtx, EDU_REG_FACTORIAL);
        } else if (devCtx->Request != NULL) {
            EduStartRequest(devCtx); /* its predecessor was cancelled while computing */
        }
    }
    WdfSpinLockRelease(devCtx->Lock);
    if (completed != NULL) EduCompleteFactorial(completed, result);
}

/* The DPC's work, under the device's spin lock. */
static VOID EduSelfTestStep(PDEVICE_CONTEXT devCtx, ULONG status, ULONG isrClaimed,
                            KIRQL isrIrql) {
    if ((status & EDU_IRQ_SELF_TEST) != 0 && !devCtx->RaisedSeen) {
        devCtx->RaisedSeen = TRUE;
        KIRQL dpcIrql = KeGetCurrentIrql();
        EduPrint("raised interrupt 0x%x: ISR at IRQL %u (%s), DPC at IRQL %u (%s)\n",
                 (unsigned)EDU_IRQ_SELF_TEST, (unsigned)isrIrql,
                 isrIrql > DISPATCH_LEVEL ? "DIRQL" : "not DIRQL!", (unsigned)dpcIrql,
                 dpcIrql == DISPATCH_LEVEL ? "DISPATCH_LEVEL" : "not DISPATCH_LEVEL!");
        if (isrIrql <= DISPATCH_LEVEL || dpcIrql != DISPATCH_LEVEL) ++devCtx->Errors;
        EduStartFactorial(devCtx);
    }
    if ((status & EDU_IRQ_FACTORIAL) != 0) {
        devCtx->Computing = FALSE;
        ULONG expected = 1;
        for (ULONG i = 2; i <= devCtx->NextN; ++i)
            expected *= i;
        ULONG result = EduRead(devCtx, EDU_REG_FACTORIAL);
        if (result != expected) {
            ++devCtx->Errors;
            EduPrint("%u! = %u, expected %u\n", (unsigned)devCtx->NextN, (unsigned)result,
                     (unsigned)expected);
        } else {
            EduPrint("%u! = %u\n", (unsigned)devCtx->NextN, (unsigned)result);
        }
        ++devCtx->Completed;
        if (devCtx->NextN == EDU_LAST_N) {
            EduSelfTestDone(devCtx, isrClaimed);
            return;
        }
        ++devCtx->NextN;
        EduStartFactorial(devCtx);
    }
}

int main(int argc, char** argv) {
    int rc = WdfxRunDriver(argc, argv, DriverEntry);
    if (rc != 0 || !g_StopWhenDone) return rc;
    return g_SelfTestPassed ? 0 : 1;
}
