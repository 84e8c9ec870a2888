// A small client of the UAPI socket of a userspace WireGuard device
// (/var/run/wireguard/<iface>.sock); the text codec itself is wgconf/uapi_codec.h.
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "wgconf/uapi_codec.h"

namespace wgnet::wg::uapi {

// Directory of UAPI sockets and the socket path of an interface.
std::string socket_dir();
std::string socket_path(const std::string& ifname);

// One request/response over the interface's UAPI socket. Throws SystemError when the socket
// cannot be reached or the reply carries a non-zero errno.
void set(const std::string& ifname, const DeviceConfig& config);
// Applies `ops` (a change: peers added, updated, removed) in one request. A large change keeps a
// userspace implementation busy for a while, so the reply may take up to `timeout`.
void set_ops(const std::string& ifname, const std::vector<SetOp>& ops,
             std::chrono::milliseconds timeout = std::chrono::minutes(2));
DeviceStatus get(const std::string& ifname);
// Whether something accepts connections on the interface's UAPI socket.
bool reachable(const std::string& ifname);

}  // namespace wgnet::wg::uapi
