// IP addresses and CIDR prefixes (IPv4 and IPv6), parsed strictly with inet_pton.
#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wgnet {

class IpAddress {
 public:
  IpAddress() = default;
  static IpAddress v4(uint32_t host_order);
  static IpAddress from_bytes(std::span<const uint8_t> bytes);  // 4 or 16 bytes
  // "192.168.5.2" or "fd00::2"; nullopt when not an address.
  static std::optional<IpAddress> parse(std::string_view text);

  bool is_v4() const { return len_ == 4; }
  bool is_v6() const { return len_ == 16; }
  // Network byte order: 4 bytes for IPv4, 16 for IPv6.
  std::span<const uint8_t> bytes() const { return {b_.data(), len_}; }
  int bits() const { return static_cast<int>(len_) * 8; }
  std::string str() const;
  uint32_t v4_host_order() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  std::array<uint8_t, 16> b_{};
  size_t len_ = 0;
};

class Cidr {
 public:
  Cidr() = default;
  Cidr(IpAddress addr, int prefix) : addr_(addr), prefix_(prefix) {}
  // "10.0.42.0/24", "fd00::/64"; an address without /N is a host route (/32 or /128).
  static std::optional<Cidr> parse(std::string_view text);

  const IpAddress& address() const { return addr_; }
  int prefix() const { return prefix_; }
  // The network address (host bits cleared).
  IpAddress network() const;
  bool contains(const IpAddress& a) const;
  // True when the address has no host bits set.
  bool is_network() const { return network() == addr_; }
  std::string str() const;

  auto operator<=>(const Cidr&) const = default;

 private:
  IpAddress addr_;
  int prefix_ = 0;
};

// "host:port" or "[ipv6]:port" split into its parts; the port is 1-65535. `bracketed` tells
// whether the host was in brackets (required for IPv6 literals). nullopt when malformed.
struct HostPort {
  std::string_view host;
  uint16_t port = 0;
  bool bracketed = false;
};
std::optional<HostPort> split_host_port(std::string_view text);

}  // namespace wgnet
