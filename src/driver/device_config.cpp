// Keys are derived here and nowhere else in the driver; the derived key lives only in the
// returned configuration (crypto::Key wipes itself).
#include "driver/device_config.h"

#include "keys/derive.h"
#include "util/error.h"

namespace wgnet::driver {

namespace {

std::optional<Cidr> stored_cidr(const std::string& text) {
  if (text.empty()) return std::nullopt;
  auto c = Cidr::parse(text);
  if (!c) throw SystemError("stored endpoint address '" + text + "' is not a CIDR address");
  return c;
}

}  // namespace

IpAddress key_address(const EndpointRecord& e) {
  auto a = stored_cidr(e.address4.empty() ? e.address6 : e.address4);
  if (!a) throw SystemError("endpoint " + e.endpoint_id.substr(0, 12) + " has no address");
  return a->address();
}

std::vector<Cidr> addresses_of(const EndpointRecord& e) {
  std::vector<Cidr> out;
  if (auto a = stored_cidr(e.address4)) out.push_back(*a);
  if (auto a = stored_cidr(e.address6)) out.push_back(*a);
  return out;
}

wg::DeviceConfig device_config(const NetworkOptions& o, const EndpointRecord& e,
                               const std::string& seed_dir, HubResolver& hubs) {
  IpAddress addr = key_address(e);
  keys::Deriver d(o.kdf, load_seed(o, seed_dir), o.additional, seed_option_name(o));
  wg::DeviceConfig c;
  c.private_key = d.private_key(addr);
  c.replace_peers = true;
  if (o.endpoint) {
    wg::PeerConfig hub;
    hub.public_key = *o.endpoint_key;
    hub.endpoint = hubs.current(*o.endpoint, "wgnet.endpoint");
    hub.persistent_keepalive = o.keepalive;
    hub.allowed_ips = o.allowed_ips;
    if (o.psk) hub.preshared_key = d.preshared_key(addr);
    c.peers.push_back(std::move(hub));
  }
  for (const auto& fp : o.file_peers) {
    wg::PeerConfig p = fp.config;
    if (fp.endpoint) p.endpoint = hubs.current(*fp.endpoint, "wgnet.peers-file Endpoint");
    if (p.persistent_keepalive == 0 && fp.endpoint) p.persistent_keepalive = o.keepalive;
    c.peers.push_back(std::move(p));
  }
  return c;
}

std::vector<Cidr> routes_for(const NetworkOptions& o, const EndpointRecord& e) {
  auto a4 = stored_cidr(e.address4), a6 = stored_cidr(e.address6);
  std::vector<Cidr> out;
  for (const auto& c : o.allowed_ips) {
    const auto& mine = c.address().is_v4() ? a4 : a6;
    if (!mine) continue;  // no address of that family: the route could not be added
    // Docker already adds the pool's connected route with the address; a duplicate would fail.
    if (Cidr(mine->network(), mine->prefix()) == c) continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace wgnet::driver
