/*
 * tests/wdf/wdf_test_io.h: a client of a device for the page tests, C-callable. It opens a file
 * object on the device and submits read requests the way a device interface does (the core's
 * request source, libwdfx/src/core/io.hpp), and collects their completions. Test scaffolding,
 * not part of wdf.h: a Windows test would use CreateFile/ReadFile.
 */
#ifndef WDFX_TESTS_WDF_TEST_IO_H
#define WDFX_TESTS_WDF_TEST_IO_H

#include <wdfx/wdf.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct WDF_TEST_FILE_* WDF_TEST_FILE;

/* Open the device (its create request completes first). NULL if the open failed. */
WDF_TEST_FILE WdfTestOpen(WDFDEVICE Device);
/* Submit a read of Length bytes; Tag names its completion. */
VOID WdfTestSubmitRead(WDF_TEST_FILE File, size_t Length, ULONG64 Tag);
/* TRUE once the request named Tag has completed; fills what is asked for (NULL: not wanted). */
BOOLEAN WdfTestCompleted(WDF_TEST_FILE File, ULONG64 Tag, NTSTATUS* Status, ULONG64* Information,
                         PVOID Data, size_t DataSize);
/* How many requests have completed. */
ULONG WdfTestCompletedCount(WDF_TEST_FILE File);
/* The client goes away (its pending requests are cancelled); the handle is invalid after. */
VOID WdfTestClose(WDF_TEST_FILE File);

#ifdef __cplusplus
}
#endif

#endif /* WDFX_TESTS_WDF_TEST_IO_H */
