// WdfInterruptCreate (wdf-semantics §5): every status code of its validation order that the C++
// core can return, with the order between steps where two checks could both fire; the creation
// windows and the no-delete rule (§21 rule 1, §8.7); resources matched to objects in creation
// order (§21 rule 2, §7.1); the callback and lock exclusions (§21 rule 3); and the fields of
// WdfInterruptGetInfo (§4, §11).
//
// Not tested here: STATUS_INFO_LENGTH_MISMATCH (§5 step 2, and the attributes' Size in step 5).
// It checks the Size field of a C structure (WDF_INTERRUPT_CONFIG, WDF_OBJECT_ATTRIBUTES); the C++
// core takes typed structures that have no Size field, so the check belongs to the C API of
// wdfx/wdf.h (a later issue) and is tested there.
#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace wdfx;
using wdfx_test::counter;
using wdfx_test::sim_harness;
using wdfx_test::verifier_reports;

namespace {

/// A thread-safe record of what happened, in order.
class event_log {
  public:
    void add(std::string e) {
        std::lock_guard g(m_);
        v_.push_back(std::move(e));
    }
    std::vector<std::string> get() const {
        std::lock_guard g(m_);
        return v_;
    }

  private:
    mutable std::mutex m_;
    std::vector<std::string> v_;
};

interrupt_config isr_only() {
    interrupt_config c;
    c.on_isr = [](interrupt, const isr_context&) { return true; };
    return c;
}

/// An ISR that records its MessageID and counts its calls.
interrupt_config recording_isr(counter& calls, std::atomic<std::uint32_t>& message_id) {
    interrupt_config c;
    c.on_isr = [&calls, &message_id](interrupt, const isr_context& ctx) {
        message_id.store(ctx.message_id);
        calls.add();
        return true;
    };
    return c;
}

/// The n-th interrupt descriptor of a resource list (nullptr if there is none).
const resource* nth_interrupt(const resource_list& l, std::size_t n) {
    for (const resource& r : l)
        if (r.type == resource_type::interrupt && n-- == 0) return &r;
    return nullptr;
}

/// Runs interrupt::create in EvtDriverDeviceAdd (which itself succeeds) and returns its status.
status create_in_add_device(const interrupt_config& config,
                            const object_attributes& attributes = {}, sim_harness::options o = {}) {
    status got = status::wdf_internal_error;
    sim_harness h(std::move(o), {}, [&](device d) {
        got = interrupt::create(d, config, attributes).code();
        return status::success;
    });
    REQUIRE(nt_success(h.add()));
    return got;
}

/// Runs interrupt::create in EvtDevicePrepareHardware, with a config `make` builds from the
/// resource lists handed to the callback, and returns its status. The device then starts.
status create_in_prepare_hardware(
    const std::function<interrupt_config(const resource_list&, const resource_list&)>& make,
    const object_attributes& attributes = {}) {
    status got = status::wdf_internal_error;
    sim_harness h({},
                  [&](device_init& init) {
                      init.pnp_power.on_prepare_hardware = [&](device d, const resource_list& raw,
                                                               const resource_list& translated) {
                          got = interrupt::create(d, make(raw, translated), attributes).code();
                          return status::success;
                      };
                  },
                  {});
    REQUIRE(nt_success(h.start()));
    return got;
}

/// A config for PrepareHardware naming the n-th interrupt descriptors of the lists.
interrupt_config for_descriptor(const resource_list& raw, const resource_list& translated,
                                std::size_t n) {
    interrupt_config c = isr_only();
    c.interrupt_raw = nth_interrupt(raw, n);
    c.interrupt_translated = nth_interrupt(translated, n);
    return c;
}

struct ctx_a {
    int value = 5;
};

}  // namespace

// ---- §5: one test case per status code
// ---------------------------------------------------------------------

TEST_CASE("§5 step 4, §21 rule 3: no EvtInterruptIsr -> STATUS_INVALID_PARAMETER") {
    interrupt_config no_isr;
    no_isr.on_dpc = [](interrupt, object) {};
    CHECK(create_in_add_device(no_isr) == status::invalid_parameter);
    // Step 4 comes before the attribute checks of step 5 ...
    object_attributes bad_level;
    bad_level.level = execution_level::passive;
    CHECK(create_in_add_device(no_isr, bad_level) == status::invalid_parameter);
    // ... and before the creation-window check of step 6.
    {
        sim_harness h({});
        REQUIRE(nt_success(h.start()));
        CHECK(interrupt::create(h.dev, no_isr).code() == status::invalid_parameter);
    }
    // With an ISR the same configuration is accepted.
    no_isr.on_isr = [](interrupt, const isr_context&) { return true; };
    CHECK(create_in_add_device(no_isr) == status::success);
}

TEST_CASE(
    "§5 step 10, §21 rule 3: EvtInterruptDpc and EvtInterruptWorkItem both -> "
    "STATUS_INVALID_PARAMETER") {
    interrupt_config c = isr_only();
    c.on_dpc = [](interrupt, object) {};
    c.on_work_item = [](interrupt, object) {};
    CHECK(create_in_add_device(c) == status::invalid_parameter);
    c.passive_handling = true;  // the mode does not matter
    CHECK(create_in_add_device(c) == status::invalid_parameter);
    // Either one alone is fine.
    interrupt_config dpc_only = isr_only();
    dpc_only.on_dpc = [](interrupt, object) {};
    CHECK(create_in_add_device(dpc_only) == status::success);
    interrupt_config wi_only = isr_only();
    wi_only.on_work_item = [](interrupt, object) {};
    CHECK(create_in_add_device(wi_only) == status::success);
}

TEST_CASE("§5 step 11, §21 rule 3: a DIRQL interrupt with a WaitLock -> STATUS_INVALID_PARAMETER") {
    status dirql = status::wdf_internal_error;
    status dirql_default = status::wdf_internal_error;
    status passive = status::wdf_internal_error;
    sim_harness h({}, {}, [&](device d) {
        auto wl = wait_lock::create();
        if (!wl) return wl.code();
        interrupt_config c = isr_only();
        c.wait_lock_handle = *wl;
        c.passive_handling = false;
        dirql = interrupt::create(d, c).code();
        c.passive_handling.reset();  // KMDF: DIRQL by default
        dirql_default = interrupt::create(d, c).code();
        c.passive_handling = true;  // a passive interrupt may name it (§7.4)
        passive = interrupt::create(d, c).code();
        return status::success;
    });
    REQUIRE(nt_success(h.add()));
    CHECK(dirql == status::invalid_parameter);
    CHECK(dirql_default == status::invalid_parameter);
    CHECK(passive == status::success);
}

TEST_CASE(
    "§5 step 11, §21 rule 3: a passive interrupt with a SpinLock -> STATUS_INVALID_PARAMETER") {
    status passive = status::wdf_internal_error;
    status dirql = status::wdf_internal_error;
    sim_harness h({}, {}, [&](device d) {
        auto sl = spin_lock::create();
        if (!sl) return sl.code();
        interrupt_config c = isr_only();
        c.spin_lock_handle = *sl;
        c.passive_handling = true;
        passive = interrupt::create(d, c).code();
        c.passive_handling = false;  // a DIRQL interrupt may name it (§3)
        dirql = interrupt::create(d, c).code();
        return status::success;
    });
    REQUIRE(nt_success(h.add()));
    CHECK(passive == status::invalid_parameter);
    CHECK(dirql == status::success);
}

TEST_CASE(
    "§5 step 7, §3: InterruptRaw or InterruptTranslated given in EvtDriverDeviceAdd -> "
    "STATUS_INVALID_PARAMETER") {
    resource fake;
    fake.type = resource_type::interrupt;
    fake.vector = 0x20001;
    interrupt_config raw_only = isr_only();
    raw_only.interrupt_raw = &fake;
    CHECK(create_in_add_device(raw_only) == status::invalid_parameter);
    interrupt_config translated_only = isr_only();
    translated_only.interrupt_translated = &fake;
    CHECK(create_in_add_device(translated_only) == status::invalid_parameter);
    interrupt_config both = isr_only();
    both.interrupt_raw = &fake;
    both.interrupt_translated = &fake;
    CHECK(create_in_add_device(both) == status::invalid_parameter);
}

TEST_CASE("§5 steps 7 and 9, §3, §15: CanWakeDevice -> STATUS_INVALID_PARAMETER") {
    // In AddDevice (step 7) ...
    interrupt_config c = isr_only();
    c.can_wake_device = true;
    c.passive_handling = true;
    CHECK(create_in_add_device(c) == status::invalid_parameter);
    // ... and in PrepareHardware (step 9): no Linux interrupt resource carries a wake hint.
    CHECK(create_in_prepare_hardware([](const resource_list& raw, const resource_list& tr) {
              interrupt_config w = for_descriptor(raw, tr, 0);
              w.can_wake_device = true;
              w.passive_handling = true;
              return w;
          }) == status::invalid_parameter);
}

TEST_CASE("§5 step 12, §3: descriptors that are not the device's own -> STATUS_INVALID_PARAMETER") {
    resource copy_raw, copy_tr;
    // Copies of the right descriptors are not the descriptors (WDF finds the real ones with
    // CONTAINING_RECORD).
    CHECK(create_in_prepare_hardware([&](const resource_list& raw, const resource_list& tr) {
              copy_raw = *nth_interrupt(raw, 0);
              copy_tr = *nth_interrupt(tr, 0);
              interrupt_config c = isr_only();
              c.interrupt_raw = &copy_raw;
              c.interrupt_translated = &copy_tr;
              return c;
          }) == status::invalid_parameter);
    // One genuine and one copied.
    CHECK(create_in_prepare_hardware([&](const resource_list& raw, const resource_list& tr) {
              copy_tr = *nth_interrupt(tr, 0);
              interrupt_config c = isr_only();
              c.interrupt_raw = nth_interrupt(raw, 0);
              c.interrupt_translated = &copy_tr;
              return c;
          }) == status::invalid_parameter);
    // A descriptor of the list that is not an interrupt (BAR 0's memory descriptor).
    CHECK(create_in_prepare_hardware([&](const resource_list& raw, const resource_list& tr) {
              interrupt_config c = isr_only();
              c.interrupt_raw = &raw.front();
              c.interrupt_translated = &tr.front();
              CHECK(tr.front().type == resource_type::memory);
              return c;
          }) == status::invalid_parameter);
    // The genuine descriptors are accepted.
    CHECK(create_in_prepare_hardware([](const resource_list& raw, const resource_list& tr) {
              return for_descriptor(raw, tr, 0);
          }) == status::success);
}

TEST_CASE(
    "§5 InitializeWorker, §20: a parent that is not a device or queue of this device -> "
    "STATUS_INVALID_PARAMETER") {
    // AutomaticSerialization is set, so step 5 lets a parent through; InitializeWorker rejects
    // it (SRC returns STATUS_INVALID_PARAMETER where DDI documents ..._NOT_ALLOWED, §20).
    status generic_parent = status::wdf_internal_error;
    status driver_parent = status::wdf_internal_error;
    status other_device_parent = status::wdf_internal_error;
    status own_device_parent = status::wdf_internal_error;
    device first;
    int adds = 0;
    sim_harness h({}, {}, [&](device d) {
        interrupt_config c = isr_only();
        c.on_dpc = [](interrupt, object) {};
        c.automatic_serialization = true;
        object_attributes a;
        if (++adds == 1) {
            first = d;
            object_attributes oa;
            oa.parent = d.handle();
            auto o = create_object(oa);
            if (!o) return o.code();
            a.parent = o->handle();
            generic_parent = interrupt::create(d, c, a).code();
            a.parent = d.get_driver().handle();
            driver_parent = interrupt::create(d, c, a).code();
            a.parent = d.handle();
            own_device_parent = interrupt::create(d, c, a).code();
        } else {
            a.parent = first.handle();  // a device, but not this one
            other_device_parent = interrupt::create(d, c, a).code();
        }
        return status::success;
    });
    REQUIRE(nt_success(h.add()));
    sim_harness::options o2;
    o2.spec.name = "test1";
    auto second = sim::device::create(o2.spec);
    REQUIRE(h.drv.add_device(second).ok());
    CHECK(generic_parent == status::invalid_parameter);
    CHECK(driver_parent == status::invalid_parameter);
    CHECK(other_device_parent == status::invalid_parameter);
    CHECK(own_device_parent == status::success);
}

TEST_CASE(
    "§5 step 5: a ParentObject without AutomaticSerialization -> "
    "STATUS_WDF_PARENT_ASSIGNMENT_NOT_ALLOWED") {
    status own_device = status::wdf_internal_error;
    status generic = status::wdf_internal_error;
    status with_serialization = status::wdf_internal_error;
    sim_harness h({}, {}, [&](device d) {
        interrupt_config c = isr_only();
        c.on_dpc = [](interrupt, object) {};
        object_attributes a;
        a.parent = d.handle();  // even the default parent, named explicitly
        own_device = interrupt::create(d, c, a).code();
        object_attributes oa;
        oa.parent = d.handle();
        auto o = create_object(oa);
        if (!o) return o.code();
        a.parent = o->handle();  // step 5 fires before InitializeWorker's type check
        generic = interrupt::create(d, c, a).code();
        c.automatic_serialization = true;
        a.parent = d.handle();
        with_serialization = interrupt::create(d, c, a).code();
        return status::success;
    });
    REQUIRE(nt_success(h.add()));
    CHECK(own_device == status::wdf_parent_assignment_not_allowed);
    CHECK(generic == status::wdf_parent_assignment_not_allowed);
    CHECK(with_serialization == status::success);
}

TEST_CASE(
    "§5 step 5: ExecutionLevel other than InheritFromParent -> "
    "STATUS_WDF_EXECUTION_LEVEL_INVALID") {
    object_attributes a;
    a.level = execution_level::passive;
    CHECK(create_in_add_device(isr_only(), a) == status::wdf_execution_level_invalid);
    a.level = execution_level::dispatch;
    CHECK(create_in_add_device(isr_only(), a) == status::wdf_execution_level_invalid);
    a.level = execution_level::inherit_from_parent;
    CHECK(create_in_add_device(isr_only(), a) == status::success);
}

TEST_CASE(
    "§5 step 5: SynchronizationScope other than InheritFromParent or None -> "
    "STATUS_WDF_SYNCHRONIZATION_SCOPE_INVALID") {
    object_attributes a;
    a.scope = synchronization_scope::device;
    CHECK(create_in_add_device(isr_only(), a) == status::wdf_synchronization_scope_invalid);
    a.scope = synchronization_scope::queue;
    CHECK(create_in_add_device(isr_only(), a) == status::wdf_synchronization_scope_invalid);
    a.scope = synchronization_scope::none;
    CHECK(create_in_add_device(isr_only(), a) == status::success);
    a.scope = synchronization_scope::inherit_from_parent;
    CHECK(create_in_add_device(isr_only(), a) == status::success);
}

TEST_CASE(
    "§5 step 5, §18.1: bad context type information -> STATUS_WDF_OBJECT_ATTRIBUTES_INVALID") {
    static const context_type_info zero_size{"zero_size", 0,       alignof(int),
                                             nullptr,     nullptr, nullptr};
    object_attributes bad;
    bad.context = &zero_size;
    CHECK(create_in_add_device(isr_only(), bad) == status::wdf_object_attributes_invalid);
    // A good context type is accepted and lives on the interrupt.
    bool has_context = false;
    sim_harness h({}, {}, [&](device d) {
        auto r = interrupt::create(d, isr_only(), object_attributes::with_context<ctx_a>());
        if (!r) return r.code();
        has_context = r->context<ctx_a>() != nullptr && r->context<ctx_a>()->value == 5;
        return status::success;
    });
    REQUIRE(nt_success(h.add()));
    CHECK(has_context);
}

TEST_CASE(
    "§5 step 6, §21 rule 1: outside EvtDriverDeviceAdd and EvtDevicePrepareHardware -> "
    "STATUS_INVALID_DEVICE_STATE") {
    std::vector<std::pair<std::string, status>> in_callbacks;
    auto try_create = [&](const char* where, device d) {
        in_callbacks.emplace_back(where, interrupt::create(d, isr_only()).code());
    };
    sim_harness h({},
                  [&](device_init& init) {
                      auto& p = init.pnp_power;
                      p.on_d0_entry = [&](device d, device_power_state) {
                          try_create("D0Entry", d);
                          return status::success;
                      };
                      p.on_d0_entry_post_interrupts_enabled = [&](device d, device_power_state) {
                          try_create("D0EntryPostInterruptsEnabled", d);
                          return status::success;
                      };
                      p.on_self_managed_io_init = [&](device d) {
                          try_create("SelfManagedIoInit", d);
                          return status::success;
                      };
                      p.on_d0_exit_pre_interrupts_disabled = [&](device d, device_power_state) {
                          try_create("D0ExitPreInterruptsDisabled", d);
                          return status::success;
                      };
                      p.on_d0_exit = [&](device d, device_power_state) {
                          try_create("D0Exit", d);
                          return status::success;
                      };
                      p.on_release_hardware = [&](device d, const resource_list&) {
                          try_create("ReleaseHardware", d);
                          return status::success;
                      };
                  },
                  {});
    REQUIRE(nt_success(h.start()));
    // After start, from the application's thread.
    CHECK(interrupt::create(h.dev, isr_only()).code() == status::invalid_device_state);
    // Precedence: the attribute checks (step 5) come before the state check (step 6) ...
    object_attributes bad_level;
    bad_level.level = execution_level::passive;
    CHECK(interrupt::create(h.dev, isr_only(), bad_level).code() ==
          status::wdf_execution_level_invalid);
    // ... which comes before the descriptor (step 7) and callback (step 10) checks.
    interrupt_config both = isr_only();
    both.on_dpc = [](interrupt, object) {};
    both.on_work_item = [](interrupt, object) {};
    CHECK(interrupt::create(h.dev, both).code() == status::invalid_device_state);
    resource fake;
    interrupt_config with_raw = isr_only();
    with_raw.interrupt_raw = &fake;
    CHECK(interrupt::create(h.dev, with_raw).code() == status::invalid_device_state);
    // In Dx.
    REQUIRE(nt_success(h.dev.power_down()));
    CHECK(interrupt::create(h.dev, isr_only()).code() == status::invalid_device_state);
    REQUIRE(nt_success(h.dev.power_up()));
    // After stop.
    REQUIRE(nt_success(h.dev.stop()));
    CHECK(interrupt::create(h.dev, isr_only()).code() == status::invalid_device_state);
    // In every PnP/power callback but AddDevice and PrepareHardware (the power cycle ran
    // D0Exit/D0Entry/PostInterruptsEnabled a second time).
    REQUIRE(in_callbacks.size() == 10);
    for (const auto& [where, st] : in_callbacks) {
        INFO(where);
        CHECK(st == status::invalid_device_state);
    }
}

TEST_CASE(
    "§5 step 8, §3: EvtDevicePrepareHardware without both descriptors -> "
    "STATUS_INVALID_DEVICE_STATE") {
    CHECK(create_in_prepare_hardware([](const resource_list&, const resource_list&) {
              return isr_only();
          }) == status::invalid_device_state);
    CHECK(create_in_prepare_hardware([](const resource_list& raw, const resource_list&) {
              interrupt_config c = isr_only();
              c.interrupt_raw = nth_interrupt(raw, 0);
              return c;
          }) == status::invalid_device_state);
    CHECK(create_in_prepare_hardware([](const resource_list&, const resource_list& tr) {
              interrupt_config c = isr_only();
              c.interrupt_translated = nth_interrupt(tr, 0);
              return c;
          }) == status::invalid_device_state);
    // Step 8 comes before the DPC/work-item check of step 10.
    CHECK(create_in_prepare_hardware([](const resource_list&, const resource_list&) {
              interrupt_config c = isr_only();
              c.on_dpc = [](interrupt, object) {};
              c.on_work_item = [](interrupt, object) {};
              return c;
          }) == status::invalid_device_state);
}

TEST_CASE(
    "§5 step 8, §3: ShareVector other than WdfUseDefault in EvtDevicePrepareHardware -> "
    "STATUS_INVALID_DEVICE_STATE") {
    for (tri_state s : {tri_state::true_value, tri_state::false_value}) {
        CHECK(create_in_prepare_hardware([s](const resource_list& raw, const resource_list& tr) {
                  interrupt_config c = for_descriptor(raw, tr, 0);
                  c.share_vector = s;
                  return c;
              }) == status::invalid_device_state);
    }
    CHECK(create_in_prepare_hardware([](const resource_list& raw, const resource_list& tr) {
              return for_descriptor(raw, tr, 0);  // ShareVector = WdfUseDefault
          }) == status::success);
    // In AddDevice the driver may choose the disposition.
    interrupt_config shared = isr_only();
    shared.share_vector = tri_state::true_value;
    CHECK(create_in_add_device(shared) == status::success);
}

TEST_CASE(
    "§5 InitializeWorker, §9.4: AutomaticSerialization of a DPC under a passive-level "
    "Device-scope parent -> STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL") {
    sim_harness::options o;
    o.device_attributes.level = execution_level::passive;
    o.device_attributes.scope = synchronization_scope::device;
    interrupt_config dpc = isr_only();
    dpc.on_dpc = [](interrupt, object) {};
    dpc.automatic_serialization = true;
    CHECK(create_in_add_device(dpc, {}, o) == status::wdf_incompatible_execution_level);
    // The parent named explicitly: the same.
    status explicit_parent = status::wdf_internal_error;
    {
        sim_harness h(o, {}, [&](device d) {
            object_attributes a;
            a.parent = d.handle();
            explicit_parent = interrupt::create(d, dpc, a).code();
            return status::success;
        });
        REQUIRE(nt_success(h.add()));
    }
    CHECK(explicit_parent == status::wdf_incompatible_execution_level);
    // A work item matches a passive parent.
    interrupt_config wi = isr_only();
    wi.on_work_item = [](interrupt, object) {};
    wi.automatic_serialization = true;
    CHECK(create_in_add_device(wi, {}, o) == status::success);
    // Without AutomaticSerialization the parent's level does not matter.
    dpc.automatic_serialization = false;
    CHECK(create_in_add_device(dpc, {}, o) == status::success);
    // Scope None: the flag silently has no effect (§9.4, §21 rule 12).
    dpc.automatic_serialization = true;
    o.device_attributes.scope = synchronization_scope::none;
    CHECK(create_in_add_device(dpc, {}, o) == status::success);
}

TEST_CASE(
    "§5 InitializeWorker, §9.4: AutomaticSerialization of a work item under a "
    "dispatch-level Device-scope parent -> STATUS_WDF_INCOMPATIBLE_EXECUTION_LEVEL") {
    sim_harness::options o;
    o.device_attributes.level = execution_level::dispatch;
    o.device_attributes.scope = synchronization_scope::device;
    interrupt_config wi = isr_only();
    wi.on_work_item = [](interrupt, object) {};
    wi.automatic_serialization = true;
    CHECK(create_in_add_device(wi, {}, o) == status::wdf_incompatible_execution_level);
    // A passive interrupt's work item is still a passive callback: the same.
    wi.passive_handling = true;
    CHECK(create_in_add_device(wi, {}, o) == status::wdf_incompatible_execution_level);
    // A DPC matches a dispatch parent.
    interrupt_config dpc = isr_only();
    dpc.on_dpc = [](interrupt, object) {};
    dpc.automatic_serialization = true;
    CHECK(create_in_add_device(dpc, {}, o) == status::success);
    // A device that inherits its level from the driver is not "passive callbacks" either.
    o.device_attributes.level = execution_level::inherit_from_parent;
    wi.passive_handling.reset();
    CHECK(create_in_add_device(wi, {}, o) == status::wdf_incompatible_execution_level);
}

TEST_CASE(
    "§5 step 3, §1, §21 rule 3: a UMDF 2 driver's interrupts are passive: "
    "PassiveHandling FALSE is a verifier report") {
    sim_harness::options o;
    o.flavour = driver_flavour::umdf2;
    status dirql = status::wdf_internal_error;
    status by_default = status::wdf_internal_error;
    status with_spin_lock = status::wdf_internal_error;
    interrupt default_irq;
    std::uint64_t reports = 0;
    {
        verifier_reports v;
        sim_harness h(o, {}, [&](device d) {
            interrupt_config c = isr_only();
            c.passive_handling = false;
            dirql = interrupt::create(d, c).code();
            reports = v.count();
            c.passive_handling.reset();  // UMDF's WDF_INTERRUPT_CONFIG_INIT: passive
            auto r = interrupt::create(d, c);
            by_default = r.code();
            if (r) default_irq = *r;
            auto sl = spin_lock::create();
            if (!sl) return sl.code();
            c.spin_lock_handle = *sl;  // passive forbids a SpinLock
            with_spin_lock = interrupt::create(d, c).code();
            return status::success;
        });
        REQUIRE(nt_success(h.start()));
        CHECK(v.count() == 1);
        CHECK(default_irq.get_info().irql == 0);  // PASSIVE_LEVEL (§4)
    }
    CHECK(dirql == status::invalid_parameter);
    CHECK(reports == 1);
    CHECK(by_default == status::success);
    CHECK(with_spin_lock == status::invalid_parameter);
}

TEST_CASE("§5 step 3: PassiveHandling FALSE in a UMDF 2 driver aborts by default (death test)") {
    wdfx_test::expect_verifier_abort("umdf-dirql", "UMDF interrupts are passive", [] {
        sim_harness::options o;
        o.flavour = driver_flavour::umdf2;
        sim_harness h(o, {}, [](device d) {
            interrupt_config c = isr_only();
            c.passive_handling = false;
            (void)interrupt::create(d, c);
            return status::success;
        });
        (void)h.add();
    });
}

// ---- §21 rule 1: creation windows, no delete, PrepareHardware-created objects
// ---------------------

TEST_CASE(
    "rule 1 (§21, §5): interrupts are created in EvtDriverDeviceAdd and in "
    "EvtDevicePrepareHardware, and both work") {
    counter add_calls, ph_calls;
    std::atomic<std::uint32_t> add_id{99}, ph_id{99};
    std::uint32_t ph_vector_at_creation = 0;
    std::uint32_t descriptor_vector = 0;
    status ph_status = status::wdf_internal_error;
    sim_harness h(
        {},
        [&](device_init& init) {
            init.pnp_power.on_prepare_hardware = [&](device d, const resource_list& raw,
                                                     const resource_list& tr) {
                interrupt_config c = recording_isr(ph_calls, ph_id);
                c.interrupt_raw = nth_interrupt(raw, 1);
                c.interrupt_translated = nth_interrupt(tr, 1);
                descriptor_vector = c.interrupt_translated->vector;
                auto r = interrupt::create(d, c);
                ph_status = r.code();
                // §5 Initialize step 5: AssignResources at once.
                if (r) ph_vector_at_creation = r->get_info().vector;
                return r.code();
            };
        },
        [&](device d) { return interrupt::create(d, recording_isr(add_calls, add_id)).code(); });
    REQUIRE(nt_success(h.start()));
    CHECK(ph_status == status::success);
    CHECK(ph_vector_at_creation != 0);
    CHECK(ph_vector_at_creation == descriptor_vector);
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    REQUIRE(add_calls.wait_for_at_least(1));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 1).ok());
    REQUIRE(ph_calls.wait_for_at_least(1));
    CHECK(add_id.load() == 0);
    CHECK(ph_id.load() == 1);
}

TEST_CASE(
    "rule 1 (§21, §8.7): the driver cannot delete an interrupt: STATUS_CANNOT_DELETE, "
    "a verifier report, and no effect") {
    counter calls;
    interrupt irq;
    sim_harness h({}, {}, [&](device d) {
        auto r = interrupt::create(d, wdfx_test::counting_isr(calls));
        if (r) irq = *r;
        return r.code();
    });
    REQUIRE(nt_success(h.start()));
    {
        verifier_reports v;
        CHECK(irq.delete_object() == status::cannot_delete);
        CHECK(v.count() == 1);
    }
    // No effect: the handle is valid, the interrupt still connected and serviced.
    CHECK(irq.is_valid());
    CHECK(irq.get_binding().connected);
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    CHECK(calls.wait_for_at_least(1));
}

TEST_CASE("rule 1 (§21 §8.7): WdfObjectDelete of an interrupt aborts by default (death test)") {
    wdfx_test::expect_verifier_abort("delete-interrupt", "object cannot be deleted by the driver",
                                     [] {
                                         interrupt irq;
                                         sim_harness h({}, {}, [&](device d) {
                                             auto r = interrupt::create(d, isr_only());
                                             if (r) irq = *r;
                                             return r.code();
                                         });
                                         (void)h.add();
                                         (void)irq.delete_object();
                                     });
}

TEST_CASE(
    "rule 1 (§21, §7.2, §8.6): PrepareHardware-created interrupts are deleted after "
    "EvtDeviceReleaseHardware, AddDevice-created ones persist") {
    event_log log;
    counter add_calls, ph_calls;
    std::vector<interrupt> ph_created;
    interrupt add_irq;
    sim_harness h(
        {},
        [&](device_init& init) {
            init.pnp_power.on_prepare_hardware = [&](device d, const resource_list& raw,
                                                     const resource_list& tr) {
                log.add("PrepareHardware");
                interrupt_config c = wdfx_test::counting_isr(ph_calls);
                c.interrupt_raw = nth_interrupt(raw, 1);
                c.interrupt_translated = nth_interrupt(tr, 1);
                object_attributes a;
                a.on_cleanup = [&](object o) {
                    // Disposed by now (§8.6): no longer connected.
                    log.add(interrupt(o.handle()).get_binding().connected ? "cleanup ph (connected)"
                                                                          : "cleanup ph");
                };
                auto r = interrupt::create(d, c, a);
                if (r) ph_created.push_back(*r);
                return r.code();
            };
            init.pnp_power.on_release_hardware = [&](device, const resource_list&) {
                log.add("ReleaseHardware");
                return status::success;
            };
        },
        [&](device d) {
            object_attributes a;
            a.on_cleanup = [&](object) { log.add("cleanup add"); };
            auto r = interrupt::create(d, wdfx_test::counting_isr(add_calls), a);
            if (r) add_irq = *r;
            return r.code();
        });
    REQUIRE(nt_success(h.start()));
    REQUIRE(ph_created.size() == 1);
    CHECK(ph_created[0].is_valid());
    REQUIRE(nt_success(h.dev.stop()));
    CHECK(log.get() ==
          std::vector<std::string>{"PrepareHardware", "ReleaseHardware", "cleanup ph"});
    CHECK_FALSE(ph_created[0].is_valid());
    CHECK(add_irq.is_valid());
    {
        // The stale handle is a verifier report, not undefined behaviour.
        verifier_reports v;
        (void)ph_created[0].get_info();
        CHECK(v.count() == 1);
    }
    // A restart: the AddDevice interrupt gets its resource again, PrepareHardware makes a new one.
    REQUIRE(nt_success(h.dev.start()));
    REQUIRE(ph_created.size() == 2);
    CHECK(ph_created[1] != ph_created[0]);
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 0).ok());
    CHECK(add_calls.wait_for_at_least(1));
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 1).ok());
    CHECK(ph_calls.wait_for_at_least(1));
    REQUIRE(nt_success(h.dev.stop()));
    CHECK_FALSE(ph_created[1].is_valid());
    CHECK(add_irq.is_valid());
    CHECK(log.get() == std::vector<std::string>{"PrepareHardware", "ReleaseHardware", "cleanup ph",
                                                "PrepareHardware", "ReleaseHardware",
                                                "cleanup ph"});
    // The AddDevice interrupt goes with its device.
    h.remove();
    CHECK_FALSE(add_irq.is_valid());
    CHECK(log.get().back() == "cleanup add");
}

// ---- §21 rule 2: resources in creation order, MessageID, inert objects, MSI
// --------------------------

TEST_CASE(
    "rule 2 (§21, §7.1, §4): MSI-X vectors go to objects in creation order and the ISR's "
    "MessageID is the creation index") {
    constexpr std::uint32_t n = 4;
    std::array<counter, n> calls;
    std::array<std::atomic<std::uint32_t>, n> ids;
    for (auto& i : ids)
        i = 99;
    std::vector<interrupt> irqs;
    // Two objects from AddDevice take descriptors 0 and 1 by creation order; two from
    // PrepareHardware name descriptors 3 and 2 explicitly. MessageID is the creation index, not
    // the MSI-X table entry (§19.2).
    sim_harness h(
        {},
        [&](device_init& init) {
            init.pnp_power.on_prepare_hardware = [&](device d, const resource_list& raw,
                                                     const resource_list& tr) {
                for (std::uint32_t i = 2; i < n; ++i) {
                    interrupt_config c = recording_isr(calls[i], ids[i]);
                    c.interrupt_raw = nth_interrupt(raw, 5 - i);
                    c.interrupt_translated = nth_interrupt(tr, 5 - i);
                    auto r = interrupt::create(d, c);
                    if (!r) return r.code();
                    irqs.push_back(*r);
                }
                return status::success;
            };
        },
        [&](device d) {
            for (std::uint32_t i = 0; i < 2; ++i) {
                auto r = interrupt::create(d, recording_isr(calls[i], ids[i]));
                if (!r) return r.code();
                irqs.push_back(*r);
            }
            return status::success;
        });
    REQUIRE(nt_success(h.start()));
    REQUIRE(irqs.size() == n);
    const std::array<std::uint32_t, n> table_entry = {0, 1, 3, 2};
    for (std::uint32_t i = 0; i < n; ++i) {
        INFO("object " << i);
        CHECK(irqs[i].get_info().message_number == i);
        CHECK(irqs[i].get_binding().bus_vector == table_entry[i]);
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        INFO("object " << i);
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, table_entry[i]).ok());
        REQUIRE(calls[i].wait_for_at_least(1));
        CHECK(ids[i].load() == i);
    }
    // Each vector reached its own object only.
    for (std::uint32_t i = 0; i < n; ++i)
        CHECK(calls[i].get() == 1);
}

TEST_CASE(
    "rule 2 (§21, §4, §7.2): interrupts re-created in EvtDevicePrepareHardware get the same "
    "creation index - and MessageID - at every start") {
    // FxPkgPnp::AddInterruptObject counts up, RemoveInterruptObject counts down: the objects
    // deleted after EvtDeviceReleaseHardware give their indices back, so a driver indexing
    // per-message state by MessageID sees 1 and 2 at every start, not 1, 2, then 3, 4, ...
    constexpr std::uint32_t n = 3;
    std::array<counter, n> calls;
    std::array<std::atomic<std::uint32_t>, n> ids;
    std::vector<std::vector<std::uint32_t>> numbers;  // per start, of the PrepareHardware ones
    sim_harness h(
        {},
        [&](device_init& init) {
            init.pnp_power.on_prepare_hardware = [&](device d, const resource_list& raw,
                                                     const resource_list& tr) {
                numbers.emplace_back();
                for (std::uint32_t i = 1; i < n; ++i) {
                    interrupt_config c = recording_isr(calls[i], ids[i]);
                    c.interrupt_raw = nth_interrupt(raw, i);
                    c.interrupt_translated = nth_interrupt(tr, i);
                    auto r = interrupt::create(d, c);
                    if (!r) return r.code();
                    numbers.back().push_back(r->get_info().message_number);
                }
                return status::success;
            };
        },
        [&](device d) { return interrupt::create(d, recording_isr(calls[0], ids[0])).code(); });
    for (std::uint64_t start = 1; start <= 3; ++start) {
        INFO("start " << start);
        REQUIRE(nt_success(h.start()));
        REQUIRE(numbers.size() == start);
        CHECK(numbers.back() == std::vector<std::uint32_t>{1, 2});
        for (std::uint32_t i = 0; i < n; ++i) {
            ids[i] = 99;
            REQUIRE(h.sim->trigger(bus::irq_kind::msix, i).ok());
            REQUIRE(calls[i].wait_for_at_least(start));
            CHECK(ids[i].load() == i);
        }
        REQUIRE(nt_success(h.dev.stop()));
    }
}

TEST_CASE(
    "rule 2 (§21, §7.1, §4): objects without a resource are inert - never connected, no "
    "callbacks, vector 0") {
    constexpr std::uint32_t n = 4;
    sim_harness::options o;
    o.spec.msix_vectors = 2;  // two vectors for four objects
    o.spec.msi_vectors = 0;
    o.spec.intx = false;
    std::array<counter, n> isr, en, dis;
    std::vector<interrupt> irqs;
    sim_harness h(o, {}, [&](device d) {
        for (std::uint32_t i = 0; i < n; ++i) {
            interrupt_config c = wdfx_test::counting_isr(isr[i]);
            c.on_enable = [&en, i](interrupt, device) {
                en[i].add();
                return status::success;
            };
            c.on_disable = [&dis, i](interrupt, device) {
                dis[i].add();
                return status::success;
            };
            auto r = interrupt::create(d, c);
            if (!r) return r.code();
            irqs.push_back(*r);
        }
        return status::success;
    });
    REQUIRE(nt_success(h.start()));
    for (std::uint32_t i = 0; i < n; ++i) {
        INFO("object " << i);
        const bool has_vector = i < 2;
        CHECK((irqs[i].get_info().vector != 0) == has_vector);
        CHECK(irqs[i].get_info().message_number == i);  // set for every object
        CHECK(irqs[i].get_binding().connected == has_vector);
        CHECK(en[i].get() == (has_vector ? 1u : 0u));
    }
    // WdfInterruptDisable/Enable on an inert object are silent no-ops (§8.1, §8.2: Vector == 0).
    irqs[3].disable();
    irqs[3].enable();
    REQUIRE(nt_success(h.dev.power_down()));
    REQUIRE(nt_success(h.dev.power_up()));
    for (std::uint32_t i = 0; i < 2; ++i) {
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, i).ok());
        REQUIRE(isr[i].wait_for_at_least(1));
    }
    REQUIRE(nt_success(h.dev.stop()));
    for (std::uint32_t i = 0; i < n; ++i) {
        INFO("object " << i);
        const std::uint64_t expect = i < 2 ? 2 : 0;
        CHECK(en[i].get() == expect);
        CHECK(dis[i].get() == expect);
        CHECK(isr[i].get() == (i < 2 ? 1u : 0u));
        CHECK_FALSE(irqs[i].get_binding().connected);
    }
}

TEST_CASE(
    "rule 2 (§21, §7.1, §4): a 4-message MSI goes to four consecutive objects, a fifth "
    "gets nothing") {
    constexpr std::uint32_t n = 5;
    sim_harness::options o;
    o.spec.msix_vectors = 0;
    o.spec.msi_vectors = 4;
    std::array<counter, n> calls;
    std::array<std::atomic<std::uint32_t>, n> ids;
    for (auto& i : ids)
        i = 99;
    std::vector<interrupt> irqs;
    sim_harness h(
        o, [](device_init& init) { init.interrupt_preference = interrupt_type::msi; },
        [&](device d) {
            for (std::uint32_t i = 0; i < n; ++i) {
                auto r = interrupt::create(d, recording_isr(calls[i], ids[i]));
                if (!r) return r.code();
                irqs.push_back(*r);
            }
            return status::success;
        });
    REQUIRE(nt_success(h.start()));
    CHECK(h.sim->enabled_kind() == bus::irq_kind::msi);
    CHECK(h.sim->enabled_count() == 4);
    const std::uint32_t base = irqs[0].get_info().vector;
    CHECK(base != 0);
    for (std::uint32_t i = 0; i < 4; ++i) {
        INFO("object " << i);
        const interrupt_info info = irqs[i].get_info();
        CHECK(info.vector == base + i);  // base vector + MessageNumber (§4)
        CHECK(info.message_number == i);
        CHECK(info.message_signaled);
        CHECK(info.mode == interrupt_mode::latched);
        CHECK(h.sim->vector_attached(bus::irq_kind::msi, i));
    }
    CHECK(irqs[4].get_info().vector == 0);
    CHECK_FALSE(irqs[4].get_binding().connected);
    for (std::uint32_t i = 0; i < 4; ++i) {
        INFO("message " << i);
        REQUIRE(h.sim->trigger(bus::irq_kind::msi, i).ok());
        REQUIRE(calls[i].wait_for_at_least(1));
        CHECK(ids[i].load() == i);
    }
    for (std::uint32_t i = 0; i < 4; ++i)
        CHECK(calls[i].get() == 1);
    CHECK(calls[4].get() == 0);
}

TEST_CASE(
    "rule 2 (§21, §7.1): 65 MSI-X vectors and 3 objects - vectors 0 to 2 attached, the "
    "other 62 unused") {
    constexpr std::uint32_t n = 3;
    sim_harness::options o;
    o.spec.msix_vectors = 65;
    std::array<counter, n> calls;
    std::array<std::atomic<std::uint32_t>, n> ids;
    sim_harness h(o, {}, [&](device d) {
        for (std::uint32_t i = 0; i < n; ++i) {
            auto r = interrupt::create(d, recording_isr(calls[i], ids[i]));
            if (!r) return r.code();
        }
        return status::success;
    });
    REQUIRE(nt_success(h.start()));
    CHECK(h.sim->enabled_kind() == bus::irq_kind::msix);
    CHECK(h.sim->enabled_count() == 65);
    for (std::uint32_t v = 0; v < 65; ++v) {
        INFO("vector " << v);
        CHECK(h.sim->vector_attached(bus::irq_kind::msix, v) == (v < n));
    }
    // A signal on an unused vector goes nowhere.
    const auto before = h.sim->get_counters();
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 3).ok());
    REQUIRE(h.sim->trigger(bus::irq_kind::msix, 64).ok());
    CHECK(h.sim->get_counters().dropped == before.dropped + 2);
    CHECK(h.sim->get_counters().delivered == before.delivered);
    for (std::uint32_t i = 0; i < n; ++i) {
        REQUIRE(h.sim->trigger(bus::irq_kind::msix, i).ok());
        REQUIRE(calls[i].wait_for_at_least(1));
        CHECK(ids[i].load() == i);
    }
}

// ---- §4 / §11: WdfInterruptGetInfo
// ----------------------------------------------------------------

TEST_CASE("§4, §11: GetInfo of MSI-X interrupts - DIRQL and passive - and its validity window") {
    interrupt dirql, passive;
    interrupt_info in_add{}, in_prepare{};
    sim_harness h(
        {},
        [&](device_init& init) {
            init.pnp_power.on_prepare_hardware = [&](device, const resource_list&,
                                                     const resource_list&) {
                in_prepare = dirql.get_info();  // matched before PrepareHardware (§7.1)
                return status::success;
            };
        },
        [&](device d) {
            auto r = interrupt::create(d, isr_only());
            if (!r) return r.code();
            dirql = *r;
            interrupt_config c = isr_only();
            c.passive_handling = true;
            auto p = interrupt::create(d, c);
            if (!p) return p.code();
            passive = *p;
            in_add = dirql.get_info();
            return status::success;
        });
    REQUIRE(nt_success(h.start()));
    // No resource before PrepareHardware.
    CHECK(in_add.vector == 0);
    CHECK(in_add.message_number == 0);
    CHECK(in_prepare.vector != 0);
    const interrupt_info d = dirql.get_info();
    const interrupt_info p = passive.get_info();
    CHECK(d.message_number == 0);
    CHECK(p.message_number == 1);
    CHECK(d.vector != 0);  // never 0 when assigned (§19.2)
    CHECK(p.vector != 0);
    CHECK(d.vector != p.vector);
    CHECK(d.message_signaled);
    CHECK(p.message_signaled);
    CHECK(d.mode == interrupt_mode::latched);
    CHECK(p.mode == interrupt_mode::latched);
    CHECK(d.polarity == interrupt_polarity::unknown);  // never written by WDF
    CHECK(p.polarity == interrupt_polarity::unknown);
    CHECK(d.irql > 2);   // a synthetic DIRQL, above DISPATCH_LEVEL
    CHECK(p.irql == 0);  // PASSIVE_LEVEL: how drivers detect passive interrupts
    CHECK(d.share_disposition == static_cast<std::uint8_t>(share_disposition::device_exclusive));
    CHECK(d.target_processor_set != 0);
    CHECK(d.reserved1 == 0);
    CHECK(d.reserved2 == 0);
    // After EvtDeviceReleaseHardware the resources are revoked; MessageNumber survives.
    REQUIRE(nt_success(h.dev.stop()));
    CHECK(dirql.get_info().vector == 0);
    CHECK(passive.get_info().vector == 0);
    CHECK(dirql.get_info().message_number == 0);
    CHECK(passive.get_info().message_number == 1);
}

TEST_CASE("§4, §19.2: GetInfo of an INTx interrupt - level-sensitive, not message-signaled") {
    sim_harness::options o;
    o.spec.msix_vectors = 0;
    o.spec.msi_vectors = 0;
    o.spec.intx = true;
    counter calls;
    std::atomic<std::uint32_t> id{99};
    interrupt irq;
    sim_harness h(o, {}, [&](device d) {
        auto r = interrupt::create(d, recording_isr(calls, id));
        if (r) irq = *r;
        return r.code();
    });
    REQUIRE(nt_success(h.start()));
    const interrupt_info info = irq.get_info();
    CHECK(info.vector != 0);
    CHECK(info.message_number == 0);
    CHECK_FALSE(info.message_signaled);
    CHECK(info.mode == interrupt_mode::level_sensitive);
    CHECK(info.polarity == interrupt_polarity::unknown);
    CHECK(info.share_disposition == static_cast<std::uint8_t>(share_disposition::shared));
    CHECK(irq.get_binding().kind == bus::irq_kind::intx);
    REQUIRE(h.sim->trigger(bus::irq_kind::intx, 0).ok());
    REQUIRE(calls.wait_for_at_least(1));
    CHECK(id.load() == 0);
}
