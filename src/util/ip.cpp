// inet_pton/inet_ntop based parsing and printing, plus prefix arithmetic.
#include "util/ip.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace wgnet {

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.len_ = 4;
  a.b_[0] = static_cast<uint8_t>(host_order >> 24);
  a.b_[1] = static_cast<uint8_t>(host_order >> 16);
  a.b_[2] = static_cast<uint8_t>(host_order >> 8);
  a.b_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::from_bytes(std::span<const uint8_t> bytes) {
  IpAddress a;
  a.len_ = bytes.size() == 4 ? 4 : 16;
  std::memcpy(a.b_.data(), bytes.data(), a.len_);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton reads a C string: an embedded NUL would end it early ("10.0.0.5\0junk").
  if (text.empty() || text.size() > INET6_ADDRSTRLEN ||
      text.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.b_.data()) == 1) {
    a.len_ = 4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.b_.data()) == 1) {
    a.len_ = 16;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(is_v4() ? AF_INET : AF_INET6, b_.data(), buf, sizeof buf)) return "?";
  return buf;
}

uint32_t IpAddress::v4_host_order() const {
  return uint32_t{b_[0]} << 24 | uint32_t{b_[1]} << 16 | uint32_t{b_[2]} << 8 | b_[3];
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int prefix = addr->bits();
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    // Digits only, no sign and no leading zero: "/24", never "/-0" or "/024".
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return std::nullopt;
    for (char c : p)
      if (c < '0' || c > '9') return std::nullopt;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || ptr != p.data() + p.size() || prefix < 0 || prefix > addr->bits())
      return std::nullopt;
  }
  return Cidr(*addr, prefix);
}

IpAddress Cidr::network() const {
  auto in = addr_.bytes();
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < in.size(); i++) {
    int bits = prefix_ - static_cast<int>(i) * 8;
    uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
    out[i] = in[i] & mask;
  }
  return IpAddress::from_bytes(std::span<const uint8_t>(out.data(), in.size()));
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.is_v4() != addr_.is_v4()) return false;
  return Cidr(a, prefix_).network() == network();
}

std::optional<HostPort> split_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    hp.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    hp.bracketed = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    hp.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (hp.host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (hp.host.empty() || port.empty() || ec != std::errc() || ptr != port.data() + port.size() ||
      p == 0 || p > 65535)
    return std::nullopt;
  hp.port = static_cast<uint16_t>(p);
  return hp;
}

std::string Cidr::str() const { return addr_.str() + "/" + std::to_string(prefix_); }

}  // namespace wgnet
