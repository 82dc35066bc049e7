// The request source side of the I/O model: what a device interface (the Unix socket endpoint,
// CUSE) calls to turn a client's open/read/write/ioctl/cancel/close into file objects and
// requests, and how completions come back.
//
// Threads: any. Completions are delivered on the completing thread (a DPC, a work item, a queue
// callback): request_sink::on_complete must not block.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include <wdfx/queue.hpp>

namespace wdfx::detail {

class request_sink {
  public:
    virtual ~request_sink() = default;
    /// Exactly once per submitted request (and per open): its final status, the information
    /// value (bytes transferred) and, for reads and device controls, the output bytes
    /// (information of them, at most the requested length).
    virtual void on_complete(std::uint64_t tag, status st, std::size_t information,
                             std::span<const std::byte> output) noexcept = 0;
};

struct peer_credentials {
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::int32_t pid = 0;
};

struct io_submission {
    request_type type = request_type::other;
    std::uint64_t offset = 0;
    std::size_t length = 0;         // read: bytes wanted; write: input size
    std::size_t output_length = 0;  // device control
    std::uint32_t io_control_code = 0;
    std::vector<std::byte> input;  // write / device control input
    std::uint64_t tag = 0;         // the interface's id for the completion
};

/// Open: a file object and its create request. The create completes through `sink` with `tag`;
/// a failed create closes the file object. Returns the file handle (0 if the device is gone,
/// reported through the sink with STATUS_NO_SUCH_DEVICE). The caller holds a reference on the
/// returned file, so its handle stays valid (even across the device's removal) until the
/// caller passes it to close_file, exactly once, whether the create succeeded or not.
file_object open_file(device dev, const peer_credentials& who, std::shared_ptr<request_sink> sink,
                      std::uint64_t tag);
/// A read/write/device control of an open file. Returns the request handle, or 0 when it was
/// completed at once (an error, reported through the sink: STATUS_INVALID_DEVICE_STATE for a
/// file that is not open, STATUS_NO_SUCH_DEVICE once the device is deleted).
std::uint64_t submit(file_object file, io_submission s);
/// The client cancels one of its requests (by the handle submit returned). No-op once the
/// request completed (the handle is only looked up among the file's live requests).
void cancel(file_object file, std::uint64_t request_handle);
/// The client is gone (close or disconnect): its requests are cancelled, EvtFileCleanup runs, and
/// EvtFileClose runs once the last of its requests completed; then the file object is deleted.
/// Drops the caller's reference: the handle must not be used afterwards. If the device was
/// deleted first, the deletion already closed the file (cleanup and close ran then).
void close_file(file_object file);

}  // namespace wdfx::detail
