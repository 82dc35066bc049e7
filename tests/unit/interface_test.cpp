// The socket device interface with real clients (wdfx/interface.hpp, docs/protocol.md): a small
// queue-serving driver on a sim device answers read/write/ioctl through a parallel queue (reads,
// ioctls) and a sequential one (writes); clients are raw sockets speaking the protocol (to send
// hostile frames), the C client example and the wdfx-io CLI as real processes.
//
// Every wait is on an event: a reply on the socket (poll with a hang guard), or a counter bumped
// by the driver's callbacks.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <wdfx/interface.hpp>

#include "iface/protocol.hpp"
#include "test_support.hpp"

extern char** environ;

using namespace wdfx;
using namespace wdfx::detail::iface;
using wdfx_test::counter;
using wdfx_test::sim_harness;

namespace {

using bytes = std::vector<std::byte>;

bytes to_bytes(const std::string& s) {
    bytes b(s.size());
    if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
    return b;
}
std::string to_string(const bytes& b) {
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Device control codes the test driver understands.
constexpr std::uint32_t kReverse = 1;     // output = the input reversed
constexpr std::uint32_t kHoldCancel = 2;  // held by the driver, cancelable
constexpr std::uint32_t kHold = 3;        // held by the driver, not cancelable
constexpr std::uint32_t kFail = 4;        // STATUS_INVALID_DEVICE_REQUEST

/// A temporary directory for sockets, removed at the end.
struct temp_dir {
    temp_dir() {
        char t[] = "/tmp/wdfx-iface-XXXXXX";
        REQUIRE(::mkdtemp(t) != nullptr);
        path = t;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string path;
};

/// The driver: a parallel default queue (reads, ioctls) and a sequential write queue.
class test_driver {
  public:
    explicit test_driver(socket_interface_config cfg)
        : hs_(
              sim_harness::options{}, [this](device_init& in) { init(in); },
              [this](device d) { return create(d); }) {
        REQUIRE(hs_.start() == status::success);
        auto r = socket_interface::create(hs_.dev, cfg);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().describe()));
        iface = *r;
        path = iface.path();
    }

    request pop_held() {
        std::lock_guard g(m_);
        REQUIRE(!held_.empty());
        request r = held_.front();
        held_.pop_front();
        return r;
    }
    std::string written() const {
        std::lock_guard g(m_);
        return written_;
    }
    void remove() { hs_.remove(); }
    device dev() const { return hs_.dev; }

    socket_interface iface;
    std::string path;
    counter held, cancel_routines, cleanups, closes, creates;

  private:
    void init(device_init& in) {
        in.file_config.on_create = [this](device, request r, file_object) {
            creates.add();
            r.complete(status::success);
        };
        in.file_config.on_cleanup = [this](file_object) { cleanups.add(); };
        in.file_config.on_close = [this](file_object) { closes.add(); };
    }
    status create(device d) {
        io_queue_config c;
        c.dispatch = dispatch_type::parallel;
        c.default_queue = true;
        c.on_io_read = [](io_queue, request r, std::size_t len) {
            auto out = r.retrieve_output_buffer(len);
            if (!out) {
                r.complete(out.code());
                return;
            }
            std::uint64_t off = r.get_parameters().offset;
            for (std::size_t i = 0; i < len; ++i)
                (*out)[i] = static_cast<std::byte>('a' + (off + i) % 26);
            r.complete_with_information(status::success, len);
        };
        c.on_io_device_control = [this](io_queue, request r, std::size_t out_len, std::size_t,
                                        std::uint32_t code) {
            switch (code) {
                case kReverse: {
                    auto in = r.retrieve_input_buffer(1);
                    auto out = r.retrieve_output_buffer(out_len);
                    if (!in || !out) {
                        r.complete(status::buffer_too_small);
                        return;
                    }
                    std::size_t n = std::min(in->size(), out->size());
                    for (std::size_t i = 0; i < n; ++i)
                        (*out)[i] = (*in)[in->size() - 1 - i];
                    r.complete_with_information(status::success, n);
                    return;
                }
                case kHoldCancel:
                    if (r.mark_cancelable([this](request x) {
                            cancel_routines.add();
                            x.complete(status::cancelled);
                        }) != status::success) {
                        r.complete(status::cancelled);
                        return;
                    }
                    held.add();
                    return;
                case kHold: {
                    std::lock_guard g(m_);
                    held_.push_back(r);
                }
                    held.add();
                    return;
                default:
                    r.complete(status::invalid_device_request);
                    return;
            }
        };
        auto q = io_queue::create(d, c);
        if (!q) return q.code();
        io_queue_config w;
        w.dispatch = dispatch_type::sequential;
        w.on_io_write = [this](io_queue, request r, std::size_t len) {
            auto in = r.retrieve_input_buffer(len);
            if (!in) {
                r.complete(in.code());
                return;
            }
            {
                std::lock_guard g(m_);
                written_.append(reinterpret_cast<const char*>(in->data()), in->size());
            }
            r.complete_with_information(status::success, in->size());
        };
        auto wq = io_queue::create(d, w);
        if (!wq) return wq.code();
        return configure_request_dispatching(d, *wq, request_type::write);
    }

    mutable std::mutex m_;
    std::deque<request> held_;
    std::string written_;
    // Last: the device is removed (its callbacks stop) before the state above goes.
    sim_harness hs_;
};

/// A raw protocol client: sends any bytes, reads frames.
class raw_client {
  public:
    explicit raw_client(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~raw_client() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    void send(const bytes& b) {
        std::size_t off = 0;
        while (off < b.size()) {
            ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            REQUIRE(n > 0);
            off += static_cast<std::size_t>(n);
        }
    }
    void req(std::uint16_t op, std::uint64_t id, std::uint32_t arg0 = 0, std::uint64_t arg1 = 0,
             const bytes& payload = {}) {
        send(encode_request(op, id, arg0, arg1, payload));
    }

    struct frame {
        wdfx_wire_header h{};
        bytes payload;
        status st() const { return static_cast<status>(h.arg0); }
    };
    /// The next frame, or nullopt at EOF (the server closed the connection).
    std::optional<frame> next() {
        unsigned char hdr[WDFX_WIRE_HEADER_SIZE];
        if (!read_exact(hdr, sizeof hdr)) return std::nullopt;
        frame f;
        wdfx_wire_decode(hdr, &f.h);
        f.payload.resize(f.h.payload);
        if (f.h.payload > 0) REQUIRE(read_exact(f.payload.data(), f.payload.size()));
        return f;
    }
    frame expect() {
        auto f = next();
        REQUIRE_MESSAGE(f.has_value(), "the server closed the connection");
        return *f;
    }
    /// OPEN and its successful reply.
    void open(std::uint64_t id = 1000) {
        req(WDFX_OP_OPEN, id);
        auto f = expect();
        REQUIRE(f.h.op == (WDFX_OP_OPEN | WDFX_OP_REPLY));
        REQUIRE(f.h.id == id);
        REQUIRE(f.st() == status::success);
    }
    /// True when the server closed the connection (EOF after any frames it still sends).
    bool closed_by_server() {
        for (;;) {
            auto f = next();
            if (!f) return true;
        }
    }

  private:
    bool read_exact(void* p, std::size_t n) {
        auto* b = static_cast<unsigned char*>(p);
        while (n > 0) {
            pollfd pf{fd_, POLLIN, 0};
            int pr = ::poll(&pf, 1, 60000);  // a hang guard, not a timing assertion
            REQUIRE_MESSAGE(pr > 0, "no reply from the server");
            ssize_t k = ::recv(fd_, b, n, 0);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return false;
            b += k;
            n -= static_cast<std::size_t>(k);
        }
        return true;
    }
    int fd_ = -1;
};

socket_interface_config config_in(const temp_dir& d) {
    socket_interface_config c;
    c.path = d.path + "/test.sock";
    c.mode = 0666;
    return c;
}

/// The directory of the build tree (this binary is <build>/tests/unit/interface_test).
std::string build_dir() {
    char p[4096];
    ssize_t n = ::readlink("/proc/self/exe", p, sizeof p - 1);
    REQUIRE(n > 0);
    p[n] = '\0';
    std::string s = p;
    for (int i = 0; i < 3; ++i)
        s = s.substr(0, s.rfind('/'));
    return s;
}

struct run_result {
    int exit_code = -1;
    std::string out, err;
};

run_result run(const std::vector<std::string>& args) {
    temp_dir d;
    std::string out = d.path + "/out", err = d.path + "/err";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT, 0600);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT, 0600);
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE_MESSAGE(rc == 0, "cannot run " << args[0]);
    int ws = 0;
    REQUIRE(::waitpid(pid, &ws, 0) == pid);
    run_result r;
    r.exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    std::ifstream o(out), e(err);
    std::stringstream so, se;
    so << o.rdbuf();
    se << e.rdbuf();
    r.out = so.str();
    r.err = se.str();
    return r;
}

}  // namespace

// ---- the happy paths
// -----------------------------------------------------------------------------------

TEST_CASE(
    "socket interface: open and read and write and ioctl through parallel and sequential "
    "queues") {
    temp_dir d;
    test_driver drv(config_in(d));
    CHECK(drv.path == d.path + "/test.sock");
    raw_client c(drv.path);
    c.open();
    CHECK(drv.creates.get() == 1);

    c.req(WDFX_OP_READ, 1, 5, 2);  // 5 bytes at offset 2
    auto r = c.expect();
    CHECK(r.h.op == (WDFX_OP_READ | WDFX_OP_REPLY));
    CHECK(r.h.id == 1u);
    CHECK(r.st() == status::success);
    CHECK(r.h.arg1 == 5u);
    CHECK(to_string(r.payload) == "cdefg");

    c.req(WDFX_OP_WRITE, 2, 0, 0, to_bytes("hello"));
    auto w = c.expect();
    CHECK(w.h.id == 2u);
    CHECK(w.st() == status::success);
    CHECK(w.h.arg1 == 5u);
    CHECK(w.payload.empty());
    CHECK(drv.written() == "hello");

    c.req(WDFX_OP_IOCTL, 3, kReverse, 16, to_bytes("abc"));
    auto i = c.expect();
    CHECK(i.h.id == 3u);
    CHECK(i.st() == status::success);
    CHECK(to_string(i.payload) == "cba");

    c.req(WDFX_OP_IOCTL, 4, 99, 0);
    CHECK(c.expect().st() == status::invalid_device_request);

    // A zero-length read completes at once (the queue does not allow zero-length requests).
    c.req(WDFX_OP_READ, 5, 0, 0);
    auto z = c.expect();
    CHECK(z.st() == status::success);
    CHECK(z.payload.empty());

    c.req(WDFX_OP_CLOSE, 6);
    auto cl = c.expect();
    CHECK(cl.h.op == (WDFX_OP_CLOSE | WDFX_OP_REPLY));
    CHECK(cl.st() == status::success);
    CHECK(c.closed_by_server());
    REQUIRE(drv.closes.wait_for_at_least(1));
    CHECK(drv.cleanups.get() == 1);
}

TEST_CASE(
    "socket interface: several requests of one client are in flight and complete in any "
    "order") {
    temp_dir d;
    test_driver drv(config_in(d));
    raw_client c(drv.path);
    c.open();
    for (std::uint64_t id = 10; id < 13; ++id)
        c.req(WDFX_OP_IOCTL, id, kHold, 4, to_bytes("x"));
    REQUIRE(drv.held.wait_for_at_least(3));
    // Meanwhile other requests still get through the parallel queue.
    c.req(WDFX_OP_READ, 20, 3);
    auto r = c.expect();
    CHECK(r.h.id == 20u);
    CHECK(to_string(r.payload) == "abc");
    // The driver completes the held ones last-in first-out; each reply names its id.
    std::vector<request> h;
    for (int i = 0; i < 3; ++i)
        h.push_back(drv.pop_held());
    for (int i = 2; i >= 0; --i) {
        h[static_cast<std::size_t>(i)].complete_with_information(status::success, 0);
        auto f = c.expect();
        CHECK(f.h.id == 10u + static_cast<std::uint64_t>(i));
        CHECK(f.st() == status::success);
    }
}

TEST_CASE("socket interface: CANCEL cancels a request in flight and its reply says CANCELLED") {
    temp_dir d;
    test_driver drv(config_in(d));
    raw_client c(drv.path);
    c.open();
    c.req(WDFX_OP_IOCTL, 30, kHoldCancel, 0);
    REQUIRE(drv.held.wait_for_at_least(1));
    c.req(WDFX_OP_CANCEL, 0, 0, 30);
    auto f = c.expect();
    CHECK(f.h.id == 30u);
    CHECK(f.st() == status::cancelled);
    CHECK(drv.cancel_routines.get() == 1);
    // Cancelling what is no longer in flight (or never was) is ignored, without a reply.
    c.req(WDFX_OP_CANCEL, 0, 0, 30);
    c.req(WDFX_OP_CANCEL, 0, 0, 12345);
    c.req(WDFX_OP_READ, 31, 1);
    CHECK(c.expect().h.id == 31u);
}

TEST_CASE(
    "socket interface: a client that disconnects mid-request has its requests cancelled "
    "and its file closed after the last completion") {
    temp_dir d;
    test_driver drv(config_in(d));
    {
        raw_client c(drv.path);
        c.open();
        c.req(WDFX_OP_IOCTL, 1, kHoldCancel, 0);
        c.req(WDFX_OP_IOCTL, 2, kHold, 8);
        REQUIRE(drv.held.wait_for_at_least(2));
        c.close();  // vanishes without CLOSE
    }
    REQUIRE(drv.cleanups.wait_for_at_least(1));
    REQUIRE(drv.cancel_routines.wait_for_at_least(1));
    // The non-cancelable one is still the driver's: EvtFileClose waits for it.
    CHECK(drv.closes.get() == 0);
    request r = drv.pop_held();
    CHECK(r.is_canceled());
    r.complete_with_information(status::success, 8);  // the reply has nowhere to go: dropped
    REQUIRE(drv.closes.wait_for_at_least(1));
    // The endpoint still serves others.
    raw_client c2(drv.path);
    c2.open();
    c2.req(WDFX_OP_READ, 1, 2);
    CHECK(to_string(c2.expect().payload) == "ab");
}

TEST_CASE(
    "socket interface: the driver refusing the open is an OPEN reply with its status then "
    "the connection closes") {
    // A device whose EvtDeviceFileCreate refuses everyone.
    temp_dir d;
    socket_interface_config cfg = config_in(d);
    counter refused;
    sim_harness hs(
        {},
        [&](device_init& in) {
            in.file_config.on_create = [&](device, request r, file_object) {
                refused.add();
                r.complete(status::access_denied);
            };
        },
        [](device dv) {
            io_queue_config c;
            c.dispatch = dispatch_type::manual;
            c.default_queue = true;
            return io_queue::create(dv, c).code();
        });
    REQUIRE(hs.start() == status::success);
    auto si = socket_interface::create(hs.dev, cfg);
    REQUIRE(si);
    raw_client c(si->path());
    c.req(WDFX_OP_OPEN, 5);
    auto f = c.expect();
    CHECK(f.h.op == (WDFX_OP_OPEN | WDFX_OP_REPLY));
    CHECK(f.h.id == 5u);
    CHECK(f.st() == status::access_denied);
    CHECK(c.closed_by_server());
    CHECK(refused.get() == 1);
}

// ---- hostile input
// ------------------------------------------------------------------------------------------

TEST_CASE("socket interface: each kind of malformed frame gets the documented reaction") {
    temp_dir d;
    socket_interface_config cfg = config_in(d);
    cfg.max_transfer = 4096;
    test_driver drv(cfg);

    struct hostile {
        const char* name;
        bool open_first;
        bytes frame;
        bool fatal;  // ERROR frame then close; else a reply to the frame's id
        status st;
    };
    auto hdr = [](std::uint16_t op, std::uint64_t id, std::uint32_t arg0, std::uint64_t arg1,
                  std::size_t payload) {
        return encode_request(op, id, arg0, arg1, bytes(payload, std::byte{7}));
    };
    auto with = [](bytes b, std::size_t at, std::uint8_t v) {
        b[at] = std::byte{v};
        return b;
    };
    auto claim = [](bytes b, std::uint32_t n) {
        wdfx_wire_put32(reinterpret_cast<unsigned char*>(b.data()) + 16, n);
        return b;
    };
    const hostile cases[] = {
        {"bad magic", true, with(hdr(WDFX_OP_READ, 9, 1, 0, 0), 0, 'Z'), true,
         status::invalid_parameter},
        {"bad magic before open", false, to_bytes("GET / HTTP/1.0\r\n\r\n"), true,
         status::invalid_parameter},
        {"unsupported version", true, with(hdr(WDFX_OP_READ, 9, 1, 0, 0), 4, 9), true,
         status::not_supported},
        {"huge payload length", true, claim(hdr(WDFX_OP_WRITE, 9, 0, 0, 0), 0xfffffff0u), true,
         status::invalid_buffer_size},
        {"unknown op", true, hdr(0x42, 9, 0, 0, 3), false, status::invalid_device_request},
        {"a reply op from the client", true, hdr(WDFX_OP_READ | WDFX_OP_REPLY, 9, 0, 0, 0), false,
         status::invalid_device_request},
        {"read with a payload", true, hdr(WDFX_OP_READ, 9, 1, 0, 2), false,
         status::invalid_parameter},
        {"read longer than max_transfer", true, hdr(WDFX_OP_READ, 9, 4097, 0, 0), false,
         status::invalid_buffer_size},
        {"ioctl output longer than max_transfer", true,
         hdr(WDFX_OP_IOCTL, 9, kReverse, 1u << 31, 0), false, status::invalid_buffer_size},
        {"a request before OPEN", false, hdr(WDFX_OP_READ, 9, 1, 0, 0), false,
         status::invalid_device_state},
        {"a second OPEN", true, hdr(WDFX_OP_OPEN, 9, 0, 0, 0), false, status::invalid_device_state},
    };
    for (const hostile& h : cases) {
        std::string name = h.name;
        CAPTURE(name);
        raw_client c(drv.path);
        if (h.open_first) c.open();
        c.send(h.frame);
        auto f = c.expect();
        if (h.fatal) {
            CHECK(f.h.op == WDFX_OP_ERROR);
            CHECK(f.st() == h.st);
            CHECK(c.closed_by_server());
        } else {
            auto sent_op =
                wdfx_wire_get16(reinterpret_cast<const unsigned char*>(h.frame.data()) + 6);
            CHECK(f.h.op == ((sent_op & 0x7f) | WDFX_OP_REPLY));
            CHECK(f.h.id == 9u);
            CHECK(f.st() == h.st);
            // The connection stays usable.
            if (!h.open_first) c.open();
            c.req(WDFX_OP_READ, 77, 2);
            auto ok = c.expect();
            CHECK(ok.h.id == 77u);
            CHECK(ok.st() == status::success);
        }
    }
    // A truncated frame and then a vanished client: nothing to answer, nothing leaks.
    {
        raw_client c(drv.path);
        c.open();
        bytes part = hdr(WDFX_OP_WRITE, 9, 0, 0, 100);
        part.resize(50);
        c.send(part);
    }
    // Everything opened above is closed again (counted by EvtFileClose).
    std::uint64_t opened = drv.creates.get();
    REQUIRE(drv.closes.wait_for_at_least(opened));
}

TEST_CASE("socket interface: two requests in flight with one id close the connection") {
    temp_dir d;
    test_driver drv(config_in(d));
    raw_client c(drv.path);
    c.open();
    c.req(WDFX_OP_IOCTL, 5, kHoldCancel, 0);
    REQUIRE(drv.held.wait_for_at_least(1));
    c.req(WDFX_OP_READ, 5, 1);
    auto f = c.expect();
    CHECK(f.h.op == WDFX_OP_ERROR);
    CHECK(f.h.id == 5u);
    CHECK(f.st() == status::invalid_parameter);
    CHECK(c.closed_by_server());
    // The held request is cancelled with the connection.
    REQUIRE(drv.cancel_routines.wait_for_at_least(1));
    REQUIRE(drv.closes.wait_for_at_least(1));
}

TEST_CASE(
    "socket interface: more requests in flight than max_in_flight get "
    "STATUS_INSUFFICIENT_RESOURCES") {
    temp_dir d;
    socket_interface_config cfg = config_in(d);
    cfg.max_in_flight = 4;
    test_driver drv(cfg);
    raw_client c(drv.path);
    c.open();
    for (std::uint64_t id = 1; id <= 4; ++id)
        c.req(WDFX_OP_IOCTL, id, kHoldCancel, 0);
    REQUIRE(drv.held.wait_for_at_least(4));
    c.req(WDFX_OP_IOCTL, 5, kHoldCancel, 0);
    auto f = c.expect();
    CHECK(f.h.id == 5u);
    CHECK(f.st() == status::insufficient_resources);
    CHECK(drv.held.get() == 4);
    // Cancel one: a slot frees up.
    c.req(WDFX_OP_CANCEL, 0, 0, 1);
    CHECK(c.expect().h.id == 1u);
    c.req(WDFX_OP_READ, 6, 1);
    CHECK(c.expect().st() == status::success);
}

// ---- access, files, life cycle
// -------------------------------------------------------------------------------

TEST_CASE("socket interface: the access rule refuses a peer uid that is not allowed") {
    temp_dir d;
    socket_interface_config cfg = config_in(d);
    cfg.mode = 0640;
    cfg.group = std::to_string(::getegid());
    // Only some other user may connect: this process (its uid, and root) is refused.
    cfg.access.uids = {::geteuid() + 4242};
    cfg.access.allow_root = false;
    cfg.access.allow_same_user = false;
    test_driver drv(cfg);
    struct stat st {};
    REQUIRE(::stat(drv.path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 07777) == 0640);
    CHECK(st.st_gid == ::getegid());
    raw_client c(drv.path);
    auto f = c.expect();  // unsolicited, before any frame
    CHECK(f.h.op == WDFX_OP_ERROR);
    CHECK(f.st() == status::access_denied);
    CHECK(c.closed_by_server());
    CHECK(drv.creates.get() == 0);  // no file object was made
}

TEST_CASE("socket interface: a peer matching the access rule's uid list or group is accepted") {
    temp_dir d;
    socket_interface_config cfg = config_in(d);
    cfg.access.allow_root = false;
    cfg.access.allow_same_user = false;
    cfg.access.gids = {::getegid()};
    test_driver drv(cfg);
    raw_client c(drv.path);
    c.open();
    c.req(WDFX_OP_READ, 1, 1);
    CHECK(c.expect().st() == status::success);
}

TEST_CASE(
    "socket interface: the device's removal ends every connection and unpublishes the "
    "socket") {
    temp_dir d;
    test_driver drv(config_in(d));
    raw_client c(drv.path);
    c.open();
    c.req(WDFX_OP_IOCTL, 1, kHoldCancel, 0);
    REQUIRE(drv.held.wait_for_at_least(1));
    drv.remove();
    // The purge cancels the held request; its reply may or may not make it out before the
    // connection ends. Either way the connection ends.
    CHECK(c.closed_by_server());
    CHECK(drv.cancel_routines.get() == 1);
    CHECK(drv.closes.get() == 1);
    CHECK(::access(drv.path.c_str(), F_OK) != 0);
}

TEST_CASE(
    "socket interface: a name is published under /run/wdfx or $XDG_RUNTIME_DIR/wdfx and "
    "wdfx-io resolves it") {
    std::string cli = build_dir() + "/tools/wdfx-io/wdfx-io";
    REQUIRE(::access(cli.c_str(), X_OK) == 0);
    socket_interface_config cfg;
    cfg.name = "wdfx-unit-" + std::to_string(::getpid());
    cfg.mode = 0600;
    test_driver drv(cfg);
    CHECK(drv.path.size() > cfg.name.size());
    CHECK(drv.path.find("/wdfx/" + cfg.name + ".sock") != std::string::npos);
    auto r = run({cli, cfg.name, "read", "4"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "abcd");
}

TEST_CASE("the wdfx-io CLI and the C client example as real client processes") {
    std::string bin = build_dir() + "/tools/wdfx-io";
    std::string cli = bin + "/wdfx-io", example = bin + "/wdfx-client-example";
    REQUIRE(::access(cli.c_str(), X_OK) == 0);
    REQUIRE(::access(example.c_str(), X_OK) == 0);
    temp_dir d;
    test_driver drv(config_in(d));

    auto help = run({cli, "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("Exit status") != std::string::npos);
    CHECK(run({cli, drv.path}).exit_code == 2);
    CHECK(run({cli, drv.path, "read", "lots"}).exit_code == 2);
    CHECK(run({cli, drv.path, "ioctl", "1", "zz"}).exit_code == 2);

    auto r = run({cli, drv.path, "read", "6"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "abcdef");
    r = run({cli, drv.path, "read", "3", "--offset", "25"});
    CHECK(r.out == "zab");

    std::string file = d.path + "/in.bin";
    {
        std::ofstream f(file);
        f << "from a file";
    }
    r = run({cli, drv.path, "write", file});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "11\n");
    CHECK(drv.written() == "from a file");

    r = run({cli, drv.path, "ioctl", "1", "010203"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "030201\n");
    r = run({cli, drv.path, "ioctl", std::to_string(kFail)});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("STATUS_INVALID_DEVICE_REQUEST") != std::string::npos);
    r = run({cli, d.path + "/nobody.sock", "read", "1"});
    CHECK(r.exit_code == 3);
    r = run({cli, "no-such-interface-" + std::to_string(::getpid()), "read", "1"});
    CHECK(r.exit_code == 3);

    auto e = run({example, drv.path});
    CHECK(e.exit_code == 0);
    CHECK(e.out.find("write STATUS_SUCCESS 5") != std::string::npos);
    CHECK(e.out.find("read STATUS_SUCCESS 5 abcde") != std::string::npos);
    CHECK(e.out.find("ioctl STATUS_SUCCESS 3 cba") != std::string::npos);
    CHECK(e.out.find("async id=1 STATUS_SUCCESS abc") != std::string::npos);
    CHECK(e.out.find("async id=2 STATUS_SUCCESS yx") != std::string::npos);
    // Every client process's file was closed.
    REQUIRE(drv.closes.wait_for_at_least(drv.creates.get()));
}

TEST_CASE("the C client reports an access-rule refusal as EACCES and wdfx-io exits 3") {
    std::string cli = build_dir() + "/tools/wdfx-io/wdfx-io";
    temp_dir d;
    socket_interface_config cfg = config_in(d);
    cfg.access.uids = {::geteuid() + 4242};
    cfg.access.allow_root = false;
    cfg.access.allow_same_user = false;
    test_driver drv(cfg);
    auto r = run({cli, drv.path, "read", "1"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("STATUS_ACCESS_DENIED") != std::string::npos);
}
