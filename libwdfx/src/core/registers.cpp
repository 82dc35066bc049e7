// Address-based register accessors: READ_REGISTER_ULONG(addr) on a model-served (sim) BAR goes to
// the model; any other address is a volatile access. The window table is tiny and read without
// locks; on real hardware it is empty and the lookup is one load.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include <wdfx/registers.hpp>

namespace wdfx {

namespace {
struct window {
    std::atomic<std::uintptr_t> start{0};
    std::atomic<std::uintptr_t> end{0};
    std::atomic<register_model*> model{nullptr};
    std::atomic<std::uint32_t> bar{0};
};
constexpr std::size_t kWindows = 64;
std::array<window, kWindows> g_windows;
std::atomic<std::size_t> g_used{0};
std::mutex g_lock;

const window* find(const volatile void* addr) noexcept {
    std::size_t n = g_used.load(std::memory_order_acquire);
    auto a = reinterpret_cast<std::uintptr_t>(addr);
    for (std::size_t i = 0; i < n; ++i) {
        const window& w = g_windows[i];
        if (a >= w.start.load(std::memory_order_relaxed) &&
            a < w.end.load(std::memory_order_relaxed) &&
            w.model.load(std::memory_order_acquire) != nullptr)
            return &w;
    }
    return nullptr;
}

template <class T>
T rd(const volatile void* addr) noexcept {
    if (const window* w = find(addr)) [[unlikely]]
        return static_cast<T>(w->model.load()->read(
            w->bar.load(), reinterpret_cast<std::uintptr_t>(addr) - w->start.load(), sizeof(T)));
    return *static_cast<const volatile T*>(addr);
}
template <class T>
void wr(volatile void* addr, T v) noexcept {
    if (const window* w = find(addr)) [[unlikely]] {
        w->model.load()->write(
            w->bar.load(), reinterpret_cast<std::uintptr_t>(addr) - w->start.load(), sizeof(T), v);
        return;
    }
    *static_cast<volatile T*>(addr) = v;
}
}  // namespace

std::uint8_t read_register_8(const volatile void* a) noexcept {
    return rd<std::uint8_t>(a);
}
std::uint16_t read_register_16(const volatile void* a) noexcept {
    return rd<std::uint16_t>(a);
}
std::uint32_t read_register_32(const volatile void* a) noexcept {
    return rd<std::uint32_t>(a);
}
std::uint64_t read_register_64(const volatile void* a) noexcept {
    return rd<std::uint64_t>(a);
}
void write_register_8(volatile void* a, std::uint8_t v) noexcept {
    wr(a, v);
}
void write_register_16(volatile void* a, std::uint16_t v) noexcept {
    wr(a, v);
}
void write_register_32(volatile void* a, std::uint32_t v) noexcept {
    wr(a, v);
}
void write_register_64(volatile void* a, std::uint64_t v) noexcept {
    wr(a, v);
}

namespace detail {
void register_model_window(volatile void* base, std::size_t size, register_model* model,
                           std::uint32_t bar) {
    std::lock_guard g(g_lock);
    auto s = reinterpret_cast<std::uintptr_t>(base);
    std::size_t n = g_used.load();
    std::size_t slot = n;
    for (std::size_t i = 0; i < n; ++i)
        if (g_windows[i].model.load() == nullptr) {
            slot = i;
            break;
        }
    if (slot == kWindows) return;  // more than 64 sim BARs mapped at once: address accessors off
    window& w = g_windows[slot];
    w.start.store(s);
    w.end.store(s + size);
    w.bar.store(bar);
    w.model.store(model, std::memory_order_release);
    if (slot == n) g_used.store(n + 1, std::memory_order_release);
}

void unregister_model_window(volatile void* base) {
    std::lock_guard g(g_lock);
    auto s = reinterpret_cast<std::uintptr_t>(base);
    for (std::size_t i = 0; i < g_used.load(); ++i)
        if (g_windows[i].start.load() == s)
            g_windows[i].model.store(nullptr, std::memory_order_release);
}
}  // namespace detail

}  // namespace wdfx
