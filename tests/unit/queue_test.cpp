// I/O queues, requests and file objects (wdf-semantics §18.4, §8.3, §9.4): every dispatch type,
// callback routing, buffers, completion as a client sees it, forward/requeue, cancellation, a
// client going away, queue stop/start/purge over the device life cycle, and automatic
// serialization with the queue's callback lock.
//
// The client side is the request source the device interfaces use (core/io.hpp): open_file,
// submit, cancel, close_file, with a test request_sink that records every completion. Tests wait
// on the sink or on counters bumped in the driver's callbacks, never on sleeps.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/io.hpp"
#include "test_support.hpp"

using namespace wdfx;
using wdfx_test::counter;
using wdfx_test::gate;
using wdfx_test::sim_harness;
using wdfx_test::verifier_reports;

namespace {

using bytes = std::vector<std::byte>;

bytes to_bytes(const std::string& s) {
    bytes b(s.size());
    if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
    return b;
}
std::string to_string(std::span<const std::byte> b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

/// Records every completion the framework reports to the client side.
class test_sink final : public detail::request_sink {
  public:
    struct done {
        status st = status::pending;
        std::size_t info = 0;
        bytes out;
    };
    void on_complete(std::uint64_t tag, status st, std::size_t information,
                     std::span<const std::byte> output) noexcept override {
        {
            std::lock_guard g(m_);
            ++times_[tag];
            got_[tag] = done{st, information, bytes(output.begin(), output.end())};
            order_.push_back(tag);
        }
        cv_.notify_all();
    }
    /// Waits for the completion of `tag` (the hang guard only turns a hang into a failure).
    done wait(std::uint64_t tag) {
        std::unique_lock g(m_);
        bool ok = cv_.wait_for(g, std::chrono::seconds(60), [&] { return got_.count(tag) != 0; });
        REQUIRE_MESSAGE(ok, "no completion for tag " << tag);
        return got_[tag];
    }
    bool has(std::uint64_t tag) const {
        std::lock_guard g(m_);
        return got_.count(tag) != 0;
    }
    int times(std::uint64_t tag) const {
        std::lock_guard g(m_);
        auto it = times_.find(tag);
        return it == times_.end() ? 0 : it->second;
    }
    std::vector<std::uint64_t> order() const {
        std::lock_guard g(m_);
        return order_;
    }

  private:
    mutable std::mutex m_;
    std::condition_variable cv_;
    std::map<std::uint64_t, done> got_;
    std::map<std::uint64_t, int> times_;
    std::vector<std::uint64_t> order_;
};

/// One client of the device: a file object opened through the request source.
struct client {
    explicit client(device d, detail::peer_credentials who = {1000, 1000, 42}) {
        f = detail::open_file(d, who, sink, 0);
        REQUIRE(f);
        create_status = sink->wait(0).st;
    }
    ~client() { close(); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    std::uint64_t read(std::uint64_t tag, std::size_t length, std::uint64_t offset = 0) {
        detail::io_submission s;
        s.type = request_type::read;
        s.length = length;
        s.offset = offset;
        s.tag = tag;
        return detail::submit(f, std::move(s));
    }
    std::uint64_t write(std::uint64_t tag, const std::string& data) {
        detail::io_submission s;
        s.type = request_type::write;
        s.input = to_bytes(data);
        s.length = data.size();
        s.tag = tag;
        return detail::submit(f, std::move(s));
    }
    std::uint64_t ioctl(std::uint64_t tag, std::uint32_t code, const std::string& in,
                        std::size_t out_len) {
        detail::io_submission s;
        s.type = request_type::device_control;
        s.io_control_code = code;
        s.input = to_bytes(in);
        s.output_length = out_len;
        s.tag = tag;
        return detail::submit(f, std::move(s));
    }
    void cancel(std::uint64_t h) { detail::cancel(f, h); }
    void close() {
        if (f) detail::close_file(f);
        f = file_object();
    }

    std::shared_ptr<test_sink> sink = std::make_shared<test_sink>();
    file_object f;
    status create_status = status::pending;
};

/// Requests the driver keeps (presented or retrieved), in arrival order.
class held {
  public:
    void add(request r) {
        {
            std::lock_guard g(m_);
            v_.push_back(r);
        }
        n.add();
    }
    request pop() {
        std::lock_guard g(m_);
        REQUIRE(!v_.empty());
        request r = v_.front();
        v_.pop_front();
        return r;
    }
    std::size_t size() const {
        std::lock_guard g(m_);
        return v_.size();
    }
    /// Complete every request still held (so a failed check never leaves the removal waiting).
    void complete_all(status s = status::success) {
        for (;;) {
            request r;
            {
                std::lock_guard g(m_);
                if (v_.empty()) return;
                r = v_.front();
                v_.pop_front();
            }
            r.complete(s);
        }
    }
    counter n;  // how many were added

  private:
    mutable std::mutex m_;
    std::deque<request> v_;
};

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
    std::ptrdiff_t index_of(const std::string& e) const {
        std::lock_guard g(m_);
        auto it = std::find(v_.begin(), v_.end(), e);
        return it == v_.end() ? -1 : it - v_.begin();
    }
    std::ptrdiff_t last_index_of(const std::string& e) const {
        std::lock_guard g(m_);
        auto it = std::find(v_.rbegin(), v_.rend(), e);
        return it == v_.rend() ? -1 : static_cast<std::ptrdiff_t>(v_.rend() - it) - 1;
    }

  private:
    mutable std::mutex m_;
    std::vector<std::string> v_;
};

/// A harness whose device gets the queues `make` creates in EvtDriverDeviceAdd.
sim_harness::options opts(synchronization_scope scope = synchronization_scope::inherit_from_parent,
                          execution_level lvl = execution_level::inherit_from_parent) {
    sim_harness::options o;
    o.device_attributes.scope = scope;
    o.device_attributes.level = lvl;
    return o;
}

io_queue_config default_queue(dispatch_type t, held& h) {
    io_queue_config c;
    c.dispatch = t;
    c.default_queue = true;
    c.on_io_default = [&h](io_queue, request r) { h.add(r); };
    return c;
}

std::size_t param_length(request r) {
    return r.get_parameters().length;
}

}  // namespace

// ---- dispatch types
// -----------------------------------------------------------------------------------

TEST_CASE("sequential queue presents one request at a time and the next after the completion") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::sequential, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    io_queue q = get_default_queue(hs.dev);
    REQUIRE(q);
    client c(hs.dev);
    REQUIRE(c.create_status == status::success);
    c.read(1, 1);
    c.read(2, 2);
    c.read(3, 3);
    REQUIRE(h.n.wait_for_at_least(1));
    // The invariant of a sequential queue: never more than one request in the driver.
    CHECK(q.driver_owned_count() == 1);
    CHECK(q.queued_count() == 2);
    request r = h.pop();
    CHECK(param_length(r) == 1);
    r.complete_with_information(status::success, 1);
    REQUIRE(h.n.wait_for_at_least(2));
    CHECK(q.driver_owned_count() == 1);
    CHECK(q.queued_count() == 1);
    r = h.pop();
    CHECK(param_length(r) == 2);
    r.complete(status::success);
    REQUIRE(h.n.wait_for_at_least(3));
    r = h.pop();
    CHECK(param_length(r) == 3);
    r.complete(status::success);
    for (std::uint64_t t = 1; t <= 3; ++t)
        CHECK(c.sink->wait(t).st == status::success);
    CHECK(c.sink->order() == std::vector<std::uint64_t>{0, 1, 2, 3});
    CHECK(h.n.get() == 3);
}

TEST_CASE("parallel queue presents several requests at once") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    for (std::uint64_t t = 1; t <= 4; ++t)
        c.read(t, t);
    // All four reach the driver while none has completed.
    REQUIRE(h.n.wait_for_at_least(4));
    io_queue q = get_default_queue(hs.dev);
    CHECK(q.driver_owned_count() == 4);
    CHECK(q.queued_count() == 0);
    h.complete_all();
    for (std::uint64_t t = 1; t <= 4; ++t)
        CHECK(c.sink->wait(t).st == status::success);
}

TEST_CASE("parallel queue with number_of_presented_requests presents at most that many") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        auto c = default_queue(dispatch_type::parallel, h);
        c.number_of_presented_requests = 2;
        return io_queue::create(d, c).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    for (std::uint64_t t = 1; t <= 4; ++t)
        c.read(t, t);
    REQUIRE(h.n.wait_for_at_least(2));
    io_queue q = get_default_queue(hs.dev);
    CHECK(q.driver_owned_count() == 2);
    CHECK(q.queued_count() == 2);
    h.pop().complete(status::success);
    REQUIRE(h.n.wait_for_at_least(3));
    CHECK(q.driver_owned_count() == 2);
    CHECK(q.queued_count() == 1);
    h.pop().complete(status::success);
    REQUIRE(h.n.wait_for_at_least(4));
    h.complete_all();
    for (std::uint64_t t = 1; t <= 4; ++t)
        CHECK(c.sink->wait(t).st == status::success);
}

TEST_CASE(
    "manual queue presents nothing: retrieve_next_request and STATUS_NO_MORE_ENTRIES if empty") {
    io_queue mq;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::manual;
        c.default_queue = true;
        auto r = io_queue::create(d, c);
        if (r) mq = *r;
        return r.code();
    });
    REQUIRE(hs.start() == status::success);
    auto none = mq.retrieve_next_request();
    REQUIRE(!none);
    CHECK(none.code() == status::no_more_entries);
    client c(hs.dev);
    c.read(1, 10);
    c.read(2, 20);
    // submit() queues synchronously; a manual queue never presents.
    CHECK(mq.queued_count() == 2);
    CHECK(mq.driver_owned_count() == 0);
    auto a = mq.retrieve_next_request();
    REQUIRE(a);
    CHECK(param_length(*a) == 10);  // FIFO
    auto b = mq.retrieve_next_request();
    REQUIRE(b);
    CHECK(param_length(*b) == 20);
    CHECK(mq.retrieve_next_request().code() == status::no_more_entries);
    CHECK(mq.driver_owned_count() == 2);
    b->complete(status::success);
    a->complete(status::success);
    CHECK(c.sink->wait(1).st == status::success);
    CHECK(c.sink->wait(2).st == status::success);
}

TEST_CASE("retrieve_next_request on a non-manual queue fails") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    CHECK(get_default_queue(hs.dev).retrieve_next_request().code() ==
          status::invalid_device_request);
}

TEST_CASE("queue creation rules: one default queue and no callbacks on a manual queue") {
    held h;
    status second = status::success, manual_cb = status::success, no_cb = status::success;
    sim_harness hs(opts(), {}, [&](device d) {
        auto first = io_queue::create(d, default_queue(dispatch_type::parallel, h));
        if (!first) return first.code();
        second = io_queue::create(d, default_queue(dispatch_type::sequential, h)).code();
        io_queue_config m;
        m.dispatch = dispatch_type::manual;
        m.on_io_read = [](io_queue, request, std::size_t) {};
        manual_cb = io_queue::create(d, m).code();
        io_queue_config n;
        n.default_queue = true;  // a default queue needs EvtIoDefault (or all three)
        no_cb = io_queue::create(d, n).code();
        return status::success;
    });
    REQUIRE(hs.start() == status::success);
    CHECK(second == status::invalid_device_request);
    CHECK(manual_cb == status::invalid_parameter);
    CHECK(no_cb == status::invalid_parameter);
}

// ---- routing
// -------------------------------------------------------------------------------------------

TEST_CASE(
    "EvtIoRead and EvtIoWrite and EvtIoDeviceControl get their types and EvtIoDefault the rest") {
    event_log log;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::parallel;
        c.default_queue = true;
        c.on_io_read = [&](io_queue, request r, std::size_t len) {
            log.add("read " + std::to_string(len));
            r.complete_with_information(status::success, 0);
        };
        c.on_io_default = [&](io_queue, request r) {
            log.add(std::string("default ") + request_type_name(r.get_parameters().type));
            r.complete(status::success);
        };
        return io_queue::create(d, c).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 7);
    CHECK(c.sink->wait(1).st == status::success);
    c.write(2, "abc");
    CHECK(c.sink->wait(2).st == status::success);
    c.ioctl(3, 0x222000, "", 4);
    CHECK(c.sink->wait(3).st == status::success);
    CHECK(log.get() == std::vector<std::string>{"read 7", "default WdfRequestTypeWrite",
                                                "default WdfRequestTypeDeviceControl"});
}

TEST_CASE("a queue with EvtIoRead and EvtIoWrite and EvtIoDeviceControl needs no EvtIoDefault") {
    event_log log2;
    sim_harness hs2(opts(), {}, [&](device d) {
        io_queue_config qc;
        qc.dispatch = dispatch_type::sequential;
        qc.default_queue = true;
        qc.on_io_read = [&](io_queue, request r, std::size_t len) {
            log2.add("read " + std::to_string(len));
            r.complete(status::success);
        };
        qc.on_io_write = [&](io_queue, request r, std::size_t len) {
            log2.add("write " + std::to_string(len));
            r.complete(status::success);
        };
        qc.on_io_device_control = [&](io_queue, request r, std::size_t out, std::size_t in,
                                      std::uint32_t code) {
            log2.add("ioctl " + std::to_string(code) + " " + std::to_string(out) + " " +
                     std::to_string(in));
            r.complete(status::success);
        };
        return io_queue::create(d, qc).code();
    });
    REQUIRE(hs2.start() == status::success);
    client c2(hs2.dev);
    c2.read(1, 5);
    CHECK(c2.sink->wait(1).st == status::success);
    c2.write(2, "hello!");
    CHECK(c2.sink->wait(2).st == status::success);
    c2.ioctl(3, 77, "xy", 8);
    CHECK(c2.sink->wait(3).st == status::success);
    CHECK(log2.get() == std::vector<std::string>{"read 5", "write 6", "ioctl 77 8 2"});
}

TEST_CASE("configure_request_dispatching sends a request type to another queue") {
    event_log log;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config def;
        def.dispatch = dispatch_type::parallel;
        def.default_queue = true;
        def.on_io_default = [&](io_queue, request r) {
            log.add(std::string("default ") + request_type_name(r.get_parameters().type));
            r.complete(status::success);
        };
        auto q1 = io_queue::create(d, def);
        if (!q1) return q1.code();
        io_queue_config w;
        w.dispatch = dispatch_type::sequential;
        w.on_io_write = [&](io_queue, request r, std::size_t) {
            log.add("write queue");
            r.complete(status::success);
        };
        auto q2 = io_queue::create(d, w);
        if (!q2) return q2.code();
        status st = configure_request_dispatching(d, *q2, request_type::write);
        if (!nt_success(st)) return st;
        // A type is configured once.
        CHECK(configure_request_dispatching(d, *q1, request_type::write) ==
              status::invalid_device_request);
        return status::success;
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.write(1, "x");
    CHECK(c.sink->wait(1).st == status::success);
    c.read(2, 1);
    CHECK(c.sink->wait(2).st == status::success);
    CHECK(log.get() == std::vector<std::string>{"write queue", "default WdfRequestTypeRead"});
}

TEST_CASE(
    "a request with no callback and no queue for its type fails with INVALID_DEVICE_REQUEST") {
    sim_harness hs(opts(), {}, [&](device d) {
        // Not a default queue: only reads reach it, and it has no EvtIoRead.
        io_queue_config c;
        c.dispatch = dispatch_type::parallel;
        c.on_io_write = [](io_queue, request r, std::size_t) { r.complete(status::success); };
        auto q = io_queue::create(d, c);
        if (!q) return q.code();
        return configure_request_dispatching(d, *q, request_type::read);
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    CHECK(c.read(1, 4) != 0);  // queued, then failed by the framework at presentation
    CHECK(c.sink->wait(1).st == status::invalid_device_request);
    CHECK(c.write(2, "abc") == 0);  // no queue for writes: completed at once
    CHECK(c.sink->wait(2).st == status::invalid_device_request);
}

TEST_CASE("zero-length reads and writes complete at once unless the queue allows them") {
    counter presented;
    for (bool allow : {false, true}) {
        sim_harness hs(opts(), {}, [&](device d) {
            io_queue_config c;
            c.dispatch = dispatch_type::parallel;
            c.default_queue = true;
            c.allow_zero_length_requests = allow;
            c.on_io_default = [&](io_queue, request r) {
                presented.add();
                r.complete(status::end_of_file);
            };
            return io_queue::create(d, c).code();
        });
        REQUIRE(hs.start() == status::success);
        client c(hs.dev);
        c.read(1, 0);
        CHECK(c.sink->wait(1).st == (allow ? status::end_of_file : status::success));
    }
    CHECK(presented.get() == 1);
}

// ---- buffers, information, completion
// ---------------------------------------------------------------

TEST_CASE("request buffers: output for reads and input for writes and both for device controls") {
    std::atomic<int> checks{0};
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::sequential;
        c.default_queue = true;
        c.on_io_read = [&](io_queue, request r, std::size_t len) {
            CHECK(r.retrieve_output_buffer(len + 1).code() == status::buffer_too_small);
            CHECK(r.retrieve_input_buffer().code() == status::invalid_device_request);
            auto out = r.retrieve_output_buffer(len);
            REQUIRE(out);
            CHECK(out->size() == len);
            std::memcpy(out->data(), "0123456789", std::min<std::size_t>(len, 10));
            ++checks;
            // More information than the buffer holds is clamped to the request's length.
            r.complete_with_information(status::success, len + 100);
        };
        c.on_io_write = [&](io_queue, request r, std::size_t len) {
            CHECK(r.retrieve_output_buffer().code() == status::invalid_device_request);
            CHECK(r.retrieve_input_buffer(len + 1).code() == status::buffer_too_small);
            auto in = r.retrieve_input_buffer(len);
            REQUIRE(in);
            CHECK(to_string(*in) == "payload");
            ++checks;
            r.set_information(in->size());
            CHECK(r.get_information() == 7);
            r.complete(status::success);  // WdfRequestComplete keeps the information set
        };
        c.on_io_device_control = [&](io_queue, request r, std::size_t out_len, std::size_t,
                                     std::uint32_t code) {
            if (code == 2) {
                // Zero-length buffers are "too small" for a device control (WDF).
                CHECK(r.retrieve_output_buffer().code() == status::buffer_too_small);
                CHECK(r.retrieve_input_buffer().code() == status::buffer_too_small);
                ++checks;
                r.complete(status::buffer_too_small);
                return;
            }
            auto in = r.retrieve_input_buffer(2);
            auto out = r.retrieve_output_buffer(out_len);
            REQUIRE(in);
            REQUIRE(out);
            std::string s = to_string(*in);
            std::reverse(s.begin(), s.end());
            std::memcpy(out->data(), s.data(), std::min(s.size(), out->size()));
            ++checks;
            r.complete_with_information(status::success, s.size());
        };
        return io_queue::create(d, c).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 4);
    auto d1 = c.sink->wait(1);
    CHECK(d1.st == status::success);
    CHECK(d1.info == 4);
    CHECK(to_string(d1.out) == "0123");
    c.write(2, "payload");
    auto d2 = c.sink->wait(2);
    CHECK(d2.st == status::success);
    CHECK(d2.info == 7);
    CHECK(d2.out.empty());  // a write returns no bytes
    c.ioctl(3, 1, "abcd", 16);
    auto d3 = c.sink->wait(3);
    CHECK(d3.st == status::success);
    CHECK(d3.info == 4);
    CHECK(to_string(d3.out) == "dcba");
    c.ioctl(4, 2, "", 0);
    auto d4 = c.sink->wait(4);
    CHECK(d4.st == status::buffer_too_small);
    CHECK(d4.info == 0);
    CHECK(checks.load() == 4);
}

TEST_CASE(
    "completing a request twice is a verifier report and and the client sees one completion") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    REQUIRE(h.n.wait_for_at_least(1));
    request r = h.pop();
    r.reference();  // keeps the handle valid after the completion (§18.4)
    r.complete(status::success);
    CHECK(c.sink->wait(1).st == status::success);
    {
        verifier_reports vr;
        r.complete(status::unsuccessful);
        CHECK(vr.count() == 1);
    }
    r.dereference();
    CHECK(c.sink->times(1) == 1);
}

TEST_CASE("completing a request twice aborts under the verifier naming the API and the rule") {
    wdfx_test::expect_verifier_abort("double-complete", "request already completed", [] {
        held h;
        sim_harness hs(opts(), {}, [&](device d) {
            return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
        });
        REQUIRE(hs.start() == status::success);
        client c(hs.dev);
        c.read(1, 1);
        REQUIRE(h.n.wait_for_at_least(1));
        request r = h.pop();
        r.reference();
        r.complete(status::success);
        r.complete(status::success);
    });
}

// ---- forward and requeue
// ---------------------------------------------------------------------------------

TEST_CASE("forward_to_io_queue moves a presented request into a manual queue") {
    io_queue manual;
    counter forwarded;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config m;
        m.dispatch = dispatch_type::manual;
        auto mq = io_queue::create(d, m);
        if (!mq) return mq.code();
        manual = *mq;
        io_queue_config c;
        c.dispatch = dispatch_type::sequential;
        c.default_queue = true;
        c.on_io_default = [&](io_queue self, request r) {
            CHECK(r.forward_to_io_queue(self) == status::invalid_device_request);  // same queue
            CHECK(r.forward_to_io_queue(manual) == status::success);
            forwarded.add();
        };
        return io_queue::create(d, c).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    c.read(2, 2);
    // Forwarding frees the sequential queue: it presents the next one.
    REQUIRE(forwarded.wait_for_at_least(2));
    CHECK(get_default_queue(hs.dev).driver_owned_count() == 0);
    CHECK(manual.queued_count() == 2);
    auto a = manual.retrieve_next_request();
    REQUIRE(a);
    CHECK(a->get_io_queue() == manual);
    CHECK(param_length(*a) == 1);
    a->complete(status::success);
    auto b = manual.retrieve_next_request();
    REQUIRE(b);
    b->complete(status::success);
    CHECK(c.sink->wait(1).st == status::success);
    CHECK(c.sink->wait(2).st == status::success);
}

TEST_CASE("requeue puts a manual queue's request back at the head") {
    io_queue mq;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::manual;
        c.default_queue = true;
        auto r = io_queue::create(d, c);
        if (r) mq = *r;
        return r.code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    c.read(2, 2);
    auto a = mq.retrieve_next_request();
    REQUIRE(a);
    CHECK(param_length(*a) == 1);
    CHECK(a->requeue() == status::success);
    CHECK(mq.queued_count() == 2);
    auto again = mq.retrieve_next_request();
    REQUIRE(again);
    CHECK(param_length(*again) == 1);  // the head, before request 2
    again->complete(status::success);
    auto b = mq.retrieve_next_request();
    REQUIRE(b);
    CHECK(param_length(*b) == 2);
    b->complete(status::success);
    CHECK(c.sink->order() == std::vector<std::uint64_t>{0, 1, 2});
}

TEST_CASE("requeue of a request from a non-manual queue is a verifier report") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    REQUIRE(h.n.wait_for_at_least(1));
    request r = h.pop();
    {
        verifier_reports vr;
        CHECK(r.requeue() == status::invalid_device_request);
        CHECK(vr.count() == 1);
    }
    r.complete(status::success);  // still the driver's
    CHECK(c.sink->wait(1).st == status::success);
}

// ---- cancellation
// ----------------------------------------------------------------------------------------

TEST_CASE(
    "EvtRequestCancel runs for a cancelable presented request and unmark then says CANCELLED") {
    held h;
    counter cancel_ran;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    std::uint64_t rh = c.read(1, 8);
    REQUIRE(rh != 0);
    REQUIRE(h.n.wait_for_at_least(1));
    request r = h.pop();
    r.reference();
    CHECK(r.mark_cancelable([&](request x) {
        CHECK(x == r);
        CHECK(x.is_canceled());
        cancel_ran.add();
        // A cancel routine completes the request (the driver's unmark will say CANCELLED).
    }) == status::success);
    CHECK(!r.is_canceled());
    c.cancel(rh);
    REQUIRE(cancel_ran.wait_for_at_least(1));
    CHECK(r.is_canceled());
    // The cancel routine ran: unmark returns STATUS_CANCELLED and the routine owns completion.
    CHECK(r.unmark_cancelable() == status::cancelled);
    CHECK(!c.sink->has(1));
    r.complete(status::cancelled);
    CHECK(c.sink->wait(1).st == status::cancelled);
    c.cancel(rh);  // a completed request: no-op
    CHECK(cancel_ran.get() == 1);
    r.dereference();
}

TEST_CASE("unmark_cancelable before a cancel returns SUCCESS and the cancel routine never runs") {
    held h;
    counter cancel_ran;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    std::uint64_t rh = c.read(1, 8);
    REQUIRE(h.n.wait_for_at_least(1));
    request r = h.pop();
    CHECK(r.mark_cancelable([&](request) { cancel_ran.add(); }) == status::success);
    CHECK(r.unmark_cancelable() == status::success);
    c.cancel(rh);
    CHECK(r.is_canceled());  // the flag is set; the driver notices it when it looks
    r.complete(status::success);
    CHECK(c.sink->wait(1).st == status::success);
    CHECK(cancel_ran.get() == 0);
}

TEST_CASE("mark_cancelable on an already cancelled request returns STATUS_CANCELLED") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        return io_queue::create(d, default_queue(dispatch_type::parallel, h)).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    std::uint64_t rh = c.read(1, 8);
    REQUIRE(h.n.wait_for_at_least(1));
    request r = h.pop();
    c.cancel(rh);  // not cancelable: only the flag is set
    CHECK(r.is_canceled());
    bool called = false;
    CHECK(r.mark_cancelable([&](request) { called = true; }) == status::cancelled);
    CHECK(!called);
    r.complete(status::cancelled);
    CHECK(c.sink->wait(1).st == status::cancelled);
}

TEST_CASE("cancelling a queued request completes it with STATUS_CANCELLED") {
    io_queue mq;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::manual;
        c.default_queue = true;
        auto r = io_queue::create(d, c);
        if (r) mq = *r;
        return r.code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    std::uint64_t a = c.read(1, 1);
    c.read(2, 2);
    c.cancel(a);
    auto d = c.sink->wait(1);
    CHECK(d.st == status::cancelled);
    CHECK(d.info == 0);
    CHECK(mq.queued_count() == 1);
    auto b = mq.retrieve_next_request();
    REQUIRE(b);
    CHECK(param_length(*b) == 2);
    b->complete(status::success);
    CHECK(c.sink->wait(2).st == status::success);
}

TEST_CASE("EvtIoCanceledOnQueue gets a queued request that is cancelled") {
    io_queue mq;
    held canceled;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::manual;
        c.default_queue = true;
        c.on_io_canceled_on_queue = [&](io_queue q, request r) {
            CHECK(q == mq);
            CHECK(r.is_canceled());
            canceled.add(r);
        };
        auto r = io_queue::create(d, c);
        if (r) mq = *r;
        return r.code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    std::uint64_t a = c.read(1, 1);
    c.cancel(a);
    REQUIRE(canceled.n.wait_for_at_least(1));
    CHECK(mq.queued_count() == 0);
    CHECK(!c.sink->has(1));  // the driver completes it
    canceled.pop().complete_with_information(status::cancelled, 0);
    CHECK(c.sink->wait(1).st == status::cancelled);
}

TEST_CASE("cancel racing the driver's completion completes each request exactly once") {
    // A request handle from submit() may be completed and freed by the driver at any moment;
    // cancel() looks it up among the live requests only (run under ASan and TSan).
    held h;
    constexpr int kN = 200;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::parallel;
        c.default_queue = true;
        c.on_io_default = [&](io_queue, request r) {
            if (r.mark_cancelable([](request x) { x.complete(status::cancelled); }) !=
                status::success) {
                r.complete(status::cancelled);
                return;
            }
            r.reference();  // the completer's: the cancel routine may complete it first
            h.add(r);
        };
        return io_queue::create(d, c).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    std::vector<std::uint64_t> handles;
    for (int i = 1; i <= kN; ++i)
        handles.push_back(c.read(static_cast<std::uint64_t>(i), 1));
    std::thread completer([&] {
        for (int i = 0; i < kN; ++i) {
            if (!h.n.wait_for_at_least(static_cast<std::uint64_t>(i + 1))) return;
            request r = h.pop();
            if (!r) continue;  // padding (see below)
            if (r.unmark_cancelable() == status::success) r.complete(status::success);
            r.dereference();
        }
    });
    for (std::uint64_t rh : handles)
        c.cancel(rh);
    for (int i = 1; i <= kN; ++i) {
        auto d = c.sink->wait(static_cast<std::uint64_t>(i));
        CHECK((d.st == status::success || d.st == status::cancelled));
    }
    // Requests cancelled while still queued never reached the driver: pad the completer's count.
    while (h.n.get() < static_cast<std::uint64_t>(kN))
        h.add(request());
    completer.join();
    for (int i = 1; i <= kN; ++i)
        CHECK(c.sink->times(static_cast<std::uint64_t>(i)) == 1);
}

// ---- file objects
// ----------------------------------------------------------------------------------------

TEST_CASE(
    "a client going away: requests cancelled and then EvtFileCleanup and then EvtFileClose last") {
    event_log log;
    io_queue mq;
    held h;
    counter closed, presented;
    sim_harness hs(
        opts(),
        [&](device_init& in) {
            in.file_config.on_create = [&](device, request r, file_object f) {
                log.add("create uid=" + std::to_string(f.uid()) +
                        " pid=" + std::to_string(f.pid()));
                r.complete(status::success);
            };
            in.file_config.on_cleanup = [&](file_object) { log.add("cleanup"); };
            in.file_config.on_close = [&](file_object) {
                log.add("close");
                closed.add();
            };
        },
        [&](device d) {
            io_queue_config m;
            m.dispatch = dispatch_type::manual;
            auto q = io_queue::create(d, m);
            if (!q) return q.code();
            mq = *q;
            io_queue_config c;
            c.dispatch = dispatch_type::parallel;
            c.default_queue = true;
            c.on_io_default = [&](io_queue, request r) {
                if (r.get_parameters().length == 1) {
                    (void)r.forward_to_io_queue(mq);  // stays queued in the manual queue
                } else if (r.get_parameters().length == 2) {
                    (void)r.mark_cancelable([&](request x) {
                        log.add("cancel routine");
                        x.complete(status::cancelled);
                    });
                } else {
                    h.add(r);  // not cancelable: the driver completes it when it likes
                }
                presented.add();
            };
            return io_queue::create(d, c).code();
        });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev, {1234, 99, 4321});
    REQUIRE(c.create_status == status::success);
    c.read(1, 1);
    c.read(2, 2);
    c.read(3, 3);
    REQUIRE(presented.wait_for_at_least(3));
    REQUIRE(mq.queued_count() == 1);
    c.close();
    CHECK(c.sink->wait(1).st == status::cancelled);  // queued: cancelled by the framework
    CHECK(c.sink->wait(2).st == status::cancelled);  // cancelable: EvtRequestCancel
    CHECK(!c.sink->has(3));
    CHECK(log.index_of("cleanup") > log.index_of("cancel routine"));
    // EvtFileClose waits for the last request of the file.
    CHECK(log.index_of("close") == -1);
    request r3 = h.pop();
    CHECK(param_length(r3) == 3);
    CHECK(r3.is_canceled());
    r3.complete(status::success);
    REQUIRE(closed.wait_for_at_least(1));
    auto l = log.get();
    CHECK(l.front() == "create uid=1234 pid=4321");
    CHECK(l.back() == "close");
    CHECK(log.index_of("close") > log.index_of("cleanup"));
}

TEST_CASE("EvtDeviceFileCreate can refuse an open and the file's requests then fail") {
    counter cleanup, close;
    sim_harness hs(
        opts(),
        [&](device_init& in) {
            in.file_config.on_create = [](device, request r, file_object f) {
                r.complete(f.uid() == 0 ? status::success : status::access_denied);
            };
            in.file_config.on_cleanup = [&](file_object) { cleanup.add(); };
            in.file_config.on_close = [&](file_object) { close.add(); };
        },
        [&](device d) {
            io_queue_config c;
            c.dispatch = dispatch_type::parallel;
            c.default_queue = true;
            c.on_io_default = [](io_queue, request r) { r.complete(status::success); };
            return io_queue::create(d, c).code();
        });
    REQUIRE(hs.start() == status::success);
    {
        client refused(hs.dev, {1000, 1000, 1});
        CHECK(refused.create_status == status::access_denied);
        CHECK(refused.read(1, 1) == 0);
        CHECK(refused.sink->wait(1).st == status::invalid_device_state);
    }
    client ok(hs.dev, {0, 0, 1});
    CHECK(ok.create_status == status::success);
    ok.read(1, 1);
    CHECK(ok.sink->wait(1).st == status::success);
    ok.close();
    REQUIRE(close.wait_for_at_least(1));
    // Cleanup and close run for opened files only.
    CHECK(cleanup.get() == 1);
    CHECK(close.get() == 1);
}

TEST_CASE("the device's removal closes files still open and later requests fail NO_SUCH_DEVICE") {
    counter cleanup, close;
    sim_harness hs(
        opts(),
        [&](device_init& in) {
            in.file_config.on_cleanup = [&](file_object) { cleanup.add(); };
            in.file_config.on_close = [&](file_object) { close.add(); };
        },
        [&](device d) {
            io_queue_config c;
            c.dispatch = dispatch_type::manual;
            c.default_queue = true;
            return io_queue::create(d, c).code();
        });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    hs.remove();
    CHECK(c.sink->wait(1).st == status::cancelled);  // purged
    CHECK(cleanup.get() == 1);
    CHECK(close.get() == 1);
    // The client's handle stays valid until it closes it.
    CHECK(c.read(2, 1) == 0);
    CHECK(c.sink->wait(2).st == status::no_such_device);
    c.close();
    CHECK(close.get() == 1);
}

// ---- life cycle
// ------------------------------------------------------------------------------------------

TEST_CASE(
    "power-managed queues stop before EvtInterruptDisable and start after EvtInterruptEnable") {
    event_log log;
    held h;
    counter stopped;
    sim_harness::options o = opts();
    o.spec.msix_vectors = 1;
    sim_harness hs(
        o,
        [&](device_init& in) {
            in.pnp_power.on_d0_exit_pre_interrupts_disabled = [&](device, device_power_state) {
                log.add("PreInterruptsDisabled");
                return status::success;
            };
            in.pnp_power.on_d0_entry_post_interrupts_enabled = [&](device, device_power_state) {
                log.add("PostInterruptsEnabled");
                return status::success;
            };
        },
        [&](device d) {
            interrupt_config ic;
            ic.on_isr = [](interrupt, const isr_context&) { return true; };
            ic.on_enable = [&](interrupt, device) {
                log.add("Enable");
                return status::success;
            };
            ic.on_disable = [&](interrupt, device) {
                log.add("Disable");
                return status::success;
            };
            auto irq = interrupt::create(d, ic);
            if (!irq) return irq.code();
            io_queue_config c;
            c.dispatch = dispatch_type::parallel;
            c.default_queue = true;
            c.on_io_default = [&](io_queue, request r) {
                log.add("IoRead " + std::to_string(param_length(r)));
                h.add(r);
            };
            c.on_io_stop = [&](io_queue, request r, std::uint32_t action) {
                log.add(std::string("IoStop") +
                        ((action & stop_action_suspend) != 0 ? " suspend" : "") +
                        ((action & stop_action_purge) != 0 ? " purge" : ""));
                r.stop_acknowledge(false);  // keep it across the power-down
                stopped.add();
            };
            c.on_io_resume = [&](io_queue, request r) {
                log.add("IoResume " + std::to_string(param_length(r)));
            };
            return io_queue::create(d, c).code();
        });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    REQUIRE(h.n.wait_for_at_least(1));
    REQUIRE(hs.dev.power_down(device_power_state::d3) == status::success);
    // A request that arrives in Dx waits in the stopped queue.
    c.read(2, 2);
    CHECK(get_default_queue(hs.dev).queued_count() == 1);
    REQUIRE(hs.dev.power_up() == status::success);
    REQUIRE(h.n.wait_for_at_least(2));
    auto at = [&](const std::string& e) { return log.index_of(e); };
    CHECK(at("IoRead 1") >= 0);
    CHECK(at("IoStop suspend") > at("IoRead 1"));
    CHECK(at("PreInterruptsDisabled") > at("IoStop suspend"));
    CHECK(at("Disable") > at("IoStop suspend"));
    auto reenabled = log.last_index_of("Enable");
    CHECK(reenabled > at("Disable"));
    CHECK(at("IoResume 1") > reenabled);
    CHECK(at("IoRead 2") > reenabled);
    CHECK(at("IoRead 2") > log.last_index_of("PostInterruptsEnabled"));
    h.complete_all();
    CHECK(c.sink->wait(1).st == status::success);
    CHECK(c.sink->wait(2).st == status::success);
}

TEST_CASE("a queue that is not power-managed keeps presenting while the device is in Dx") {
    held h;
    sim_harness hs(opts(), {}, [&](device d) {
        auto c = default_queue(dispatch_type::parallel, h);
        c.power_managed = tri_state::false_value;
        return io_queue::create(d, c).code();
    });
    REQUIRE(hs.start() == status::success);
    REQUIRE(hs.dev.power_down(device_power_state::d3) == status::success);
    client c(hs.dev);
    c.read(1, 1);
    REQUIRE(h.n.wait_for_at_least(1));
    h.complete_all();
    CHECK(c.sink->wait(1).st == status::success);
    REQUIRE(hs.dev.power_up() == status::success);
}

TEST_CASE("removal purges: queued requests complete CANCELLED and EvtIoStop says purge") {
    event_log log;
    io_queue mq;
    held h;
    counter presented;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config m;
        m.dispatch = dispatch_type::manual;
        auto q = io_queue::create(d, m);
        if (!q) return q.code();
        mq = *q;
        io_queue_config c;
        c.dispatch = dispatch_type::parallel;
        c.default_queue = true;
        c.on_io_default = [&](io_queue, request r) {
            if (param_length(r) == 1)
                (void)r.forward_to_io_queue(mq);
            else
                h.add(r);
            presented.add();
        };
        c.on_io_stop = [&](io_queue, request r, std::uint32_t action) {
            log.add((action & stop_action_purge) != 0 ? "IoStop purge" : "IoStop suspend");
            r.complete(status::cancelled);
        };
        return io_queue::create(d, c).code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    c.read(2, 2);
    REQUIRE(presented.wait_for_at_least(2));
    REQUIRE(mq.queued_count() == 1);
    hs.remove();
    CHECK(c.sink->wait(1).st == status::cancelled);
    CHECK(c.sink->wait(2).st == status::cancelled);
    CHECK(log.get() == std::vector<std::string>{"IoStop purge"});
}

TEST_CASE("purge_synchronously and stop/start by the driver") {
    io_queue mq;
    sim_harness hs(opts(), {}, [&](device d) {
        io_queue_config m;
        m.dispatch = dispatch_type::manual;
        m.default_queue = true;
        auto q = io_queue::create(d, m);
        if (q) mq = *q;
        return q.code();
    });
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    mq.stop();
    CHECK(mq.retrieve_next_request().code() == status::wdf_paused);
    mq.start();
    mq.purge_synchronously();
    CHECK(c.sink->wait(1).st == status::cancelled);
    // A purged queue refuses new requests.
    c.read(2, 1);
    CHECK(c.sink->wait(2).st == status::cancelled);
}

// ---- automatic serialization (§9.4, §18.4)
// -------------------------------------------------------------

TEST_CASE(
    "a passive-level queue calls back at PASSIVE and a synchronized dispatch one at DISPATCH") {
    struct seen {
        level lvl = level::dirql;
        std::string role;
    };
    auto run = [](execution_level device_level, synchronization_scope scope) {
        seen s;
        counter done;
        sim_harness hs(opts(scope, device_level), {}, [&](device d) {
            io_queue_config c;
            c.dispatch = dispatch_type::sequential;
            c.default_queue = true;
            c.on_io_default = [&](io_queue, request r) {
                s.lvl = current_level();
                s.role = current_thread_role();
                r.complete(status::success);
                done.add();
            };
            return io_queue::create(d, c).code();
        });
        REQUIRE(hs.start() == status::success);
        client c(hs.dev);
        c.read(1, 1);
        REQUIRE(done.wait_for_at_least(1));
        CHECK(c.sink->wait(1).st == status::success);
        return s;
    };
    seen p = run(execution_level::passive, synchronization_scope::device);
    CHECK(p.lvl == level::passive);
    CHECK(p.role.rfind("wdfx-pool/", 0) == 0);
    seen q = run(execution_level::dispatch, synchronization_scope::queue);
    CHECK(q.lvl == level::dispatch);
    seen dv = run(execution_level::dispatch, synchronization_scope::device);
    CHECK(dv.lvl == level::dispatch);
    seen none = run(execution_level::inherit_from_parent, synchronization_scope::none);
    CHECK(none.lvl == level::passive);
}

TEST_CASE("device-scope serialization: queue callbacks and a serialized DPC never overlap") {
    // The queue (parallel, device scope) and the DPC (AutomaticSerialization) share the device's
    // callback lock. Inside EvtIoRead the test raises the interrupt and waits until the ISR ran
    // (the ISR is never serialized, §9.4): the DPC it queued must not start before EvtIoRead
    // returns. A stress run then checks that the two never overlap.
    std::atomic<int> inside{0};
    std::atomic<int> overlaps{0};
    counter isr_calls, dpcs, reads;
    std::atomic<bool> dpc_seen_in_read{false};
    interrupt irq;
    sim_harness::options o = opts(synchronization_scope::device, execution_level::dispatch);
    o.spec.msix_vectors = 1;
    std::shared_ptr<sim::device> simdev;
    sim_harness hs(o, {}, [&](device d) {
        interrupt_config ic;
        ic.on_isr = [&](interrupt i, const isr_context&) {
            (void)i.queue_dpc_for_isr();
            isr_calls.add();
            return true;
        };
        ic.on_dpc = [&](interrupt, object) {
            if (inside.fetch_add(1) != 0) ++overlaps;
            CHECK(current_level() == level::dispatch);
            inside.fetch_sub(1);
            dpcs.add();
        };
        ic.automatic_serialization = true;
        auto r = interrupt::create(d, ic);
        if (!r) return r.code();
        irq = *r;
        io_queue_config c;
        c.dispatch = dispatch_type::parallel;
        c.default_queue = true;
        c.on_io_default = [&](io_queue, request r2) {
            if (inside.fetch_add(1) != 0) ++overlaps;
            if (param_length(r2) == 1) {
                std::uint64_t before = dpcs.get();
                std::uint64_t isrs = isr_calls.get();
                simdev->raise(bus::irq_kind::msix, 0);
                (void)isr_calls.wait_for_at_least(isrs + 1);
                if (dpcs.get() != before) dpc_seen_in_read = true;
            }
            inside.fetch_sub(1);
            r2.complete(status::success);
            reads.add();
        };
        return io_queue::create(d, c).code();
    });
    simdev = hs.sim;
    REQUIRE(hs.start() == status::success);
    client c(hs.dev);
    c.read(1, 1);
    CHECK(c.sink->wait(1).st == status::success);
    REQUIRE(dpcs.wait_for_at_least(1));
    CHECK(!dpc_seen_in_read.load());
    // Stress: requests and interrupts at the same time.
    constexpr int kN = 300;
    std::thread raiser([&] {
        for (int i = 0; i < kN; ++i) {
            std::uint64_t isrs = isr_calls.get();
            hs.sim->raise(bus::irq_kind::msix, 0);
            if (!isr_calls.wait_for_at_least(isrs + 1)) return;
        }
    });
    for (int i = 0; i < kN; ++i)
        c.read(static_cast<std::uint64_t>(100 + i), 2);
    REQUIRE(reads.wait_for_at_least(kN + 1));
    raiser.join();
    CHECK(overlaps.load() == 0);
}
