// The complete WireGuard configuration of one endpoint's device: its derived private key and the
// network's peers (the hub, or a peers file), with hub addresses from the resolver's cache.
#pragma once
#include <string>
#include <vector>

#include "driver/hub_resolver.h"
#include "driver/options.h"
#include "driver/state.h"
#include "wgconf/config.h"

namespace wgnet::driver {

// The address the key is derived from: the IPv4 address, else the IPv6 one. Throws SystemError
// when the record has neither.
IpAddress key_address(const EndpointRecord& e);

wg::DeviceConfig device_config(const NetworkOptions& o, const EndpointRecord& e,
                               const std::string& seed_dir, HubResolver& hubs);

// Connected routes the container gets through the device besides its pool's own route (which
// Docker adds with the address): one per tunnelled CIDR of a family the endpoint has an address of.
std::vector<Cidr> routes_for(const NetworkOptions& o, const EndpointRecord& e);

// The endpoint's addresses, prefix lengths included.
std::vector<Cidr> addresses_of(const EndpointRecord& e);

}  // namespace wgnet::driver
