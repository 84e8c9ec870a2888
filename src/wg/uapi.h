// A small client of the UAPI socket of a userspace WireGuard device
// (/var/run/wireguard/<iface>.sock); the text codec itself is wgconf/uapi_codec.h.
#pragma once
#include <string>
#include <string_view>

#include "wgconf/uapi_codec.h"

namespace wgnet::wg::uapi {

// Directory of UAPI sockets and the socket path of an interface.
std::string socket_dir();
std::string socket_path(const std::string& ifname);

// One request/response over the interface's UAPI socket. Throws SystemError when the socket
// cannot be reached or the reply carries a non-zero errno.
void set(const std::string& ifname, const DeviceConfig& config);
DeviceStatus get(const std::string& ifname);
// Whether something accepts connections on the interface's UAPI socket.
bool reachable(const std::string& ifname);

}  // namespace wgnet::wg::uapi
