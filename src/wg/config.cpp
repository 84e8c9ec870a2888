// Endpoint text form: "ip:port" for IPv4, "[ip6]:port" for IPv6 (as wg and UAPI print them).
#include "wg/config.h"

#include <charconv>

namespace wgnet::wg {

std::string Endpoint::str() const {
  if (address.is_v6()) return "[" + address.str() + "]:" + std::to_string(port);
  return address.str() + ":" + std::to_string(port);
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto addr = IpAddress::parse(host);
  if (!addr) return std::nullopt;
  if (addr->is_v6() && text.front() != '[') return std::nullopt;
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535)
    return std::nullopt;
  return Endpoint{*addr, static_cast<uint16_t>(p)};
}

}  // namespace wgnet::wg
