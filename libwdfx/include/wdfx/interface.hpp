// wdfx/interface.hpp: device interfaces, the way applications reach a driver (design.md "Talking
// to clients"; WdfDeviceCreateDeviceInterface).
//
// A driver publishes one or more interfaces for a device; each client's open becomes a file
// object (EvtDeviceFileCreate / EvtFileCleanup / EvtFileClose) and each read, write or device
// control a request in the device's queues (wdfx/queue.hpp). Two kinds:
//
//   socket_interface  a Unix domain socket under /run/wdfx (or $XDG_RUNTIME_DIR/wdfx when
//                     /run/wdfx is not writable) speaking the small binary protocol of
//                     docs/protocol.md; clients use wdfx/client.h (C), wdfx/client.hpp (C++) or
//                     the `wdfx-io` CLI. Peers are identified with SO_PEERCRED and checked
//                     against an access rule; several requests of one client can be in flight.
//                     Served by one io_uring thread per interface (wdfx-iface/N).
//   cuse_interface    a real character device /dev/NAME through CUSE (libfuse3), so `cat`, `dd`
//                     and any program are clients. In the separate library wdfx_cuse
//                     (target wdfx::cuse): programs without CUSE need no libfuse3.
//
// Both are children of the device: they are unpublished when the device is removed (or when the
// driver deletes them with delete_object()); the device's removal closes every client's file.
// Create them at PASSIVE, after the device's queues exist (EvtDriverDeviceAdd or later).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <wdfx/object.hpp>
#include <wdfx/status.hpp>

namespace wdfx {

class device;

/// Who may open a socket interface, checked with the peer's SO_PEERCRED (and SO_PEERGROUPS) at
/// connect time. With every list empty and group_members false, anyone the socket file's mode
/// lets connect is accepted. Otherwise a peer is accepted when any clause matches; a refused peer
/// gets an ERROR frame with STATUS_ACCESS_DENIED and the connection is closed.
struct access_rule {
    std::vector<std::uint32_t> uids;  // these users
    std::vector<std::uint32_t> gids;  // peers whose primary group is one of these
    bool group_members = false;       // members (primary or supplementary) of the config's group
    bool allow_root = true;           // uid 0
    bool allow_same_user = true;      // the driver process's own effective uid
};

/// WdfDeviceCreateDeviceInterface for the socket endpoint.
struct socket_interface_config {
    /// The interface's name: the socket is <directory>/<name>.sock. Letters, digits, '-', '_',
    /// '.'; what `wdfx-io NAME` resolves.
    std::string name;
    /// A full socket path instead of <directory>/<name>.sock (tests, unusual layouts).
    std::string path;
    /// Where sockets live. The default falls back to $XDG_RUNTIME_DIR/wdfx, with a log line, when
    /// it cannot be created or written (a driver that is not root).
    std::string directory = "/run/wdfx";
    std::uint32_t mode = 0660;  // the socket file's permission bits
    std::string group;          // the socket file's group (name or number); empty: unchanged
    access_rule access;
    std::uint32_t max_connections = 256;
    std::uint32_t max_in_flight = 64;       // requests per connection
    std::uint32_t max_transfer = 1u << 20;  // bytes of a write, a read, an ioctl in or out
};

class socket_interface : public object {
  public:
    socket_interface() = default;
    explicit socket_interface(std::uint64_t h) : object(h) {}
    /// Publish the endpoint: create the socket, start its thread. PASSIVE. Fails with the
    /// errno of socket/bind/chown as a status (STATUS_ACCESS_DENIED, STATUS_OBJECT_NAME...).
    static result<socket_interface> create(device dev, const socket_interface_config& config);
    /// The socket's path (after the fallback).
    std::string path() const;
    /// Connections open now (diagnostics and tests).
    std::size_t connection_count() const;
};

/// A CUSE character device. Reads and writes become read and write requests; a character
/// device is a stream, so the kernel passes no file position and the requests' offset is 0 (a
/// driver that needs one keeps it per file object). Ioctls become device controls. CUSE cannot
/// carry an unrestricted ioctl's buffers, so ioctls are restricted: the code's _IOC encoding gives
/// the sizes
/// (_IOW: input, _IOR: output, _IOWR: both, _IO: none), which become the request's input and
/// output lengths; a size above max_transfer is EINVAL (docs/protocol.md, "CUSE").
struct cuse_interface_config {
    std::string name;         // the device node: /dev/<name>
    std::uint32_t major = 0;  // 0: the kernel picks
    std::uint32_t minor = 0;
    std::uint32_t max_transfer = 1u << 20;
};

class cuse_interface : public object {
  public:
    cuse_interface() = default;
    explicit cuse_interface(std::uint64_t h) : object(h) {}
    /// Needs /dev/cuse (the `cuse` kernel module) and the right to open it (root). Without it:
    /// a log line naming the missing piece and STATUS_NO_SUCH_DEVICE (or STATUS_ACCESS_DENIED).
    /// Defined in wdfx_cuse.
    static result<cuse_interface> create(device dev, const cuse_interface_config& config);
    /// "/dev/<name>".
    std::string path() const;
};

}  // namespace wdfx
