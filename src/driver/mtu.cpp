// wg-quick sets the MTU from the route to each endpoint less 80; wgnet subtracts exactly the
// overhead of the path's family, so an IPv4 underlay of 1500 gives 1440, not 1420.
#include "driver/mtu.h"

#include <algorithm>
#include <optional>

#include "util/log.h"

namespace wgnet::driver {

namespace {

constexpr uint32_t kOverheadV4 = 20 + 8 + 32;
constexpr uint32_t kOverheadV6 = 40 + 8 + 32;

}  // namespace

TunnelMtu tunnel_mtu(const NetworkOptions& o, const wg::DeviceConfig& config, bool ipv6_network,
                     Host& host) {
  if (o.mtu) return {*o.mtu, "set by the network's options"};
  std::optional<TunnelMtu> best;
  for (const auto& peer : config.peers) {
    if (!peer.endpoint) continue;
    const IpAddress& to = peer.endpoint->address;
    std::optional<uint32_t> path;
    try {
      path = host.path_mtu(to);
    } catch (const std::exception& e) {
      // A blackhole or prohibit route answers with an error: the MTU is advice, not a reason
      // to refuse the device.
      log::warn("the MTU of the path to " + to.str() + " is unknown: " + e.what());
    }
    if (!path) continue;
    uint32_t overhead = to.is_v4() ? kOverheadV4 : kOverheadV6;
    uint32_t fits = *path > overhead ? *path - overhead : 0;
    if (!best || fits < best->mtu)
      best = TunnelMtu{fits, "the path to " + to.str() + " has MTU " + std::to_string(*path) +
                                 ", less " + std::to_string(overhead) + " for WireGuard over IPv" +
                                 (to.is_v4() ? "4" : "6")};
  }
  if (!best) return {kDefaultMtu, "the default: no route to a peer's endpoint"};
  uint32_t floor = ipv6_network ? 1280 : 576;
  if (best->mtu < floor) {
    best->why += "; raised to " + std::to_string(floor) + ", the least " +
                 (ipv6_network ? "IPv6 allows" : "IPv4 hosts must take");
    best->mtu = floor;
  }
  best->mtu = std::min<uint32_t>(best->mtu, 65535);
  return *best;
}

}  // namespace wgnet::driver
