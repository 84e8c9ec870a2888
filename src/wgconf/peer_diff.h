// The difference between the peers a device has and the peers it should have, and the operations
// that close it without touching the rest: what `wgnet hub sync` applies so that sessions of
// unchanged peers carry on. Pure.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "wgconf/config.h"
#include "wgconf/uapi_codec.h"

namespace wgnet::wg {

struct PeerUpdate {
  PeerConfig peer;                    // what it becomes
  std::vector<Cidr> old_allowed_ips;  // what it had
  bool old_has_preshared_key = false;
};

struct PeerRemoval {
  crypto::Key public_key;
  std::vector<Cidr> allowed_ips;  // what it had (for the report)
};

struct PeerDiff {
  std::vector<PeerConfig> add;
  std::vector<PeerUpdate> update;  // other allowed IPs, or a preshared key added or dropped
  std::vector<PeerRemoval> remove;
  size_t unchanged = 0;
  size_t outside = 0;  // on the device, outside the scope: left alone
  bool empty() const { return add.empty() && update.empty() && remove.empty(); }
};

// Compares `current` (a device's peers) with `desired`. Only peers inside `scope` are removed: a
// peer is inside when it has allowed IPs and every one lies within the scope (no scope: every
// peer). Peers are matched by public key; a desired peer's allowed IPs and whether it has a
// preshared key are compared (a device never reports the key's value, and a derived one cannot
// change under the same public key). Endpoints and keepalives are the device's own business.
PeerDiff diff_peers(const std::vector<PeerStatus>& current, const std::vector<PeerConfig>& desired,
                    const std::optional<Cidr>& scope);

// The operations that apply `diff`: removals, then updates (update_only, so a peer removed
// meanwhile is not brought back), then additions. Nothing else of the device is touched.
std::vector<uapi::SetOp> diff_ops(const PeerDiff& diff);

// One line per change, for --dry-run: "+ KEY ALLOWED", "- KEY ALLOWED", "~ KEY what changes".
// Keys are public keys in base64; preshared keys are never shown, only whether one is added or
// removed.
std::string describe_diff(const PeerDiff& diff);

}  // namespace wgnet::wg
