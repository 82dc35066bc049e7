/*
 * WdfRequestRequeue through <wdfx/wdf.h> (wdf-semantics §18.4; DDI WdfRequestRequeue: it "returns
 * an I/O request to the head of the I/O queue from which it was delivered to the driver", and a
 * driver calls it only for a queue that uses manual dispatching).
 *
 * The driver is the usual pair (§18.4 "Typical interrupt usage"): a sequential default queue whose
 * EvtIoRead forwards each read to a manual queue, from which the driver retrieves them. Reads come
 * from a client of the device (wdf_test_io.h); each read's length names it, so the order in which
 * WdfIoQueueRetrieveNextRequest hands them out is visible.
 */
/* This program drives no interrupt: the header's edu register helpers stay unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "wdf_test_edu.h"
#pragma GCC diagnostic pop
#include "wdf_test_io.h"

static WDFQUEUE g_DefaultQueue, g_ManualQueue;
static atomic_int g_Forwarded;
static BOOLEAN g_RequeueInEvtIoRead;
static atomic_int g_EvtIoReadRequeueStatus = 1, g_EvtIoReadRequeueReports = -1;

static EVT_WDF_IO_QUEUE_IO_READ EvtIoRead;
static VOID EvtIoRead(WDFQUEUE Queue, WDFREQUEST Request, size_t Length) {
    (void)Queue;
    (void)Length;
    if (g_RequeueInEvtIoRead) {
        /* A request of a sequential queue: not the manual dispatching WdfRequestRequeue is for. */
        ULONG64 before = WdfxGetVerifierReportCount();
        atomic_store(&g_EvtIoReadRequeueStatus, WdfRequestRequeue(Request));
        atomic_store(&g_EvtIoReadRequeueReports, (int)(WdfxGetVerifierReportCount() - before));
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, 0);
        return;
    }
    NTSTATUS status = WdfRequestForwardToIoQueue(Request, g_ManualQueue);
    if (!NT_SUCCESS(status)) {
        WdfRequestComplete(Request, status);
        return;
    }
    atomic_fetch_add(&g_Forwarded, 1);
}

static NTSTATUS DeviceAdd(WDFDEVICE Device) {
    WDF_IO_QUEUE_CONFIG config;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&config, WdfIoQueueDispatchSequential);
    config.EvtIoRead = EvtIoRead;
    NTSTATUS status = WdfIoQueueCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_DefaultQueue);
    if (!NT_SUCCESS(status)) return status;
    WDF_IO_QUEUE_CONFIG_INIT(&config, WdfIoQueueDispatchManual);
    return WdfIoQueueCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &g_ManualQueue);
}

static WDF_TEST_FILE g_File;
static void Start(void) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = DeviceAdd;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    g_File = WdfTestOpen(g_Device);
    REQUIRE(g_File != NULL);
}

/* The next request of the manual queue, and its length (which names it). */
static WDFREQUEST Next(size_t* Length) {
    WDFREQUEST request = NULL;
    REQUIRE_STATUS(WdfIoQueueRetrieveNextRequest(g_ManualQueue, &request), STATUS_SUCCESS);
    PVOID buffer = NULL;
    REQUIRE_STATUS(WdfRequestRetrieveOutputBuffer(request, 1, &buffer, Length), STATUS_SUCCESS);
    return request;
}

/* DDI: "returns an I/O request to the head of the I/O queue from which it was delivered": the
 * next retrieval hands out the requeued request again, before the ones queued behind it, and the
 * request still belongs to that queue. A request requeued later goes to the head too. */
WDF_TEST(requeue_puts_the_request_back_at_the_head_of_its_manual_queue) {
    Start();
    for (ULONG64 n = 1; n <= 3; ++n)
        WdfTestSubmitRead(g_File, (size_t)n, n);
    WAIT_UNTIL(atomic_load(&g_Forwarded) == 3);

    size_t length = 0;
    WDFREQUEST first = Next(&length);
    CHECK_EQ_U(length, 1);
    CHECK(WdfRequestGetIoQueue(first) == g_ManualQueue);
    CHECK_REPORTS(0, CHECK_STATUS(WdfRequestRequeue(first), STATUS_SUCCESS));
    CHECK(WdfRequestGetIoQueue(first) == g_ManualQueue);
    WDFREQUEST again = Next(&length);
    CHECK_EQ_U(length, 1); /* the head, not behind requests 2 and 3 */
    CHECK(again == first);

    WDFREQUEST second = Next(&length);
    CHECK_EQ_U(length, 2);
    CHECK_STATUS(WdfRequestRequeue(second), STATUS_SUCCESS);
    WDFREQUEST second_again = Next(&length);
    CHECK_EQ_U(length, 2); /* back ahead of request 3 */
    CHECK(second_again == second);
    WDFREQUEST third = Next(&length);
    CHECK_EQ_U(length, 3);
    WDFREQUEST none = NULL;
    CHECK_STATUS(WdfIoQueueRetrieveNextRequest(g_ManualQueue, &none), STATUS_NO_MORE_ENTRIES);

    WdfRequestCompleteWithInformation(again, STATUS_SUCCESS, 1);
    WdfRequestCompleteWithInformation(second_again, STATUS_SUCCESS, 2);
    WdfRequestCompleteWithInformation(third, STATUS_SUCCESS, 3);
    for (ULONG64 n = 1; n <= 3; ++n) {
        NTSTATUS status = STATUS_UNSUCCESSFUL;
        ULONG64 information = 0;
        WAIT_UNTIL(WdfTestCompleted(g_File, n, &status, &information, NULL, 0));
        CHECK_STATUS(status, STATUS_SUCCESS);
        CHECK_EQ_U(information, n); /* each completed once, by the driver, as itself */
    }
    CHECK_EQ_U(WdfTestCompletedCount(g_File), 3);
    WdfTestClose(g_File);
}

/* DDI: the driver "can call WdfRequestRequeue only if it uses the manual dispatching method":
 * for a request of a sequential queue it is a verifier report and STATUS_INVALID_DEVICE_REQUEST,
 * and the request stays the driver's (its completion goes through). */
WDF_TEST(requeue_of_a_request_from_a_sequential_queue_is_refused) {
    g_RequeueInEvtIoRead = TRUE;
    Start();
    WdfTestSubmitRead(g_File, 4, 7);
    NTSTATUS status = STATUS_UNSUCCESSFUL;
    WAIT_UNTIL(WdfTestCompleted(g_File, 7, &status, NULL, NULL, 0));
    CHECK_STATUS(status, STATUS_SUCCESS);
    CHECK_STATUS(atomic_load(&g_EvtIoReadRequeueStatus), STATUS_INVALID_DEVICE_REQUEST);
    CHECK_EQ_U(atomic_load(&g_EvtIoReadRequeueReports), 1);
    WdfTestClose(g_File);
}
