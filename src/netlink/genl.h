// Generic netlink: resolving a family (such as "wireguard") to the message type the kernel
// assigned it at registration.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "netlink/socket.h"

namespace wgnet::netlink::genl {

// The CTRL_CMD_GETFAMILY request family_id() sends (pure; exposed for tests).
std::vector<uint8_t> encode_get_family(std::string_view name);

// The id of family `name`, asked on `sock` (a NETLINK_GENERIC socket); nullopt when the kernel
// has no such family (ENOENT: e.g. its module is not loaded). Other failures throw NetlinkError.
std::optional<uint16_t> family_id(Socket& sock, std::string_view name);

}  // namespace wgnet::netlink::genl
