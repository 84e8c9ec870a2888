// The peer diff behind `wgnet hub sync`: which peers are added, updated, removed or left alone
// (unchanged, or outside the subnet), the operations that apply it (nothing else of the device is
// touched) and the dry-run description (no preshared key ever printed).
#include <gtest/gtest.h>

#include <cstring>

#include "crypto/encoding.h"
#include "wgconf/peer_diff.h"

using namespace wgnet;
using namespace wgnet::wg;
using K = uapi::SetOp::Kind;

namespace {

crypto::Key key_of(uint8_t fill) {
  std::array<uint8_t, 32> b;
  b.fill(fill);
  return crypto::Key(b);
}

Cidr cidr(const char* text) { return *Cidr::parse(text); }

PeerStatus have(uint8_t k, std::vector<Cidr> ips, bool psk = false) {
  PeerStatus p;
  p.public_key = key_of(k);
  p.allowed_ips = std::move(ips);
  p.has_preshared_key = psk;
  p.last_handshake_sec = 1700000000;  // a live session: never a reason to touch a peer
  p.endpoint = Endpoint::parse("198.18.0.9:40000");
  return p;
}

PeerConfig want(uint8_t k, std::vector<Cidr> ips, std::optional<uint8_t> psk = std::nullopt) {
  PeerConfig p;
  p.public_key = key_of(k);
  p.allowed_ips = std::move(ips);
  if (psk) p.preshared_key = key_of(*psk);
  return p;
}

std::vector<K> kinds(const std::vector<uapi::SetOp>& ops) {
  std::vector<K> out;
  for (const auto& o : ops) out.push_back(o.kind);
  return out;
}

}  // namespace

TEST(PeerDiff, OnlyWhatDiffersChanges) {
  std::vector<PeerStatus> current = {
      have(1, {cidr("10.0.42.1/32")}),                       // unchanged
      have(2, {cidr("10.0.42.2/32")}),                       // gone: removed
      have(3, {cidr("10.0.42.9/32")}),                       // moved address: updated
      have(4, {cidr("10.0.42.4/32")}, true),                 // PSK dropped: updated
      have(5, {cidr("192.168.7.0/24")}),                     // outside the subnet: left alone
      have(6, {}),                                           // no allowed IPs: left alone
      have(7, {cidr("10.0.42.7/32"), cidr("10.9.0.0/16")}),  // partly outside: left alone
  };
  std::vector<PeerConfig> desired = {
      want(1, {cidr("10.0.42.1/32")}), want(3, {cidr("10.0.42.3/32")}),
      want(4, {cidr("10.0.42.4/32")}), want(8, {cidr("10.0.42.8/32")}, 0x88),  // new
  };
  auto d = diff_peers(current, desired, cidr("10.0.42.0/24"));
  EXPECT_EQ(d.unchanged, 1u);
  EXPECT_EQ(d.outside, 3u);
  ASSERT_EQ(d.remove.size(), 1u);
  EXPECT_EQ(d.remove[0].public_key, key_of(2));
  ASSERT_EQ(d.update.size(), 2u);
  EXPECT_EQ(d.update[0].peer.public_key, key_of(3));
  EXPECT_EQ(d.update[0].old_allowed_ips, std::vector<Cidr>{cidr("10.0.42.9/32")});
  EXPECT_EQ(d.update[1].peer.public_key, key_of(4));
  EXPECT_TRUE(d.update[1].old_has_preshared_key);
  ASSERT_EQ(d.add.size(), 1u);
  EXPECT_EQ(d.add[0].public_key, key_of(8));
  EXPECT_FALSE(d.empty());

  // Without a scope every peer not wanted goes.
  auto all = diff_peers(current, desired, std::nullopt);
  EXPECT_EQ(all.remove.size(), 4u);
  EXPECT_EQ(all.outside, 0u);
}

TEST(PeerDiff, SameSetInAnyOrderIsNoChange) {
  std::vector<PeerStatus> current = {have(1, {cidr("10.0.0.2/32"), cidr("10.0.0.1/32")}),
                                     have(2, {cidr("10.0.0.3/32")}, true)};
  std::vector<PeerConfig> desired = {want(2, {cidr("10.0.0.3/32")}, 0x22),
                                     want(1, {cidr("10.0.0.1/32"), cidr("10.0.0.2/32")})};
  auto d = diff_peers(current, desired, cidr("10.0.0.0/24"));
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.unchanged, 2u);
  EXPECT_TRUE(diff_ops(d).empty());
  EXPECT_EQ(describe_diff(d), "");
}

// Removals, then updates (update_only: never re-create a peer), then additions; no device
// operation, no endpoint or keepalive (the hub learns endpoints by roaming).
TEST(PeerDiff, OperationsTouchOnlyTheChangedPeers) {
  std::vector<PeerStatus> current = {have(2, {cidr("10.0.42.2/32")}),
                                     have(4, {cidr("10.0.42.4/32")}, true)};
  std::vector<PeerConfig> desired = {want(4, {cidr("10.0.42.5/32")}),
                                     want(8, {cidr("10.0.42.8/32")}, 0x88)};
  auto ops = diff_ops(diff_peers(current, desired, cidr("10.0.42.0/24")));
  EXPECT_EQ(kinds(ops), (std::vector<K>{K::kPublicKey, K::kRemove,                        //
                                        K::kPublicKey, K::kUpdateOnly, K::kPresharedKey,  //
                                        K::kReplaceAllowedIps, K::kAllowedIp,             //
                                        K::kPublicKey, K::kPresharedKey,                  //
                                        K::kReplaceAllowedIps, K::kAllowedIp}));
  EXPECT_EQ(ops[0].key, key_of(2));
  EXPECT_EQ(ops[2].key, key_of(4));
  EXPECT_TRUE(ops[4].key.is_zero()) << "the dropped PSK is cleared with a zero key";
  EXPECT_EQ(ops[6].prefix, cidr("10.0.42.5/32"));
  EXPECT_EQ(ops[7].key, key_of(8));
  EXPECT_EQ(ops[8].key, key_of(0x88));
  EXPECT_EQ(uapi::encode_ops(ops).substr(0, 6 + 11 + 65),
            "set=1\npublic_key=" + crypto::key_to_hex(key_of(2)) + "\n");
}

TEST(PeerDiff, DescriptionNamesPeersButNoSecrets) {
  std::vector<PeerStatus> current = {have(2, {cidr("10.0.42.2/32")}),
                                     have(4, {cidr("10.0.42.4/32")})};
  std::vector<PeerConfig> desired = {want(4, {cidr("10.0.42.4/32")}, 0x44),
                                     want(8, {cidr("10.0.42.8/32")}, 0x88)};
  std::string text = describe_diff(diff_peers(current, desired, cidr("10.0.42.0/24")));
  EXPECT_EQ(text, "- " + crypto::key_to_base64(key_of(2)) + "  10.0.42.2/32\n" + "~ " +
                      crypto::key_to_base64(key_of(4)) + "  preshared key added\n" + "+ " +
                      crypto::key_to_base64(key_of(8)) + "  10.0.42.8/32  (with preshared key)\n");
  EXPECT_EQ(text.find(crypto::key_to_base64(key_of(0x88))), std::string::npos);
  EXPECT_EQ(text.find(crypto::key_to_base64(key_of(0x44))), std::string::npos);
}
