/*
 * The reference page "WdfInterruptCreate function" (../shared/seeds/WdfInterruptCreate.md), as
 * executable statements. Each WDF_TEST cites the page's sentence it checks ("page:") and, where
 * Microsoft's source decides (wdf-semantics.md §5 "Validation order", §20), the source ("source:").
 * Where the page and the source disagree, the test follows the source and cites both.
 *
 * Built twice: as KMDF (the default) and with WDFX_UMDF2 (tests named umdf2_*).
 */
#include <string.h>

#include "wdf_test_edu.h"

typedef struct _INTERRUPT_DATA {
    ULONG SavedStatus;
    ULONG IsrCalls;
} INTERRUPT_DATA, *PINTERRUPT_DATA;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(INTERRUPT_DATA, GetInterruptData)

static atomic_int g_IsrCalls, g_IsrIrql = -1, g_DpcCalls, g_DpcIrql = -1, g_WorkItemCalls;
static WDF_TEST_MAYBE_UNUSED atomic_uint g_DpcSawStatus;
static WDFINTERRUPT g_Interrupt;

static BOOLEAN EvtIsrQueueDpc(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)MessageID;
    atomic_store(&g_IsrIrql, KeGetCurrentIrql());
    ULONG status = EduTakeInterruptStatus();
    if (status == 0) return FALSE;
    atomic_fetch_add(&g_IsrCalls, 1);
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}
static VOID EvtDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)Interrupt;
    (void)AssociatedObject;
    atomic_store(&g_DpcIrql, KeGetCurrentIrql());
    atomic_fetch_add(&g_DpcCalls, 1);
}
static WDF_TEST_MAYBE_UNUSED BOOLEAN EvtIsrQueueWorkItem(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)MessageID;
    atomic_store(&g_IsrIrql, KeGetCurrentIrql());
    ULONG status = EduTakeInterruptStatus();
    if (status == 0) return FALSE;
    atomic_fetch_add(&g_IsrCalls, 1);
    WdfInterruptQueueWorkItemForIsr(Interrupt);
    return TRUE;
}
static WDF_TEST_MAYBE_UNUSED VOID EvtWorkItem(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)Interrupt;
    (void)AssociatedObject;
    atomic_fetch_add(&g_WorkItemCalls, 1);
}

/* Creates an interrupt in EvtDriverDeviceAdd with `config`/`attributes` and records the status. */
static WDF_INTERRUPT_CONFIG g_Config;
static PWDF_OBJECT_ATTRIBUTES g_Attributes;
static NTSTATUS g_CreateStatus = 12345;
static NTSTATUS CreateWithGlobalConfig(WDFDEVICE Device) {
    g_CreateStatus = WdfInterruptCreate(Device, &g_Config, g_Attributes, &g_Interrupt);
    return STATUS_SUCCESS;
}
static NTSTATUS CreateStatusInDeviceAdd(PWDF_INTERRUPT_CONFIG Config,
                                        PWDF_OBJECT_ATTRIBUTES Attributes) {
    g_Config = *Config;
    g_Attributes = Attributes;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithGlobalConfig;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    return g_CreateStatus;
}

#ifndef WDFX_UMDF2

/* page: "The WdfInterruptCreate method creates a framework interrupt object." / Interrupt [out]:
 * "A pointer to a location that receives a handle to the new interrupt object." / "returns
 * STATUS_SUCCESS if the operation succeeds." / "Drivers typically call the WdfInterruptCreate
 * method from an EvtDriverDeviceAdd callback function." */
WDF_TEST(creates_interrupt_object) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    g_Interrupt = NULL;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES), STATUS_SUCCESS);
    REQUIRE(g_Interrupt != NULL);
    CHECK(WdfInterruptGetDevice(g_Interrupt) == g_Device);
    /* It is a working interrupt object: the device's interrupt reaches its ISR and DPC. */
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrCalls), 1);
}

static NTSTATUS g_AttributesStatus[2];
static NTSTATUS CreateWithAndWithoutAttributes(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    WDFINTERRUPT interrupt;
    g_AttributesStatus[0] = WdfInterruptCreate(Device, &config, WDF_NO_OBJECT_ATTRIBUTES, &interrupt);
    g_AttributesStatus[1] = WdfInterruptCreate(Device, &config, &attributes, &interrupt);
    return STATUS_SUCCESS;
}

/* page: Attributes: "A pointer to a WDF_OBJECT_ATTRIBUTES structure that specifies object
 * attributes for the framework interrupt object. ... This parameter is optional and can be
 * WDF_NO_OBJECT_ATTRIBUTES." */
WDF_TEST(attributes_optional) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithAndWithoutAttributes;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_AttributesStatus[0], STATUS_SUCCESS);
    CHECK_STATUS(g_AttributesStatus[1], STATUS_SUCCESS);
}

/* page: Configuration: "A pointer to a WDF_INTERRUPT_CONFIG structure that was initialized by a
 * call to WDF_INTERRUPT_CONFIG_INIT." source (wdf-semantics §3): INIT zeroes the structure and
 * sets Size, ShareVector = WdfUseDefault, the ISR, the DPC and ReportInactiveOnPowerDown =
 * WdfUseDefault; KMDF leaves PassiveHandling FALSE (DIRQL). */
WDF_TEST(config_init) {
    WDF_INTERRUPT_CONFIG config;
    memset(&config, 0xA5, sizeof config);
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    CHECK_EQ_U(config.Size, sizeof(WDF_INTERRUPT_CONFIG));
    CHECK(config.SpinLock == NULL);
    CHECK_EQ_U(config.ShareVector, WdfUseDefault);
    CHECK_EQ_U(config.FloatingSave, FALSE);
    CHECK_EQ_U(config.AutomaticSerialization, FALSE);
    CHECK(config.EvtInterruptIsr == EvtIsrQueueDpc);
    CHECK(config.EvtInterruptDpc == EvtDpc);
    CHECK(config.EvtInterruptEnable == NULL);
    CHECK(config.EvtInterruptDisable == NULL);
    CHECK(config.EvtInterruptWorkItem == NULL);
    CHECK(config.InterruptRaw == NULL);
    CHECK(config.InterruptTranslated == NULL);
    CHECK(config.WaitLock == NULL);
    CHECK_EQ_U(config.PassiveHandling, FALSE);
    CHECK_EQ_U(config.ReportInactiveOnPowerDown, WdfUseDefault);
    CHECK_EQ_U(config.CanWakeDevice, FALSE);
    /* The KMDF default is a DIRQL interrupt: its ISR runs above DISPATCH_LEVEL, its DPC at
     * DISPATCH_LEVEL. */
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES), STATUS_SUCCESS);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) == 1);
    CHECK(atomic_load(&g_IsrIrql) > DISPATCH_LEVEL);
    CHECK_EQ_U(atomic_load(&g_DpcIrql), DISPATCH_LEVEL);
}

/* page: STATUS_INFO_LENGTH_MISMATCH "The size of the WDF_INTERRUPT_CONFIG structure is
 * incorrect." source: §5 step 2, any Size that is not one of the known versions. */
WDF_TEST(info_length_mismatch) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    config.Size = sizeof(WDF_INTERRUPT_CONFIG) + 8;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES),
                 STATUS_INFO_LENGTH_MISMATCH);
    /* The Size check comes before every other (§5 step 2 before step 4: no ISR either). */
    config.Size = 3;
    config.EvtInterruptIsr = NULL;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, NULL, &g_Interrupt),
                 STATUS_INFO_LENGTH_MISMATCH);
    config.Size = 0;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, NULL, &g_Interrupt),
                 STATUS_INFO_LENGTH_MISMATCH);
}

/* source: §3 Size, §5 step 2: "A smaller, older structure is normalised: WDF_INTERRUPT_CONFIG_INIT
 * is applied to a copy, then the old bytes are copied over it." The KMDF 1.9 layout ends after
 * EvtInterruptDisable; whatever follows it in the caller's memory is not read. */
WDF_TEST(v1_9_size_normalised) {
    union {
        WDF_INTERRUPT_CONFIG full;
        WDF_INTERRUPT_CONFIG_V1_9 v1_9;
    } u;
    memset(&u, 0xFF, sizeof u); /* garbage where the newer fields would be */
    memset(&u.v1_9, 0, sizeof u.v1_9);
    u.v1_9.Size = sizeof(WDF_INTERRUPT_CONFIG_V1_9);
    u.v1_9.ShareVector = WdfUseDefault;
    u.v1_9.EvtInterruptIsr = EvtIsrQueueDpc;
    u.v1_9.EvtInterruptDpc = EvtDpc;
    CHECK_STATUS(CreateStatusInDeviceAdd(&u.full, WDF_NO_OBJECT_ATTRIBUTES), STATUS_SUCCESS);
    /* Normalised to INIT's defaults: DIRQL (PassiveHandling FALSE), no work item, no wait lock. */
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) == 1);
    CHECK(atomic_load(&g_IsrIrql) > DISPATCH_LEVEL);
    CHECK_EQ_U(atomic_load(&g_WorkItemCalls), 0);
}

/* page: STATUS_INVALID_PARAMETER "An invalid parameter was specified." source: §5 step 4,
 * EvtInterruptIsr == NULL. */
WDF_TEST(invalid_parameter_no_isr) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, NULL, EvtDpc);
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES),
                 STATUS_INVALID_PARAMETER);
}

/* page: STATUS_INVALID_PARAMETER "An invalid parameter was specified." source: §5 step 10, both
 * EvtInterruptDpc and EvtInterruptWorkItem. */
WDF_TEST(invalid_parameter_dpc_and_work_item) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    config.EvtInterruptWorkItem = EvtWorkItem;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES),
                 STATUS_INVALID_PARAMETER);
}

static WDFWAITLOCK g_WaitLock;
static WDFSPINLOCK g_SpinLock;
static NTSTATUS CreateWithLocks(WDFDEVICE Device) {
    REQUIRE(NT_SUCCESS(WdfWaitLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &g_WaitLock)));
    REQUIRE(NT_SUCCESS(WdfSpinLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &g_SpinLock)));
    g_Config.WaitLock = g_Config.PassiveHandling ? NULL : g_WaitLock;
    g_Config.SpinLock = g_Config.PassiveHandling ? g_SpinLock : NULL;
    g_CreateStatus = WdfInterruptCreate(Device, &g_Config, NULL, &g_Interrupt);
    return STATUS_SUCCESS;
}

/* page: STATUS_INVALID_PARAMETER "An invalid parameter was specified." source: §5 step 11, a
 * WaitLock for a DIRQL interrupt. */
WDF_TEST(invalid_parameter_wait_lock_in_dirql_mode) {
    WDF_INTERRUPT_CONFIG_INIT(&g_Config, EvtIsrQueueDpc, EvtDpc);
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithLocks;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_CreateStatus, STATUS_INVALID_PARAMETER);
}

/* page: STATUS_INVALID_PARAMETER "An invalid parameter was specified." source: §5 step 11, a
 * SpinLock for a passive-level interrupt. */
WDF_TEST(invalid_parameter_spin_lock_in_passive_mode) {
    WDF_INTERRUPT_CONFIG_INIT(&g_Config, EvtIsrQueueWorkItem, NULL);
    g_Config.EvtInterruptWorkItem = EvtWorkItem;
    g_Config.PassiveHandling = TRUE;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithLocks;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_CreateStatus, STATUS_INVALID_PARAMETER);
}

/* page (Remarks): "If the driver calls WdfInterruptCreate from EvtDriverDeviceAdd, the
 * InterruptRaw and InterruptTranslated members of the WDF_INTERRUPT_CONFIG structure must be
 * NULL." source: §5 step 7, else STATUS_INVALID_PARAMETER. */
WDF_TEST(invalid_parameter_resources_in_device_add) {
    static CM_PARTIAL_RESOURCE_DESCRIPTOR raw, translated;
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    config.InterruptRaw = &raw;
    config.InterruptTranslated = &translated;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES),
                 STATUS_INVALID_PARAMETER);
}

/* page (Remarks): "If you are creating a wake-capable interrupt object ... you must call
 * WdfInterruptCreate from EvtDevicePrepareHardware." source: §5 step 7, CanWakeDevice in
 * AddDevice is STATUS_INVALID_PARAMETER. */
WDF_TEST(invalid_parameter_can_wake_device_in_device_add) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueWorkItem, NULL);
    config.EvtInterruptWorkItem = EvtWorkItem;
    config.PassiveHandling = TRUE;
    config.CanWakeDevice = TRUE;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES),
                 STATUS_INVALID_PARAMETER);
}

static WDFQUEUE g_Queue;
static WDFOBJECT g_OtherParent;
static NTSTATUS CreateQueueAndObject(WDFDEVICE Device) {
    WDF_IO_QUEUE_CONFIG queueConfig;
    WDF_IO_QUEUE_CONFIG_INIT(&queueConfig, WdfIoQueueDispatchManual);
    REQUIRE(NT_SUCCESS(WdfIoQueueCreate(Device, &queueConfig, WDF_NO_OBJECT_ATTRIBUTES, &g_Queue)));
    REQUIRE(NT_SUCCESS(WdfObjectCreate(WDF_NO_OBJECT_ATTRIBUTES, &g_OtherParent)));
    return STATUS_SUCCESS;
}
static NTSTATUS CreateWithParent(WDFOBJECT Parent, BOOLEAN AutomaticSerialization,
                                 BOOLEAN Passive) {
    WDF_INTERRUPT_CONFIG config;
    if (Passive) {
        WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueWorkItem, NULL);
        config.EvtInterruptWorkItem = EvtWorkItem;
        config.PassiveHandling = TRUE;
    } else {
        WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    }
    config.AutomaticSerialization = AutomaticSerialization;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = Parent;
    WDFINTERRUPT interrupt;
    return WdfInterruptCreate(g_Device, &config, &attributes, &interrupt);
}
static NTSTATUS g_ParentStatus[4];
static NTSTATUS CreateWithParents(WDFDEVICE Device) {
    CreateQueueAndObject(Device);
    g_ParentStatus[0] = CreateWithParent(Device, FALSE, FALSE);
    g_ParentStatus[1] = CreateWithParent(g_OtherParent, TRUE, FALSE);
    g_ParentStatus[2] = CreateWithParent(Device, TRUE, FALSE);
    g_ParentStatus[3] = CreateWithParent(g_Queue, TRUE, TRUE);
    return STATUS_SUCCESS;
}

/* page: STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED / Remarks: "If the driver specifies a parent, the
 * driver must set the AutomaticSerialization member of the configuration structure to TRUE."
 * source: §5 step 5, a parent without AutomaticSerialization is ..._NOT_ALLOWED. */
WDF_TEST(parent_assignment_not_allowed_without_automatic_serialization) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithParents;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_ParentStatus[0], STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED);
}

/* page: STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED "In KMDF version 1.11 or later, the driver
 * specified a value other than a framework device or queue for the ParentObject member".
 * source: §5 InitializeWorker step 4 returns STATUS_INVALID_PARAMETER for this case (§20: the page
 * and the source disagree; we follow the source). */
WDF_TEST(invalid_parameter_parent_not_device_or_queue) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithParents;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_ParentStatus[1], STATUS_INVALID_PARAMETER);
}

/* page (Remarks): "Beginning in version 1.11, ParentObject can be a framework device object or
 * queue object." / "The driver can specify a parent for both interrupts at DIRQL and passive-level
 * interrupts." */
WDF_TEST(parent_device_or_queue_dirql_or_passive) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithParents;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_ParentStatus[2], STATUS_SUCCESS); /* DIRQL, parent the device */
    CHECK_STATUS(g_ParentStatus[3], STATUS_SUCCESS); /* passive, parent a queue */
}

/* source: §5 step 5 (FxValidateObjectAttributes; the page refers to "Framework Object Creation
 * Errors"): ExecutionLevel other than InheritFromParent is STATUS_WDF_EXECUTION_LEVEL_INVALID. */
WDF_TEST(execution_level_invalid) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ExecutionLevel = WdfExecutionLevelPassive;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, &attributes), STATUS_WDF_EXECUTION_LEVEL_INVALID);
}

static WDF_OBJECT_ATTRIBUTES g_ScopeAttributes[2];
static NTSTATUS g_ScopeStatus[2];
static NTSTATUS CreateWithScopes(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDFINTERRUPT interrupt;
    for (int i = 0; i < 2; ++i)
        g_ScopeStatus[i] = WdfInterruptCreate(Device, &config, &g_ScopeAttributes[i], &interrupt);
    return STATUS_SUCCESS;
}
/* source: §5 step 5: SynchronizationScope other than InheritFromParent or None is
 * STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID (None is accepted). */
WDF_TEST(synchronization_scope_invalid) {
    WDF_OBJECT_ATTRIBUTES_INIT(&g_ScopeAttributes[0]);
    g_ScopeAttributes[0].SynchronizationScope = WdfSynchronizationScopeDevice;
    WDF_OBJECT_ATTRIBUTES_INIT(&g_ScopeAttributes[1]);
    g_ScopeAttributes[1].SynchronizationScope = WdfSynchronizationScopeNone;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithScopes;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_ScopeStatus[0], STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID);
    CHECK_STATUS(g_ScopeStatus[1], STATUS_SUCCESS);
}

/* source: §5 step 5, FxValidateObjectAttributes: bad context type information is
 * STATUS_WDF_OBJECT_ATTRIBUTES_INVALID (a ContextSize without a ContextName; a ContextSizeOverride
 * without a type, or smaller than the type), a type info of an unknown Size
 * STATUS_INFO_LENGTH_MISMATCH. */
WDF_TEST(object_attributes_invalid) {
    static const WDF_OBJECT_CONTEXT_TYPE_INFO unnamed = {sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO),
                                                         NULL, 16, NULL, NULL};
    static const WDF_OBJECT_CONTEXT_TYPE_INFO badSize = {7, "BAD", 16, NULL, NULL};
    static const WDF_OBJECT_CONTEXT_TYPE_INFO named = {sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO),
                                                       "NAMED", 16, NULL, NULL};
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ContextTypeInfo = &unnamed;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, &attributes),
                 STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);
    /* (the attribute checks come before the creation window's, §5 step 5 before step 6) */
    WDFINTERRUPT interrupt;
    attributes.ContextTypeInfo = &badSize;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_INFO_LENGTH_MISMATCH);
    attributes.ContextTypeInfo = NULL;
    attributes.ContextSizeOverride = 64;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);
    attributes.ContextTypeInfo = &named;
    attributes.ContextSizeOverride = 8;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);
}

/* source: §5 "Validation order" (the ISR, step 4, before the attributes, step 5) and
 * FxValidateObjectAttributes' own order: Size, context information, parent, the enums' ranges
 * (STATUS_WDF_OBJECT_ATTRIBUTES_INVALID), scope, level; all before the creation window (step 6).
 * Each call below breaks two rules; the earlier one decides. */
WDF_TEST(validation_order) {
    WDF_TEST_HOOKS hooks = {0};
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS); /* calls below are after start */
    WDF_INTERRUPT_CONFIG config;
    WDFINTERRUPT interrupt;
    WDF_OBJECT_ATTRIBUTES attributes;

    WDF_INTERRUPT_CONFIG_INIT(&config, NULL, EvtDpc); /* no ISR, and bad attributes */
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.Size = 1;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_INVALID_PARAMETER);

    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc); /* bad Size, and a parent */
    attributes.ParentObject = g_Device;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_INFO_LENGTH_MISMATCH);

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes); /* a size override without a type, and a parent */
    attributes.ParentObject = g_Device;
    attributes.ContextSizeOverride = 64;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes); /* a parent, and a level */
    attributes.ParentObject = g_Device;
    attributes.ExecutionLevel = WdfExecutionLevelPassive;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED);

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes); /* a level out of range, and a scope */
    attributes.ExecutionLevel = (WDF_EXECUTION_LEVEL)7;
    attributes.SynchronizationScope = WdfSynchronizationScopeDevice;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_WDF_OBJECT_ATTRIBUTES_INVALID);

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes); /* a scope, and a level */
    attributes.ExecutionLevel = WdfExecutionLevelPassive;
    attributes.SynchronizationScope = WdfSynchronizationScopeDevice;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID);

    WDF_OBJECT_ATTRIBUTES_INIT(&attributes); /* a level, and the device started */
    attributes.ExecutionLevel = WdfExecutionLevelPassive;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, &attributes, &interrupt),
                 STATUS_WDF_EXECUTION_LEVEL_INVALID);
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, NULL, &interrupt),
                 STATUS_INVALID_DEVICE_STATE);
}

/* source: §5 step 5: a WDF_OBJECT_ATTRIBUTES with a wrong Size is STATUS_INFO_LENGTH_MISMATCH. */
WDF_TEST(attributes_size_mismatch) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.Size = sizeof(attributes) - 8;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, &attributes), STATUS_INFO_LENGTH_MISMATCH);
}

static NTSTATUS g_D0EntryCreateStatus = 12345;
static NTSTATUS CreateInD0Entry(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState) {
    (void)PreviousState;
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDFINTERRUPT interrupt;
    g_D0EntryCreateStatus = WdfInterruptCreate(Device, &config, NULL, &interrupt);
    return STATUS_SUCCESS;
}

/* page: STATUS_INVALID_DEVICE_STATE "WdfInterruptCreate was called after the device was started."
 * source: §5 "Anywhere else [than EvtDriverDeviceAdd or EvtDevicePrepareHardware] ->
 * STATUS_INVALID_DEVICE_STATE": from EvtDeviceD0Entry, and from a driver thread once started. */
WDF_TEST(invalid_device_state_after_start) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.D0Entry = CreateInD0Entry;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_D0EntryCreateStatus, STATUS_INVALID_DEVICE_STATE);
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDFINTERRUPT interrupt;
    CHECK_STATUS(WdfInterruptCreate(g_Device, &config, NULL, &interrupt),
                 STATUS_INVALID_DEVICE_STATE);
}

static PCM_PARTIAL_RESOURCE_DESCRIPTOR FindInterrupt(WDFCMRESLIST List) {
    for (ULONG i = 0; i < WdfCmResourceListGetCount(List); ++i) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = WdfCmResourceListGetDescriptor(List, i);
        if (d->Type == CmResourceTypeInterrupt) return d;
    }
    return NULL;
}
static NTSTATUS g_PrepareStatus[4];
static NTSTATUS CreateInPrepareHardware(WDFDEVICE Device, WDFCMRESLIST Raw,
                                        WDFCMRESLIST Translated) {
    PCM_PARTIAL_RESOURCE_DESCRIPTOR raw = FindInterrupt(Raw);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR translated = FindInterrupt(Translated);
    REQUIRE(raw != NULL && translated != NULL);
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDFINTERRUPT interrupt;
    /* 0: both NULL; 1: only one given; 2: ShareVector set; 3: a copy of the descriptors */
    g_PrepareStatus[0] = WdfInterruptCreate(Device, &config, NULL, &interrupt);
    config.InterruptTranslated = translated;
    g_PrepareStatus[1] = WdfInterruptCreate(Device, &config, NULL, &interrupt);
    config.InterruptRaw = raw;
    config.ShareVector = WdfTrue;
    g_PrepareStatus[2] = WdfInterruptCreate(Device, &config, NULL, &interrupt);
    static CM_PARTIAL_RESOURCE_DESCRIPTOR rawCopy, translatedCopy;
    rawCopy = *raw;
    translatedCopy = *translated;
    config.ShareVector = WdfUseDefault;
    config.InterruptRaw = &rawCopy;
    config.InterruptTranslated = &translatedCopy;
    g_PrepareStatus[3] = WdfInterruptCreate(Device, &config, NULL, &interrupt);
    /* and the real thing */
    config.InterruptRaw = raw;
    config.InterruptTranslated = translated;
    return WdfInterruptCreate(Device, &config, NULL, &g_Interrupt);
}

/* page: STATUS_INVALID_DEVICE_STATE "WdfInterruptCreate also returns this value if the driver's
 * EVT_WDF_DEVICE_PREPARE_HARDWARE callback routine calls WdfInterruptCreate with the InterruptRaw
 * and InterruptTranslated members ... set to NULL." / Remarks: "If the driver calls
 * WdfInterruptCreate from EvtDevicePrepareHardware, these members must both be valid." source: §5
 * step 8, a missing raw or translated descriptor. */
WDF_TEST(invalid_device_state_prepare_hardware_without_resources) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.PrepareHardware = CreateInPrepareHardware;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_PrepareStatus[0], STATUS_INVALID_DEVICE_STATE);
    CHECK_STATUS(g_PrepareStatus[1], STATUS_INVALID_DEVICE_STATE);
}

/* source: §3 ShareVector, §5 step 8: "Must be WdfUseDefault if created in PrepareHardware (else
 * STATUS_INVALID_DEVICE_STATE)." (not on the page) */
WDF_TEST(invalid_device_state_prepare_hardware_share_vector) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.PrepareHardware = CreateInPrepareHardware;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_PrepareStatus[2], STATUS_INVALID_DEVICE_STATE);
}

/* source: §3 InterruptRaw/InterruptTranslated "They must be the descriptors that WDF handed to the
 * callback" (§5 step 12): a copy is STATUS_INVALID_PARAMETER. */
WDF_TEST(invalid_parameter_foreign_descriptors) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.PrepareHardware = CreateInPrepareHardware;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_STATUS(g_PrepareStatus[3], STATUS_INVALID_PARAMETER);
}

/* page (Remarks): "Starting in KMDF version 1.11 and UMDF version 2.0, drivers can call
 * WdfInterruptCreate from EvtDevicePrepareHardware." */
WDF_TEST(create_in_prepare_hardware) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.PrepareHardware = CreateInPrepareHardware;
    CHECK_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    REQUIRE(g_Interrupt != NULL);
    WDF_INTERRUPT_INFO info;
    WDF_INTERRUPT_INFO_INIT(&info);
    WdfInterruptGetInfo(g_Interrupt, &info);
    CHECK(info.Vector != 0);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) == 1);
}

/* Automatic serialization against a device whose execution level is set explicitly. */
static WDF_OBJECT_ATTRIBUTES g_DeviceAttributes;
static NTSTATUS CreateSerialized(WDFDEVICE Device) {
    g_Config.AutomaticSerialization = TRUE;
    g_CreateStatus = WdfInterruptCreate(Device, &g_Config, NULL, &g_Interrupt);
    return STATUS_SUCCESS;
}
static NTSTATUS SerializedCreateStatus(WDF_EXECUTION_LEVEL DeviceLevel, BOOLEAN WorkItem) {
    WDF_OBJECT_ATTRIBUTES_INIT(&g_DeviceAttributes);
    g_DeviceAttributes.ExecutionLevel = DeviceLevel;
    g_DeviceAttributes.SynchronizationScope = WdfSynchronizationScopeDevice;
    if (WorkItem) {
        WDF_INTERRUPT_CONFIG_INIT(&g_Config, EvtIsrQueueWorkItem, NULL);
        g_Config.EvtInterruptWorkItem = EvtWorkItem;
    } else {
        WDF_INTERRUPT_CONFIG_INIT(&g_Config, EvtIsrQueueDpc, EvtDpc);
    }
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAttributes = &g_DeviceAttributes;
    hooks.DeviceAdd = CreateSerialized;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    return g_CreateStatus;
}

/* page: STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL "The AutomaticSerialization member ... is set to
 * TRUE and ... The execution level of the interrupt's parent object is WdfExecutionLevelPassive
 * and the driver has supplied EvtInterruptDpc." */
WDF_TEST(incompatible_execution_level_passive_parent_with_dpc) {
    CHECK_STATUS(SerializedCreateStatus(WdfExecutionLevelPassive, FALSE),
                 STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL);
}

/* page: STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL "... The execution level of the interrupt's parent
 * object is WdfExecutionLevelDispatch and the driver has supplied EvtInterruptWorkItem." */
WDF_TEST(incompatible_execution_level_dispatch_parent_with_work_item) {
    CHECK_STATUS(SerializedCreateStatus(WdfExecutionLevelDispatch, TRUE),
                 STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL);
}

/* page (the compatible pair of the STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL row for a Dispatch
 * parent): EvtInterruptDpc. */
WDF_TEST(compatible_execution_levels) {
    CHECK_STATUS(SerializedCreateStatus(WdfExecutionLevelDispatch, FALSE), STATUS_SUCCESS);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) == 1);
}
/* page (the compatible pair of the same row for a Passive parent): EvtInterruptWorkItem. */
WDF_TEST(compatible_execution_levels_passive) {
    CHECK_STATUS(SerializedCreateStatus(WdfExecutionLevelPassive, TRUE), STATUS_SUCCESS);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) == 1);
}

/* page: STATUS_NOT_SUPPORTED "The driver requested passive-level interrupt handling on a platform
 * earlier than Windows 8." Linux is never such a platform: passive handling is always supported,
 * and the ISR runs at PASSIVE_LEVEL. */
WDF_TEST(passive_handling_supported) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueWorkItem, NULL);
    config.EvtInterruptWorkItem = EvtWorkItem;
    config.PassiveHandling = TRUE;
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES), STATUS_SUCCESS);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_WorkItemCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrIrql), PASSIVE_LEVEL);
}

/* page: "A bug check occurs if the driver supplies an invalid object handle." (a WDFDRIVER where a
 * WDFDEVICE is required: WDF_INVALID_HANDLE). */
WDF_TEST_ABORT(invalid_handle_aborts) {
    WDF_TEST_HOOKS hooks = {0};
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDFINTERRUPT interrupt;
    (void)WdfInterruptCreate((WDFDEVICE)(void*)g_Driver, &config, NULL, &interrupt);
}

/* page: "A bug check occurs if the driver supplies an invalid object handle." In report mode the
 * verifier logs it and the call fails without creating anything. */
WDF_TEST(invalid_handle_report) {
    WDF_TEST_HOOKS hooks = {0};
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDFINTERRUPT interrupt = NULL;
    NTSTATUS status = 0;
    CHECK_REPORTS(1, status = WdfInterruptCreate((WDFDEVICE)(void*)g_Driver, &config, NULL,
                                                 &interrupt));
    CHECK(!NT_SUCCESS(status));
    CHECK(interrupt == NULL);
}

/* source: §5 step 1: "NULL Configuration or NULL Interrupt -> bug check (FxPointerNotNull ->
 * WDF_REQUIRED_PARAMETER_IS_NULL)." */
WDF_TEST_ABORT(null_configuration_aborts) {
    WDF_TEST_HOOKS hooks = {0};
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    WDFINTERRUPT interrupt;
    (void)WdfInterruptCreate(g_Device, NULL, NULL, &interrupt);
}

#define MANY 8
static WDFINTERRUPT g_Many[MANY];
static atomic_int g_ManyIsr[MANY], g_ManyEnable[MANY];
static atomic_uint g_ManyMessageId;
static int IndexOf(WDFINTERRUPT Interrupt) {
    for (int i = 0; i < MANY; ++i)
        if (g_Many[i] == Interrupt) return i;
    return -1;
}
static BOOLEAN EvtManyIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    if (EduTakeInterruptStatus() == 0) return FALSE;
    atomic_store(&g_ManyMessageId, MessageID);
    atomic_fetch_add(&g_ManyIsr[IndexOf(Interrupt)], 1);
    return TRUE;
}
static NTSTATUS EvtManyEnable(WDFINTERRUPT Interrupt, WDFDEVICE AssociatedDevice) {
    (void)AssociatedDevice;
    atomic_fetch_add(&g_ManyEnable[IndexOf(Interrupt)], 1);
    return STATUS_SUCCESS;
}
static WDF_INTERRUPT_INFO g_InfoInDeviceAdd;
static NTSTATUS CreateMany(WDFDEVICE Device) {
    for (int i = 0; i < MANY; ++i) {
        WDF_INTERRUPT_CONFIG config;
        WDF_INTERRUPT_CONFIG_INIT(&config, EvtManyIsr, NULL);
        config.EvtInterruptEnable = EvtManyEnable;
        REQUIRE(NT_SUCCESS(WdfInterruptCreate(Device, &config, NULL, &g_Many[i])));
    }
    WDF_INTERRUPT_INFO_INIT(&g_InfoInDeviceAdd);
    WdfInterruptGetInfo(g_Many[0], &g_InfoInDeviceAdd);
    return STATUS_SUCCESS;
}

/* page (Remarks): "Your driver must call WdfInterruptCreate once for each interrupt vector that its
 * device requires. If the device supports message-signaled interrupts (MSI), the driver must
 * create an interrupt object for each message that the device can support." / "The system might
 * not assign all of the interrupt resources that a device can support. ... a driver would create
 * eight interrupt objects for a device that is capable of supporting eight MSI messages. However,
 * the system might assign only one message to the device. In that case, seven of the interrupt
 * objects will be unused." (edu has one MSI message: objects 1..7 get none, are never connected,
 * and their callbacks never run; source §7.1.) */
WDF_TEST(unassigned_objects_unused) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateMany;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    for (int i = 0; i < MANY; ++i) {
        WDF_INTERRUPT_INFO info;
        WDF_INTERRUPT_INFO_INIT(&info);
        WdfInterruptGetInfo(g_Many[i], &info);
        CHECK_EQ_U(info.MessageNumber, i); /* the creation index (§4) */
        if (i == 0)
            CHECK(info.Vector != 0);
        else
            CHECK_EQ_U(info.Vector, 0); /* "Vector == 0 means no resource assigned" (§4) */
        CHECK_EQ_U(atomic_load(&g_ManyEnable[i]), i == 0 ? 1 : 0);
    }
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_ManyIsr[0]) == 1);
    CHECK_EQ_U(atomic_load(&g_ManyMessageId), 0);
    for (int i = 1; i < MANY; ++i)
        CHECK_EQ_U(atomic_load(&g_ManyIsr[i]), 0);
}

/* page (Remarks): "After the PnP manager assigns system resources to the device, the framework
 * stores information about the device's assigned interrupt resources in the interrupt objects
 * that the driver has created." (WdfInterruptGetInfo reads it; before, Vector is 0.) */
WDF_TEST(resources_stored_after_assignment) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateMany;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_EQ_U(g_InfoInDeviceAdd.Vector, 0);
    WDF_INTERRUPT_INFO info;
    WDF_INTERRUPT_INFO_INIT(&info);
    WdfInterruptGetInfo(g_Many[0], &info);
    CHECK(info.Vector != 0);
    CHECK_EQ_U(info.MessageSignaled, TRUE); /* the sim edu gives MSI */
    CHECK_EQ_U(info.Mode, Latched);
    CHECK(info.Irql > DISPATCH_LEVEL); /* a DIRQL interrupt */
    CHECK(info.TargetProcessorSet != 0);
    CHECK_EQ_U(info.Polarity, WdfInterruptPolarityUnknown); /* never written by WDF (§4, §20) */
}

static BOOLEAN EvtContextIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    (void)MessageID;
    ULONG status = EduTakeInterruptStatus();
    if (status == 0) return FALSE;
    PINTERRUPT_DATA data = GetInterruptData(Interrupt);
    data->SavedStatus |= status; /* under the interrupt lock */
    data->IsrCalls++;
    WdfInterruptQueueDpcForIsr(Interrupt);
    return TRUE;
}
static VOID EvtContextDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    (void)AssociatedObject;
    PINTERRUPT_DATA data = GetInterruptData(Interrupt);
    CHECK(WdfObjectContextGetObject(data) == (WDFOBJECT)Interrupt);
    WdfInterruptAcquireLock(Interrupt);
    ULONG status = data->SavedStatus;
    data->SavedStatus = 0;
    WdfInterruptReleaseLock(Interrupt);
    atomic_fetch_or(&g_DpcSawStatus, status);
    atomic_fetch_add(&g_DpcCalls, 1);
}
static ULONG g_ContextAtCreate = 0xdeadbeef;
static NTSTATUS CreateWithContext(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtContextIsr, EvtContextDpc);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, INTERRUPT_DATA);
    REQUIRE(NT_SUCCESS(WdfInterruptCreate(Device, &config, &attributes, &g_Interrupt)));
    PINTERRUPT_DATA data = GetInterruptData(g_Interrupt);
    g_ContextAtCreate = data->SavedStatus | data->IsrCalls;
    return STATUS_SUCCESS;
}

/* page (Remarks): "Typically, your driver should store interrupt-specific information, such as the
 * copied contents of device interrupt registers, in the interrupt object's context space. The
 * WDF_OBJECT_ATTRIBUTES structure that the driver passes to WdfInterruptCreate should describe the
 * context space." (zero-initialised, §18.1) */
WDF_TEST(context_space) {
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAdd = CreateWithContext;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_EQ_U(g_ContextAtCreate, 0);
    EduRaise(0x42);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) >= 1);
    CHECK_EQ_U(atomic_load(&g_DpcSawStatus), 0x42);
}

static atomic_int g_Sequence, g_InterruptCleanupAt, g_InterruptDestroyAt, g_DeviceCleanupAt;
static atomic_int g_CleanupIrql = -1, g_DestroyIrql = -1;
static VOID EvtInterruptCleanup(WDFOBJECT Object) {
    (void)Object;
    atomic_store(&g_CleanupIrql, KeGetCurrentIrql());
    atomic_store(&g_InterruptCleanupAt, atomic_fetch_add(&g_Sequence, 1) + 1);
}
static VOID EvtInterruptDestroy(WDFOBJECT Object) {
    (void)Object;
    atomic_store(&g_DestroyIrql, KeGetCurrentIrql());
    atomic_store(&g_InterruptDestroyAt, atomic_fetch_add(&g_Sequence, 1) + 1);
}
static VOID EvtDeviceCleanup(WDFOBJECT Object) {
    (void)Object;
    atomic_store(&g_DeviceCleanupAt, atomic_fetch_add(&g_Sequence, 1) + 1);
}
static NTSTATUS CreateWithCleanup(WDFDEVICE Device) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.EvtCleanupCallback = EvtInterruptCleanup;
    attributes.EvtDestroyCallback = EvtInterruptDestroy;
    REQUIRE(NT_SUCCESS(WdfInterruptCreate(Device, &config, &attributes, &g_Interrupt)));
    return STATUS_SUCCESS;
}
static void StartWithCleanupCallbacks(void) {
    WDF_OBJECT_ATTRIBUTES_INIT(&g_DeviceAttributes);
    g_DeviceAttributes.EvtCleanupCallback = EvtDeviceCleanup;
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAttributes = &g_DeviceAttributes;
    hooks.DeviceAdd = CreateWithCleanup;
    REQUIRE_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    CHECK_EQ_U(atomic_load(&g_InterruptCleanupAt), 0);
    WdfxRemoveDevice(g_Device);
    g_Device = NULL;
}

/* page (Remarks): "For drivers using framework version 1.9 and earlier, the parent of each
 * interrupt object is the device object that the interrupt belongs to." (and the default parent
 * in later versions, source §5 "The default parent is the device"): the interrupt is deleted with
 * its device, its cleanup before the device's (children first, §18.1). */
WDF_TEST(default_parent_is_device) {
    StartWithCleanupCallbacks();
    CHECK(atomic_load(&g_InterruptCleanupAt) != 0);
    CHECK(atomic_load(&g_DeviceCleanupAt) != 0);
    CHECK(atomic_load(&g_InterruptCleanupAt) < atomic_load(&g_DeviceCleanupAt));
}

/* page (Remarks): "If your driver provides EvtCleanupCallback or EvtDestroyCallback callback
 * functions for the framework interrupt object, note that the framework calls these callback
 * functions at IRQL = PASSIVE_LEVEL." */
WDF_TEST(cleanup_and_destroy_at_passive) {
    StartWithCleanupCallbacks();
    CHECK(atomic_load(&g_InterruptCleanupAt) != 0);
    CHECK(atomic_load(&g_InterruptDestroyAt) > atomic_load(&g_InterruptCleanupAt));
    CHECK_EQ_U(atomic_load(&g_CleanupIrql), PASSIVE_LEVEL);
    CHECK_EQ_U(atomic_load(&g_DestroyIrql), PASSIVE_LEVEL);
}

/* ---- the page's example, as written there -------------------------------------------------- */
typedef struct _DEVICE_EXTENSION {
    WDFINTERRUPT WdfInterrupt;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(DEVICE_EXTENSION, GetDeviceExtension)

static EVT_WDF_INTERRUPT_ISR MyEvtInterruptIsr;
static EVT_WDF_INTERRUPT_DPC MyEvtInterruptDpc;
static BOOLEAN MyEvtInterruptIsr(WDFINTERRUPT Interrupt, ULONG MessageID) {
    return EvtContextIsr(Interrupt, MessageID);
}
static VOID MyEvtInterruptDpc(WDFINTERRUPT Interrupt, WDFOBJECT AssociatedObject) {
    EvtContextDpc(Interrupt, AssociatedObject);
}
static NTSTATUS ExampleDeviceAdd(WDFDEVICE device) {
    PDEVICE_EXTENSION devExt = GetDeviceExtension(device);

    NTSTATUS status;
    WDF_INTERRUPT_CONFIG interruptConfig;
    WDF_OBJECT_ATTRIBUTES interruptAttributes;

    WDF_INTERRUPT_CONFIG_INIT(&interruptConfig, MyEvtInterruptIsr, MyEvtInterruptDpc);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&interruptAttributes, INTERRUPT_DATA);
    status = WdfInterruptCreate(device, &interruptConfig, &interruptAttributes,
                                &devExt->WdfInterrupt);
    return status;
}

/* page (Examples): "The following code example initializes a WDF_INTERRUPT_CONFIG structure and a
 * WDF_OBJECT_ATTRIBUTES structure and then calls WdfInterruptCreate." */
WDF_TEST(example) {
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&g_DeviceAttributes, DEVICE_EXTENSION);
    WDF_TEST_HOOKS hooks = {0};
    hooks.DeviceAttributes = &g_DeviceAttributes;
    hooks.DeviceAdd = ExampleDeviceAdd;
    CHECK_STATUS(WdfTestStart(&hooks), STATUS_SUCCESS);
    PDEVICE_EXTENSION devExt = GetDeviceExtension(g_Device);
    REQUIRE(devExt->WdfInterrupt != NULL);
    CHECK(WdfInterruptGetDevice(devExt->WdfInterrupt) == g_Device);
    EduRaise(0x7);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) >= 1);
    CHECK_EQ_U(atomic_load(&g_DpcSawStatus), 0x7);
}

#else /* WDFX_UMDF2 */

/* source: §3 "WDF_INTERRUPT_CONFIG_INIT ... The UMDF version also sets PassiveHandling = TRUE."
 * (page: "[Applies to KMDF and UMDF]"): a UMDF 2 interrupt's ISR runs at PASSIVE_LEVEL, and its
 * DPC runs as a work item at PASSIVE_LEVEL (§9.1). */
WDF_TEST(umdf2_config_init_sets_passive_handling) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    CHECK_EQ_U(config.PassiveHandling, TRUE);
    CHECK_STATUS(CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES), STATUS_SUCCESS);
    EduRaise(0x1);
    WAIT_UNTIL(atomic_load(&g_DpcCalls) == 1);
    CHECK_EQ_U(atomic_load(&g_IsrIrql), PASSIVE_LEVEL);
    CHECK_EQ_U(atomic_load(&g_DpcIrql), PASSIVE_LEVEL);
}

/* source: §5 step 3 "UMDF only ... PassiveHandling must be TRUE" (FX_VERIFY, fatal to the driver
 * host). wdfx: a verifier report; in report mode the create fails. */
WDF_TEST(umdf2_passive_handling_false_report) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    config.PassiveHandling = FALSE;
    NTSTATUS status = STATUS_SUCCESS;
    CHECK_REPORTS(1, status = CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES));
    CHECK(!NT_SUCCESS(status));
}

/* source: §5 step 3: the same FX_VERIFY with the verifier aborting. */
WDF_TEST_ABORT(umdf2_passive_handling_false_aborts) {
    WDF_INTERRUPT_CONFIG config;
    WDF_INTERRUPT_CONFIG_INIT(&config, EvtIsrQueueDpc, EvtDpc);
    config.PassiveHandling = FALSE;
    (void)CreateStatusInDeviceAdd(&config, WDF_NO_OBJECT_ATTRIBUTES);
}

#endif /* WDFX_UMDF2 */
