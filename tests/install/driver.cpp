// A minimal out-of-tree driver: claims the sim edu device, raises one interrupt and checks that
// its ISR and DPC ran. Built against an installed wdfx only.
#include <wdfx/wdfx.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>

int main() {
    std::mutex m;
    std::condition_variable cv;
    bool dpc_ran = false;
    std::atomic<int> isr_calls{0};
    wdfx::register_block bar0;
    wdfx::driver_config cfg;
    cfg.name = "third-party";
    cfg.on_device_add = [&](wdfx::driver, wdfx::device_init& init) {
        init.pnp_power.on_prepare_hardware = [&](wdfx::device d, const wdfx::resource_list&,
                                                 const wdfx::resource_list& tr) {
            for (const auto& r : tr) {
                if (r.type != wdfx::resource_type::memory) continue;
                auto m = d.map_registers(r);
                if (!m) return m.code();
                bar0 = *m;
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
        return wdfx::interrupt::create(*dev, ic).code();
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
    dev->remove();
    drv->unload();
    std::printf("third-party driver: ISR ran %d time(s), DPC ran: OK\n", isr_calls.load());
    return isr_calls.load() >= 1 ? 0 : 1;
}
