// The `wireguard` generic netlink family, version 1 (include/uapi/linux/wireguard.h): the
// messages that configure and read a kernel WireGuard device. Encoding and decoding are pure.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/socket.h"
#include "wgconf/config.h"
#include "wgconf/uapi_codec.h"

namespace wgnet::netlink::wireguard {

// Like wireguard-tools: SET messages stay within a page, which every kernel accepts.
inline constexpr size_t kMaxSetDeviceMessage = 4096;

// The WG_CMD_SET_DEVICE messages that apply `config` to `ifname`, in order. A configuration too
// large for one message is split: device attributes and WGDEVICE_F_REPLACE_PEERS only in the
// first, each peer's WGPEER_F_REPLACE_ALLOWEDIPS only where the peer first appears, and a peer
// whose allowed IPs overflow continues (public key + allowed IPs) in the next message.
// Sequence numbers are left 0 (the socket stamps them). Pure: no kernel needed.
// The result holds key material: wipe it (crypto::wipe / ScopedWipe) when done.
std::vector<std::vector<uint8_t>> encode_set_device(std::string_view ifname, uint16_t family_id,
                                                    const wg::DeviceConfig& config,
                                                    size_t max_message_size = kMaxSetDeviceMessage);

// The WG_CMD_SET_DEVICE messages that apply `ops` (a change as UAPI set operations, such as the
// peers `wgnet hub sync` adds, updates and removes) to `ifname`, split as encode_set_device
// splits. Only what an operation names is sent: no device attribute or peer flag of its own.
// Throws InputError for what the family cannot say (removing one allowed IP) or operations out of
// order (a peer setting before its public_key, a device setting after a peer).
// The result holds key material when `ops` do: wipe it when done.
std::vector<std::vector<uint8_t>> encode_set_ops(std::string_view ifname, uint16_t family_id,
                                                 const std::vector<wg::uapi::SetOp>& ops,
                                                 size_t max_message_size = kMaxSetDeviceMessage);

// The WG_CMD_GET_DEVICE dump request for `ifname`.
std::vector<uint8_t> encode_get_device(std::string_view ifname, uint16_t family_id);

// Decodes the messages of a WG_CMD_GET_DEVICE dump (concatenated, as Socket::dump returns
// them); a peer continued across messages is merged into one. Throws SystemError when malformed.
wg::DeviceStatus decode_get_device(std::span<const uint8_t> dump);

// A generic netlink socket and the `wireguard` family's id on it.
struct Family {
  Socket socket;
  uint16_t id;
};
// Opens a socket and resolves the family; NetlinkError EOPNOTSUPP (naming `what`) when the
// kernel has no WireGuard module.
Family open_family(const std::string& what);

}  // namespace wgnet::netlink::wireguard
