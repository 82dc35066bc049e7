// wdfx/wdf.h over the C++ core: argument conversion only, every rule lives in the core.
#include <wdfx/wdf.h>

#include <signal.h>
#include <time.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <wdfx/dma.hpp>
#include <wdfx/interface.hpp>
#include <wdfx/uio.hpp>
#include <wdfx/vfio.hpp>
#include <wdfx/wdfx.hpp>

#include "core/verifier.hpp"
#include "exec/context.hpp"

using namespace wdfx;

namespace {

template <class H>
H to_c(std::uint64_t h) {
    return reinterpret_cast<H>(static_cast<std::uintptr_t>(h));
}
template <class H>
std::uint64_t to_h(H h) {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(h));
}

// ---- context types ------------------------------------------------------------------------------

std::mutex g_types_lock;
std::map<PCWDF_OBJECT_CONTEXT_TYPE_INFO, std::unique_ptr<context_type_info>> g_types;

const context_type_info* core_type(PCWDF_OBJECT_CONTEXT_TYPE_INFO c) {
    if (c == nullptr) return nullptr;
    std::lock_guard g(g_types_lock);
    auto& slot = g_types[c];
    if (!slot) {
        slot = std::make_unique<context_type_info>();
        slot->name = c->ContextName;
        slot->size = c->ContextSize;
        slot->align = alignof(std::max_align_t);
    }
    if (c->UniqueType != nullptr && c->UniqueType != c) {
        auto& u = g_types[c->UniqueType];
        if (!u) {
            u = std::make_unique<context_type_info>();
            u->name = c->UniqueType->ContextName;
            u->size = c->UniqueType->ContextSize;
        }
        slot->unique = u.get();
    }
    return slot.get();
}

/// WDF_OBJECT_ATTRIBUTES -> object_attributes. The checks of the C structure's own fields, in
/// FxValidateObjectAttributes' order: Size, the type info's Size, a named context, the size
/// override, the enums' ranges. The rules about which parent, level and scope an object accepts
/// are the core's.
NTSTATUS convert(PWDF_OBJECT_ATTRIBUTES a, object_attributes* out) {
    *out = object_attributes{};
    if (a == nullptr) return STATUS_SUCCESS;
    if (a->Size != sizeof(WDF_OBJECT_ATTRIBUTES)) return STATUS_INFO_LENGTH_MISMATCH;
    if (const WDF_OBJECT_CONTEXT_TYPE_INFO* t = a->ContextTypeInfo) {
        // The current layout or V1_0's (Size, ContextName, ContextSize).
        if (t->Size != sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO) &&
            t->Size != offsetof(WDF_OBJECT_CONTEXT_TYPE_INFO, UniqueType))
            return STATUS_INFO_LENGTH_MISMATCH;
        if (t->ContextSize > 0 && t->ContextName == nullptr)
            return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    }
    if (a->ContextSizeOverride > 0 &&
        (a->ContextTypeInfo == nullptr || a->ContextSizeOverride < a->ContextTypeInfo->ContextSize))
        return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    // A C caller can store any int in the enums; reading one out of the C++ enum's range is
    // undefined, so they are read as integers.
    unsigned level, scope;
    static_assert(sizeof level == sizeof a->ExecutionLevel &&
                  sizeof scope == sizeof a->SynchronizationScope);
    std::memcpy(&level, &a->ExecutionLevel, sizeof level);
    std::memcpy(&scope, &a->SynchronizationScope, sizeof scope);
    if (level == WdfExecutionLevelInvalid || level > WdfExecutionLevelDispatch ||
        scope == WdfSynchronizationScopeInvalid || scope > WdfSynchronizationScopeNone)
        return STATUS_WDF_OBJECT_ATTRIBUTES_INVALID;
    if (a->EvtCleanupCallback != nullptr) {
        auto fn = a->EvtCleanupCallback;
        out->on_cleanup = [fn](object o) { fn(to_c<WDFOBJECT>(o.handle())); };
    }
    if (a->EvtDestroyCallback != nullptr) {
        auto fn = a->EvtDestroyCallback;
        out->on_destroy = [fn](object o) { fn(to_c<WDFOBJECT>(o.handle())); };
    }
    out->level = static_cast<execution_level>(a->ExecutionLevel);
    out->scope = static_cast<synchronization_scope>(a->SynchronizationScope);
    out->parent = to_h(a->ParentObject);
    out->context = core_type(a->ContextTypeInfo);
    out->context_size_override = a->ContextSizeOverride;
    return STATUS_SUCCESS;
}

template <class T>
NTSTATUS code_of(const result<T>& r) {
    return static_cast<NTSTATUS>(r.code());
}

void require(const void* p, const char* api, const char* what) {
    if (p == nullptr)
        detail::verifier_report(api, 0, "required parameter is NULL",
                                "%s (WDF_REQUIRED_PARAMETER_IS_NULL)", what);
}

// ---- resource lists
// ------------------------------------------------------------------------------------

struct c_res_list {
    std::vector<CM_PARTIAL_RESOURCE_DESCRIPTOR> c;
    const resource_list* core = nullptr;
};
thread_local c_res_list* t_raw = nullptr;
thread_local c_res_list* t_translated = nullptr;

void fill(c_res_list& l, const resource_list& core) {
    l.core = &core;
    l.c.clear();
    for (const resource& r : core) {
        CM_PARTIAL_RESOURCE_DESCRIPTOR d;
        std::memset(&d, 0, sizeof d);
        d.ShareDisposition = static_cast<UCHAR>(r.share);
        if (r.type == resource_type::interrupt) {
            d.Type = CmResourceTypeInterrupt;
            d.Flags = static_cast<USHORT>(
                (r.mode == interrupt_mode::latched ? CM_RESOURCE_INTERRUPT_LATCHED : 0) |
                (r.message_signaled ? CM_RESOURCE_INTERRUPT_MESSAGE : 0));
            if (r.message_signaled) {
                d.u.MessageInterrupt.Raw.MessageCount = static_cast<USHORT>(r.message_count);
                d.u.MessageInterrupt.Raw.Vector = r.vector;
                d.u.MessageInterrupt.Raw.Affinity = r.affinity;
            } else {
                d.u.Interrupt.Level = r.irql;
                d.u.Interrupt.Vector = r.vector;
                d.u.Interrupt.Affinity = r.affinity;
            }
        } else {
            d.Type = r.type == resource_type::memory ? CmResourceTypeMemory : CmResourceTypePort;
            // The "physical address" names the BAR (WdfDeviceMapIoSpace resolves it).
            d.u.Memory.Start.QuadPart =
                static_cast<LONGLONG>((static_cast<std::uint64_t>(r.bar) + 1) << 32);
            d.u.Memory.Length = static_cast<ULONG>(r.length);
        }
        l.c.push_back(d);
    }
}

const resource* core_descriptor(PCM_PARTIAL_RESOURCE_DESCRIPTOR d, c_res_list* l) {
    if (d == nullptr || l == nullptr || l->core == nullptr || l->c.empty()) return nullptr;
    if (d < l->c.data() || d >= l->c.data() + l->c.size()) return nullptr;
    return &(*l->core)[static_cast<std::size_t>(d - l->c.data())];
}

// ---- device init
// ----------------------------------------------------------------------------------------

}  // namespace

struct WDFDEVICE_INIT {
    device_init* core;
};

extern "C" {

KIRQL KeGetCurrentIrql(void) {
    return static_cast<KIRQL>(current_level());
}

PVOID WdfObjectGetTypedContextWorker(WDFOBJECT Handle, PCWDF_OBJECT_CONTEXT_TYPE_INFO TypeInfo) {
    return object(to_h(Handle)).context(core_type(TypeInfo));
}

NTSTATUS WdfObjectCreate(PWDF_OBJECT_ATTRIBUTES Attributes, WDFOBJECT* Object) {
    require(Object, "WdfObjectCreate", "Object");
    object_attributes a;
    if (NTSTATUS s = convert(Attributes, &a); !NT_SUCCESS(s)) return s;
    auto r = create_object(a);
    if (!r) return code_of(r);
    *Object = to_c<WDFOBJECT>(r->handle());
    return STATUS_SUCCESS;
}
VOID WdfObjectDelete(WDFOBJECT Object) {
    (void)object(to_h(Object)).delete_object();
}
VOID WdfObjectReference(WDFOBJECT Object) {
    object(to_h(Object)).reference();
}
VOID WdfObjectDereference(WDFOBJECT Object) {
    object(to_h(Object)).dereference();
}
NTSTATUS WdfObjectAllocateContext(WDFOBJECT Object, PWDF_OBJECT_ATTRIBUTES ContextAttributes,
                                  PVOID* Context) {
    require(ContextAttributes, "WdfObjectAllocateContext", "ContextAttributes");
    if (ContextAttributes == nullptr || ContextAttributes->ContextTypeInfo == nullptr)
        return STATUS_INVALID_PARAMETER;
    object o(to_h(Object));
    auto s = o.allocate_context(core_type(ContextAttributes->ContextTypeInfo),
                                ContextAttributes->ContextSizeOverride);
    if (Context != nullptr) *Context = o.context(core_type(ContextAttributes->ContextTypeInfo));
    return static_cast<NTSTATUS>(s);
}
WDFOBJECT WdfObjectContextGetObject(PVOID ContextPointer) {
    return to_c<WDFOBJECT>(object_from_context(ContextPointer).handle());
}
VOID WdfObjectAcquireLock(WDFOBJECT Object) {
    object(to_h(Object)).acquire_lock();
}
VOID WdfObjectReleaseLock(WDFOBJECT Object) {
    object(to_h(Object)).release_lock();
}

// ---- resources, registers
// -------------------------------------------------------------------------------------

ULONG WdfCmResourceListGetCount(WDFCMRESLIST List) {
    auto* l = reinterpret_cast<c_res_list*>(List);
    return l != nullptr ? static_cast<ULONG>(l->c.size()) : 0;
}
PCM_PARTIAL_RESOURCE_DESCRIPTOR WdfCmResourceListGetDescriptor(WDFCMRESLIST List, ULONG Index) {
    auto* l = reinterpret_cast<c_res_list*>(List);
    if (l == nullptr || Index >= l->c.size()) return nullptr;
    return &l->c[Index];
}

NTSTATUS WdfDeviceMapIoSpace(WDFDEVICE Device, PHYSICAL_ADDRESS PhysicalAddress,
                             SIZE_T NumberOfBytes, MEMORY_CACHING_TYPE CacheType,
                             PVOID* PseudoBaseAddress) {
    (void)CacheType;
    require(PseudoBaseAddress, "WdfDeviceMapIoSpace", "PseudoBaseAddress");
    auto bar_token = static_cast<std::uint64_t>(PhysicalAddress.QuadPart);
    if ((bar_token & 0xffffffffull) != 0 || (bar_token >> 32) == 0 || (bar_token >> 32) > 6)
        return STATUS_INVALID_PARAMETER;
    resource r;
    r.type = resource_type::memory;
    r.bar = static_cast<std::uint32_t>((bar_token >> 32) - 1);
    r.length = NumberOfBytes;
    auto m = device(to_h(Device)).map_registers(r);
    if (!m) return code_of(m);
    if (m->size() < NumberOfBytes) return STATUS_INVALID_PARAMETER;
    *PseudoBaseAddress = const_cast<void*>(const_cast<const volatile void*>(m->base()));
    return STATUS_SUCCESS;
}
VOID WdfDeviceUnmapIoSpace(WDFDEVICE Device, PVOID PseudoBaseAddress, SIZE_T NumberOfBytes) {
    // The BARs are unmapped by the framework after EvtDeviceReleaseHardware.
    (void)Device;
    (void)PseudoBaseAddress;
    (void)NumberOfBytes;
}
UCHAR WdfxReadRegister8(volatile void* r) {
    return read_register_8(r);
}
USHORT WdfxReadRegister16(volatile void* r) {
    return read_register_16(r);
}
ULONG WdfxReadRegister32(volatile void* r) {
    return read_register_32(r);
}
ULONG64 WdfxReadRegister64(volatile void* r) {
    return read_register_64(r);
}
VOID WdfxWriteRegister8(volatile void* r, UCHAR v) {
    write_register_8(r, v);
}
VOID WdfxWriteRegister16(volatile void* r, USHORT v) {
    write_register_16(r, v);
}
VOID WdfxWriteRegister32(volatile void* r, ULONG v) {
    write_register_32(r, v);
}
VOID WdfxWriteRegister64(volatile void* r, ULONG64 v) {
    write_register_64(r, v);
}
VOID KeMemoryBarrier(void) {
    register_block::write_barrier();
}

// ---- driver
// ---------------------------------------------------------------------------------------------------------

static NTSTATUS driver_create(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                              PWDF_OBJECT_ATTRIBUTES DriverAttributes,
                              PWDF_DRIVER_CONFIG DriverConfig, WDFDRIVER* Driver, bool umdf) {
    (void)DriverObject;
    require(DriverConfig, "WdfDriverCreate", "DriverConfig");
    if (DriverConfig == nullptr) return STATUS_INVALID_PARAMETER;
    if (DriverConfig->Size != sizeof(WDF_DRIVER_CONFIG)) return STATUS_INFO_LENGTH_MISMATCH;
    object_attributes a;
    if (NTSTATUS s = convert(DriverAttributes, &a); !NT_SUCCESS(s)) return s;
    driver_config cfg;
    if (RegistryPath != nullptr && RegistryPath->Buffer != nullptr) cfg.name = RegistryPath->Buffer;
    if (umdf) cfg.flavour = driver_flavour::umdf2;
    if (auto add = DriverConfig->EvtDriverDeviceAdd) {
        cfg.on_device_add = [add](driver d, device_init& init) {
            WDFDEVICE_INIT c{&init};
            return static_cast<status>(add(to_c<WDFDRIVER>(d.handle()), &c));
        };
    }
    if (auto unload = DriverConfig->EvtDriverUnload)
        cfg.on_unload = [unload](driver d) { unload(to_c<WDFDRIVER>(d.handle())); };
    auto r = driver::create(cfg, a);
    if (!r) return code_of(r);
    if (Driver != nullptr) *Driver = to_c<WDFDRIVER>(r->handle());
    return STATUS_SUCCESS;
}

#undef WdfDriverCreate
NTSTATUS WdfDriverCreate(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                         PWDF_OBJECT_ATTRIBUTES DriverAttributes, PWDF_DRIVER_CONFIG DriverConfig,
                         WDFDRIVER* Driver) {
    return driver_create(DriverObject, RegistryPath, DriverAttributes, DriverConfig, Driver, false);
}
NTSTATUS WdfxDriverCreateUmdf2(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                               PWDF_OBJECT_ATTRIBUTES DriverAttributes,
                               PWDF_DRIVER_CONFIG DriverConfig, WDFDRIVER* Driver) {
    return driver_create(DriverObject, RegistryPath, DriverAttributes, DriverConfig, Driver, true);
}

// ---- device
// -----------------------------------------------------------------------------------------------------------

VOID WdfDeviceInitSetPnpPowerEventCallbacks(PWDFDEVICE_INIT DeviceInit,
                                            PWDF_PNPPOWER_EVENT_CALLBACKS c) {
    require(DeviceInit, "WdfDeviceInitSetPnpPowerEventCallbacks", "DeviceInit");
    require(c, "WdfDeviceInitSetPnpPowerEventCallbacks", "PnpPowerEventCallbacks");
    if (DeviceInit == nullptr || c == nullptr) return;
    auto& p = DeviceInit->core->pnp_power;
    p = pnp_power_callbacks{};  // the structure is copied: a second call replaces the whole set
    if (auto f = c->EvtDevicePrepareHardware) {
        p.on_prepare_hardware = [f](device d, const resource_list& raw, const resource_list& tr) {
            c_res_list lraw, ltr;
            fill(lraw, raw);
            fill(ltr, tr);
            c_res_list* saved_raw = t_raw;
            c_res_list* saved_tr = t_translated;
            t_raw = &lraw;
            t_translated = &ltr;
            NTSTATUS s = f(to_c<WDFDEVICE>(d.handle()), reinterpret_cast<WDFCMRESLIST>(&lraw),
                           reinterpret_cast<WDFCMRESLIST>(&ltr));
            t_raw = saved_raw;
            t_translated = saved_tr;
            return static_cast<status>(s);
        };
    }
    if (auto f = c->EvtDeviceReleaseHardware) {
        p.on_release_hardware = [f](device d, const resource_list& tr) {
            c_res_list ltr;
            fill(ltr, tr);
            return static_cast<status>(
                f(to_c<WDFDEVICE>(d.handle()), reinterpret_cast<WDFCMRESLIST>(&ltr)));
        };
    }
    auto power = [](auto f) {
        return [f](device d, device_power_state s) {
            return static_cast<status>(
                f(to_c<WDFDEVICE>(d.handle()), static_cast<WDF_POWER_DEVICE_STATE>(s)));
        };
    };
    if (c->EvtDeviceD0Entry) p.on_d0_entry = power(c->EvtDeviceD0Entry);
    if (c->EvtDeviceD0EntryPostInterruptsEnabled)
        p.on_d0_entry_post_interrupts_enabled = power(c->EvtDeviceD0EntryPostInterruptsEnabled);
    if (c->EvtDeviceD0Exit) p.on_d0_exit = power(c->EvtDeviceD0Exit);
    if (c->EvtDeviceD0ExitPreInterruptsDisabled)
        p.on_d0_exit_pre_interrupts_disabled = power(c->EvtDeviceD0ExitPreInterruptsDisabled);
    auto io = [](auto f) {
        return [f](device d) { return static_cast<status>(f(to_c<WDFDEVICE>(d.handle()))); };
    };
    if (c->EvtDeviceSelfManagedIoInit)
        p.on_self_managed_io_init = io(c->EvtDeviceSelfManagedIoInit);
    if (c->EvtDeviceSelfManagedIoSuspend)
        p.on_self_managed_io_suspend = io(c->EvtDeviceSelfManagedIoSuspend);
    if (c->EvtDeviceSelfManagedIoRestart)
        p.on_self_managed_io_restart = io(c->EvtDeviceSelfManagedIoRestart);
    if (auto f = c->EvtDeviceSelfManagedIoCleanup)
        p.on_self_managed_io_cleanup = [f](device d) { f(to_c<WDFDEVICE>(d.handle())); };
    if (auto f = c->EvtDeviceSurpriseRemoval)
        p.on_surprise_removal = [f](device d) { f(to_c<WDFDEVICE>(d.handle())); };
}

VOID WdfDeviceInitSetPowerNotPageable(PWDFDEVICE_INIT DeviceInit) {
    require(DeviceInit, "WdfDeviceInitSetPowerNotPageable", "DeviceInit");
    if (DeviceInit != nullptr) DeviceInit->core->power_pageable = false;
}

NTSTATUS WdfDeviceCreate(PWDFDEVICE_INIT* DeviceInit, PWDF_OBJECT_ATTRIBUTES DeviceAttributes,
                         WDFDEVICE* Device) {
    require(DeviceInit, "WdfDeviceCreate", "DeviceInit");
    require(Device, "WdfDeviceCreate", "Device");
    if (DeviceInit == nullptr || *DeviceInit == nullptr || Device == nullptr)
        return STATUS_INVALID_PARAMETER;
    object_attributes a;
    if (NTSTATUS s = convert(DeviceAttributes, &a); !NT_SUCCESS(s)) return s;
    auto r = device::create(*(*DeviceInit)->core, a);
    if (!r) return code_of(r);
    *DeviceInit = nullptr;  // consumed
    *Device = to_c<WDFDEVICE>(r->handle());
    return STATUS_SUCCESS;
}

NTSTATUS WdfDeviceCreateDeviceInterface(WDFDEVICE Device, LPCGUID InterfaceClassGUID,
                                        PCUNICODE_STRING ReferenceString) {
    (void)InterfaceClassGUID;  // no interface classes: the reference string names the socket
    require(ReferenceString, "WdfDeviceCreateDeviceInterface", "ReferenceString");
    if (ReferenceString == nullptr || ReferenceString->Buffer == nullptr ||
        ReferenceString->Buffer[0] == '\0')
        return STATUS_INVALID_PARAMETER;
    socket_interface_config cfg;
    cfg.name = ReferenceString->Buffer;
    auto r = socket_interface::create(device(to_h(Device)), cfg);
    return r ? STATUS_SUCCESS : code_of(r);
}

WDFDRIVER WdfDeviceGetDriver(WDFDEVICE Device) {
    return to_c<WDFDRIVER>(device(to_h(Device)).get_driver().handle());
}
WDFQUEUE WdfDeviceGetDefaultQueue(WDFDEVICE Device) {
    return to_c<WDFQUEUE>(get_default_queue(device(to_h(Device))).handle());
}

// ---- interrupts
// -------------------------------------------------------------------------------------------------------

NTSTATUS WdfInterruptCreate(WDFDEVICE Device, PWDF_INTERRUPT_CONFIG Configuration,
                            PWDF_OBJECT_ATTRIBUTES Attributes, WDFINTERRUPT* Interrupt) {
    constexpr const char* api = "WdfInterruptCreate";
    // §5 step 1: NULL Configuration or Interrupt is a bug check (WDF_REQUIRED_PARAMETER_IS_NULL).
    require(Configuration, api, "Configuration");
    require(Interrupt, api, "Interrupt");
    if (Configuration == nullptr || Interrupt == nullptr) return STATUS_INVALID_PARAMETER;
    // §5 step 2: the structure's size must be a known version; an older one is normalised.
    WDF_INTERRUPT_CONFIG c;
    if (Configuration->Size == sizeof(WDF_INTERRUPT_CONFIG)) {
        c = *Configuration;
    } else if (Configuration->Size == sizeof(WDF_INTERRUPT_CONFIG_V1_9)) {
        WDF_INTERRUPT_CONFIG_INIT(&c, nullptr, nullptr);
        std::memcpy(&c, Configuration, sizeof(WDF_INTERRUPT_CONFIG_V1_9));
    } else {
        return STATUS_INFO_LENGTH_MISMATCH;
    }
    // The source validates the ISR (§5 step 4) before the attributes (step 5): without an ISR
    // the core refuses the call whatever the attributes say.
    object_attributes a;
    if (c.EvtInterruptIsr != nullptr) {
        if (NTSTATUS s = convert(Attributes, &a); !NT_SUCCESS(s)) return s;
    }
    interrupt_config ic;
    if (auto f = c.EvtInterruptIsr)
        ic.on_isr = [f](interrupt i, const isr_context& x) {
            return f(to_c<WDFINTERRUPT>(i.handle()), x.message_id) != FALSE;
        };
    if (auto f = c.EvtInterruptDpc)
        ic.on_dpc = [f](interrupt i, object o) {
            f(to_c<WDFINTERRUPT>(i.handle()), to_c<WDFOBJECT>(o.handle()));
        };
    if (auto f = c.EvtInterruptWorkItem)
        ic.on_work_item = [f](interrupt i, object o) {
            f(to_c<WDFINTERRUPT>(i.handle()), to_c<WDFOBJECT>(o.handle()));
        };
    if (auto f = c.EvtInterruptEnable)
        ic.on_enable = [f](interrupt i, device d) {
            return static_cast<status>(
                f(to_c<WDFINTERRUPT>(i.handle()), to_c<WDFDEVICE>(d.handle())));
        };
    if (auto f = c.EvtInterruptDisable)
        ic.on_disable = [f](interrupt i, device d) {
            return static_cast<status>(
                f(to_c<WDFINTERRUPT>(i.handle()), to_c<WDFDEVICE>(d.handle())));
        };
    ic.spin_lock_handle = spin_lock(to_h(c.SpinLock));
    ic.wait_lock_handle = wait_lock(to_h(c.WaitLock));
    ic.share_vector = static_cast<tri_state>(c.ShareVector);
    ic.floating_save = c.FloatingSave != FALSE;
    ic.automatic_serialization = c.AutomaticSerialization != FALSE;
    ic.passive_handling = c.PassiveHandling != FALSE;
    ic.report_inactive_on_power_down = static_cast<tri_state>(c.ReportInactiveOnPowerDown);
    ic.can_wake_device = c.CanWakeDevice != FALSE;
    // Descriptors handed to EvtDevicePrepareHardware map to the core's; anything else is passed
    // through as a foreign pointer, which the core rejects (§5 step 12).
    static const resource foreign{};
    if (c.InterruptRaw != nullptr) {
        const resource* r = core_descriptor(c.InterruptRaw, t_raw);
        ic.interrupt_raw = r != nullptr ? r : &foreign;
    }
    if (c.InterruptTranslated != nullptr) {
        const resource* r = core_descriptor(c.InterruptTranslated, t_translated);
        ic.interrupt_translated = r != nullptr ? r : &foreign;
    }
    auto r = interrupt::create(device(to_h(Device)), ic, a);
    if (!r) return code_of(r);
    *Interrupt = to_c<WDFINTERRUPT>(r->handle());
    return STATUS_SUCCESS;
}

BOOLEAN WdfInterruptQueueDpcForIsr(WDFINTERRUPT Interrupt) {
    return interrupt(to_h(Interrupt)).queue_dpc_for_isr();
}
BOOLEAN WdfInterruptQueueWorkItemForIsr(WDFINTERRUPT Interrupt) {
    return interrupt(to_h(Interrupt)).queue_work_item_for_isr();
}
BOOLEAN WdfInterruptSynchronize(WDFINTERRUPT Interrupt, PFN_WDF_INTERRUPT_SYNCHRONIZE Callback,
                                WDFCONTEXT Context) {
    require(reinterpret_cast<const void*>(Callback), "WdfInterruptSynchronize", "Callback");
    if (Callback == nullptr) return FALSE;
    struct ctx {
        PFN_WDF_INTERRUPT_SYNCHRONIZE fn;
        WDFCONTEXT c;
    } x{Callback, Context};
    return interrupt(to_h(Interrupt))
                   .synchronize(
                       [](interrupt i, void* p) {
                           auto* y = static_cast<ctx*>(p);
                           return y->fn(to_c<WDFINTERRUPT>(i.handle()), y->c) != FALSE;
                       },
                       &x)
               ? TRUE
               : FALSE;
}
VOID WdfInterruptAcquireLock(WDFINTERRUPT Interrupt) {
    interrupt(to_h(Interrupt)).acquire_lock();
}
VOID WdfInterruptReleaseLock(WDFINTERRUPT Interrupt) {
    interrupt(to_h(Interrupt)).release_lock();
}
BOOLEAN WdfInterruptTryToAcquireLock(WDFINTERRUPT Interrupt) {
    return interrupt(to_h(Interrupt)).try_to_acquire_lock() ? TRUE : FALSE;
}
VOID WdfInterruptEnable(WDFINTERRUPT Interrupt) {
    interrupt(to_h(Interrupt)).enable();
}
VOID WdfInterruptDisable(WDFINTERRUPT Interrupt) {
    interrupt(to_h(Interrupt)).disable();
}

VOID WdfInterruptGetInfo(WDFINTERRUPT Interrupt, PWDF_INTERRUPT_INFO Info) {
    require(Info, "WdfInterruptGetInfo", "Info");
    if (Info == nullptr) return;
    if (Info->Size != sizeof(WDF_INTERRUPT_INFO)) {
        // §11: a bad Size is a verifier break and the structure is left unfilled.
        detail::verifier_report("WdfInterruptGetInfo", to_h(Interrupt), "bad structure size",
                                "Info->Size is %u, expected %zu", Info->Size,
                                sizeof(WDF_INTERRUPT_INFO));
        return;
    }
    interrupt_info i = interrupt(to_h(Interrupt)).get_info();
    Info->Reserved1 = 0;
    Info->TargetProcessorSet = i.target_processor_set;
    Info->Reserved2 = 0;
    Info->MessageNumber = i.message_number;
    Info->Vector = i.vector;
    Info->Irql = i.irql;
    Info->Mode = static_cast<KINTERRUPT_MODE>(i.mode);
    Info->Polarity = static_cast<WDF_INTERRUPT_POLARITY>(i.polarity);
    Info->MessageSignaled = i.message_signaled ? TRUE : FALSE;
    Info->ShareDisposition = i.share_disposition;
    Info->Group = i.group;
}

WDFDEVICE WdfInterruptGetDevice(WDFINTERRUPT Interrupt) {
    return to_c<WDFDEVICE>(interrupt(to_h(Interrupt)).get_device().handle());
}
VOID WdfInterruptSetPolicy(WDFINTERRUPT Interrupt, WDF_INTERRUPT_POLICY Policy,
                           WDF_INTERRUPT_PRIORITY Priority, KAFFINITY TargetProcessorSet) {
    interrupt(to_h(Interrupt))
        .set_policy(static_cast<interrupt_policy>(Policy),
                    static_cast<interrupt_priority>(Priority), TargetProcessorSet);
}
VOID WdfInterruptSetExtendedPolicy(WDFINTERRUPT Interrupt, PWDF_INTERRUPT_EXTENDED_POLICY p) {
    require(p, "WdfInterruptSetExtendedPolicy", "PolicyAndGroup");
    if (p == nullptr) return;
    if (p->Size != sizeof(WDF_INTERRUPT_EXTENDED_POLICY) ||
        p->TargetProcessorSetAndGroup.Reserved[0] != 0 ||
        p->TargetProcessorSetAndGroup.Reserved[1] != 0 ||
        p->TargetProcessorSetAndGroup.Reserved[2] != 0) {
        detail::verifier_report("WdfInterruptSetExtendedPolicy", to_h(Interrupt),
                                "bad policy structure",
                                "wrong Size or non-zero GROUP_AFFINITY.Reserved (§13)");
        return;
    }
    interrupt_extended_policy e;
    e.policy = static_cast<interrupt_policy>(p->Policy);
    e.priority = static_cast<interrupt_priority>(p->Priority);
    e.target_processors = p->TargetProcessorSetAndGroup.Mask;
    e.group = p->TargetProcessorSetAndGroup.Group;
    interrupt(to_h(Interrupt)).set_extended_policy(e);
}
VOID WdfInterruptReportActive(WDFINTERRUPT Interrupt) {
    interrupt(to_h(Interrupt)).report_active();
}
VOID WdfInterruptReportInactive(WDFINTERRUPT Interrupt) {
    interrupt(to_h(Interrupt)).report_inactive();
}

// ---- work items, locks, timers
// -------------------------------------------------------------------------------------------

NTSTATUS WdfWorkItemCreate(PWDF_WORKITEM_CONFIG Config, PWDF_OBJECT_ATTRIBUTES Attributes,
                           WDFWORKITEM* WorkItem) {
    require(Config, "WdfWorkItemCreate", "Config");
    require(WorkItem, "WdfWorkItemCreate", "WorkItem");
    if (Config == nullptr || WorkItem == nullptr) return STATUS_INVALID_PARAMETER;
    if (Config->Size != sizeof(WDF_WORKITEM_CONFIG)) return STATUS_INFO_LENGTH_MISMATCH;
    if (Attributes == nullptr) return STATUS_WDF_PARENT_NOT_SPECIFIED;
    object_attributes a;
    if (NTSTATUS s = convert(Attributes, &a); !NT_SUCCESS(s)) return s;
    work_item_config w;
    if (auto f = Config->EvtWorkItemFunc)
        w.on_work_item = [f](work_item i) { f(to_c<WDFWORKITEM>(i.handle())); };
    w.automatic_serialization = Config->AutomaticSerialization != FALSE;
    auto r = work_item::create(w, a);
    if (!r) return code_of(r);
    *WorkItem = to_c<WDFWORKITEM>(r->handle());
    return STATUS_SUCCESS;
}
VOID WdfWorkItemEnqueue(WDFWORKITEM WorkItem) {
    work_item(to_h(WorkItem)).enqueue();
}
VOID WdfWorkItemFlush(WDFWORKITEM WorkItem) {
    work_item(to_h(WorkItem)).flush();
}
WDFOBJECT WdfWorkItemGetParentObject(WDFWORKITEM WorkItem) {
    return to_c<WDFOBJECT>(work_item(to_h(WorkItem)).get_parent_object().handle());
}

NTSTATUS WdfSpinLockCreate(PWDF_OBJECT_ATTRIBUTES SpinLockAttributes, WDFSPINLOCK* SpinLock) {
    require(SpinLock, "WdfSpinLockCreate", "SpinLock");
    if (SpinLock == nullptr) return STATUS_INVALID_PARAMETER;
    object_attributes a;
    if (NTSTATUS s = convert(SpinLockAttributes, &a); !NT_SUCCESS(s)) return s;
    auto r = spin_lock::create(a);
    if (!r) return code_of(r);
    *SpinLock = to_c<WDFSPINLOCK>(r->handle());
    return STATUS_SUCCESS;
}
VOID WdfSpinLockAcquire(WDFSPINLOCK SpinLock) {
    spin_lock(to_h(SpinLock)).acquire();
}
VOID WdfSpinLockRelease(WDFSPINLOCK SpinLock) {
    spin_lock(to_h(SpinLock)).release();
}
NTSTATUS WdfWaitLockCreate(PWDF_OBJECT_ATTRIBUTES LockAttributes, WDFWAITLOCK* Lock) {
    require(Lock, "WdfWaitLockCreate", "Lock");
    if (Lock == nullptr) return STATUS_INVALID_PARAMETER;
    object_attributes a;
    if (NTSTATUS s = convert(LockAttributes, &a); !NT_SUCCESS(s)) return s;
    auto r = wait_lock::create(a);
    if (!r) return code_of(r);
    *Lock = to_c<WDFWAITLOCK>(r->handle());
    return STATUS_SUCCESS;
}
NTSTATUS WdfWaitLockAcquire(WDFWAITLOCK Lock, PLONGLONG Timeout) {
    std::int64_t t = Timeout != nullptr ? *Timeout : 0;
    return static_cast<NTSTATUS>(wait_lock(to_h(Lock)).acquire(Timeout != nullptr ? &t : nullptr));
}
VOID WdfWaitLockRelease(WDFWAITLOCK Lock) {
    wait_lock(to_h(Lock)).release();
}

NTSTATUS WdfTimerCreate(PWDF_TIMER_CONFIG Config, PWDF_OBJECT_ATTRIBUTES Attributes,
                        WDFTIMER* Timer) {
    require(Config, "WdfTimerCreate", "Config");
    require(Timer, "WdfTimerCreate", "Timer");
    if (Config == nullptr || Timer == nullptr) return STATUS_INVALID_PARAMETER;
    if (Config->Size != sizeof(WDF_TIMER_CONFIG)) return STATUS_INFO_LENGTH_MISMATCH;
    if (Attributes == nullptr) return STATUS_WDF_PARENT_NOT_SPECIFIED;
    object_attributes a;
    if (NTSTATUS s = convert(Attributes, &a); !NT_SUCCESS(s)) return s;
    timer_config t;
    if (auto f = Config->EvtTimerFunc) t.on_timer = [f](timer x) { f(to_c<WDFTIMER>(x.handle())); };
    t.period_ms = Config->Period;
    t.automatic_serialization = Config->AutomaticSerialization != FALSE;
    t.tolerable_delay_ms = Config->TolerableDelay;
    auto r = timer::create(t, a);
    if (!r) return code_of(r);
    *Timer = to_c<WDFTIMER>(r->handle());
    return STATUS_SUCCESS;
}
BOOLEAN WdfTimerStart(WDFTIMER Timer, LONGLONG DueTime) {
    return timer(to_h(Timer)).start(DueTime) ? TRUE : FALSE;
}
BOOLEAN WdfTimerStop(WDFTIMER Timer, BOOLEAN Wait) {
    return timer(to_h(Timer)).stop(Wait != FALSE) ? TRUE : FALSE;
}
WDFOBJECT WdfTimerGetParentObject(WDFTIMER Timer) {
    return to_c<WDFOBJECT>(timer(to_h(Timer)).get_parent_object().handle());
}

// ---- queues and requests
// ------------------------------------------------------------------------------------------------

NTSTATUS WdfIoQueueCreate(WDFDEVICE Device, PWDF_IO_QUEUE_CONFIG Config,
                          PWDF_OBJECT_ATTRIBUTES QueueAttributes, WDFQUEUE* Queue) {
    require(Config, "WdfIoQueueCreate", "Config");
    if (Config == nullptr) return STATUS_INVALID_PARAMETER;
    if (Config->Size != sizeof(WDF_IO_QUEUE_CONFIG)) return STATUS_INFO_LENGTH_MISMATCH;
    object_attributes a;
    if (NTSTATUS s = convert(QueueAttributes, &a); !NT_SUCCESS(s)) return s;
    io_queue_config q;
    q.dispatch = static_cast<dispatch_type>(Config->DispatchType);
    q.power_managed = static_cast<tri_state>(Config->PowerManaged);
    q.allow_zero_length_requests = Config->AllowZeroLengthRequests != FALSE;
    q.default_queue = Config->DefaultQueue != FALSE;
    q.number_of_presented_requests = Config->NumberOfPresentedRequests;
    auto Q = [](io_queue x) { return to_c<WDFQUEUE>(x.handle()); };
    auto R = [](request x) { return to_c<WDFREQUEST>(x.handle()); };
    if (auto f = Config->EvtIoDefault)
        q.on_io_default = [f, Q, R](io_queue x, request r) { f(Q(x), R(r)); };
    if (auto f = Config->EvtIoRead)
        q.on_io_read = [f, Q, R](io_queue x, request r, std::size_t n) { f(Q(x), R(r), n); };
    if (auto f = Config->EvtIoWrite)
        q.on_io_write = [f, Q, R](io_queue x, request r, std::size_t n) { f(Q(x), R(r), n); };
    if (auto f = Config->EvtIoDeviceControl)
        q.on_io_device_control = [f, Q, R](io_queue x, request r, std::size_t o, std::size_t i,
                                           std::uint32_t c) { f(Q(x), R(r), o, i, c); };
    if (auto f = Config->EvtIoStop)
        q.on_io_stop = [f, Q, R](io_queue x, request r, std::uint32_t a2) { f(Q(x), R(r), a2); };
    if (auto f = Config->EvtIoResume)
        q.on_io_resume = [f, Q, R](io_queue x, request r) { f(Q(x), R(r)); };
    if (auto f = Config->EvtIoCanceledOnQueue)
        q.on_io_canceled_on_queue = [f, Q, R](io_queue x, request r) { f(Q(x), R(r)); };
    auto r = io_queue::create(device(to_h(Device)), q, a);
    if (!r) return code_of(r);
    if (Queue != nullptr) *Queue = to_c<WDFQUEUE>(r->handle());
    return STATUS_SUCCESS;
}
NTSTATUS WdfIoQueueRetrieveNextRequest(WDFQUEUE Queue, WDFREQUEST* OutRequest) {
    require(OutRequest, "WdfIoQueueRetrieveNextRequest", "OutRequest");
    auto r = io_queue(to_h(Queue)).retrieve_next_request();
    if (!r) return code_of(r);
    if (OutRequest != nullptr) *OutRequest = to_c<WDFREQUEST>(r->handle());
    return STATUS_SUCCESS;
}
WDFDEVICE WdfIoQueueGetDevice(WDFQUEUE Queue) {
    return to_c<WDFDEVICE>(io_queue(to_h(Queue)).get_device().handle());
}
VOID WdfIoQueueStart(WDFQUEUE Queue) {
    io_queue(to_h(Queue)).start();
}
VOID WdfIoQueueStopSynchronously(WDFQUEUE Queue) {
    io_queue(to_h(Queue)).stop_synchronously();
}
VOID WdfIoQueuePurgeSynchronously(WDFQUEUE Queue) {
    io_queue(to_h(Queue)).purge_synchronously();
}
NTSTATUS WdfDeviceConfigureRequestDispatching(WDFDEVICE Device, WDFQUEUE Queue,
                                              WDF_REQUEST_TYPE RequestType) {
    return static_cast<NTSTATUS>(configure_request_dispatching(
        device(to_h(Device)), io_queue(to_h(Queue)), static_cast<request_type>(RequestType)));
}

VOID WdfRequestComplete(WDFREQUEST Request, NTSTATUS Status) {
    request(to_h(Request)).complete(static_cast<status>(Status));
}
VOID WdfRequestCompleteWithInformation(WDFREQUEST Request, NTSTATUS Status, ULONG64 Information) {
    request(to_h(Request)).complete_with_information(static_cast<status>(Status), Information);
}
VOID WdfRequestSetInformation(WDFREQUEST Request, ULONG64 Information) {
    request(to_h(Request)).set_information(Information);
}
NTSTATUS WdfRequestRetrieveOutputBuffer(WDFREQUEST Request, size_t MinimumRequiredSize,
                                        PVOID* Buffer, size_t* Length) {
    require(Buffer, "WdfRequestRetrieveOutputBuffer", "Buffer");
    auto r = request(to_h(Request)).retrieve_output_buffer(MinimumRequiredSize);
    if (!r) return code_of(r);
    if (Buffer != nullptr) *Buffer = r->data();
    if (Length != nullptr) *Length = r->size();
    return STATUS_SUCCESS;
}
NTSTATUS WdfRequestRetrieveInputBuffer(WDFREQUEST Request, size_t MinimumRequiredSize,
                                       PVOID* Buffer, size_t* Length) {
    require(Buffer, "WdfRequestRetrieveInputBuffer", "Buffer");
    auto r = request(to_h(Request)).retrieve_input_buffer(MinimumRequiredSize);
    if (!r) return code_of(r);
    if (Buffer != nullptr) *Buffer = const_cast<std::byte*>(r->data());
    if (Length != nullptr) *Length = r->size();
    return STATUS_SUCCESS;
}
NTSTATUS WdfRequestRequeue(WDFREQUEST Request) {
    return static_cast<NTSTATUS>(request(to_h(Request)).requeue());
}
NTSTATUS WdfRequestForwardToIoQueue(WDFREQUEST Request, WDFQUEUE DestinationQueue) {
    return static_cast<NTSTATUS>(
        request(to_h(Request)).forward_to_io_queue(io_queue(to_h(DestinationQueue))));
}
NTSTATUS WdfRequestMarkCancelableEx(WDFREQUEST Request, PFN_WDF_REQUEST_CANCEL EvtRequestCancel) {
    require(reinterpret_cast<const void*>(EvtRequestCancel), "WdfRequestMarkCancelableEx",
            "EvtRequestCancel");
    auto f = EvtRequestCancel;
    return static_cast<NTSTATUS>(request(to_h(Request)).mark_cancelable([f](request r) {
        f(to_c<WDFREQUEST>(r.handle()));
    }));
}
NTSTATUS WdfRequestUnmarkCancelable(WDFREQUEST Request) {
    return static_cast<NTSTATUS>(request(to_h(Request)).unmark_cancelable());
}
BOOLEAN WdfRequestIsCanceled(WDFREQUEST Request) {
    return request(to_h(Request)).is_canceled() ? TRUE : FALSE;
}
WDFQUEUE WdfRequestGetIoQueue(WDFREQUEST Request) {
    return to_c<WDFQUEUE>(request(to_h(Request)).get_io_queue().handle());
}
WDFFILEOBJECT WdfRequestGetFileObject(WDFREQUEST Request) {
    return to_c<WDFFILEOBJECT>(request(to_h(Request)).get_file_object().handle());
}

// ---- DMA
// ---------------------------------------------------------------------------------------------------------------------

NTSTATUS WdfDmaEnablerCreate(WDFDEVICE Device, PWDF_DMA_ENABLER_CONFIG Config,
                             PWDF_OBJECT_ATTRIBUTES Attributes, WDFDMAENABLER* DmaEnablerHandle) {
    require(Config, "WdfDmaEnablerCreate", "Config");
    if (Config == nullptr || DmaEnablerHandle == nullptr) return STATUS_INVALID_PARAMETER;
    if (Config->Size != sizeof(WDF_DMA_ENABLER_CONFIG)) return STATUS_INFO_LENGTH_MISMATCH;
    object_attributes a;
    if (NTSTATUS s = convert(Attributes, &a); !NT_SUCCESS(s)) return s;
    dma_enabler_config c;
    switch (Config->Profile) {
        case WdfDmaProfilePacket:
        case WdfDmaProfileScatterGather:
        case WdfDmaProfileScatterGatherDuplex:
            c.address_bits = 32;
            break;
        case WdfDmaProfilePacket64:
        case WdfDmaProfileScatterGather64:
        case WdfDmaProfileScatterGather64Duplex:
            c.address_bits = 64;
            break;
        default:
            return STATUS_INVALID_PARAMETER;
    }
    c.maximum_length = Config->MaximumLength;
    auto r = dma_enabler::create(device(to_h(Device)), c, a);
    if (!r) return code_of(r);
    *DmaEnablerHandle = to_c<WDFDMAENABLER>(r->handle());
    return STATUS_SUCCESS;
}
NTSTATUS WdfCommonBufferCreate(WDFDMAENABLER DmaEnabler, size_t Length,
                               PWDF_OBJECT_ATTRIBUTES Attributes, WDFCOMMONBUFFER* CommonBuffer) {
    require(CommonBuffer, "WdfCommonBufferCreate", "CommonBuffer");
    if (CommonBuffer == nullptr) return STATUS_INVALID_PARAMETER;
    object_attributes a;
    if (NTSTATUS s = convert(Attributes, &a); !NT_SUCCESS(s)) return s;
    auto r = common_buffer::create(dma_enabler(to_h(DmaEnabler)), Length, a);
    if (!r) return code_of(r);
    *CommonBuffer = to_c<WDFCOMMONBUFFER>(r->handle());
    return STATUS_SUCCESS;
}
PVOID WdfCommonBufferGetAlignedVirtualAddress(WDFCOMMONBUFFER CommonBuffer) {
    return common_buffer(to_h(CommonBuffer)).virtual_address();
}
PHYSICAL_ADDRESS WdfCommonBufferGetAlignedLogicalAddress(WDFCOMMONBUFFER CommonBuffer) {
    PHYSICAL_ADDRESS p;
    p.QuadPart = static_cast<LONGLONG>(common_buffer(to_h(CommonBuffer)).logical_address());
    return p;
}
size_t WdfCommonBufferGetLength(WDFCOMMONBUFFER CommonBuffer) {
    return common_buffer(to_h(CommonBuffer)).length();
}

// ---- running a driver
// ---------------------------------------------------------------------------------------------------------

NTSTATUS WdfxAddSimEduDevice(WDFDRIVER Driver, BOOLEAN ForceIntx, WDFDEVICE* Device) {
    (void)ForceIntx;  // the driver chooses its interrupt type; the sim edu offers MSI and INTx
    auto r = driver(to_h(Driver)).add_and_start(sim::make_edu());
    if (!r) return code_of(r);
    if (Device != nullptr) *Device = to_c<WDFDEVICE>(r->handle());
    return STATUS_SUCCESS;
}

NTSTATUS WdfxAddPciDevice(WDFDRIVER Driver, PCSTR Bdf, BOOLEAN Uio, WDFDEVICE* Device) {
    auto bus = Uio ? uio::open(Bdf) : vfio::open(Bdf);
    if (!bus) {
        std::fprintf(stderr, "wdfx: %s\n", bus.err().describe().c_str());
        return code_of(bus);
    }
    auto r = driver(to_h(Driver)).add_and_start(*bus);
    if (!r) {
        std::fprintf(stderr, "wdfx: %s\n", r.err().describe().c_str());
        return code_of(r);
    }
    if (Device != nullptr) *Device = to_c<WDFDEVICE>(r->handle());
    return STATUS_SUCCESS;
}

VOID WdfxRemoveDevice(WDFDEVICE Device) {
    device d(to_h(Device));
    if (d.is_valid()) d.remove();
}

VOID WdfxUnloadDriver(WDFDRIVER Driver) {
    driver d(to_h(Driver));
    if (d.is_valid()) d.unload();
}

ULONG64 WdfxGetVerifierReportCount(void) {
    return verifier_report_count();
}

int WdfxRunDriver(int argc, char** argv, PDRIVER_INITIALIZE DriverEntry) {
    // Block the stop signals in every thread (the runtime's inherit this mask) and wait for them
    // here.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    struct dev_arg {
        std::string kind, bdf;
    };
    std::vector<dev_arg> devs;
    long seconds = -1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--sim-edu")
            devs.push_back({"sim", ""});
        else if ((a == "--vfio" || a == "--uio") && i + 1 < argc)
            devs.push_back({a.substr(2), argv[++i]});
        else if (a == "--for-seconds" && i + 1 < argc)
            seconds = std::strtol(argv[++i], nullptr, 10);
        else if (a == "--help" || a == "-h") {
            std::printf(
                "usage: %s [--sim-edu] [--vfio BDF]... [--uio BDF]... [--for-seconds N]\n"
                "  Runs the driver on the devices given until SIGINT/SIGTERM or their removal.\n",
                argv[0]);
            return 0;
        } else {
            std::fprintf(stderr, "%s: unknown argument '%s' (--help)\n", argv[0], a.c_str());
            return 2;
        }
    }
    if (devs.empty()) {
        std::fprintf(stderr, "%s: no device given (--sim-edu, --vfio BDF, --uio BDF)\n", argv[0]);
        return 2;
    }
    UNICODE_STRING path{0, 0, argv[0]};
    NTSTATUS s = DriverEntry(nullptr, &path);
    driver drv = driver::current();
    if (!NT_SUCCESS(s) || !drv) {
        std::fprintf(stderr, "%s: DriverEntry failed: 0x%08x\n", argv[0], static_cast<unsigned>(s));
        return 1;
    }
    std::vector<WDFDEVICE> started;
    for (auto& d : devs) {
        WDFDEVICE h = nullptr;
        NTSTATUS r = d.kind == "sim" ? WdfxAddSimEduDevice(to_c<WDFDRIVER>(drv.handle()), FALSE, &h)
                                     : WdfxAddPciDevice(to_c<WDFDRIVER>(drv.handle()),
                                                        d.bdf.c_str(), d.kind == "uio", &h);
        if (!NT_SUCCESS(r)) {
            std::fprintf(stderr, "%s: starting %s failed: %s\n", argv[0],
                         d.kind == "sim" ? "sim:edu0" : d.bdf.c_str(),
                         status_name(static_cast<status>(r)));
            drv.unload();
            return 1;
        }
        started.push_back(h);
    }
    // Run until a stop signal, the deadline, or every device gone (removed by the bus).
    timespec tick{0, 200 * 1000 * 1000};
    long waited_ms = 0;
    for (;;) {
        int sig = sigtimedwait(&stop, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) break;
        waited_ms += 200;
        if (seconds >= 0 && waited_ms >= seconds * 1000) break;
        bool any = false;
        for (WDFDEVICE h : started)
            any = any || device(to_h(h)).is_valid();
        if (!any) break;
    }
    drv.unload();
    return 0;
}

}  // extern "C"
