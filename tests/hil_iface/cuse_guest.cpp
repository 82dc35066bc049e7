// HIL guest program: a queue-serving driver on a sim device publishes /dev/wdfx-cuse0 through CUSE
// (wdfx::cuse_interface), and real clients use it: `dd` reads (the stream continues across reads)
// and writes it as a separate process, this program sends _IOWR/_IOR ioctls, and a read blocked in
// the driver is interrupted by a signal (its request is cancelled). Exit 0 when every check held.
// Needs /dev/cuse (the guest's `cuse` module); without it the program reports the interface's clear
// error and fails.
//
// usage: iface_cuse_guest [--expect-no-cuse]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <wdfx/interface.hpp>
#include <wdfx/wdfx.hpp>

extern char** environ;

namespace {

constexpr const char* kName = "wdfx-cuse0";
constexpr std::size_t kHoldLength = 7;  // a read of this many bytes is held (cancelable)

struct echo8 {
    char b[8];
};
const unsigned kReverse = _IOWR('w', 1, echo8);
const unsigned kMagic = _IOR('w', 2, std::uint32_t);
const unsigned kSet = _IOW('w', 3, std::uint32_t);

int failures = 0;
void check(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    std::fflush(stdout);
    if (!ok) ++failures;
}

std::mutex m;
std::string written;
std::map<std::uint64_t, std::uint64_t> position;  // per file: CUSE devices are streams
std::uint32_t value_set = 0;
std::atomic<int> cancels{0}, closes{0};

wdfx::status add_device(wdfx::driver, wdfx::device_init& init) {
    using namespace wdfx;
    init.file_config.on_close = [](file_object) { ++closes; };
    auto d = device::create(init);
    if (!d) return d.code();
    io_queue_config c;
    c.dispatch = dispatch_type::parallel;
    c.default_queue = true;
    c.on_io_read = [](io_queue, request r, std::size_t len) {
        if (len == kHoldLength) {
            if (r.mark_cancelable([](request x) {
                    ++cancels;
                    x.complete(status::cancelled);
                }) != status::success)
                r.complete(status::cancelled);
            return;
        }
        auto out = r.retrieve_output_buffer(len);
        if (!out) return r.complete(out.code());
        std::uint64_t off;
        {
            // The kernel passes no file position to a CUSE device: the driver keeps one per file.
            std::lock_guard g(m);
            off = position[r.get_file_object().handle()];
            position[r.get_file_object().handle()] = off + len;
        }
        for (std::size_t i = 0; i < len; ++i)
            (*out)[i] = static_cast<std::byte>('a' + (off + i) % 26);
        r.complete_with_information(status::success, len);
    };
    c.on_io_write = [](io_queue, request r, std::size_t len) {
        auto in = r.retrieve_input_buffer(len);
        if (!in) return r.complete(in.code());
        std::lock_guard g(m);
        written.append(reinterpret_cast<const char*>(in->data()), in->size());
        r.complete_with_information(status::success, in->size());
    };
    c.on_io_device_control = [](io_queue, request r, std::size_t out_len, std::size_t in_len,
                                std::uint32_t code) {
        if (code == kReverse && in_len == 8 && out_len == 8) {
            auto in = r.retrieve_input_buffer(8);
            auto out = r.retrieve_output_buffer(8);
            for (int i = 0; i < 8; ++i)
                (*out)[i] = (*in)[7 - i];
            return r.complete_with_information(status::success, 8);
        }
        if (code == kMagic && out_len == 4) {
            auto out = r.retrieve_output_buffer(4);
            std::uint32_t v = 0xC0FFEE;
            std::memcpy(out->data(), &v, 4);
            return r.complete_with_information(status::success, 4);
        }
        if (code == kSet && in_len == 4) {
            auto in = r.retrieve_input_buffer(4);
            std::memcpy(&value_set, in->data(), 4);
            return r.complete(status::success);
        }
        r.complete(status::invalid_device_request);
    };
    return io_queue::create(*d, c).code();
}

int run(std::vector<std::string> args, const char* out_file) {
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_file != nullptr)
        posix_spawn_file_actions_addopen(&fa, 1, out_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int ws = 0;
    waitpid(pid, &ws, 0);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

std::string slurp(const char* path) {
    std::string s;
    FILE* f = std::fopen(path, "rb");
    if (f == nullptr) return s;
    char b[4096];
    std::size_t n;
    while ((n = std::fread(b, 1, sizeof b, f)) > 0)
        s.append(b, n);
    std::fclose(f);
    return s;
}

void on_alarm(int) {}

}  // namespace

int main(int argc, char** argv) {
    using namespace wdfx;
    bool expect_no_cuse = argc > 1 && std::strcmp(argv[1], "--expect-no-cuse") == 0;
    sim::device_spec spec;
    spec.name = "cuse0";
    spec.id.vendor = 0x1af4;
    spec.id.device = 0x10ff;
    spec.bar_sizes = {4096};
    driver_config cfg;
    cfg.name = "iface-cuse";
    cfg.on_device_add = add_device;
    auto drv = driver::create(cfg);
    if (!drv) return 1;
    auto dev = drv->add_device(sim::device::create(spec));
    if (!dev || dev->start() != status::success) return 1;

    cuse_interface_config cc;
    cc.name = kName;
    auto ci = cuse_interface::create(*dev, cc);
    if (expect_no_cuse) {
        check(!ci && ci.code() == status::no_such_device,
              "without /dev/cuse: STATUS_NO_SUCH_DEVICE and a clear message");
        dev->remove();
        return failures == 0 ? 0 : 1;
    }
    if (!ci) {
        std::printf("FAIL: cuse_interface::create: %s\n", ci.err().describe().c_str());
        return 1;
    }
    std::string node = ci->path();
    ::mkdir("/tmp", 01777);  // the fast guest's initramfs may not have it
    // The node appears once the kernel processed CUSE_INIT (devtmpfs, or udev).
    struct stat st {};
    for (int i = 0; i < 1000 && ::stat(node.c_str(), &st) != 0; ++i) {
        timespec ts{0, 10 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    check(::stat(node.c_str(), &st) == 0 && S_ISCHR(st.st_mode), "the character device exists");

    // dd as a client, in its own process.
    int rc = run({"dd", "if=" + node, "bs=16", "count=2", "status=none"}, "/tmp/dd.out");
    check(rc == 0, "dd read exits 0");
    std::string got = slurp("/tmp/dd.out");
    std::printf("dd read: '%s'\n", got.c_str());
    check(got == "abcdefghijklmnopqrstuvwxyzabcdef", "dd read the driver's stream (two reads)");
    {
        FILE* f = std::fopen("/tmp/dd.in", "wb");
        std::fputs("hello through cuse", f);
        std::fclose(f);
    }
    rc = run({"dd", "if=/tmp/dd.in", "of=" + node, "bs=64", "status=none"}, nullptr);
    check(rc == 0, "dd write exits 0");
    {
        std::lock_guard g(m);
        check(written == "hello through cuse", "the driver got dd's bytes");
    }

    // ioctls with _IOC-encoded sizes.
    int fd = ::open(node.c_str(), O_RDWR);
    check(fd >= 0, "open");
    echo8 e;
    std::memcpy(e.b, "12345678", 8);
    check(::ioctl(fd, kReverse, &e) == 0 && std::memcmp(e.b, "87654321", 8) == 0,
          "_IOWR ioctl: 8 bytes in, 8 out");
    std::uint32_t v = 0;
    check(::ioctl(fd, kMagic, &v) == 0 && v == 0xC0FFEE, "_IOR ioctl: 4 bytes out");
    std::uint32_t set = 77;
    check(::ioctl(fd, kSet, &set) == 0 && value_set == 77, "_IOW ioctl: 4 bytes in");
    check(::ioctl(fd, _IO('w', 9)) == -1 && errno == EINVAL,
          "an ioctl the driver fails: EINVAL (STATUS_INVALID_DEVICE_REQUEST)");

    // A read held by the driver, interrupted by a signal: its request is cancelled.
    struct sigaction sa {};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, nullptr);  // no SA_RESTART
    alarm(1);
    char buf[8];
    ssize_t n = ::read(fd, buf, kHoldLength);
    int err = errno;
    std::printf("held read: %zd (%s)\n", n, n < 0 ? std::strerror(err) : "-");
    check(n == -1 && (err == EINTR || err == ECANCELED), "a signal interrupts a held read");
    for (int i = 0; i < 500 && cancels.load() == 0; ++i) {
        timespec ts{0, 10 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    check(cancels.load() == 1, "the driver's EvtRequestCancel ran");
    ::close(fd);
    for (int i = 0; i < 500 && closes.load() < 3; ++i) {
        timespec ts{0, 10 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    check(closes.load() == 3, "every open was closed (EvtFileClose x3)");

    dev->remove();  // unpublishes: the node goes away (devtmpfs removes it asynchronously)
    for (int i = 0; i < 500 && ::access(node.c_str(), F_OK) == 0; ++i) {
        timespec ts{0, 10 * 1000 * 1000};
        nanosleep(&ts, nullptr);
    }
    check(::access(node.c_str(), F_OK) != 0, "the device's removal removed the node");
    std::printf("%s\n", failures == 0 ? "PASS" : "FAIL");
    return failures == 0 ? 0 : 1;
}
