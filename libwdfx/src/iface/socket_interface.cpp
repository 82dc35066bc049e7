// The Unix-socket device interface (wdfx/interface.hpp, docs/protocol.md).
//
// One thread per interface (wdfx-iface/N) owns an io_uring (SINGLE_ISSUER where the kernel has
// it) that accepts, receives and sends for every connection; nothing else touches a connection.
// Completions arrive on whatever thread completes a request (a queue callback, a DPC, a work
// item): the request_sink copies the result into the endpoint's mailbox under its mutex and rings
// an eventfd doorbell that the ring has a read posted on. The data never travels through the
// ring itself: TSan cannot see the ordering io_uring provides, a mutex it can.
//
// Lifetime: the endpoint is shared by the interface object (a child of the device, whose cleanup
// stops it) and by its thread. The mailbox is shared with every request sink, so a request the
// driver completes after the endpoint stopped posts into a mailbox nobody reads, and is freed
// with the last sink.
#include <fcntl.h>
#include <grp.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <wdfx/device.hpp>
#include <wdfx/execution.hpp>
#include <wdfx/interface.hpp>

#include "core/io.hpp"
#include "iface/protocol.hpp"
#include "os/fd.hpp"
#include "os/log.hpp"
#include "os/thread.hpp"

namespace wdfx {
namespace detail::iface {
namespace {

std::atomic<int> g_index{0};

struct completion {
    std::uint64_t conn = 0;
    std::uint64_t tag = 0;
    status st = status::success;
    std::size_t information = 0;
    std::vector<std::byte> output;
};

/// Completions from any thread to the ring thread.
class mailbox {
  public:
    mailbox() : bell_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
    int bell_fd() const noexcept { return bell_.get(); }
    void post(completion c) {
        bool ring;
        {
            std::lock_guard g(m_);
            ring = q_.empty();
            q_.push_back(std::move(c));
        }
        if (ring) this->ring();
    }
    void ring() noexcept {
        std::uint64_t one = 1;
        ssize_t n = ::write(bell_.get(), &one, sizeof one);
        (void)n;  // EAGAIN: the counter is saturated, the ring is awake anyway
    }
    std::deque<completion> take() {
        std::lock_guard g(m_);
        return std::exchange(q_, {});
    }

  private:
    std::mutex m_;
    std::deque<completion> q_;
    os::unique_fd bell_;
};

/// One connection's sink: tags its completions with the connection id.
class conn_sink final : public request_sink {
  public:
    conn_sink(std::shared_ptr<mailbox> mb, std::uint64_t conn) : mb_(std::move(mb)), conn_(conn) {}
    void on_complete(std::uint64_t tag, status st, std::size_t information,
                     std::span<const std::byte> output) noexcept override {
        completion c;
        c.conn = conn_;
        c.tag = tag;
        c.st = st;
        c.information = information;
        try {
            c.output.assign(output.begin(), output.end());
            mb_->post(std::move(c));
        } catch (...) {
            // Out of memory: the client never gets this reply; it sees the connection close
            // when the endpoint stops. Nothing else to do from a completion path.
        }
    }

  private:
    std::shared_ptr<mailbox> mb_;
    std::uint64_t conn_;
};

enum op_kind : std::uint64_t { k_accept = 1, k_bell = 2, k_recv = 3, k_send = 4 };
constexpr std::size_t kRecvChunk = 64 * 1024;

struct inflight {
    std::uint16_t op = 0;
    std::uint64_t handle = 0;  // the core's request handle (0 until submit returned / for OPEN)
};

struct connection {
    std::uint64_t id = 0;
    os::unique_fd fd;
    peer_credentials who;
    std::shared_ptr<conn_sink> sink;
    file_object file;  // set by OPEN; closed (close_file) when the connection ends
    bool open_sent = false;
    std::unordered_map<std::uint64_t, inflight> requests;
    std::vector<std::byte> in;  // received, not yet parsed
    std::unique_ptr<std::byte[]> rbuf = std::make_unique<std::byte[]>(kRecvChunk);
    std::deque<std::vector<std::byte>> out;
    std::size_t out_off = 0;
    std::size_t out_bytes = 0;
    bool recv_posted = false;
    bool send_posted = false;
    bool closing = false;  // no more frames are read; close once the output is sent
    bool shut = false;     // shutdown() done: the posted recv ends with 0
    bool gone = false;     // the recv ended: finalize once no op is posted
};

}  // namespace

class socket_endpoint {
  public:
    socket_endpoint(device dev, const socket_interface_config& cfg)
        : dev_(dev), cfg_(cfg), mb_(std::make_shared<mailbox>()) {
        lim_.max_transfer = cfg.max_transfer;
        // Enough output backlog for a few full replies; past it the connection is not read
        // until the client reads its replies (backpressure instead of unbounded memory).
        max_out_ = 2 * static_cast<std::size_t>(cfg.max_transfer) + 65536;
    }
    ~socket_endpoint() { stop(); }

    result<void> start();
    void stop();
    const std::string& path() const noexcept { return path_; }
    std::size_t connections() const noexcept { return nconn_.load(std::memory_order_relaxed); }

  private:
    result<void> make_socket();
    bool allowed(int fd, const ucred& c) const;
    void run();
    io_uring_sqe* sqe();
    void post_accept();
    void post_bell();
    void post_recv(connection& c);
    void post_send(connection& c);
    void on_accept(int res);
    void on_recv(connection& c, int res);
    void on_send(connection& c, int res);
    void on_bell();
    void handle_input(connection& c);
    void handle_frame(connection& c, const parsed& p);
    void reply(connection& c, std::vector<std::byte> frame);
    void begin_close(connection& c);
    void maybe_finalize(std::uint64_t id);
    void refuse(os::unique_fd fd, status st);

    device dev_;
    socket_interface_config cfg_;
    limits lim_;
    std::size_t max_out_;
    std::shared_ptr<mailbox> mb_;
    std::string path_;
    os::unique_fd listen_;
    io_uring ring_{};
    std::uint64_t bell_value_ = 0;  // the doorbell read's target (the ring thread's)
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> nconn_{0};
    bool accept_posted_ = false;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::uint64_t, std::unique_ptr<connection>> conns_;  // ring thread only
    std::mutex start_m_;
    os::thread thread_;
    std::int64_t group_gid_ = -1;  // the socket's group, for access_rule::group_members
};

namespace {
bool make_dir(const std::string& d) {
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) return false;
    return ::access(d.c_str(), W_OK | X_OK) == 0;
}
}  // namespace

result<void> socket_endpoint::make_socket() {
    if (!cfg_.path.empty()) {
        path_ = cfg_.path;
    } else {
        if (cfg_.name.empty() || cfg_.name.find('/') != std::string::npos || cfg_.name[0] == '.')
            return error::from_status(status::invalid_parameter,
                                      "socket_interface: the name must be a plain file name");
        std::string dir = cfg_.directory;
        if (!make_dir(dir)) {
            const char* xdg = std::getenv("XDG_RUNTIME_DIR");
            if (cfg_.directory != "/run/wdfx" || xdg == nullptr || *xdg == '\0')
                return error::from_errno(errno, "socket_interface: cannot create " + dir);
            std::string fallback = std::string(xdg) + "/wdfx";
            os::log(os::log_level::info,
                    "socket_interface %s: %s is not writable; publishing under %s instead",
                    cfg_.name.c_str(), dir.c_str(), fallback.c_str());
            if (!make_dir(fallback))
                return error::from_errno(errno, "socket_interface: cannot create " + fallback);
            dir = fallback;
        }
        path_ = dir + "/" + cfg_.name + ".sock";
    }
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path_.size() >= sizeof a.sun_path)
        return error::from_status(status::invalid_parameter,
                                  "socket_interface: path too long: " + path_);
    std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
    os::unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return error::from_errno(errno, "socket_interface: socket()");
    // A stale socket from a process that died is replaced; a live one is not stolen.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return error::from_status(status::invalid_parameter,
                                      "socket_interface: " + path_ + " exists and is not a socket");
        os::unique_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
            return error::from_errno(EADDRINUSE, "socket_interface: " + path_ + " is in use");
        ::unlink(path_.c_str());
    }
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        return error::from_errno(errno, "socket_interface: bind " + path_);
    if (::chmod(path_.c_str(), cfg_.mode & 07777) != 0) {
        int e = errno;
        ::unlink(path_.c_str());
        return error::from_errno(e, "socket_interface: chmod " + path_);
    }
    if (!cfg_.group.empty()) {
        gid_t gid;
        char* end = nullptr;
        unsigned long n = std::strtoul(cfg_.group.c_str(), &end, 10);
        if (end != nullptr && *end == '\0') {
            gid = static_cast<gid_t>(n);
        } else {
            group g{}, *gp = nullptr;
            std::vector<char> buf(16384);
            if (::getgrnam_r(cfg_.group.c_str(), &g, buf.data(), buf.size(), &gp) != 0 ||
                gp == nullptr) {
                ::unlink(path_.c_str());
                return error::from_status(status::invalid_parameter,
                                          "socket_interface: unknown group " + cfg_.group);
            }
            gid = g.gr_gid;
        }
        // Already the socket's group when it is the process's own (systemd's Group=): then no
        // chown, which a service's system-call filter may forbid (@chown is in @privileged).
        struct stat bound {};
        if ((::stat(path_.c_str(), &bound) != 0 || bound.st_gid != gid) &&
            ::chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0) {
            int e = errno;
            ::unlink(path_.c_str());
            return error::from_errno(e, "socket_interface: chown " + path_ + " to " + cfg_.group);
        }
        group_gid_ = static_cast<std::int64_t>(gid);
    }
    if (::listen(s.get(), 64) != 0) {
        int e = errno;
        ::unlink(path_.c_str());
        return error::from_errno(e, "socket_interface: listen");
    }
    listen_ = std::move(s);
    return {};
}

bool socket_endpoint::allowed(int fd, const ucred& c) const {
    const access_rule& r = cfg_.access;
    if (r.uids.empty() && r.gids.empty() && !r.group_members) return true;
    if (r.allow_root && c.uid == 0) return true;
    if (r.allow_same_user && c.uid == ::geteuid()) return true;
    if (std::find(r.uids.begin(), r.uids.end(), c.uid) != r.uids.end()) return true;
    if (std::find(r.gids.begin(), r.gids.end(), c.gid) != r.gids.end()) return true;
    if (r.group_members && group_gid_ >= 0) {
        if (c.gid == static_cast<gid_t>(group_gid_)) return true;
        // The peer's supplementary groups as they were at connect() (Linux 4.13+).
        std::vector<gid_t> groups(64);
        socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0 &&
            errno == ERANGE) {
            groups.resize(len / sizeof(gid_t) + 1);
            len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
            if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0) len = 0;
        }
        groups.resize(len / sizeof(gid_t));
        if (std::find(groups.begin(), groups.end(), static_cast<gid_t>(group_gid_)) != groups.end())
            return true;
    }
    return false;
}

result<void> socket_endpoint::start() {
    if (auto r = make_socket(); !r) return r;
    // The ring is created on its own thread (SINGLE_ISSUER binds it to the creator); the
    // creator reports whether it worked before start() returns.
    std::mutex m;
    std::condition_variable cv;
    int setup = 1;  // 1: pending, 0: ok, < 0: -errno
    int n = g_index.fetch_add(1);
    thread_ = os::thread("wdfx-iface/" + std::to_string(n), [this, &m, &cv, &setup] {
        io_uring_params p{};
        p.flags = IORING_SETUP_SINGLE_ISSUER;
        int rc = io_uring_queue_init_params(256, &ring_, &p);
        if (rc == -EINVAL) {  // a kernel before 6.0
            p = io_uring_params{};
            rc = io_uring_queue_init_params(256, &ring_, &p);
        }
        {
            // Notified under the lock: start() returns (and its cv goes) once it sees `setup`.
            std::lock_guard g(m);
            setup = rc < 0 ? rc : 0;
            cv.notify_all();
        }
        if (rc < 0) return;
        run();
    });
    std::unique_lock g(m);
    cv.wait(g, [&] { return setup != 1; });
    if (setup < 0) {
        g.unlock();
        thread_.join();
        ::unlink(path_.c_str());
        return error::from_errno(-setup, "socket_interface: io_uring_queue_init");
    }
    os::log_fields(os::log_level::info, dev_.name().c_str(), -1, "%s: interface published at %s",
                   dev_.name().c_str(), path_.c_str());
    return {};
}

void socket_endpoint::stop() {
    if (stop_.exchange(true)) return;
    mb_->ring();
    thread_.join();
    if (!path_.empty() && listen_) ::unlink(path_.c_str());
    listen_.reset();
}

io_uring_sqe* socket_endpoint::sqe() {
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s == nullptr) {
        io_uring_submit(&ring_);
        s = io_uring_get_sqe(&ring_);
    }
    return s;  // never null after a submit: at most 2 ops per connection + 2 are posted
}

void socket_endpoint::post_accept() {
    if (accept_posted_ || stop_.load()) return;
    io_uring_sqe* s = sqe();
    io_uring_prep_accept(s, listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(s, k_accept);
    accept_posted_ = true;
}

void socket_endpoint::post_bell() {
    io_uring_sqe* s = sqe();
    io_uring_prep_read(s, mb_->bell_fd(), &bell_value_, sizeof bell_value_, 0);
    io_uring_sqe_set_data64(s, k_bell);
}

void socket_endpoint::post_recv(connection& c) {
    if (c.recv_posted || c.gone) return;
    if (c.out_bytes > max_out_ && !c.closing) return;  // backpressure: resumed by on_send
    io_uring_sqe* s = sqe();
    io_uring_prep_recv(s, c.fd.get(), c.rbuf.get(), kRecvChunk, 0);
    io_uring_sqe_set_data64(s, (c.id << 8) | k_recv);
    c.recv_posted = true;
}

void socket_endpoint::post_send(connection& c) {
    if (c.send_posted || c.out.empty() || c.gone) return;
    auto& f = c.out.front();
    io_uring_sqe* s = sqe();
    io_uring_prep_send(s, c.fd.get(), f.data() + c.out_off, f.size() - c.out_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, (c.id << 8) | k_send);
    c.send_posted = true;
}

void socket_endpoint::refuse(os::unique_fd fd, status st) {
    // A fresh connection's socket buffer takes 32 bytes without blocking.
    auto f = encode_error(0, st);
    ssize_t n = ::send(fd.get(), f.data(), f.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
}

void socket_endpoint::on_accept(int res) {
    accept_posted_ = false;
    if (res < 0) {
        if (res != -ECANCELED && res != -EINTR && res != -ECONNABORTED)
            os::log(os::log_level::warning, "%s: accept on %s: %s", dev_.name().c_str(),
                    path_.c_str(), std::strerror(-res));
        post_accept();
        return;
    }
    os::unique_fd fd(res);
    post_accept();
    ucred cr{};
    socklen_t len = sizeof cr;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) return;
    if (!allowed(fd.get(), cr)) {
        os::log_fields(os::log_level::info, dev_.name().c_str(), -1,
                       "%s: %s: peer uid %u gid %u pid %d refused by the access rule",
                       dev_.name().c_str(), path_.c_str(), cr.uid, cr.gid, cr.pid);
        refuse(std::move(fd), status::access_denied);
        return;
    }
    if (conns_.size() >= cfg_.max_connections) {
        refuse(std::move(fd), status::insufficient_resources);
        return;
    }
    auto c = std::make_unique<connection>();
    c->id = next_id_++;
    c->fd = std::move(fd);
    c->who = peer_credentials{cr.uid, cr.gid, cr.pid};
    c->sink = std::make_shared<conn_sink>(mb_, c->id);
    connection& ref = *c;
    conns_.emplace(c->id, std::move(c));
    nconn_.store(conns_.size(), std::memory_order_relaxed);
    post_recv(ref);
}

void socket_endpoint::reply(connection& c, std::vector<std::byte> frame) {
    if (c.gone) return;
    c.out_bytes += frame.size();
    c.out.push_back(std::move(frame));
    post_send(c);
}

void socket_endpoint::begin_close(connection& c) {
    // Stop reading frames; once the output is sent the socket is shut down, the posted recv
    // ends with 0 and maybe_finalize closes the file.
    c.closing = true;
    if (c.out.empty() && !c.shut) {
        ::shutdown(c.fd.get(), SHUT_RDWR);
        c.shut = true;
    }
}

void socket_endpoint::handle_frame(connection& c, const parsed& p) {
    const auto& h = p.h;
    if (p.v == verdict::reply_error) {
        reply(c, encode_reply(h.op, h.id, p.st, 0));
        return;
    }
    switch (h.op) {
        case WDFX_OP_OPEN: {
            if (c.open_sent) {
                reply(c, encode_reply(h.op, h.id, status::invalid_device_state, 0));
                return;
            }
            c.open_sent = true;
            c.requests[h.id] = inflight{WDFX_OP_OPEN, 0};
            // The create completes through the sink (at once, or when EvtDeviceFileCreate
            // completes it); the reply goes out from on_bell.
            c.file = open_file(dev_, c.who, c.sink, h.id);
            return;
        }
        case WDFX_OP_CLOSE:
            reply(c, encode_reply(h.op, h.id, status::success, 0));
            begin_close(c);
            return;
        case WDFX_OP_CANCEL: {
            auto it = c.requests.find(h.arg1);
            if (it != c.requests.end() && it->second.handle != 0 && c.file)
                cancel(c.file, it->second.handle);
            return;  // no reply: the cancelled request's own reply says CANCELLED
        }
        default:
            break;
    }
    // READ, WRITE, IOCTL.
    if (!c.open_sent || !c.file) {
        reply(c, encode_reply(h.op, h.id, status::invalid_device_state, 0));
        return;
    }
    if (c.requests.count(h.id) != 0) {
        // Two requests with one id: replies could not be told apart. The client is broken.
        reply(c, encode_error(h.id, status::invalid_parameter));
        begin_close(c);
        return;
    }
    if (c.requests.size() >= cfg_.max_in_flight) {
        reply(c, encode_reply(h.op, h.id, status::insufficient_resources, 0));
        return;
    }
    io_submission s;
    s.tag = h.id;
    switch (h.op) {
        case WDFX_OP_READ:
            s.type = request_type::read;
            s.length = h.arg0;
            s.offset = h.arg1;
            break;
        case WDFX_OP_WRITE:
            s.type = request_type::write;
            s.input.assign(p.payload.begin(), p.payload.end());
            s.length = s.input.size();
            s.offset = h.arg1;
            break;
        default:
            s.type = request_type::device_control;
            s.io_control_code = h.arg0;
            s.input.assign(p.payload.begin(), p.payload.end());
            s.output_length = static_cast<std::size_t>(h.arg1);
            break;
    }
    auto& slot = c.requests[h.id];
    slot.op = h.op;
    // A request completed inside submit() (an error, a zero-length transfer) is already in the
    // mailbox; its reply is sent from on_bell like any other, so the slot stays until then.
    slot.handle = submit(c.file, std::move(s));
}

void socket_endpoint::handle_input(connection& c) {
    std::size_t off = 0;
    while (!c.closing) {
        auto p = parse_frame(std::span<const std::byte>(c.in).subspan(off), lim_);
        if (p.v == verdict::need_more) break;
        if (p.v == verdict::fatal) {
            os::log(os::log_level::debug, "%s: connection %llu: %s: closing", dev_.name().c_str(),
                    static_cast<unsigned long long>(c.id), p.why);
            reply(c, encode_error(0, p.st));
            begin_close(c);
            break;
        }
        handle_frame(c, p);
        off += p.consumed;
    }
    if (c.closing)
        c.in.clear();
    else
        c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(off));
}

void socket_endpoint::on_recv(connection& c, int res) {
    c.recv_posted = false;
    if (res == -EINTR || res == -EAGAIN) {
        post_recv(c);
        return;
    }
    if (res <= 0) {
        // EOF or an error: the client is gone (or we shut the socket down). A send still posted
        // keeps its buffer until its completion.
        c.gone = true;
        while (c.out.size() > (c.send_posted ? 1u : 0u))
            c.out.pop_back();
        maybe_finalize(c.id);
        return;
    }
    if (!c.closing) {
        c.in.insert(c.in.end(), c.rbuf.get(), c.rbuf.get() + res);
        handle_input(c);
    }
    post_recv(c);
}

void socket_endpoint::on_send(connection& c, int res) {
    c.send_posted = false;
    if (c.gone) {
        maybe_finalize(c.id);
        return;
    }
    if (res < 0) {
        if (res == -EINTR || res == -EAGAIN) {
            post_send(c);
            return;
        }
        // EPIPE, ECONNRESET: the client went away. A posted recv ends with 0 after the
        // shutdown; without one (backpressure paused it) the connection ends here.
        c.out.clear();
        c.out_bytes = 0;
        if (!c.shut) {
            ::shutdown(c.fd.get(), SHUT_RDWR);
            c.shut = true;
        }
        if (!c.recv_posted) {
            c.gone = true;
            maybe_finalize(c.id);
        }
        return;
    }
    c.out_off += static_cast<std::size_t>(res);
    if (c.out_off >= c.out.front().size()) {
        c.out_bytes -= c.out.front().size();
        c.out.pop_front();
        c.out_off = 0;
    }
    if (!c.out.empty()) {
        post_send(c);
    } else if (c.closing && !c.shut) {
        ::shutdown(c.fd.get(), SHUT_RDWR);
        c.shut = true;
    }
    post_recv(c);  // backpressure may have paused it
}

void socket_endpoint::maybe_finalize(std::uint64_t id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    connection& c = *it->second;
    if (!c.gone || c.recv_posted || c.send_posted) return;
    // The client is gone: its requests are cancelled, EvtFileCleanup runs, EvtFileClose after
    // the last completion (the core's close_file). Completions still on their way find no
    // connection and are dropped.
    if (c.file) close_file(c.file);
    c.file = file_object();
    conns_.erase(it);
    nconn_.store(conns_.size(), std::memory_order_relaxed);
}

void socket_endpoint::on_bell() {
    for (completion& done : mb_->take()) {
        auto it = conns_.find(done.conn);
        if (it == conns_.end()) continue;  // the connection ended: nobody to tell
        connection& c = *it->second;
        auto r = c.requests.find(done.tag);
        if (r == c.requests.end()) continue;
        std::uint16_t op = r->second.op;
        c.requests.erase(r);
        if (c.gone) continue;
        if (!c.closing || op == WDFX_OP_OPEN)
            reply(c, encode_reply(op, done.tag, done.st, done.information, done.output));
        if (op == WDFX_OP_OPEN && !nt_success(done.st)) begin_close(c);
    }
}

void socket_endpoint::run() {
    post_accept();
    post_bell();
    io_uring_submit(&ring_);
    while (!stop_.load()) {
        io_uring_cqe* cqe = nullptr;
        int rc = io_uring_submit_and_wait(&ring_, 1);
        if (rc < 0 && rc != -EINTR && rc != -EBUSY) {
            os::log(os::log_level::error, "%s: io_uring on %s: %s", dev_.name().c_str(),
                    path_.c_str(), std::strerror(-rc));
            break;
        }
        unsigned head;
        unsigned seen = 0;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ++seen;
            std::uint64_t ud = io_uring_cqe_get_data64(cqe);
            int res = cqe->res;
            std::uint64_t kind = ud & 0xff;
            std::uint64_t id = ud >> 8;
            if (kind == k_accept) {
                on_accept(res);
            } else if (kind == k_bell) {
                on_bell();
                if (!stop_.load()) post_bell();
            } else {
                auto it = conns_.find(id);
                if (it == conns_.end()) continue;
                if (kind == k_recv)
                    on_recv(*it->second, res);
                else
                    on_send(*it->second, res);
            }
        }
        io_uring_cq_advance(&ring_, seen);
    }
    // Stopping (the device's removal or the interface's deletion): every client is gone.
    for (auto& [id, c] : conns_) {
        if (c->file) close_file(c->file);
        c->file = file_object();
        ::shutdown(c->fd.get(), SHUT_RDWR);
    }
    // io_uring_queue_exit (by the caller) cancels what is still posted before the buffers go.
    io_uring_queue_exit(&ring_);
    conns_.clear();
    nconn_.store(0);
}

}  // namespace detail::iface

// ======== public API
// ============================================================================================

namespace {
struct socket_ctx {
    std::shared_ptr<detail::iface::socket_endpoint> ep;
};
socket_ctx* socket_context(std::uint64_t h) {
    object o(h);
    if (!o.is_valid()) return nullptr;
    return o.context<socket_ctx>();
}
}  // namespace

result<socket_interface> socket_interface::create(device dev,
                                                  const socket_interface_config& config) {
    if (!dev.is_valid())
        return error::from_status(status::invalid_handle, "socket_interface::create: bad device");
    if (current_level() != level::passive)
        return error::from_status(status::invalid_device_state,
                                  "socket_interface::create above PASSIVE_LEVEL");
    auto ep = std::make_shared<detail::iface::socket_endpoint>(dev, config);
    if (auto r = ep->start(); !r) return r.err();
    object_attributes a = object_attributes::with_context<socket_ctx>();
    a.parent = dev.handle();
    // Unpublished with the device (or by delete_object): stop accepting, end every connection.
    a.on_cleanup = [](object o) {
        if (auto* c = o.context<socket_ctx>()) {
            if (c->ep) c->ep->stop();
        }
    };
    auto o = create_object(a);
    if (!o) {
        ep->stop();
        return o.err();
    }
    o->context<socket_ctx>()->ep = std::move(ep);
    return socket_interface(o->handle());
}

std::string socket_interface::path() const {
    auto* c = socket_context(h_);
    return c != nullptr && c->ep ? c->ep->path() : std::string();
}

std::size_t socket_interface::connection_count() const {
    auto* c = socket_context(h_);
    return c != nullptr && c->ep ? c->ep->connections() : 0;
}

}  // namespace wdfx
