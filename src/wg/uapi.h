// The cross-platform userspace API (UAPI) text protocol: what `wg` speaks to userspace
// WireGuard over /var/run/wireguard/<iface>.sock. Pure encode/decode plus a small client.
#pragma once
#include <string>
#include <string_view>

#include "wg/config.h"

namespace wgnet::wg::uapi {

// Directory of UAPI sockets and the socket path of an interface.
std::string socket_dir();
std::string socket_path(const std::string& ifname);

// "set=1\n" ... "\n": the whole configuration, replacing peers when config.replace_peers.
std::string encode_set(const DeviceConfig& config);
// Parses the body of a "get=1" reply (up to and including "errno=N"). Throws SystemError when
// errno is non-zero or a line is malformed.
DeviceStatus decode_get(std::string_view reply);

// One request/response over the interface's UAPI socket. Throws SystemError when the socket
// cannot be reached or the reply carries a non-zero errno.
void set(const std::string& ifname, const DeviceConfig& config);
DeviceStatus get(const std::string& ifname);
// Whether something accepts connections on the interface's UAPI socket.
bool reachable(const std::string& ifname);

}  // namespace wgnet::wg::uapi
