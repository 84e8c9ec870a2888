// The hub side: every container address of a subnet, its public key (and PSK), as a hub config.
#pragma once
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/secure.h"
#include "keys/derive.h"
#include "util/ip.h"

namespace wgnet::keys {

// The largest subnet `wgnet hub config` enumerates (2^20 addresses).
constexpr uint64_t kMaxHubAddresses = uint64_t{1} << 20;

struct AddressRange {
  Cidr subnet;
  std::optional<IpAddress> first, last;  // --range FIRST-LAST, inside the subnet
  std::vector<IpAddress> skip;           // e.g. the hub's own address
  bool skip_network_and_broadcast = true;
  // How errors name the subnet and the range (the caller's words: an option, a flag).
  std::string subnet_what = "subnet";
  std::string range_what = "range";
};

// "A-B" into a pair; throws InputError naming `what`.
std::pair<IpAddress, IpAddress> parse_range(std::string_view text, std::string_view what);

// The container addresses of `range`, in order. Throws InputError when the range lies outside
// the subnet or the subnet is larger than kMaxHubAddresses.
std::vector<IpAddress> enumerate_addresses(const AddressRange& range);

enum class HubFormat { kWgQuick, kWg, kJson };
HubFormat parse_hub_format(std::string_view text, std::string_view what);

struct HubInterface {
  std::optional<crypto::Key> private_key;
  std::optional<uint16_t> listen_port;
  std::optional<Cidr> address;  // wg-quick only
};

// One container address as the hub sees it: its public key and, with derived preshared keys, its
// PSK (a secret: Key wipes itself).
struct HubPeer {
  IpAddress address;
  crypto::Key public_key;
  std::optional<crypto::Key> preshared_key;
};

// The peers of `addresses`, in their order, derived on `threads` threads (0 = all cores).
std::vector<HubPeer> derive_hub_peers(const Deriver& deriver,
                                      const std::vector<IpAddress>& addresses, bool with_psk,
                                      unsigned threads = 0);

// Writes the hub configuration for `addresses`, deriving keys on `threads` threads (0 = all
// cores). Output is identical whatever the thread count.
void write_hub_config(std::ostream& out, const Deriver& deriver,
                      const std::vector<IpAddress>& addresses, bool with_psk, HubFormat format,
                      const HubInterface& iface, unsigned threads = 0);

}  // namespace wgnet::keys
