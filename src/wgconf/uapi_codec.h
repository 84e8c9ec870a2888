// The cross-platform userspace API (UAPI) text protocol that `wg` speaks to userspace WireGuard
// over /var/run/wireguard/<iface>.sock: pure encoding and decoding, shared by the client (the
// external backend) and the engine's UAPI server. No I/O here.
#pragma once
#include <string>
#include <string_view>

#include "wgconf/config.h"

namespace wgnet::wg::uapi {

// "set=1\n" ... "\n": the whole configuration, replacing peers when config.replace_peers.
std::string encode_set(const DeviceConfig& config);
// Parses the body of a "get=1" reply (up to and including "errno=N"). Throws SystemError when
// errno is non-zero or a line is malformed.
DeviceStatus decode_get(std::string_view reply);

}  // namespace wgnet::wg::uapi
