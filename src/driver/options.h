// Network options (`docker network create -o KEY=VALUE`), validated as a whole: the table of
// product.md plus the article's io.bestov.wg.* aliases.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crypto/secure.h"
#include "keys/derive.h"
#include "util/ip.h"
#include "wgconf/config.h"

namespace wgnet::driver {

struct HubEndpoint {
  std::string host;  // numeric address or DNS name
  uint16_t port = 0;
  std::string str() const;
};

// One peer of a `wgnet.peers-file`.
struct FilePeer {
  wg::PeerConfig config;
  std::optional<HubEndpoint> endpoint;  // resolved at device creation
};

struct NetworkOptions {
  std::optional<HubEndpoint> endpoint;
  std::optional<crypto::Key> endpoint_key;
  std::string seed_file;                    // canonical path inside the seed directory
  std::optional<crypto::SecretBytes> seed;  // inline seed (wgnet.seed / io.bestov.wg.seed)
  std::vector<uint8_t> additional;
  keys::Kdf kdf = keys::Kdf::kHkdf;
  uint16_t keepalive = 25;
  std::optional<uint32_t> mtu;  // unset: from the path to the peers (driver/mtu.h)
  std::vector<Cidr> allowed_ips;
  bool psk = false;
  std::string peers_file;  // canonical path inside the seed directory
  std::vector<FilePeer> file_peers;
  std::string backend = "auto";
  bool article_names = false;  // io.bestov.wg.* were used
};

struct OptionContext {
  std::string seed_dir = "/etc/wgnet";
  bool ipv6 = false;  // the network has IPv6 pools
  bool ipv4 = true;   // the network has IPv4 pools (Docker 28's --ipv4=false networks have none)
  // Also load the seed and resolve hub names (at CreateNetwork). At restore only the options
  // themselves are checked, so a late DNS or seed mount does not disable a network.
  bool check_environment = true;
  // Resolves a hub endpoint (with check_environment); throws InputError naming `what`.
  std::function<void(const HubEndpoint&, std::string_view what)> resolve_hub;
};
// The context of a network with these pools.
inline OptionContext pools_context(std::string seed_dir, bool ipv4, bool ipv6,
                                   bool check_environment) {
  OptionContext c;
  c.seed_dir = std::move(seed_dir);
  c.ipv4 = ipv4;
  c.ipv6 = ipv6;
  c.check_environment = check_environment;
  return c;
}

// Validates every wgnet.* / io.bestov.wg.* option of `generic` (other keys are Docker's and are
// ignored), loads and checks the seed and peers file. Throws InputError naming the option and
// what is expected; the message never contains a seed.
NetworkOptions parse_network_options(const std::map<std::string, std::string>& generic,
                                     const OptionContext& ctx);

// The seed bytes: the inline seed, or the seed file read now, beneath `seed_dir` (a symlink
// swapped in since the network was created cannot lead the read out of it).
crypto::SecretBytes load_seed(const NetworkOptions& o, const std::string& seed_dir);

// The name a message uses for the network's seed: wgnet.seed-file or wgnet.seed.
const char* seed_option_name(const NetworkOptions& o);

}  // namespace wgnet::driver
