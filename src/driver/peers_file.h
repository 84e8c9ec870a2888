// `wgnet.peers-file`: a wg-quick style file of [Peer] sections (several hubs, or a mesh).
#pragma once
#include <string>
#include <vector>

#include "driver/options.h"

namespace wgnet::driver {

// Parses the file's text; `origin` names it in errors ("wgnet.peers-file '/etc/wgnet/peers'").
// Accepts PublicKey (required), PresharedKey, Endpoint, AllowedIPs (required, comma-separated,
// may repeat) and PersistentKeepalive in each [Peer]; an [Interface] section is refused (the
// interface is wgnet's). Throws InputError with the line number.
std::vector<FilePeer> parse_peers_file(const std::string& text, const std::string& origin);

// "10.0.0.0/8, fd00::/8": the networks of a comma-separated list (host bits cleared, items
// trimmed). On an item that is not a CIDR, returns nullopt and puts the item in `bad`.
std::optional<std::vector<Cidr>> parse_cidr_list(std::string_view text, std::string& bad);

// "host:port" / "[v6]:port" with a numeric address or a DNS name; nullopt when malformed.
std::optional<HubEndpoint> parse_hub_endpoint(std::string_view text);

}  // namespace wgnet::driver
