#include "test_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace wdfx_test {

wdfx::sim::device_spec sim_harness::default_spec() {
    wdfx::sim::device_spec s;
    s.name = "test0";
    s.id.vendor = 0x1af4;
    s.id.device = 0x10ff;
    s.bar_sizes = {4096};
    s.msix_vectors = 4;
    s.msi_vectors = 1;
    s.intx = true;
    return s;
}

sim_harness::sim_harness(options o, init_fn on_add, create_fn after_create)
    : o_(std::move(o)), on_add_(std::move(on_add)), after_create_(std::move(after_create)) {
    sim = o_.device ? o_.device : wdfx::sim::device::create(o_.spec, o_.model);
    wdfx::driver_config cfg;
    cfg.name = "wdfx-test";
    cfg.flavour = o_.flavour;
    cfg.on_device_add = [this](wdfx::driver, wdfx::device_init& init) -> wdfx::status {
        if (on_add_) on_add_(init);
        auto d = wdfx::device::create(init, o_.device_attributes);
        if (!d) return d.code();
        dev = *d;
        if (after_create_) return after_create_(dev);
        return wdfx::status::success;
    };
    auto d = wdfx::driver::create(cfg, o_.driver_attributes);
    REQUIRE_MESSAGE(d.ok(), (d.ok() ? "" : d.err().describe()));
    drv = *d;
}

sim_harness::~sim_harness() {
    remove();
    if (drv) drv.unload();
}

wdfx::status sim_harness::add() {
    auto r = drv.add_device(sim);
    if (!r) return r.code();
    dev = *r;
    return wdfx::status::success;
}

wdfx::status sim_harness::start() {
    if (!dev) {
        wdfx::status s = add();
        if (!wdfx::nt_success(s)) return s;
    }
    return dev.start();
}

void sim_harness::remove() {
    if (dev && dev.is_valid()) dev.remove();
    dev = wdfx::device();
}

wdfx::interrupt_config counting_isr(counter& calls, bool claim) {
    wdfx::interrupt_config c;
    c.on_isr = [&calls, claim](wdfx::interrupt, const wdfx::isr_context& ctx) {
        calls.add(ctx.signals);
        return claim;
    };
    return c;
}

void expect_verifier_abort(const char* name, const std::string& expect,
                           const std::function<void()>& body) {
    const char* death = std::getenv("WDFX_DEATH");
    if (death != nullptr) {
        if (std::strcmp(death, name) != 0) return;  // another death test of this test case
        // doctest installs its own SIGABRT handler around each test case; it allocates and prints,
        // which ThreadSanitizer reports as a signal-unsafe call (and then exits 66 instead of
        // dying). The verifier's abort must reach the parent as the plain signal it is.
        std::signal(SIGABRT, SIG_DFL);
        wdfx::set_verifier_mode(wdfx::verifier_mode::abort_on_report);
        body();
        std::fflush(nullptr);
        _exit(0);  // no abort: the parent reports the failure
    }
    const char* tc = doctest::getContextOptions()->currentTest->m_name;
    // doctest splits filters at commas: escape them as doctestAddTests.cmake does.
    std::string name_escaped;
    for (const char* p = tc; *p != '\0'; ++p) {
        if (*p == ',') name_escaped += '\\';
        name_escaped += *p;
    }
    std::string filter = std::string("--test-case=") + name_escaped;
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    REQUIRE(n > 0);
    path[n] = '\0';
    char tmpl[] = "/tmp/wdfx-death-XXXXXX";
    int out = mkstemp(tmpl);
    REQUIRE(out >= 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out, STDERR_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out, STDOUT_FILENO);
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "WDFX_VERIFIER=", 14) != 0 && std::strncmp(*e, "WDFX_DEATH=", 11) != 0)
            envs.push_back(*e);
    envs.push_back(std::string("WDFX_DEATH=") + name);
    std::vector<char*> envp;
    for (auto& s : envs)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = path, arg2 = "--no-breaks";
    char* argv[] = {arg0.data(), filter.data(), arg2.data(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    close(out);
    std::ifstream f(tmpl);
    std::stringstream ss;
    ss << f.rdbuf();
    unlink(tmpl);
    std::string text = ss.str();
    INFO("death test '" << name << "' output:\n" << text);
    CHECK_MESSAGE(WIFSIGNALED(status), "the child did not die from a signal");
    if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGABRT);
    CHECK(text.find("verifier:") != std::string::npos);
    CHECK(text.find(expect) != std::string::npos);
}

}  // namespace wdfx_test
