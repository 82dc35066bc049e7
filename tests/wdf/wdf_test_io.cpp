// The C-callable request source of tests/wdf (wdf_test_io.h) over the core's private one
// (core/io.hpp): one file object per WdfTestOpen, one request per WdfTestSubmitRead.
//
// Threads: completions arrive on the completing thread (EvtIoRead, a work item, a DPC); the test
// thread polls them. Everything here is guarded by the file's mutex.
#include "wdf_test_io.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <wdfx/device.hpp>

#include "core/io.hpp"

namespace {

constexpr std::uint64_t kOpenTag = ~0ull;

struct completion {
    NTSTATUS status = 0;
    std::size_t information = 0;
    std::vector<std::byte> data;
};

class sink final : public wdfx::detail::request_sink {
  public:
    void on_complete(std::uint64_t tag, wdfx::status st, std::size_t information,
                     std::span<const std::byte> output) noexcept override {
        std::lock_guard g(m);
        completion& c = done[tag];
        c.status = static_cast<NTSTATUS>(st);
        c.information = information;
        c.data.assign(output.begin(), output.end());
        cv.notify_all();
    }
    std::mutex m;
    std::condition_variable cv;
    std::map<std::uint64_t, completion> done;
};

struct test_file {
    std::shared_ptr<sink> s = std::make_shared<sink>();
    wdfx::file_object file;
};

test_file* from(WDF_TEST_FILE f) {
    return reinterpret_cast<test_file*>(f);
}

}  // namespace

extern "C" {

WDF_TEST_FILE WdfTestOpen(WDFDEVICE Device) {
    auto f = std::make_unique<test_file>();
    wdfx::device dev(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(Device)));
    f->file = wdfx::detail::open_file(dev, wdfx::detail::peer_credentials{}, f->s, kOpenTag);
    std::unique_lock g(f->s->m);
    bool completed = f->s->cv.wait_for(g, std::chrono::seconds(60),
                                       [&] { return f->s->done.count(kOpenTag) != 0; });
    bool ok = completed && NT_SUCCESS(f->s->done[kOpenTag].status) && f->file;
    g.unlock();
    if (!ok) {
        if (f->file) wdfx::detail::close_file(f->file);
        return nullptr;
    }
    return reinterpret_cast<WDF_TEST_FILE>(f.release());
}

VOID WdfTestSubmitRead(WDF_TEST_FILE File, size_t Length, ULONG64 Tag) {
    wdfx::detail::io_submission s;
    s.type = wdfx::request_type::read;
    s.length = Length;
    s.tag = Tag;
    (void)wdfx::detail::submit(from(File)->file, std::move(s));
}

BOOLEAN WdfTestCompleted(WDF_TEST_FILE File, ULONG64 Tag, NTSTATUS* Status, ULONG64* Information,
                         PVOID Data, size_t DataSize) {
    test_file* f = from(File);
    std::lock_guard g(f->s->m);
    auto it = f->s->done.find(Tag);
    if (it == f->s->done.end()) return FALSE;
    if (Status != nullptr) *Status = it->second.status;
    if (Information != nullptr) *Information = it->second.information;
    if (Data != nullptr)
        std::memcpy(Data, it->second.data.data(), std::min(DataSize, it->second.data.size()));
    return TRUE;
}

ULONG WdfTestCompletedCount(WDF_TEST_FILE File) {
    test_file* f = from(File);
    std::lock_guard g(f->s->m);
    return static_cast<ULONG>(f->s->done.size() - f->s->done.count(kOpenTag));
}

VOID WdfTestClose(WDF_TEST_FILE File) {
    std::unique_ptr<test_file> f(from(File));
    wdfx::detail::close_file(f->file);
}

}  // extern "C"
