// apply_ops: what wgnetd keeps of a `wg set` it relayed to the engine process, from the request
// itself, with the device's semantics (wireguard-go's, the engine's).
#include <gtest/gtest.h>

#include <string>

#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "wgconf/apply_ops.h"

namespace wgnet::wg {
namespace {

std::string hex(const crypto::Key& k) { return crypto::hex_encode(k.span()); }
crypto::Key some_key() { return crypto::public_key(crypto::generate_private_key()); }

// Applies the lines of a set request (without "set=1", ended by a blank line).
void apply_set(DeviceConfig& c, const std::string& body) {
  const uapi::SetRequest r = uapi::parse_set(body);
  ASSERT_EQ(r.error, 0) << body;
  apply_ops(c, r.ops);
}

const PeerConfig* find(const DeviceConfig& c, const crypto::Key& key) {
  for (const PeerConfig& p : c.peers)
    if (p.public_key == key) return &p;
  return nullptr;
}

DeviceConfig one_peer(const crypto::Key& a) {
  DeviceConfig c;
  c.private_key = crypto::generate_private_key();
  c.listen_port = 51820;
  PeerConfig p;
  p.public_key = a;
  p.allowed_ips = {*Cidr::parse("10.0.0.0/24")};
  c.peers.push_back(p);
  return c;
}

TEST(ApplyOps, UpdatesAPeerAndAddsOne) {
  const crypto::Key a = some_key(), b = some_key();
  DeviceConfig c = one_peer(a);
  apply_set(
      c, "public_key=" + hex(a) + "\npersistent_keepalive_interval=7\nendpoint=198.18.0.1:5\n" +
             "public_key=" + hex(b) + "\npreshared_key=" + hex(a) + "\nallowed_ip=10.9.0.0/16\n\n");
  ASSERT_EQ(c.peers.size(), 2u);
  EXPECT_EQ(find(c, a)->persistent_keepalive, 7);
  EXPECT_EQ(find(c, a)->endpoint->str(), "198.18.0.1:5");
  EXPECT_EQ(find(c, a)->allowed_ips.size(), 1u) << "untouched";
  ASSERT_TRUE(find(c, b)->preshared_key);
  EXPECT_EQ(find(c, b)->allowed_ips.at(0).str(), "10.9.0.0/16");
  EXPECT_EQ(c.listen_port, 51820) << "untouched";
}

TEST(ApplyOps, AnAllowedIpMovesToThePeerThatIsGivenIt) {
  const crypto::Key a = some_key(), b = some_key();
  DeviceConfig c = one_peer(a);
  apply_set(c,
            "public_key=" + hex(b) + "\nallowed_ip=10.0.0.7/24\n\n");  // host bits: the same prefix
  EXPECT_TRUE(find(c, a)->allowed_ips.empty());
  ASSERT_EQ(find(c, b)->allowed_ips.size(), 1u);
  EXPECT_EQ(find(c, b)->allowed_ips[0].str(), "10.0.0.0/24");
  apply_set(c, "public_key=" + hex(b) + "\nallowed_ip=-10.0.0.0/24\n\n");
  EXPECT_TRUE(find(c, b)->allowed_ips.empty());
  apply_set(c, "public_key=" + hex(a) + "\nallowed_ip=10.1.0.0/16\nreplace_allowed_ips=true\n" +
                   "allowed_ip=10.2.0.0/16\n\n");
  ASSERT_EQ(find(c, a)->allowed_ips.size(), 1u);
  EXPECT_EQ(find(c, a)->allowed_ips[0].str(), "10.2.0.0/16");
}

TEST(ApplyOps, RemoveUpdateOnlyAndReplacePeers) {
  const crypto::Key a = some_key(), b = some_key();
  DeviceConfig c = one_peer(a);
  apply_set(c, "public_key=" + hex(b) + "\nupdate_only=true\nallowed_ip=10.5.0.0/16\n\n");
  EXPECT_EQ(c.peers.size(), 1u) << "update_only must not create a peer";
  EXPECT_EQ(find(c, a)->allowed_ips.size(), 1u) << "nor apply the lines after it";
  apply_set(c, "public_key=" + hex(a) + "\nupdate_only=true\npersistent_keepalive_interval=3\n\n");
  EXPECT_EQ(find(c, a)->persistent_keepalive, 3) << "update_only updates a peer that exists";
  apply_set(c, "public_key=" + hex(a) + "\nremove=true\npersistent_keepalive_interval=9\n\n");
  EXPECT_TRUE(c.peers.empty());
  apply_set(c, "public_key=" + hex(a) + "\npublic_key=" + hex(b) + "\n\n");
  EXPECT_EQ(c.peers.size(), 2u);
  apply_set(c, "replace_peers=true\npublic_key=" + hex(b) + "\n\n");
  ASSERT_EQ(c.peers.size(), 1u);
  EXPECT_TRUE(find(c, b));
}

TEST(ApplyOps, DeviceKeysZeroRemovesAndTheOwnKeyIsNoPeer) {
  const crypto::Key a = some_key();
  DeviceConfig c = one_peer(a);
  const crypto::Key own = crypto::public_key(*c.private_key);
  apply_set(c, "public_key=" + hex(own) + "\nallowed_ip=10.7.0.0/16\n\n");
  EXPECT_EQ(c.peers.size(), 1u) << "a peer with the device's own key is ignored";
  apply_set(
      c, "listen_port=4000\nfwmark=9\npublic_key=" + hex(a) + "\npreshared_key=" + hex(a) + "\n\n");
  EXPECT_EQ(c.listen_port, 4000);
  EXPECT_EQ(c.fwmark, 9u);
  EXPECT_TRUE(find(c, a)->preshared_key);
  apply_set(c, "private_key=" + hex(crypto::Key()) + "\npublic_key=" + hex(a) +
                   "\npreshared_key=" + hex(crypto::Key()) + "\n\n");
  EXPECT_FALSE(c.private_key);
  EXPECT_FALSE(find(c, a)->preshared_key);
}

TEST(ApplyOps, ANewPrivateKeyRemovesThePeerWithItsPublicKey) {
  const crypto::Key a = some_key();
  const crypto::Key next = crypto::generate_private_key();
  DeviceConfig c = one_peer(a);
  apply_set(c, "public_key=" + hex(crypto::public_key(next)) + "\nallowed_ip=10.8.0.0/16\n\n");
  ASSERT_EQ(c.peers.size(), 2u);
  apply_set(c, "private_key=" + hex(next) + "\n\n");
  ASSERT_EQ(c.peers.size(), 1u) << "the peer with the device's new own key stays";
  EXPECT_TRUE(find(c, a));
  EXPECT_EQ(*c.private_key, next);
}

}  // namespace
}  // namespace wgnet::wg
