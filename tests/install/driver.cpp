// A minimal out-of-tree driver, built against an installed wdfx only: claims the sim edu device,
// raises one interrupt and checks that its ISR and DPC ran. It publishes a socket interface whose
// default queue answers reads with a greeting and, given a client program, runs it against the
// socket and requires it to succeed (tests/install/client.c: the installed client library on the
// other end). Built with THIRD_PARTY_CUSE (linked with the installed wdfx_cuse) it also creates a
// CUSE interface: published where /dev/cuse can be opened, else a clean error.
//   third_party_driver [CLIENT]
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include <wdfx/wdfx.hpp>

extern char** environ;

namespace {
constexpr std::string_view kGreeting = "hello from a third-party wdfx driver";

/// Runs `prog sock greeting` and waits for it; true when it exited 0.
bool run_client(const char* prog, const std::string& sock) {
    std::string greeting(kGreeting);
    char* args[] = {const_cast<char*>(prog), const_cast<char*>(sock.c_str()), greeting.data(),
                    nullptr};
    pid_t pid;
    int e = posix_spawn(&pid, prog, nullptr, nullptr, args, environ);
    if (e != 0) {
        std::fprintf(stderr, "cannot start %s: %s\n", prog, std::strerror(e));
        return false;
    }
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0)
        if (errno != EINTR) return false;
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        std::fprintf(stderr, "%s failed (wait status 0x%x)\n", prog, ws);
        return false;
    }
    return true;
}
}  // namespace

int main(int argc, char** argv) {
    const char* client = argc > 1 ? argv[1] : nullptr;
    char dir[] = "/tmp/wdfx-third-party-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    std::string sock = std::string(dir) + "/third-party.sock";
    std::mutex m;
    std::condition_variable cv;
    bool dpc_ran = false;
    std::atomic<int> isr_calls{0}, reads{0};
    bool iface_ok = false;
    wdfx::register_block bar0;
    wdfx::driver_config cfg;
    cfg.name = "third-party";
    cfg.on_device_add = [&](wdfx::driver, wdfx::device_init& init) {
        init.pnp_power.on_prepare_hardware = [&](wdfx::device d, const wdfx::resource_list&,
                                                 const wdfx::resource_list& tr) {
            for (const auto& r : tr) {
                if (r.type != wdfx::resource_type::memory) continue;
                auto mr = d.map_registers(r);
                if (!mr) return mr.code();
                bar0 = *mr;
            }
            return wdfx::status::success;
        };
        auto dev = wdfx::device::create(init);
        if (!dev) return dev.code();
        wdfx::interrupt_config ic;
        ic.on_isr = [&](wdfx::interrupt irq, const wdfx::isr_context&) {
            std::uint32_t st = bar0.read32(wdfx::sim::edu::reg_irq_status);
            if (st == 0) return false;
            bar0.write32(wdfx::sim::edu::reg_irq_ack, st);
            isr_calls.fetch_add(1);
            irq.queue_dpc_for_isr();
            return true;
        };
        ic.on_dpc = [&](wdfx::interrupt, wdfx::object) {
            std::lock_guard g(m);
            dpc_ran = true;
            cv.notify_all();
        };
        if (auto irq = wdfx::interrupt::create(*dev, ic); !irq) return irq.code();

        // The device interface: reads on the default queue return (a prefix of) the greeting.
        wdfx::io_queue_config qc;
        qc.dispatch = wdfx::dispatch_type::parallel;
        qc.default_queue = true;
        qc.on_io_read = [&](wdfx::io_queue, wdfx::request r, std::size_t length) {
            auto out = r.retrieve_output_buffer(length);
            if (!out) {
                r.complete(out.code());
                return;
            }
            std::size_t n = std::min(length, kGreeting.size());
            std::memcpy(out->data(), kGreeting.data(), n);
            reads.fetch_add(1);
            r.complete_with_information(wdfx::status::success, n);
        };
        if (auto q = wdfx::io_queue::create(*dev, qc); !q) return q.code();
        wdfx::socket_interface_config sc;
        sc.name = "third-party";
        sc.path = sock;
        auto si = wdfx::socket_interface::create(*dev, sc);
        if (!si) {
            std::fprintf(stderr, "socket interface: %s\n", si.err().describe().c_str());
            return si.code();
        }
#ifdef THIRD_PARTY_CUSE
        wdfx::cuse_interface_config cc;
        cc.name = "wdfx-third-party-" + std::to_string(getpid());
        auto cu = wdfx::cuse_interface::create(*dev, cc);
        if (cu) {
            std::printf("third-party driver: CUSE device %s published\n", cu->path().c_str());
        } else if (cu.code() == wdfx::status::no_such_device ||
                   cu.code() == wdfx::status::access_denied) {
            // No /dev/cuse here, or no right to it: the documented clean refusal.
            std::printf("third-party driver: no CUSE device (%s): %s\n",
                        wdfx::status_name(cu.code()), cu.err().describe().c_str());
        } else {
            std::fprintf(stderr, "CUSE interface: %s\n", cu.err().describe().c_str());
            return cu.code();
        }
#endif
        iface_ok = true;
        return wdfx::status::success;
    };
    auto drv = wdfx::driver::create(cfg);
    if (!drv) return 1;
    auto dev = drv->add_and_start(wdfx::sim::make_edu());
    if (!dev) {
        std::fprintf(stderr, "%s\n", dev.err().describe().c_str());
        return 1;
    }
    bar0.write32(wdfx::sim::edu::reg_irq_raise, 0x42);
    {
        std::unique_lock g(m);
        if (!cv.wait_for(g, std::chrono::seconds(30), [&] { return dpc_ran; })) {
            std::fprintf(stderr, "no DPC\n");
            return 1;
        }
    }
    bool client_ok = client == nullptr || run_client(client, sock);
    dev->remove();
    drv->unload();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::printf(
        "third-party driver: ISR ran %d time(s), DPC ran: OK; socket interface %s, %d "
        "read(s) served%s\n",
        isr_calls.load(), iface_ok ? "published" : "MISSING", reads.load(),
        client ? (client_ok ? ", client: OK" : ", client: FAILED") : "");
    return isr_calls.load() >= 1 && iface_ok && client_ok && (client == nullptr || reads > 0) ? 0
                                                                                              : 1;
}
