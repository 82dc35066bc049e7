// A model of QEMU's educational PCI device (docs/specs/edu.rst), written from the spec.
//
// Factorial and DMA run on the model's own thread ("the hardware"), which raises the interrupt
// when they finish, as QEMU's edu does from its computation thread and DMA timer.
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <wdfx/sim.hpp>

#include "os/sync.hpp"
#include "os/thread.hpp"

namespace wdfx::sim {

class edu_model final : public model {
  public:
    edu_model() : worker_("wdfx-sim/edu", [this] { run(); }) {}
    ~edu_model() override {
        {
            std::lock_guard g(m_);
            stop_ = true;
        }
        cv_.notify_all();
        worker_.join();
    }

    void attach(device& d) override { dev_ = &d; }
    void reset() override {
        std::lock_guard g(m_);
        liveness_ = fact_ = status_ = irq_status_ = 0;
        dma_src_ = dma_dst_ = dma_count_ = dma_cmd_ = 0;
    }

    std::uint64_t read(std::uint32_t bar, std::uint64_t off, unsigned width) noexcept override {
        if (bar != 0) return 0;
        if (off < 0x80 && width != 4) return ~0ull;  // only 4-byte accesses below 0x80
        std::lock_guard g(m_);
        switch (off) {
            case edu::reg_id:
                return 0x010000edu;
            case edu::reg_liveness:
                return static_cast<std::uint32_t>(~liveness_);
            case edu::reg_factorial:
                return fact_;
            case edu::reg_status:
                return status_;
            case edu::reg_irq_status:
                return irq_status_;
            case edu::reg_dma_src:
                return width == 4 ? static_cast<std::uint32_t>(dma_src_) : dma_src_;
            case edu::reg_dma_dst:
                return width == 4 ? static_cast<std::uint32_t>(dma_dst_) : dma_dst_;
            case edu::reg_dma_count:
                return dma_count_;
            case edu::reg_dma_cmd:
                return dma_cmd_;
            default:
                return ~0ull;
        }
    }

    void write(std::uint32_t bar, std::uint64_t off, unsigned width,
               std::uint64_t v) noexcept override {
        if (bar != 0) return;
        if (off < 0x80 && width != 4) return;
        auto v32 = static_cast<std::uint32_t>(v);
        bool wake = false;
        std::uint32_t raise = 0, ack = 0;
        {
            std::lock_guard g(m_);
            switch (off) {
                case edu::reg_liveness:
                    liveness_ = v32;
                    break;
                case edu::reg_factorial:
                    if (!(status_ & edu::status_computing)) {
                        fact_ = v32;
                        status_ |= edu::status_computing;
                        fact_pending_ = true;
                        wake = true;
                    }
                    break;
                case edu::reg_status:
                    // Bit 0x80 is RW; 0x01 is read-only.
                    status_ = (status_ & edu::status_computing) | (v32 & edu::status_irq_fact);
                    break;
                case edu::reg_irq_raise:
                    raise = v32;
                    break;
                case edu::reg_irq_ack:
                    ack = v32;
                    break;
                case edu::reg_dma_src:
                    dma_src_ = v;
                    break;
                case edu::reg_dma_dst:
                    dma_dst_ = v;
                    break;
                case edu::reg_dma_count:
                    dma_count_ = v;
                    break;
                case edu::reg_dma_cmd:
                    if ((v & edu::dma_start) && !(dma_cmd_ & edu::dma_start)) {
                        dma_cmd_ = v;
                        dma_pending_ = true;
                        wake = true;
                    }
                    break;
                default:
                    break;
            }
        }
        if (raise != 0) raise_irq(raise);
        if (ack != 0) lower_irq(ack);
        if (wake) cv_.notify_all();
    }

  private:
    void raise_irq(std::uint32_t v) {
        {
            std::lock_guard g(m_);
            irq_status_ |= v;
        }
        if (dev_ != nullptr) dev_->assert_interrupt();
    }
    void lower_irq(std::uint32_t v) {
        bool clear;
        {
            std::lock_guard g(m_);
            irq_status_ &= ~v;
            clear = irq_status_ == 0;
        }
        if (clear && dev_ != nullptr) dev_->deassert_interrupt();
    }

    void run() {
        std::unique_lock g(m_);
        for (;;) {
            cv_.wait(g, [&] { return stop_ || fact_pending_ || dma_pending_; });
            if (stop_) return;
            if (fact_pending_) {
                fact_pending_ = false;
                std::uint32_t n = fact_, r = 1;
                for (std::uint32_t i = 2; i <= n; ++i)
                    r *= i;
                fact_ = r;
                status_ &= ~edu::status_computing;
                bool irq = status_ & edu::status_irq_fact;
                g.unlock();
                if (irq) raise_irq(edu::irq_factorial);
                g.lock();
            }
            if (dma_pending_) {
                dma_pending_ = false;
                std::uint64_t src = dma_src_, dst = dma_dst_, cnt = dma_count_, cmd = dma_cmd_;
                g.unlock();
                do_dma(src, dst, cnt, cmd);
                g.lock();
                dma_cmd_ &= ~static_cast<std::uint64_t>(edu::dma_start);
                bool irq = cmd & edu::dma_irq;
                g.unlock();
                if (irq) raise_irq(edu::irq_dma);
                g.lock();
            }
        }
    }

    void do_dma(std::uint64_t src, std::uint64_t dst, std::uint64_t cnt, std::uint64_t cmd) {
        if (dev_ == nullptr) return;
        const std::uint64_t lo = edu::dma_buffer, hi = edu::dma_buffer + edu::dma_buffer_size;
        if (cmd & edu::dma_to_ram) {
            if (src < lo || src + cnt > hi) return;  // QEMU edu: out-of-range DMA is refused
            (void)dev_->dma_write(dst, buf_ + (src - lo), cnt);
        } else {
            if (dst < lo || dst + cnt > hi) return;
            std::uint8_t tmp[edu::dma_buffer_size];
            if (dev_->dma_read(src, tmp, cnt)) {
                std::lock_guard g(m_);
                std::memcpy(buf_ + (dst - lo), tmp, cnt);
            }
        }
    }

    device* dev_ = nullptr;
    std::mutex m_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool fact_pending_ = false;
    bool dma_pending_ = false;
    std::uint32_t liveness_ = 0, fact_ = 0, status_ = 0, irq_status_ = 0;
    std::uint64_t dma_src_ = 0, dma_dst_ = 0, dma_count_ = 0, dma_cmd_ = 0;
    std::uint8_t buf_[edu::dma_buffer_size] = {};
    os::thread worker_;
};

std::shared_ptr<device> make_edu(const edu_options& o) {
    device_spec s;
    s.name = o.name;
    s.id.vendor = edu::vendor_id;
    s.id.device = edu::device_id;
    s.id.subsystem_vendor = 0x1af4;
    s.id.subsystem_device = 0x1100;
    s.id.class_code = 0x00ff00;  // unclassified device
    s.id.revision = 0x10;
    s.bar_sizes = {1u << 20};
    s.msi_vectors = o.msi ? 1 : 0;
    s.msix_vectors = 0;
    s.intx = true;
    s.pcie = false;
    s.reset_method = false;  // on the root bus without FLR or PM reset, like QEMU's edu
    s.dma_address_bits = o.dma_address_bits;
    return device::create(s, std::make_shared<edu_model>());
}

}  // namespace wdfx::sim
