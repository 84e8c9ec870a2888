// The sync reads the interface, diffs (wgconf/peer_diff.h) and applies only the difference in
// one UAPI request or a run of netlink messages; it never touches the interface's own key, port
// or the peers outside --subnet.
#include "cli/hub_sync.h"

#include <iostream>
#include <memory>

#include "cli/hub_options.h"
#include "util/error.h"
#include "wg/interface.h"

namespace wgnet::cli {

namespace {

struct SyncOptions {
  HubPeerOptions hub;
  std::string ifname;
  std::string via = "auto";
  bool dry_run = false;
};

wg::Transport pick_transport(const SyncOptions& o) {
  if (o.via == "uapi") return wg::Transport::kUapi;
  if (o.via == "netlink") return wg::Transport::kNetlink;
  if (o.via != "auto")
    throw InputError("--via: '" + o.via + "' is not known; expected auto, uapi or netlink");
  return wg::transport_of(o.ifname);
}

int run_sync(SyncOptions& o) {
  Cidr scope = o.hub.parsed_subnet();
  // Everything the user typed is checked before the interface is touched or even read.
  auto desired = hub_peer_configs(o.hub.peers());
  wg::Transport transport = pick_transport(o);
  wg::DeviceStatus status = wg::read_interface(o.ifname, transport);
  wg::PeerDiff diff = wg::diff_peers(status.peers, desired, scope);
  if (o.dry_run) {
    std::cout << wg::describe_diff(diff);
  } else if (!diff.empty()) {
    wg::change_interface(o.ifname, transport, wg::diff_ops(diff));
  }
  std::cout << sync_summary(o.ifname, wg::transport_name(transport), diff, scope, o.dry_run);
  std::cout.flush();
  return std::cout ? 0 : 1;
}

}  // namespace

std::vector<wg::PeerConfig> hub_peer_configs(const std::vector<keys::HubPeer>& peers) {
  std::vector<wg::PeerConfig> out;
  out.reserve(peers.size());
  for (const auto& p : peers) {
    wg::PeerConfig c;
    c.public_key = p.public_key;
    c.preshared_key = p.preshared_key;
    c.allowed_ips.push_back(Cidr(p.address, p.address.bits()));
    out.push_back(std::move(c));
  }
  return out;
}

std::string sync_summary(const std::string& ifname, const char* transport, const wg::PeerDiff& diff,
                         const Cidr& scope, bool dry_run) {
  auto n = [](size_t v) { return std::to_string(v); };
  std::string s = ifname + " (" + transport + "): ";
  if (dry_run)
    s += "would add " + n(diff.add.size()) + ", remove " + n(diff.remove.size()) + ", update " +
         n(diff.update.size());
  else
    s += n(diff.add.size()) + " added, " + n(diff.remove.size()) + " removed, " +
         n(diff.update.size()) + " updated";
  s += "; " + n(diff.unchanged) + " unchanged";
  if (diff.outside) s += "; " + n(diff.outside) + " peer(s) outside " + scope.str() + " left alone";
  if (dry_run) s += " (dry run: nothing changed)";
  return s + "\n";
}

void add_hub_sync_command(CLI::App& hub, std::function<int()>& selected) {
  auto o = std::make_shared<SyncOptions>();
  auto* sync = hub.add_subcommand(
      "sync",
      "apply the hub's peers (as `hub config` computes them) to the running interface IFACE: "
      "peers that changed are added, updated or removed, the others keep their sessions. Peers "
      "whose allowed IPs lie outside --subnet are left alone, as are the interface's key and "
      "port. Speaks UAPI when /var/run/wireguard/IFACE.sock answers, else kernel netlink");
  sync->add_option("IFACE", o->ifname, "the hub's WireGuard interface (e.g. wg-hub)")->required();
  o->hub.add_to(*sync, "the hub's own tunnel address, CIDR (skipped as a peer)");
  sync->add_flag("--dry-run", o->dry_run,
                 "print the peers that would be added (+), removed (-) and updated (~); change "
                 "nothing");
  sync->add_option("--via", o->via, "auto, uapi or netlink: how to reach IFACE")
      ->capture_default_str();
  sync->callback([o, &selected] { selected = [o] { return run_sync(*o); }; });
}

}  // namespace wgnet::cli
