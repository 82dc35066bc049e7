// Per-interrupt counters, published in shared memory for `wdfxctl stat` (like /proc/interrupts).
//
// Each started device writes one file, <dir>/<pid>.<device>.stats, mapped shared: a header and
// one irq_stats slot per interrupt object. The ISR thread is the only writer of its slot's
// counters (relaxed load + store, no locked instruction); readers in other processes see a
// consistent-enough snapshot. <dir> is /run/wdfx/stats (readable by the `wdfx` group) when
// writable, else $XDG_RUNTIME_DIR/wdfx/stats, else the counters stay private.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace wdfx::detail {

struct relaxed_counter {
    std::atomic<std::uint64_t> v{0};
    /// Single writer: a plain load and store, no locked read-modify-write.
    void add(std::uint64_t n) noexcept {
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    /// Several writers.
    void add_shared(std::uint64_t n) noexcept { v.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

/// A count that the vector's ISR thread bumps without a locked instruction (its own half) and any
/// other thread (a DPC or passive caller of WdfInterruptQueue*ForIsr) with one (the other half).
struct split_counter {
    relaxed_counter own, others;
    void add(std::uint64_t n) noexcept { own.add(n); }  // single writer
    void add_from(bool isr_thread, std::uint64_t n) noexcept {
        if (isr_thread)
            own.add(n);
        else
            others.add_shared(n);
    }
    std::uint64_t get() const noexcept { return own.get() + others.get(); }
};

struct irq_stats {
    char name[48] = {};
    std::uint32_t message_number = 0;
    std::uint32_t kind = 0;  // bus::irq_kind
    std::uint32_t bus_vector = 0;
    std::int32_t cpu = -1;
    std::int32_t fifo_priority = 0;
    std::uint32_t passive = 0;
    relaxed_counter wakeups, signals, claimed, unclaimed;
    split_counter dpcs, work_items;
    relaxed_counter isr_ns_total;
    relaxed_counter hist[16];  // bucket i: ISR durations in [2^(i+7), 2^(i+8)) ns; 0: < 256 ns
    std::atomic<std::uint32_t> storm_masked{0};
    std::atomic<std::uint32_t> in_use{0};
};

inline constexpr char kStatsMagic[8] = {'W', 'D', 'F', 'X', 'S', 'T', 'A', '1'};

struct stats_header {
    char magic[8];
    std::uint32_t version;
    std::uint32_t count;
    std::int32_t pid;
    std::uint32_t reserved;
    char driver[32];
    char device[64];
};

/// The shared-memory file of one device (or nothing, when no directory is writable).
class stats_file {
  public:
    stats_file() = default;
    ~stats_file() { close(); }
    stats_file(const stats_file&) = delete;
    stats_file& operator=(const stats_file&) = delete;

    /// Create the file with `count` slots; false (and a debug log) when no directory is usable.
    bool open(const std::string& driver, const std::string& device, std::uint32_t count);
    void close() noexcept;
    irq_stats* slot(std::uint32_t i) noexcept;
    const std::string& path() const noexcept { return path_; }

    /// The directories `wdfxctl stat` reads.
    static std::string system_dir();
    static std::string user_dir();

  private:
    void* map_ = nullptr;
    std::size_t size_ = 0;
    std::uint32_t count_ = 0;
    std::string path_;
};

}  // namespace wdfx::detail
