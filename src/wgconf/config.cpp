// Endpoint text form: "ip:port" for IPv4, "[ip6]:port" for IPv6 (as wg and UAPI print them).
#include "wgconf/config.h"

namespace wgnet::wg {

std::string Endpoint::str() const {
  if (address.is_v6()) return "[" + address.str() + "]:" + std::to_string(port);
  return address.str() + ":" + std::to_string(port);
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  auto hp = split_host_port(text);
  if (!hp) return std::nullopt;
  auto addr = IpAddress::parse(hp->host);
  if (!addr || addr->is_v6() != hp->bracketed) return std::nullopt;
  return Endpoint{*addr, hp->port};
}

}  // namespace wgnet::wg
