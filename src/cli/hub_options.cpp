// One reading of the hub's peer options, so `hub config` and `hub sync` can never disagree on
// which peers a subnet has.
#include "cli/hub_options.h"

#include "util/error.h"

namespace wgnet::cli {

void HubPeerOptions::add_to(CLI::App& cmd, const std::string& address_help) {
  derive.add_to(cmd);
  cmd.add_option("--subnet", subnet, "the network's subnet, CIDR")->required();
  cmd.add_option("--range", range, "only addresses FIRST-LAST of the subnet");
  cmd.add_option("--psk", psk, "'derived' adds each peer's derived preshared key; 'off'")
      ->capture_default_str();
  cmd.add_option("--address", hub_address, address_help);
  cmd.add_option("--threads", threads, "threads to derive keys on (0 = all cores)")
      ->capture_default_str();
}

Cidr HubPeerOptions::parsed_subnet() const {
  auto c = Cidr::parse(subnet);
  if (!c)
    throw InputError("--subnet: '" + subnet +
                     "' is not a subnet; expected CIDR such as 10.0.42.0/24 or fd00::/112");
  return *c;
}

std::optional<Cidr> HubPeerOptions::parsed_hub_address() const {
  if (hub_address.empty()) return std::nullopt;
  auto a = Cidr::parse(hub_address);
  if (!a)
    throw InputError("--address: '" + hub_address +
                     "' is not an address; expected CIDR such as 10.0.42.254/24");
  return a;
}

keys::AddressRange HubPeerOptions::address_range() const {
  keys::AddressRange r;
  r.subnet_what = "--subnet";
  r.range_what = "--range";
  r.subnet = parsed_subnet();
  if (!range.empty()) std::tie(r.first, r.last) = keys::parse_range(range, "--range");
  if (r.first && r.first->is_v4() != r.subnet.address().is_v4())
    throw InputError("--range: the addresses are not of the subnet's family");
  if (auto a = parsed_hub_address()) r.skip.push_back(a->address());
  return r;
}

bool HubPeerOptions::with_psk() const {
  if (psk != "derived" && psk != "off")
    throw InputError("--psk: '" + psk + "' is not known; expected 'derived' or 'off'");
  return psk == "derived";
}

std::vector<keys::HubPeer> HubPeerOptions::peers() {
  auto r = address_range();
  bool psk_on = with_psk();
  auto d = derive.make_deriver();
  auto addresses = keys::enumerate_addresses(r);
  if (psk_on && !addresses.empty()) d.preshared_key(addresses.front());  // validates the seed
  return keys::derive_hub_peers(d, addresses, psk_on, threads);
}

}  // namespace wgnet::cli
