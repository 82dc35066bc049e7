#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace {
// Counts the test cases that actually ran: a ctest entry whose filter matches nothing must fail,
// not pass vacuously.
std::atomic<int> g_ran{0};
struct ran_listener : doctest::IReporter {
    explicit ran_listener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override { g_ran.fetch_add(1); }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("ran", 1, ran_listener);
}  // namespace

int main(int argc, char** argv) {
    // Unit tests run with ordinary scheduling (SCHED_FIFO busy threads would starve a 2-CPU
    // machine under sanitizers) and quiet logs, unless the environment says otherwise.
    setenv("WDFX_REALTIME", "0", 0);
    setenv("WDFX_LOG", "warning", 0);
    doctest::Context ctx;
    ctx.applyCommandLine(argc, argv);
    int rc = ctx.run();
    if (ctx.shouldExit()) return rc;  // --help, --list-test-cases, ...
    if (rc == 0 && g_ran.load() == 0) {
        std::fprintf(stderr, "no test case matched the filter\n");
        return 1;
    }
    return rc;
}
