// wdfx/registers.hpp: register accessors (WDF's READ_REGISTER_xxx / WRITE_REGISTER_xxx).
//
// On a mapped BAR an access is a volatile, width-exact load or store. On the sim bus the same
// block is served by a device model: the accessor calls into it instead. The branch is the only
// cost on real hardware: no virtual call, no syscall.
//
// Threads: a register_block is a view; any thread may use it while the BAR is mapped (between
// EvtDevicePrepareHardware and EvtDeviceReleaseHardware).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace wdfx {

/// A device model that serves a BAR's registers (the sim bus). Called on the accessing thread,
/// which may be an ISR thread: implementations must not block for long.
class register_model {
  public:
    virtual ~register_model() = default;
    virtual std::uint64_t read(std::uint32_t bar, std::uint64_t offset,
                               unsigned width) noexcept = 0;
    virtual void write(std::uint32_t bar, std::uint64_t offset, unsigned width,
                       std::uint64_t value) noexcept = 0;
};

class register_block {
  public:
    register_block() = default;
    /// A memory-mapped BAR.
    register_block(volatile void* base, std::size_t size) noexcept
        : base_(static_cast<volatile std::uint8_t*>(base)), size_(size) {}
    /// A BAR served by a model; `base` is a reserved (inaccessible) address range that names it.
    register_block(volatile void* base, std::size_t size, register_model* model,
                   std::uint32_t bar) noexcept
        : base_(static_cast<volatile std::uint8_t*>(base)), size_(size), model_(model), bar_(bar) {}

    bool valid() const noexcept { return base_ != nullptr; }
    volatile void* base() const noexcept { return base_; }
    std::size_t size() const noexcept { return size_; }
    bool is_model() const noexcept { return model_ != nullptr; }

    std::uint8_t read8(std::size_t off) const noexcept { return rd<std::uint8_t>(off); }
    std::uint16_t read16(std::size_t off) const noexcept { return rd<std::uint16_t>(off); }
    std::uint32_t read32(std::size_t off) const noexcept { return rd<std::uint32_t>(off); }
    std::uint64_t read64(std::size_t off) const noexcept { return rd<std::uint64_t>(off); }
    void write8(std::size_t off, std::uint8_t v) const noexcept { wr(off, v); }
    void write16(std::size_t off, std::uint16_t v) const noexcept { wr(off, v); }
    void write32(std::size_t off, std::uint32_t v) const noexcept { wr(off, v); }
    void write64(std::size_t off, std::uint64_t v) const noexcept { wr(off, v); }

    /// Orders earlier stores to memory (descriptors, DMA buffers) before a later register store
    /// (a doorbell). KeMemoryBarrier-like.
    static void write_barrier() noexcept {
#if defined(__x86_64__) || defined(__i386__)
        // A full fence: also orders stores to write-combining mappings (KeMemoryBarrier).
        asm volatile("mfence" ::: "memory");
#else
        __sync_synchronize();
#endif
    }

  private:
    template <class T>
    T rd(std::size_t off) const noexcept {
        if (model_ != nullptr) [[unlikely]]
            return static_cast<T>(model_->read(bar_, off, sizeof(T)));
        return *reinterpret_cast<volatile const T*>(base_ + off);
    }
    template <class T>
    void wr(std::size_t off, T v) const noexcept {
        if (model_ != nullptr) [[unlikely]] {
            model_->write(bar_, off, sizeof(T), v);
            return;
        }
        *reinterpret_cast<volatile T*>(base_ + off) = v;
    }

    volatile std::uint8_t* base_ = nullptr;
    std::size_t size_ = 0;
    register_model* model_ = nullptr;
    std::uint32_t bar_ = 0;
};

/// Address-based accessors for READ_REGISTER_ULONG(addr)-style code: an address inside a block
/// served by a model goes to the model, any other address is a volatile access.
std::uint8_t read_register_8(const volatile void* addr) noexcept;
std::uint16_t read_register_16(const volatile void* addr) noexcept;
std::uint32_t read_register_32(const volatile void* addr) noexcept;
std::uint64_t read_register_64(const volatile void* addr) noexcept;
void write_register_8(volatile void* addr, std::uint8_t v) noexcept;
void write_register_16(volatile void* addr, std::uint16_t v) noexcept;
void write_register_32(volatile void* addr, std::uint32_t v) noexcept;
void write_register_64(volatile void* addr, std::uint64_t v) noexcept;

namespace detail {
/// Make [base, base+size) resolve to `model` for the address-based accessors (sim bus only).
void register_model_window(volatile void* base, std::size_t size, register_model* model,
                           std::uint32_t bar);
void unregister_model_window(volatile void* base);
}  // namespace detail

}  // namespace wdfx
