// The object model: handles, the tree, contexts, cleanup/destroy order (wdf-semantics §18.1).
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace wdfx;
using wdfx_test::sim_harness;
using wdfx_test::verifier_reports;

namespace {
struct my_context {
    int value = 42;
    std::string text = "constructed";
};
}  // namespace

TEST_CASE("handles: a stale handle is a verifier report, not undefined behaviour (§18.1, §17)") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    auto o = create_object(object_attributes{});
    REQUIRE(o.ok());
    object stale = *o;
    CHECK(stale.is_valid());
    CHECK(stale.delete_object() == status::success);
    CHECK_FALSE(stale.is_valid());
    verifier_reports v;
    CHECK(stale.delete_object() == status::invalid_handle);
    CHECK(stale.context<my_context>() == nullptr);
    CHECK(v.count() == 2);
    // A new object may reuse the slot; the old handle still does not resolve.
    auto o2 = create_object(object_attributes{});
    REQUIRE(o2.ok());
    CHECK(o2->handle() != stale.handle());
    CHECK_FALSE(stale.is_valid());
    (void)o2->delete_object();
}

TEST_CASE("handles: a handle of the wrong type is a verifier report (§17)") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    verifier_reports v;
    interrupt not_an_interrupt(h.dev.handle());  // a WDFDEVICE handle passed as a WDFINTERRUPT
    CHECK_FALSE(not_an_interrupt.queue_dpc_for_isr());
    CHECK(v.count() == 1);
    interrupt garbage(0x123456789abcdef0ull);
    CHECK_FALSE(garbage.try_to_acquire_lock());
    CHECK(v.count() == 2);
}

TEST_CASE("handles: a stale handle aborts the process by default (§17)") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    auto o = create_object(object_attributes{});
    REQUIRE(o.ok());
    object stale = *o;
    (void)stale.delete_object();
    wdfx_test::expect_verifier_abort("stale-delete", "invalid handle",
                                     [&] { (void)stale.delete_object(); });
}

TEST_CASE("context space: typed, value-initialised, destroyed with the object (§18.1)") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    bool destroyed_seen_context = false;
    object_attributes a = object_attributes::with_context<my_context>();
    a.parent = h.dev.handle();
    a.on_destroy = [&](object o) {
        auto* c = o.context<my_context>();
        destroyed_seen_context = c != nullptr && c->value == 7;
    };
    auto o = create_object(a);
    REQUIRE(o.ok());
    auto* c = o->context<my_context>();
    REQUIRE(c != nullptr);
    CHECK(c->value == 42);
    CHECK(c->text == "constructed");
    CHECK(object_from_context(c) == *o);
    CHECK(o->context<int>() == nullptr);
    c->value = 7;
    CHECK(o->allocate_context(context_type<int>()) == status::success);
    REQUIRE(o->context<int>() != nullptr);
    CHECK(*o->context<int>() == 0);
    CHECK(o->allocate_context(context_type<int>()) == status::invalid_parameter);
    CHECK(o->delete_object() == status::success);
    CHECK(destroyed_seen_context);
}

TEST_CASE("deletion order: children before parents - dispose then cleanup then destroy (§18.1)") {
    sim_harness h({});
    REQUIRE(nt_success(h.add()));
    std::vector<std::string> order;
    auto make = [&](object parent, std::string name) {
        object_attributes a;
        a.parent = parent.handle();
        a.on_cleanup = [&order, name](object) { order.push_back("cleanup " + name); };
        a.on_destroy = [&order, name](object) { order.push_back("destroy " + name); };
        auto o = create_object(a);
        REQUIRE(o.ok());
        return *o;
    };
    object root = make(h.dev, "root");
    object a = make(root, "a");
    object b = make(a, "b");
    object c = make(root, "c");
    CHECK(b.parent() == a);
    CHECK(a.parent() == root);
    // A reference keeps c's memory (and destroy callback) after its deletion.
    c.reference();
    REQUIRE(root.delete_object() == status::success);
    CHECK(c.is_valid());  // referenced: deleted but not yet destroyed
    c.dereference();
    CHECK_FALSE(c.is_valid());
    std::vector<std::string> expect = {"cleanup c", "cleanup b",    "destroy b",    "cleanup a",
                                       "destroy a", "cleanup root", "destroy root", "destroy c"};
    CHECK(order == expect);
    CHECK_FALSE(a.is_valid());
    CHECK_FALSE(b.is_valid());
}
