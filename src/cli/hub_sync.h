// `wgnet hub sync IFACE`: makes a running hub interface's peers those `wgnet hub config` would
// print, adding, updating and removing only the peers that differ, so established sessions carry
// on. Reaches the interface over its UAPI socket or kernel netlink, whichever it speaks.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "keys/hub.h"
#include "wgconf/config.h"
#include "wgconf/peer_diff.h"

namespace wgnet::cli {

// Registers `sync` under `wgnet hub`; when chosen, `selected` runs it.
void add_hub_sync_command(CLI::App& hub, std::function<int()>& selected);

// The hub's view of each peer: its key, its PSK if any, its one address as allowed IP.
std::vector<wg::PeerConfig> hub_peer_configs(const std::vector<keys::HubPeer>& peers);

// "wg-hub (uapi): 3 added, 1 removed, 0 updated, 96 unchanged; 2 peers outside 10.0.42.0/24 left
// alone" — or, for a dry run, what would be done.
std::string sync_summary(const std::string& ifname, const char* transport, const wg::PeerDiff& diff,
                         const Cidr& scope, bool dry_run);

}  // namespace wgnet::cli
