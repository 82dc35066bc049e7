// The CUSE device interface (wdfx/interface.hpp, docs/protocol.md "CUSE"): /dev/NAME served
// through libfuse3's cuse_lowlevel, in the separate library wdfx_cuse.
//
// Threads: one thread per device node (wdfx-cuse/N) reads the kernel's requests from /dev/cuse
// and turns them into file objects and requests. Replies (fuse_reply_*) are written by whichever
// thread completes the request: each is one write() to the session's fd, which the kernel
// accepts from any thread. A request in flight is a cuse_op, reference-counted by the submitter,
// the completion and any pending interrupt.
//
// Cancellation: the kernel's INTERRUPT calls the interrupt callback under the fuse request's
// lock, where completing the request (cancel() may complete it synchronously) would deadlock on
// that lock; the callback only records the op, and the loop thread cancels it right after
// processing the INTERRUPT.
//
// Lifetime: the session lives until every request it handed out has been replied to: the
// interface's deletion closes every open file (cancelling what it can) and waits for the rest.
#define FUSE_USE_VERSION 35
#include <cuse_lowlevel.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <wdfx/device.hpp>
#include <wdfx/execution.hpp>
#include <wdfx/interface.hpp>

#include "core/io.hpp"
#include "os/fd.hpp"
#include "os/log.hpp"
#include "os/thread.hpp"

namespace wdfx {
namespace detail::iface {

namespace {
std::atomic<int> g_cuse_index{0};

int errno_of(status st) {
    switch (st) {
        case status::success:
            return 0;
        case status::cancelled:
            return ECANCELED;
        case status::access_denied:
            return EACCES;
        case status::no_such_device:
        case status::device_removed:
        case status::device_not_connected:
            return ENODEV;
        case status::insufficient_resources:
        case status::no_memory:
            return ENOMEM;
        case status::buffer_too_small:
        case status::invalid_buffer_size:
            return EOVERFLOW;
        case status::invalid_parameter:
        case status::invalid_device_request:
            return EINVAL;
        case status::not_supported:
        case status::not_implemented:
            return ENOTSUP;
        case status::end_of_file:
            return 0;
        case status::device_busy:
        case status::wdf_busy:
            return EBUSY;
        case status::timeout:
            return ETIMEDOUT;
        default:
            return nt_success(st) ? 0 : EIO;
    }
}
}  // namespace

class cuse_endpoint;

/// One kernel request in flight.
struct cuse_op {
    enum class kind : std::uint8_t { open, read, write, ioctl };
    cuse_endpoint* ep = nullptr;
    fuse_req_t req = nullptr;
    kind k = kind::read;
    fuse_file_info fi{};  // open: echoed in the reply
    file_object file;
    std::mutex m;
    std::uint64_t handle = 0;  // the core's request handle once submit returned
    bool submitted = false;    // submit()/open_file() returned (file/handle known)
    bool done = false;         // the completion arrived
    bool replied = false;
    status st = status::success;
    std::size_t information = 0;
    std::vector<std::byte> out;
    std::atomic<int> refs{2};  // the submitter and the completion
    void release() {
        if (refs.fetch_sub(1) == 1) delete this;
    }
};

class cuse_endpoint {
  public:
    cuse_endpoint(device dev, const cuse_interface_config& cfg) : dev_(dev), cfg_(cfg) {}
    ~cuse_endpoint() { stop(); }
    result<void> start();
    void stop();
    std::string path() const { return "/dev/" + cfg_.name; }

    // fuse callbacks (the loop thread)
    void on_open(fuse_req_t req, fuse_file_info* fi);
    void on_release(fuse_req_t req, fuse_file_info* fi);
    void on_read(fuse_req_t req, std::size_t size, off_t off, fuse_file_info* fi);
    void on_write(fuse_req_t req, const char* buf, std::size_t size, off_t off, fuse_file_info* fi);
    void on_ioctl(fuse_req_t req, unsigned int cmd, fuse_file_info* fi, unsigned flags,
                  const void* in, std::size_t in_size, std::size_t out_size);
    void on_interrupted(cuse_op* op);

    // completions (any thread)
    void complete(cuse_op* op, status st, std::size_t information,
                  std::span<const std::byte> output);

  private:
    class sink final : public request_sink {
      public:
        explicit sink(cuse_endpoint* e) : ep_(e) {}
        void on_complete(std::uint64_t tag, status st, std::size_t information,
                         std::span<const std::byte> output) noexcept override {
            ep_->complete(reinterpret_cast<cuse_op*>(static_cast<std::uintptr_t>(tag)), st,
                          information, output);
        }

      private:
        cuse_endpoint* ep_;
    };

    void submitted(cuse_op* op);
    void reply_locked(cuse_op* op);
    void loop();
    cuse_op* new_op(fuse_req_t req, cuse_op::kind k);
    void op_finished();

    device dev_;
    cuse_interface_config cfg_;
    std::shared_ptr<sink> sink_ = std::make_shared<sink>(this);
    fuse_session* se_ = nullptr;
    os::unique_fd stop_fd_;
    std::atomic<bool> stop_{false};
    os::thread thread_;
    std::mutex m_;
    std::condition_variable cv_;
    std::size_t outstanding_ = 0;      // ops not yet replied to (m_)
    std::set<std::uint64_t> files_;    // open files (m_)
    std::vector<cuse_op*> to_cancel_;  // interrupted ops (the loop thread only)
    bool stopped_ = false;
};

cuse_op* cuse_endpoint::new_op(fuse_req_t req, cuse_op::kind k) {
    auto* op = new cuse_op;
    op->ep = this;
    op->req = req;
    op->k = k;
    std::lock_guard g(m_);
    ++outstanding_;
    return op;
}

void cuse_endpoint::op_finished() {
    // Notified under the lock: stop() may return and the endpoint go once it sees 0.
    std::lock_guard g(m_);
    --outstanding_;
    cv_.notify_all();
}

void cuse_endpoint::reply_locked(cuse_op* op) {
    // Both halves are known: the completion (status, bytes) and, for an open, the file.
    op->replied = true;
    // No interrupt callback may run after the reply (waits for one that runs now).
    fuse_req_interrupt_func(op->req, nullptr, nullptr);
    int e = errno_of(op->st);
    switch (op->k) {
        case cuse_op::kind::open:
            if (e == 0) {
                op->fi.fh = op->file.handle();
                op->fi.direct_io = 1;
                op->fi.nonseekable = 0;
                {
                    std::lock_guard g(m_);
                    files_.insert(op->file.handle());
                }
                fuse_reply_open(op->req, &op->fi);
            } else {
                fuse_reply_err(op->req, e);
                if (op->file) close_file(op->file);  // the caller's reference (io.hpp)
            }
            break;
        case cuse_op::kind::read:
            if (e == 0)
                fuse_reply_buf(op->req, reinterpret_cast<const char*>(op->out.data()),
                               op->out.size());
            else
                fuse_reply_err(op->req, e);
            break;
        case cuse_op::kind::write:
            if (e == 0)
                fuse_reply_write(op->req, op->information);
            else
                fuse_reply_err(op->req, e);
            break;
        case cuse_op::kind::ioctl:
            if (e == 0)
                fuse_reply_ioctl(op->req, 0, op->out.empty() ? nullptr : op->out.data(),
                                 op->out.size());
            else
                fuse_reply_err(op->req, e);
            break;
    }
    op_finished();
}

void cuse_endpoint::complete(cuse_op* op, status st, std::size_t information,
                             std::span<const std::byte> output) {
    {
        std::lock_guard g(op->m);
        op->done = true;
        op->st = st;
        op->information = information;
        op->out.assign(output.begin(), output.end());
        // An open replies with the file handle, known only once open_file returned.
        if (op->submitted || op->k != cuse_op::kind::open) reply_locked(op);
    }
    op->release();
}

void cuse_endpoint::submitted(cuse_op* op) {
    {
        std::lock_guard g(op->m);
        op->submitted = true;
        if (op->done && !op->replied) {
            reply_locked(op);
        } else if (!op->done && op->k != cuse_op::kind::open) {
            // Interruptible from now on (the request exists in the core). The callback can only
            // run while it is set, and reply_locked clears it (waiting for a running one) before
            // the completion drops its reference: the op is alive whenever it runs.
            fuse_req_interrupt_func(
                op->req,
                [](fuse_req_t, void* data) {
                    auto* o = static_cast<cuse_op*>(data);
                    o->ep->on_interrupted(o);
                },
                op);
        }
    }
    op->release();
}

void cuse_endpoint::on_interrupted(cuse_op* op) {
    // Under the fuse request's lock: only record it (see the file comment).
    op->refs.fetch_add(1);
    to_cancel_.push_back(op);
}

void cuse_endpoint::on_open(fuse_req_t req, fuse_file_info* fi) {
    const fuse_ctx* ctx = fuse_req_ctx(req);
    cuse_op* op = new_op(req, cuse_op::kind::open);
    op->fi = *fi;
    peer_credentials who{ctx->uid, ctx->gid, ctx->pid};
    file_object f = open_file(dev_, who, sink_, reinterpret_cast<std::uintptr_t>(op));
    {
        std::lock_guard g(op->m);
        op->file = f;
    }
    submitted(op);
}

void cuse_endpoint::on_release(fuse_req_t req, fuse_file_info* fi) {
    file_object f(fi->fh);
    bool known;
    {
        std::lock_guard g(m_);
        known = files_.erase(fi->fh) != 0;
    }
    // The client closed its last descriptor: its requests are cancelled, EvtFileCleanup, and
    // EvtFileClose after the last completion.
    if (known) close_file(f);
    fuse_reply_err(req, 0);
}

void cuse_endpoint::on_read(fuse_req_t req, std::size_t size, off_t off, fuse_file_info* fi) {
    if (size > cfg_.max_transfer) size = cfg_.max_transfer;  // a short read, as files allow
    cuse_op* op = new_op(req, cuse_op::kind::read);
    op->file = file_object(fi->fh);
    io_submission s;
    s.type = request_type::read;
    s.length = size;
    s.offset = static_cast<std::uint64_t>(off);
    s.tag = reinterpret_cast<std::uintptr_t>(op);
    std::uint64_t h = submit(file_object(fi->fh), std::move(s));
    {
        std::lock_guard g(op->m);
        op->handle = h;
    }
    submitted(op);
}

void cuse_endpoint::on_write(fuse_req_t req, const char* buf, std::size_t size, off_t off,
                             fuse_file_info* fi) {
    if (size > cfg_.max_transfer) {
        fuse_reply_err(req, EFBIG);
        return;
    }
    cuse_op* op = new_op(req, cuse_op::kind::write);
    op->file = file_object(fi->fh);
    io_submission s;
    s.type = request_type::write;
    s.input.assign(reinterpret_cast<const std::byte*>(buf),
                   reinterpret_cast<const std::byte*>(buf) + size);
    s.length = size;
    s.offset = static_cast<std::uint64_t>(off);
    s.tag = reinterpret_cast<std::uintptr_t>(op);
    std::uint64_t h = submit(file_object(fi->fh), std::move(s));
    {
        std::lock_guard g(op->m);
        op->handle = h;
    }
    submitted(op);
}

void cuse_endpoint::on_ioctl(fuse_req_t req, unsigned int cmd, fuse_file_info* fi, unsigned flags,
                             const void* in, std::size_t in_size, std::size_t out_size) {
    // Restricted ioctls: the kernel moved _IOC_SIZE bytes in for _IOW/_IOWR and takes
    // _IOC_SIZE bytes out for _IOR/_IOWR; an _IO code has no buffer.
    if ((flags & FUSE_IOCTL_COMPAT) != 0) {
        fuse_reply_err(req, ENOSYS);
        return;
    }
    if (in_size > cfg_.max_transfer || out_size > cfg_.max_transfer) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    cuse_op* op = new_op(req, cuse_op::kind::ioctl);
    op->file = file_object(fi->fh);
    io_submission s;
    s.type = request_type::device_control;
    s.io_control_code = cmd;
    if (in_size > 0)
        s.input.assign(static_cast<const std::byte*>(in),
                       static_cast<const std::byte*>(in) + in_size);
    s.output_length = out_size;
    s.tag = reinterpret_cast<std::uintptr_t>(op);
    std::uint64_t h = submit(file_object(fi->fh), std::move(s));
    {
        std::lock_guard g(op->m);
        op->handle = h;
    }
    submitted(op);
}

namespace {
cuse_endpoint* ep_of(fuse_req_t req) {
    return static_cast<cuse_endpoint*>(fuse_req_userdata(req));
}
const cuse_lowlevel_ops kOps = [] {
    cuse_lowlevel_ops o{};
    o.open = [](fuse_req_t r, fuse_file_info* fi) { ep_of(r)->on_open(r, fi); };
    o.release = [](fuse_req_t r, fuse_file_info* fi) { ep_of(r)->on_release(r, fi); };
    o.read = [](fuse_req_t r, size_t size, off_t off, fuse_file_info* fi) {
        ep_of(r)->on_read(r, size, off, fi);
    };
    o.write = [](fuse_req_t r, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
        ep_of(r)->on_write(r, buf, size, off, fi);
    };
    o.flush = [](fuse_req_t r, fuse_file_info*) { fuse_reply_err(r, 0); };
    o.fsync = [](fuse_req_t r, int, fuse_file_info*) { fuse_reply_err(r, 0); };
    o.ioctl = [](fuse_req_t r, int cmd, void*, fuse_file_info* fi, unsigned flags, const void* in,
                 size_t in_size, size_t out_size) {
        ep_of(r)->on_ioctl(r, static_cast<unsigned>(cmd), fi, flags, in, in_size, out_size);
    };
    return o;
}();

ssize_t io_read(int fd, void* buf, size_t len, void*) {
    return ::read(fd, buf, len);
}
ssize_t io_writev(int fd, struct iovec* iov, int count, void*) {
    return ::writev(fd, iov, count);
}
const fuse_custom_io kIo = {io_writev, io_read, nullptr, nullptr};
}  // namespace

result<void> cuse_endpoint::start() {
    if (cfg_.name.empty() || cfg_.name.find('/') != std::string::npos)
        return error::from_status(status::invalid_parameter,
                                  "cuse_interface: the name must be a plain device name");
    // Open /dev/cuse here (not through cuse_lowlevel_setup, which daemonizes and takes over the
    // process's signals) so that its absence is a clear message and an error, not an exit.
    int fd = ::open("/dev/cuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENODEV || e == ENXIO) {
            os::log(os::log_level::error,
                    "cuse_interface %s: /dev/cuse is not available (load the kernel module: "
                    "modprobe cuse); the character device is not published",
                    cfg_.name.c_str());
            return error::from_status(status::no_such_device,
                                      "cuse_interface: /dev/cuse is not available (modprobe cuse)");
        }
        os::log(os::log_level::error, "cuse_interface %s: cannot open /dev/cuse: %s",
                cfg_.name.c_str(), std::strerror(e));
        return error::from_errno(e, "cuse_interface: open /dev/cuse");
    }
    std::string devname = "DEVNAME=" + cfg_.name;
    const char* dev_info_argv[] = {devname.c_str()};
    cuse_info ci{};
    ci.dev_major = cfg_.major;
    ci.dev_minor = cfg_.minor;
    ci.dev_info_argc = 1;
    ci.dev_info_argv = dev_info_argv;
    char arg0[] = "wdfx";
    char* argv[] = {arg0, nullptr};
    fuse_args args = FUSE_ARGS_INIT(1, argv);
    se_ = cuse_lowlevel_new(&args, &ci, &kOps, this);
    fuse_opt_free_args(&args);
    if (se_ == nullptr) {
        ::close(fd);
        return error::from_status(status::insufficient_resources,
                                  "cuse_interface: cuse_lowlevel_new failed");
    }
    if (fuse_session_custom_io(se_, &kIo, fd) != 0) {
        ::close(fd);
        fuse_session_destroy(se_);
        se_ = nullptr;
        return error::from_status(status::unsuccessful, "cuse_interface: fuse_session_custom_io");
    }
    stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    int n = g_cuse_index.fetch_add(1);
    thread_ = os::thread("wdfx-cuse/" + std::to_string(n), [this] { loop(); });
    os::log_fields(os::log_level::info, dev_.name().c_str(), -1,
                   "%s: character device /dev/%s published through CUSE", dev_.name().c_str(),
                   cfg_.name.c_str());
    return {};
}

void cuse_endpoint::loop() {
    fuse_buf buf{};
    int fd = fuse_session_fd(se_);
    while (!stop_.load()) {
        pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if ((p[1].revents & POLLIN) != 0) break;
        if ((p[0].revents & (POLLERR | POLLHUP)) != 0) break;
        if ((p[0].revents & POLLIN) == 0) continue;
        int rc = fuse_session_receive_buf(se_, &buf);
        if (rc == -EINTR || rc == -EAGAIN) continue;
        if (rc <= 0) break;  // -ENODEV: the kernel ended the session
        fuse_session_process_buf(se_, &buf);
        // Interrupts recorded while processing: cancel them now, outside the request's lock.
        std::vector<cuse_op*> cancels = std::exchange(to_cancel_, {});
        for (cuse_op* op : cancels) {
            std::uint64_t h;
            {
                std::lock_guard g(op->m);
                h = op->replied ? 0 : op->handle;
            }
            // The file is alive: the kernel releases it only after this syscall ends.
            if (h != 0) cancel(op->file, h);
            op->release();
        }
    }
    free(buf.mem);
}

void cuse_endpoint::stop() {
    {
        std::lock_guard g(m_);
        if (stopped_) return;
        stopped_ = true;
    }
    if (se_ == nullptr) return;
    stop_.store(true);
    std::uint64_t one = 1;
    ssize_t w = ::write(stop_fd_.get(), &one, sizeof one);
    (void)w;
    thread_.join();
    // The clients' files close (their requests are cancelled); replies to what the driver still
    // owns need the session, so it lives until they are sent.
    std::set<std::uint64_t> files;
    {
        std::lock_guard g(m_);
        files.swap(files_);
    }
    for (std::uint64_t fh : files)
        close_file(file_object(fh));
    {
        std::unique_lock g(m_);
        cv_.wait(g, [&] { return outstanding_ == 0; });
    }
    fuse_session_destroy(se_);  // closes /dev/cuse: the node goes away
    se_ = nullptr;
}

}  // namespace detail::iface

// ======== public API
// ============================================================================================

namespace {
struct cuse_ctx {
    std::shared_ptr<detail::iface::cuse_endpoint> ep;
};
}  // namespace

result<cuse_interface> cuse_interface::create(device dev, const cuse_interface_config& config) {
    if (!dev.is_valid())
        return error::from_status(status::invalid_handle, "cuse_interface::create: bad device");
    if (current_level() != level::passive)
        return error::from_status(status::invalid_device_state,
                                  "cuse_interface::create above PASSIVE_LEVEL");
    auto ep = std::make_shared<detail::iface::cuse_endpoint>(dev, config);
    if (auto r = ep->start(); !r) return r.err();
    object_attributes a = object_attributes::with_context<cuse_ctx>();
    a.parent = dev.handle();
    a.on_cleanup = [](object o) {
        if (auto* c = o.context<cuse_ctx>()) {
            if (c->ep) c->ep->stop();
        }
    };
    auto o = create_object(a);
    if (!o) {
        ep->stop();
        return o.err();
    }
    o->context<cuse_ctx>()->ep = std::move(ep);
    return cuse_interface(o->handle());
}

std::string cuse_interface::path() const {
    object o(h_);
    if (!o.is_valid()) return {};
    auto* c = o.context<cuse_ctx>();
    return c != nullptr && c->ep ? c->ep->path() : std::string();
}

}  // namespace wdfx
