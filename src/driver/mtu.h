// The tunnel's MTU: what the network says (wgnet.mtu, or Docker's mtu option), else what fits the
// path to the hub, as wg-quick computes it.
#pragma once
#include <cstdint>
#include <string>

#include "driver/host.h"
#include "driver/options.h"
#include "wgconf/config.h"

namespace wgnet::driver {

// Used when nothing says better: no peer has an endpoint, or no route reaches one.
constexpr uint32_t kDefaultMtu = 1420;

struct TunnelMtu {
  uint32_t mtu = kDefaultMtu;
  std::string why;  // for the log: "wgnet.mtu", "path to 198.18.5.2 has MTU 1400, less 60", ...
};

// With the MTU option unset: the smallest over the peers' endpoints of the path MTU less
// WireGuard's overhead on that path (IPv4 20 + UDP 8 + WireGuard 32 = 60 bytes; IPv6 80), at least
// 1280 on a network with IPv6 addresses (IPv6's minimum) and 576 otherwise; kDefaultMtu when no
// endpoint has a route.
TunnelMtu tunnel_mtu(const NetworkOptions& o, const wg::DeviceConfig& config, bool ipv6_network,
                     Host& host);

}  // namespace wgnet::driver
