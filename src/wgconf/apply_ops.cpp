#include "wgconf/apply_ops.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "crypto/x25519.h"

namespace wgnet::wg {

namespace {

// The prefix as the device's routing table holds it: host bits cleared.
Cidr network_of(const Cidr& c) { return Cidr(c.network(), c.prefix()); }

}  // namespace

void apply_ops(DeviceConfig& config, const std::vector<uapi::SetOp>& ops) {
  using K = uapi::SetOp::Kind;
  constexpr size_t kNone = SIZE_MAX;
  size_t peer = kNone;   // index of the selected peer in config.peers
  bool created = false;  // the selected peer was made by this public_key line
  const auto key_or_none = [](const crypto::Key& k) {
    return k.is_zero() ? std::nullopt : std::optional<crypto::Key>(k);
  };
  // A peer with the device's own public key is ignored, lines and all (as the device does).
  std::optional<crypto::Key> own;
  const auto own_key = [&] {
    if (!own && config.private_key) own = crypto::public_key(*config.private_key);
    return own;
  };
  for (const uapi::SetOp& op : ops) {
    if (op.kind >= K::kPublicKey && op.kind != K::kPublicKey && peer == kNone) continue;
    switch (op.kind) {
      case K::kPrivateKey: {
        const std::optional<crypto::Key> key = key_or_none(op.key);
        if (key == config.private_key) break;
        config.private_key = key;
        own.reset();
        // A peer with the device's new own key is removed (as the device does).
        if (const auto mine = own_key())
          std::erase_if(config.peers, [&](const PeerConfig& p) { return p.public_key == *mine; });
        peer = kNone;  // (indices moved; `wg` sends device lines before any peer)
        break;
      }
      case K::kListenPort:
        config.listen_port = static_cast<uint16_t>(op.number);
        break;
      case K::kFwmark:
        config.fwmark = op.number;
        break;
      case K::kReplacePeers:
        config.peers.clear();
        peer = kNone;
        break;
      case K::kPublicKey: {
        if (own_key() == op.key) {
          peer = kNone;
          break;
        }
        const auto it = std::find_if(config.peers.begin(), config.peers.end(),
                                     [&](const PeerConfig& p) { return p.public_key == op.key; });
        created = it == config.peers.end();
        if (created) config.peers.push_back(PeerConfig{op.key, std::nullopt, std::nullopt, 0, {}});
        peer = created ? config.peers.size() - 1 : static_cast<size_t>(it - config.peers.begin());
        break;
      }
      case K::kUpdateOnly:
        if (created) {
          config.peers.erase(config.peers.begin() + static_cast<std::ptrdiff_t>(peer));
          peer = kNone;
        }
        break;
      case K::kRemove:
        config.peers.erase(config.peers.begin() + static_cast<std::ptrdiff_t>(peer));
        peer = kNone;
        break;
      case K::kPresharedKey:
        config.peers[peer].preshared_key = key_or_none(op.key);
        break;
      case K::kEndpoint:
        config.peers[peer].endpoint = op.endpoint;
        break;
      case K::kPersistentKeepalive:
        config.peers[peer].persistent_keepalive = static_cast<uint16_t>(op.number);
        break;
      case K::kReplaceAllowedIps:
        config.peers[peer].allowed_ips.clear();
        break;
      case K::kAllowedIp: {
        // One peer per prefix, as in the device's routing table: it moves.
        const Cidr prefix = network_of(op.prefix);
        for (PeerConfig& p : config.peers)
          std::erase_if(p.allowed_ips, [&](const Cidr& c) { return network_of(c) == prefix; });
        config.peers[peer].allowed_ips.push_back(prefix);
        break;
      }
      case K::kRemoveAllowedIp: {
        const Cidr prefix = network_of(op.prefix);
        std::erase_if(config.peers[peer].allowed_ips,
                      [&](const Cidr& c) { return network_of(c) == prefix; });
        break;
      }
      case K::kProtocolVersion:
        break;
    }
  }
}

}  // namespace wgnet::wg
