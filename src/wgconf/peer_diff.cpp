// Peers are indexed by public key (not a secret) in a hash map, so a /16 hub (65,534 peers)
// diffs in milliseconds.
#include "wgconf/peer_diff.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "crypto/encoding.h"

namespace wgnet::wg {

namespace {

std::string key_id(const crypto::Key& k) {
  return std::string(reinterpret_cast<const char*>(k.data()), k.size());
}

std::vector<Cidr> sorted(std::vector<Cidr> v) {
  std::sort(v.begin(), v.end());
  return v;
}

bool inside(const Cidr& scope, const Cidr& c) {
  return c.prefix() >= scope.prefix() && c.address().is_v4() == scope.address().is_v4() &&
         scope.contains(c.address());
}

bool in_scope(const std::optional<Cidr>& scope, const std::vector<Cidr>& allowed_ips) {
  if (!scope) return true;
  if (allowed_ips.empty()) return false;
  return std::all_of(allowed_ips.begin(), allowed_ips.end(),
                     [&](const Cidr& c) { return inside(*scope, c); });
}

std::string cidrs(const std::vector<Cidr>& v) {
  if (v.empty()) return "(none)";
  std::string out;
  for (const auto& c : v) out += (out.empty() ? "" : ",") + c.str();
  return out;
}

}  // namespace

PeerDiff diff_peers(const std::vector<PeerStatus>& current, const std::vector<PeerConfig>& desired,
                    const std::optional<Cidr>& scope) {
  PeerDiff diff;
  std::unordered_map<std::string, const PeerStatus*> have;
  have.reserve(current.size());
  for (const auto& p : current) have.emplace(key_id(p.public_key), &p);
  std::unordered_map<std::string, bool> wanted;
  wanted.reserve(desired.size());
  for (const auto& want : desired) {
    wanted.emplace(key_id(want.public_key), true);
    auto it = have.find(key_id(want.public_key));
    if (it == have.end()) {
      diff.add.push_back(want);
      continue;
    }
    const PeerStatus& got = *it->second;
    bool same_ips = sorted(got.allowed_ips) == sorted(want.allowed_ips);
    bool same_psk = got.has_preshared_key == want.preshared_key.has_value();
    if (same_ips && same_psk) {
      diff.unchanged++;
      continue;
    }
    diff.update.push_back({want, got.allowed_ips, got.has_preshared_key});
  }
  for (const auto& p : current) {
    if (wanted.count(key_id(p.public_key))) continue;
    if (in_scope(scope, p.allowed_ips))
      diff.remove.push_back({p.public_key, p.allowed_ips});
    else
      diff.outside++;
  }
  return diff;
}

std::vector<uapi::SetOp> diff_ops(const PeerDiff& diff) {
  using K = uapi::SetOp::Kind;
  std::vector<uapi::SetOp> ops;
  ops.reserve(2 * diff.remove.size() + 5 * (diff.add.size() + diff.update.size()));
  auto add = [&](K kind) -> uapi::SetOp& {
    return ops.emplace_back(uapi::SetOp{kind, {}, 0, {}, {}});
  };
  auto peer_settings = [&](const PeerConfig& p, bool psk_was_set) {
    // A zero key clears one the peer had.
    if (p.preshared_key || psk_was_set)
      add(K::kPresharedKey).key = p.preshared_key.value_or(crypto::Key{});
    add(K::kReplaceAllowedIps);
    for (const auto& c : p.allowed_ips) add(K::kAllowedIp).prefix = c;
  };
  for (const auto& r : diff.remove) {
    add(K::kPublicKey).key = r.public_key;
    add(K::kRemove);
  }
  for (const auto& u : diff.update) {
    add(K::kPublicKey).key = u.peer.public_key;
    add(K::kUpdateOnly);
    peer_settings(u.peer, u.old_has_preshared_key);
  }
  for (const auto& p : diff.add) {
    add(K::kPublicKey).key = p.public_key;
    peer_settings(p, false);
  }
  return ops;
}

std::string describe_diff(const PeerDiff& diff) {
  std::string out;
  for (const auto& r : diff.remove)
    out += "- " + crypto::key_to_base64(r.public_key) + "  " + cidrs(r.allowed_ips) + "\n";
  for (const auto& u : diff.update) {
    std::string what;
    if (sorted(u.old_allowed_ips) != sorted(u.peer.allowed_ips))
      what = "allowed IPs " + cidrs(u.old_allowed_ips) + " -> " + cidrs(u.peer.allowed_ips);
    if (u.old_has_preshared_key != u.peer.preshared_key.has_value())
      what += std::string(what.empty() ? "" : "; ") +
              (u.peer.preshared_key ? "preshared key added" : "preshared key removed");
    out += "~ " + crypto::key_to_base64(u.peer.public_key) + "  " + what + "\n";
  }
  for (const auto& p : diff.add)
    out += "+ " + crypto::key_to_base64(p.public_key) + "  " + cidrs(p.allowed_ips) +
           (p.preshared_key ? "  (with preshared key)" : "") + "\n";
  return out;
}

}  // namespace wgnet::wg
