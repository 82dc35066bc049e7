#include "edu_driver.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace edu {

namespace regs = wdfx::sim::edu;  // the register map (QEMU docs/specs/edu.rst)

/// Shared by the callbacks (which see the device through handles) and the driver's API.
struct driver::context {
    options opt;
    wdfx::register_block bar0;
    wdfx::interrupt irq;
    std::uint32_t saved_status = 0;  // guarded by the interrupt lock: ISR -> DPC/work item
    // Completions: the DPC or work item posts the status bits here and wakes the waiters.
    std::mutex m;
    std::condition_variable cv;
    std::uint32_t completed = 0;
    bool gone = false;
    // Two pages the device DMAs to and from: a common buffer of the device's DMA enabler.
    wdfx::common_buffer dma;
    void* dma_mem = nullptr;
    std::uint64_t dma_iova = 0;
    // activity
    std::atomic<std::uint64_t> isr_calls{0}, isr_claimed{0}, isr_signals{0};
    std::atomic<std::uint64_t> dpc_runs{0}, wi_runs{0}, fact_irqs{0}, dma_irqs{0}, raised_irqs{0};
    std::atomic<std::uint64_t> d0_entries{0}, d0_exits{0};
    std::uint64_t releases = 0;  // guarded by m
    std::atomic<std::uint64_t> last_printed{0};
};

namespace {
constexpr std::size_t kPage = 4096;
}

wdfx::result<std::unique_ptr<driver>> driver::create(const options& o) {
    std::unique_ptr<driver> d(new driver());
    d->opt_ = o;
    d->ctx_ = std::make_shared<context>();
    d->ctx_->opt = o;
    auto ctx = d->ctx_;
    driver* self = d.get();

    wdfx::driver_config cfg;
    cfg.name = "wdfx-edu";
    cfg.flavour = o.passive ? wdfx::driver_flavour::umdf2 : wdfx::driver_flavour::kmdf;
    cfg.on_device_add = [ctx, self](wdfx::driver, wdfx::device_init& init) -> wdfx::status {
        init.interrupt_preference =
            ctx->opt.force_intx ? wdfx::interrupt_type::intx : wdfx::interrupt_type::automatic;
        init.pnp_power.on_prepare_hardware = [ctx](wdfx::device dev, const wdfx::resource_list&,
                                                   const wdfx::resource_list& translated) {
            for (const auto& r : translated) {
                if (r.type == wdfx::resource_type::memory && r.bar == 0) {
                    auto m = dev.map_registers(r);
                    if (!m) {
                        std::fprintf(stderr, "edu: mapping BAR0: %s\n", m.err().describe().c_str());
                        return m.code();
                    }
                    ctx->bar0 = *m;
                }
            }
            if (!ctx->bar0.valid()) return wdfx::status::insufficient_resources;
            std::uint32_t id = ctx->bar0.read32(regs::reg_id);
            if ((id & 0xff) != 0xed) {
                std::fprintf(stderr, "edu: BAR0 identification 0x%08x is not an edu device\n", id);
                return wdfx::status::no_such_device;
            }
            return wdfx::status::success;
        };
        init.pnp_power.on_release_hardware = [ctx](wdfx::device, const wdfx::resource_list&) {
            ctx->bar0 = wdfx::register_block();
            std::lock_guard g(ctx->m);
            ++ctx->releases;
            ctx->cv.notify_all();
            return wdfx::status::success;
        };
        init.pnp_power.on_d0_entry = [ctx](wdfx::device, wdfx::device_power_state) {
            // Acknowledge anything left over, then ask for the factorial completion interrupt.
            ctx->d0_entries.fetch_add(1, std::memory_order_relaxed);
            ctx->bar0.write32(regs::reg_irq_ack, ctx->bar0.read32(regs::reg_irq_status));
            ctx->bar0.write32(regs::reg_status, regs::status_irq_fact);
            std::lock_guard g(ctx->m);
            ctx->gone = false;  // back in D0 (after a reset or a power-down): operations work again
            return wdfx::status::success;
        };
        init.pnp_power.on_d0_exit = [ctx](wdfx::device, wdfx::device_power_state) {
            ctx->bar0.write32(regs::reg_status, 0);
            ctx->d0_exits.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard g(ctx->m);
            ctx->gone = true;
            ctx->cv.notify_all();
            return wdfx::status::success;
        };

        auto dev = wdfx::device::create(init);
        if (!dev) return dev.code();
        self->dev_ = *dev;

        // QEMU's edu has a 28-bit DMA mask unless started with dma_mask=; the sim and the HIL
        // guest give it 64 bits. 28 bits (the default option) is always safe on VFIO.
        wdfx::dma_enabler_config dc;
        dc.address_bits = ctx->opt.dma_address_bits;
        auto en = wdfx::dma_enabler::create(*dev, dc);
        if (!en) {
            std::fprintf(stderr, "edu: WdfDmaEnablerCreate: %s\n", en.err().describe().c_str());
            return en.code();
        }
        auto cb = wdfx::common_buffer::create(*en, 2 * kPage);
        if (!cb) {
            std::fprintf(stderr, "edu: WdfCommonBufferCreate: %s\n", cb.err().describe().c_str());
            return cb.code();
        }
        ctx->dma = *cb;
        ctx->dma_mem = cb->virtual_address();
        ctx->dma_iova = cb->logical_address();

        wdfx::interrupt_config ic;
        ic.on_isr = [ctx](wdfx::interrupt irq, const wdfx::isr_context& ictx) -> bool {
            // DIRQL (or PASSIVE): read, acknowledge, save, defer. No blocking, no allocation.
            ctx->isr_calls.fetch_add(1, std::memory_order_relaxed);
            ctx->isr_signals.fetch_add(ictx.signals, std::memory_order_relaxed);
            std::uint32_t st = ctx->bar0.read32(regs::reg_irq_status);
            if (st == 0 || st == 0xffffffffu) return false;  // not ours, or the device is gone
            ctx->bar0.write32(regs::reg_irq_ack, st);
            ctx->saved_status |= st;  // under the interrupt lock (held around the ISR)
            ctx->isr_claimed.fetch_add(1, std::memory_order_relaxed);
            if (ctx->opt.passive)
                irq.queue_work_item_for_isr();
            else
                irq.queue_dpc_for_isr();
            return true;
        };
        auto complete = [ctx](wdfx::interrupt irq, bool dpc) {
            // Take what the ISR saved, under the interrupt lock; process it outside.
            irq.acquire_lock();
            std::uint32_t st = ctx->saved_status;
            ctx->saved_status = 0;
            irq.release_lock();
            (dpc ? ctx->dpc_runs : ctx->wi_runs).fetch_add(1, std::memory_order_relaxed);
            if (st & regs::irq_factorial) ctx->fact_irqs.fetch_add(1, std::memory_order_relaxed);
            if (st & regs::irq_dma) ctx->dma_irqs.fetch_add(1, std::memory_order_relaxed);
            if (st & ~(regs::irq_factorial | regs::irq_dma))
                ctx->raised_irqs.fetch_add(1, std::memory_order_relaxed);
            if (ctx->opt.verbose)
                std::printf("  %s: %s level, status 0x%x -> completing\n",
                            dpc ? "DPC" : "work item", wdfx::level_name(wdfx::current_level()), st);
            {
                std::lock_guard g(ctx->m);
                ctx->completed |= st;
                ctx->cv.notify_all();
            }
            if (ctx->opt.on_interrupt_work) ctx->opt.on_interrupt_work(st);
        };
        if (ctx->opt.passive) {
            ic.on_work_item = [complete](wdfx::interrupt irq, wdfx::object) {
                complete(irq, false);
            };
        } else {
            ic.on_dpc = [complete](wdfx::interrupt irq, wdfx::object) { complete(irq, true); };
        }
        auto irq = wdfx::interrupt::create(*dev, ic);
        if (!irq) {
            std::fprintf(stderr, "edu: WdfInterruptCreate: %s\n", irq.err().describe().c_str());
            return irq.code();
        }
        ctx->irq = *irq;
        self->irq_ = *irq;
        if (ctx->opt.on_device_created) return ctx->opt.on_device_created(*dev);
        return wdfx::status::success;
    };
    auto drv = wdfx::driver::create(cfg);
    if (!drv) return drv.err();
    d->drv_ = *drv;
    return d;
}

driver::~driver() {
    detach();
    if (drv_) drv_.unload();
}

wdfx::status driver::attach(std::shared_ptr<wdfx::bus::device> dev) {
    {
        std::lock_guard g(ctx_->m);
        ctx_->gone = false;
    }
    auto d = drv_.add_and_start(std::move(dev));
    if (!d) {
        std::fprintf(stderr, "edu: %s\n", d.err().describe().c_str());
        return d.code();
    }
    return wdfx::status::success;
}

void driver::detach() {
    if (dev_ && dev_.is_valid()) dev_.remove();
    dev_ = wdfx::device();
}

wdfx::status driver::wait_for(std::uint32_t bits, std::unique_lock<std::mutex>& lock) {
    // Bounded so a dead device is an error, not a hang; the interrupt normally comes in
    // microseconds.
    bool ok = ctx_->cv.wait_for(lock, std::chrono::seconds(10),
                                [&] { return (ctx_->completed & bits) != 0 || ctx_->gone; });
    if (ctx_->gone) return wdfx::status::device_removed;
    if (!ok) return wdfx::status::io_device_error;
    ctx_->completed &= ~bits;
    return wdfx::status::success;
}

wdfx::result<std::uint32_t> driver::liveness(std::uint32_t value) {
    ctx_->bar0.write32(regs::reg_liveness, value);
    return ctx_->bar0.read32(regs::reg_liveness);
}

wdfx::result<std::uint32_t> driver::factorial(std::uint32_t n) {
    std::unique_lock lock(ctx_->m);
    ctx_->completed &= ~regs::irq_factorial;
    ctx_->bar0.write32(regs::reg_factorial, n);
    wdfx::status st = wait_for(regs::irq_factorial, lock);
    if (!wdfx::nt_success(st))
        return wdfx::error::from_status(st, "factorial: no completion interrupt");
    return ctx_->bar0.read32(regs::reg_factorial);
}

wdfx::status driver::raise(std::uint32_t value) {
    std::unique_lock lock(ctx_->m);
    ctx_->bar0.write32(regs::reg_irq_raise, value);
    return wait_for(value, lock);
}

wdfx::result<std::vector<std::uint8_t>> driver::dma_roundtrip(std::span<const std::uint8_t> data) {
    if (data.size() > regs::dma_buffer_size || data.size() > kPage)
        return wdfx::error::from_status(wdfx::status::invalid_buffer_size,
                                        "dma: at most 4096 bytes");
    auto* out = static_cast<std::uint8_t*>(ctx_->dma_mem);
    auto* in = out + kPage;
    std::memcpy(out, data.data(), data.size());
    std::memset(in, 0, data.size());
    std::unique_lock lock(ctx_->m);
    auto run = [&](std::uint64_t src, std::uint64_t dst, std::uint32_t dir) -> wdfx::status {
        ctx_->completed &= ~regs::irq_dma;
        ctx_->bar0.write64(regs::reg_dma_src, src);
        ctx_->bar0.write64(regs::reg_dma_dst, dst);
        ctx_->bar0.write64(regs::reg_dma_count, data.size());
        wdfx::register_block::write_barrier();  // the buffer before the doorbell
        ctx_->bar0.write64(regs::reg_dma_cmd, regs::dma_start | regs::dma_irq | dir);
        return wait_for(regs::irq_dma, lock);
    };
    wdfx::status st = run(ctx_->dma_iova, regs::dma_buffer, 0);
    if (!wdfx::nt_success(st)) return wdfx::error::from_status(st, "dma to the device");
    st = run(regs::dma_buffer, ctx_->dma_iova + kPage, regs::dma_to_ram);
    if (!wdfx::nt_success(st)) return wdfx::error::from_status(st, "dma from the device");
    return std::vector<std::uint8_t>(in, in + data.size());
}

void driver::start_factorial(std::uint32_t n) {
    ctx_->bar0.write32(regs::reg_factorial, n);
}

std::uint32_t driver::read_factorial() const {
    return ctx_->bar0.read32(regs::reg_factorial);
}

void driver::start_raise(std::uint32_t bits) {
    ctx_->bar0.write32(regs::reg_irq_raise, bits);
}

wdfx::status driver::start_dma_to_device(std::span<const std::byte> data, std::size_t offset) {
    if (data.empty() || offset + data.size() > regs::dma_buffer_size / 2 || data.size() > kPage)
        return wdfx::status::invalid_buffer_size;
    std::memcpy(ctx_->dma_mem, data.data(), data.size());
    ctx_->bar0.write64(regs::reg_dma_src, ctx_->dma_iova);
    ctx_->bar0.write64(regs::reg_dma_dst, regs::dma_buffer + offset);
    ctx_->bar0.write64(regs::reg_dma_count, data.size());
    wdfx::register_block::write_barrier();  // the buffer before the doorbell
    ctx_->bar0.write64(regs::reg_dma_cmd, regs::dma_start | regs::dma_irq);
    return wdfx::status::success;
}

wdfx::status driver::start_dma_from_device(std::size_t length, std::size_t offset) {
    if (length == 0 || offset + length > regs::dma_buffer_size / 2 || length > kPage)
        return wdfx::status::invalid_buffer_size;
    ctx_->bar0.write64(regs::reg_dma_src, regs::dma_buffer + offset);
    ctx_->bar0.write64(regs::reg_dma_dst, ctx_->dma_iova + kPage);
    ctx_->bar0.write64(regs::reg_dma_count, length);
    wdfx::register_block::write_barrier();
    ctx_->bar0.write64(regs::reg_dma_cmd, regs::dma_start | regs::dma_irq | regs::dma_to_ram);
    return wdfx::status::success;
}

std::span<const std::byte> driver::dma_result(std::size_t length) const {
    return {static_cast<const std::byte*>(ctx_->dma_mem) + kPage,
            std::min<std::size_t>(length, kPage)};
}

activity driver::get_activity() const {
    activity a;
    a.isr_calls = ctx_->isr_calls.load();
    a.isr_claimed = ctx_->isr_claimed.load();
    a.isr_signals = ctx_->isr_signals.load();
    a.dpc_runs = ctx_->dpc_runs.load();
    a.work_item_runs = ctx_->wi_runs.load();
    a.factorial_irqs = ctx_->fact_irqs.load();
    a.dma_irqs = ctx_->dma_irqs.load();
    a.raised_irqs = ctx_->raised_irqs.load();
    a.d0_entries = ctx_->d0_entries.load();
    a.d0_exits = ctx_->d0_exits.load();
    std::lock_guard g(ctx_->m);
    a.hardware_releases = ctx_->releases;
    return a;
}

bool driver::wait_released(std::uint64_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(ctx_->m);
    return ctx_->cv.wait_for(lock, timeout, [&] { return ctx_->releases >= count; });
}

std::string driver::interrupt_kind() const {
    auto b = irq_.get_binding();
    return wdfx::bus::irq_kind_name(b.kind);
}

}  // namespace edu
