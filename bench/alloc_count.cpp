// Allocation counter: this executable interposes malloc and friends (glibc supports replacing
// them), forwarding to glibc's __libc_* entry points. operator new goes through malloc in
// libstdc++, so C++ allocations are counted too. While armed, every allocation from any thread
// is counted and the first few allocating threads are remembered (a gettid() syscall then, which
// only happens on a path that already failed the zero-allocation goal).
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "bench_util.hpp"

extern "C" {
void* __libc_malloc(std::size_t);
void __libc_free(void*);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
}

namespace {
std::atomic<bool> g_armed{false};
std::atomic<std::uint64_t> g_armed_count{0};
std::atomic<std::uint64_t> g_total{0};
constexpr int kCulprits = 8;
std::atomic<pid_t> g_culprits[kCulprits];
std::atomic<int> g_culprit_n{0};

inline void count() noexcept {
    g_total.fetch_add(1, std::memory_order_relaxed);
    if (!g_armed.load(std::memory_order_relaxed)) return;
    g_armed_count.fetch_add(1, std::memory_order_relaxed);
    int i = g_culprit_n.fetch_add(1, std::memory_order_relaxed);
    if (i < kCulprits)
        g_culprits[i].store(static_cast<pid_t>(::syscall(SYS_gettid)), std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
    count();
    return __libc_malloc(n);
}
void free(void* p) {
    __libc_free(p);
}
void* calloc(std::size_t a, std::size_t b) {
    count();
    return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
    count();
    return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
    count();
    return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
    count();
    return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    count();
    void* p = __libc_memalign(a, n);
    if (p == nullptr) return 12;  // ENOMEM
    *out = p;
    return 0;
}
void* valloc(std::size_t n) {
    count();
    return __libc_valloc(n);
}
void* pvalloc(std::size_t n) {
    count();
    return __libc_pvalloc(n);
}
}

namespace wb::alloc {

void arm() noexcept {
    g_armed_count.store(0, std::memory_order_relaxed);
    g_culprit_n.store(0, std::memory_order_relaxed);
    g_armed.store(true, std::memory_order_seq_cst);
}

std::uint64_t disarm() noexcept {
    g_armed.store(false, std::memory_order_seq_cst);
    return g_armed_count.load(std::memory_order_relaxed);
}

std::vector<pid_t> culprits() {
    std::vector<pid_t> v;
    int n = g_culprit_n.load();
    for (int i = 0; i < n && i < kCulprits; ++i)
        v.push_back(g_culprits[i].load());
    return v;
}

std::uint64_t total() noexcept {
    return g_total.load(std::memory_order_relaxed);
}

}  // namespace wb::alloc
