// The CNI result type (spec 1.1.0 section 5, "ADD Success"; 0.4.0's with a "version" in each ips
// entry): what ADD prints, what an IPAM plugin returns and what a runtime hands back as prevResult.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/ip.h"

namespace wgnet::cni {

struct Interface {
  std::string name;
  std::string mac;      // empty: none (a WireGuard interface has no L2 address)
  std::string sandbox;  // the netns path for an interface inside the container
  std::optional<uint32_t> mtu;
  bool operator==(const Interface&) const = default;
};
struct IpConfig {
  Cidr address;  // the address with its prefix length ("10.0.0.5/24")
  std::optional<IpAddress> gateway;
  std::optional<uint32_t> interface;  // index into Result::interfaces
  bool operator==(const IpConfig&) const = default;
};
struct Route {
  Cidr dst;
  std::optional<IpAddress> gw;
  bool operator==(const Route&) const = default;
};
struct Dns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool operator==(const Dns&) const = default;
};
struct Result {
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
  bool operator==(const Result&) const = default;
};

// Bounds on a decoded result (a runtime's or an IPAM plugin's).
inline constexpr size_t kMaxResultEntries = 64;

// The result as `version` writes it (with "cniVersion").
nlohmann::json encode_result(const Result& result, std::string_view version);
// A result written in `version`. Throws Error kDecodeFailure naming the field that is wrong.
Result decode_result(const nlohmann::json& j, std::string_view version);

}  // namespace wgnet::cni
