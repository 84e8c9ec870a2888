// The server side of UAPI: parsing "set" the way wireguard-go does (operations, then the errno of
// the first bad line), the exact "get" reply `wg` reads, and a device applying both.
#include <gtest/gtest.h>

#include <cerrno>

#include "crypto/dh.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "engine/device.h"
#include "engine_fakes.h"
#include "util/error.h"
#include "wgconf/uapi_codec.h"

using namespace wgnet;
using namespace wgnet::engine;
using namespace wgnet::engine::testing;
using K = wg::uapi::SetOp::Kind;

namespace {

const std::string kKey1 = "b897ab1abe9e8432ca29b97c471afee85322ae193af560bd937a291cc1499a55";
const std::string kKey2 = "5c0bd43a3f1d9a5f7d1d18bd52e8cf2d6a0a3d61c9c0a3ab3cb46e0c1a7f4a10";
const std::string kKey3 = "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a";
const std::string kZero(64, '0');

std::vector<K> kinds(const wg::uapi::SetRequest& r) {
  std::vector<K> out;
  for (const auto& op : r.ops) out.push_back(op.kind);
  return out;
}

}  // namespace

TEST(UapiServerCodec, ParseSetTable) {
  struct Case {
    std::string body;
    int error;
    std::vector<K> ops;
  };
  const std::vector<Case> cases = {
      {"private_key=" + kKey1 + "\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n\n",
       0,
       {K::kPrivateKey, K::kListenPort, K::kFwmark, K::kReplacePeers}},
      {"public_key=" + kKey2 + "\nremove=true\n\n", 0, {K::kPublicKey, K::kRemove}},
      {"public_key=" + kKey2 + "\nupdate_only=true\npreshared_key=" + kZero +
           "\nendpoint=[fd00::1]:51820\npersistent_keepalive_interval=25\n"
           "replace_allowed_ips=true\nallowed_ip=10.0.0.0/8\nallowed_ip=-fd00::/64\n"
           "protocol_version=1\n\n",
       0,
       {K::kPublicKey, K::kUpdateOnly, K::kPresharedKey, K::kEndpoint, K::kPersistentKeepalive,
        K::kReplaceAllowedIps, K::kAllowedIp, K::kRemoveAllowedIp, K::kProtocolVersion}},
      // Lines after the blank line belong to the next request.
      {"fwmark=1\n\nfwmark=zzz\n", 0, {K::kFwmark}},
      // The end of input ends the request too.
      {"fwmark=1", 0, {K::kFwmark}},
      // A line without '=' is a protocol error; what came before stays.
      {"listen_port=1\nwhat\nfwmark=1\n\n", -EPROTO, {K::kListenPort}},
      {"private_key=" + kKey1.substr(2) + "\n\n", -EINVAL, {}},
      {"private_key=" + kKey1 + "zz\n\n", -EINVAL, {}},
      {"listen_port=65536\n\n", -EINVAL, {}},
      {"listen_port=-1\n\n", -EINVAL, {}},
      {"listen_port=\n\n", -EINVAL, {}},
      {"fwmark=4294967296\n\n", -EINVAL, {}},
      {"replace_peers=false\n\n", -EINVAL, {}},
      {"bogus=1\n\n", -EINVAL, {}},
      // Device keys are not peer keys: after a public_key they are unknown.
      {"public_key=" + kKey2 + "\nlisten_port=1\n\n", -EINVAL, {K::kPublicKey}},
      {"public_key=" + kKey2 + "\nendpoint=somewhere:51820\n\n", -EINVAL, {K::kPublicKey}},
      {"public_key=" + kKey2 + "\nendpoint=fd00::1:51820\n\n", -EINVAL, {K::kPublicKey}},
      {"public_key=" + kKey2 + "\nallowed_ip=10.0.0.1\n\n", -EINVAL, {K::kPublicKey}},
      {"public_key=" + kKey2 + "\nallowed_ip=10.0.0.0/33\n\n", -EINVAL, {K::kPublicKey}},
      {"public_key=" + kKey2 + "\nprotocol_version=2\n\n", -EINVAL, {K::kPublicKey}},
      {"public_key=" + kKey2 + "\nremove=yes\n\n", -EINVAL, {K::kPublicKey}},
      {"public_key=" + kKey2 + "\npersistent_keepalive_interval=70000\n\n",
       -EINVAL,
       {K::kPublicKey}},
      {"public_key=nothex\n\n", -EINVAL, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = wg::uapi::parse_set(c.body);
    EXPECT_EQ(r.error, c.error);
    EXPECT_EQ(kinds(r), c.ops);
  }
  auto r = wg::uapi::parse_set("public_key=" + kKey2 + "\nallowed_ip=-fd00::1/64\n\n");
  ASSERT_EQ(r.ops.size(), 2u);
  EXPECT_EQ(r.ops[1].prefix.str(), "fd00::1/64");
  EXPECT_EQ(crypto::key_to_hex(r.ops[0].key), kKey2);
}

TEST(UapiServerCodec, OpsOfAConfigRoundTrip) {
  wg::DeviceConfig c;
  c.private_key = crypto::key_from_hex(kKey1, "k");
  c.listen_port = 51820;
  c.fwmark = 9;
  wg::PeerConfig p;
  p.public_key = crypto::key_from_hex(kKey2, "k");
  p.preshared_key = crypto::key_from_hex(kKey3, "k");
  p.endpoint = wg::Endpoint::parse("198.18.0.2:51821");
  p.persistent_keepalive = 25;
  p.allowed_ips = {*Cidr::parse("10.0.0.0/24")};
  c.peers.push_back(p);
  const std::string text = wg::uapi::encode_set(c);
  ASSERT_EQ(text.substr(0, 6), "set=1\n");
  auto r = wg::uapi::parse_set(text.substr(6));
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(wg::uapi::encode_ops(r.ops), text);
  EXPECT_EQ(kinds(r),
            (std::vector<K>{K::kPrivateKey, K::kListenPort, K::kFwmark, K::kReplacePeers,
                            K::kPublicKey, K::kPresharedKey, K::kEndpoint, K::kPersistentKeepalive,
                            K::kReplaceAllowedIps, K::kAllowedIp}));
}

TEST(UapiServerCodec, EncodeGetIsWhatWgReads) {
  wg::DeviceStatus st;
  st.private_key = crypto::key_from_hex(kKey1, "k");
  st.listen_port = 51820;
  st.fwmark = 0;
  wg::PeerStatus p;
  p.public_key = crypto::key_from_hex(kKey2, "k");
  p.endpoint = wg::Endpoint::parse("[fd00::2]:51821");
  p.last_handshake_sec = 1700000000;
  p.last_handshake_nsec = 5;
  p.tx_bytes = 148;
  p.rx_bytes = 92;
  p.persistent_keepalive = 25;
  p.allowed_ips = {*Cidr::parse("10.0.0.0/24"), *Cidr::parse("fd00::/64")};
  st.peers.push_back(p);
  wg::PeerStatus q;
  q.public_key = crypto::key_from_hex(kKey3, "k");
  q.preshared_key = crypto::key_from_hex(kKey1, "k");
  st.peers.push_back(q);
  EXPECT_EQ(wg::uapi::encode_get(st), "private_key=" + kKey1 +
                                          "\n"
                                          "listen_port=51820\n"
                                          "public_key=" +
                                          kKey2 + "\npreshared_key=" + kZero +
                                          "\n"
                                          "protocol_version=1\n"
                                          "endpoint=[fd00::2]:51821\n"
                                          "last_handshake_time_sec=1700000000\n"
                                          "last_handshake_time_nsec=5\n"
                                          "tx_bytes=148\n"
                                          "rx_bytes=92\n"
                                          "persistent_keepalive_interval=25\n"
                                          "allowed_ip=10.0.0.0/24\n"
                                          "allowed_ip=fd00::/64\n"
                                          "public_key=" +
                                          kKey3 + "\npreshared_key=" + kKey1 +
                                          "\n"
                                          "protocol_version=1\n"
                                          "last_handshake_time_sec=0\n"
                                          "last_handshake_time_nsec=0\n"
                                          "tx_bytes=0\n"
                                          "rx_bytes=0\n"
                                          "persistent_keepalive_interval=0\n"
                                          "errno=0\n\n");
  // The client side reads it back (and keeps no secret).
  auto back = wg::uapi::decode_get(wg::uapi::encode_get(st));
  EXPECT_EQ(back.listen_port, 51820);
  ASSERT_EQ(back.peers.size(), 2u);
  EXPECT_FALSE(back.peers[0].has_preshared_key);
  EXPECT_TRUE(back.peers[1].has_preshared_key);
  EXPECT_FALSE(back.private_key);
  EXPECT_EQ(wg::uapi::encode_errno(-22), "errno=-22\n\n");
}

namespace {

class EngineUapi : public ::testing::Test {
 protected:
  EngineUapi() : binds(net, ip("198.18.0.1")), dev(tun, binds, clock) {}
  std::string get() { return dev.uapi_get(); }

  FakeClock clock;
  MemoryNetwork net;
  MemoryTun tun;
  MemoryBindFactory binds;
  Device dev;
};

}  // namespace

TEST_F(EngineUapi, SetThenGetRoundTrip) {
  ASSERT_EQ(dev.uapi_set("private_key=" + kKey1 + "\nlisten_port=51820\nfwmark=7\npublic_key=" +
                         kKey2 + "\npreshared_key=" + kKey3 +
                         "\nendpoint=198.18.0.2:51821\npersistent_keepalive_interval=25\n"
                         "allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n\n"),
            0);
  EXPECT_EQ(get(), "private_key=" + kKey1 + "\nlisten_port=51820\nfwmark=7\npublic_key=" + kKey2 +
                       "\npreshared_key=" + kKey3 +
                       "\nprotocol_version=1\nendpoint=198.18.0.2:51821\n"
                       "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\n"
                       "rx_bytes=0\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.0/24\n"
                       "allowed_ip=fd00::/64\nerrno=0\n\n");
  // status() carries no secrets; status_with_secrets() does.
  auto st = dev.status();
  EXPECT_FALSE(st.private_key);
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_TRUE(st.peers[0].has_preshared_key);
  EXPECT_FALSE(st.peers[0].preshared_key);
  EXPECT_EQ(crypto::key_to_hex(*st.public_key),
            crypto::key_to_hex(crypto::public_key(crypto::key_from_hex(kKey1, "k"))));
  EXPECT_TRUE(dev.status_with_secrets().private_key);
  EXPECT_EQ(st.fwmark, 7u);

  // A zero key clears; '-' removes a range; replace_allowed_ips empties the list first.
  ASSERT_EQ(dev.uapi_set("public_key=" + kKey2 + "\npreshared_key=" + kZero +
                         "\nallowed_ip=-fd00::/64\nallowed_ip=10.9.0.0/16\n\n"),
            0);
  st = dev.status();
  EXPECT_FALSE(st.peers[0].has_preshared_key);
  ASSERT_EQ(st.peers[0].allowed_ips.size(), 2u);
  EXPECT_EQ(st.peers[0].allowed_ips[0].str(), "10.0.0.0/24");
  EXPECT_EQ(st.peers[0].allowed_ips[1].str(), "10.9.0.0/16");
  ASSERT_EQ(dev.uapi_set("public_key=" + kKey2 +
                         "\nreplace_allowed_ips=true\n"
                         "allowed_ip=192.168.0.0/16\n\n"),
            0);
  st = dev.status();
  ASSERT_EQ(st.peers[0].allowed_ips.size(), 1u);
  EXPECT_EQ(st.peers[0].allowed_ips[0].str(), "192.168.0.0/16");
  ASSERT_EQ(dev.uapi_set("private_key=" + kZero + "\n\n"), 0);
  EXPECT_EQ(get().substr(0, 18), "listen_port=51820\n");  // no private key line any more
}

TEST_F(EngineUapi, PeersAreCreatedRemovedReplacedAndUpdateOnlyCreatesNone) {
  ASSERT_EQ(dev.uapi_set("private_key=" + kKey1 + "\npublic_key=" + kKey2 +
                         "\npublic_key=" + kKey3 + "\n\n"),
            0);
  EXPECT_EQ(dev.status().peers.size(), 2u);
  ASSERT_EQ(dev.uapi_set("public_key=" + kKey2 + "\nremove=true\nallowed_ip=10.0.0.0/8\n\n"), 0);
  auto st = dev.status();
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_EQ(crypto::key_to_hex(st.peers[0].public_key), kKey3);
  // update_only: an existing peer is updated, a new one is not created.
  ASSERT_EQ(dev.uapi_set("public_key=" + kKey3 +
                         "\nupdate_only=true\n"
                         "persistent_keepalive_interval=5\npublic_key=" +
                         kKey2 + "\nupdate_only=true\nallowed_ip=10.0.0.0/8\n\n"),
            0);
  st = dev.status();
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_EQ(st.peers[0].persistent_keepalive, 5);
  // Our own public key as a peer is accepted and ignored.
  const auto own = crypto::key_to_hex(crypto::public_key(crypto::key_from_hex(kKey1, "k")));
  ASSERT_EQ(dev.uapi_set("public_key=" + own + "\nallowed_ip=10.1.0.0/16\n\n"), 0);
  EXPECT_EQ(dev.status().peers.size(), 1u);
  // replace_peers empties the device.
  ASSERT_EQ(dev.uapi_set("replace_peers=true\npublic_key=" + kKey2 + "\n\n"), 0);
  st = dev.status();
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_EQ(crypto::key_to_hex(st.peers[0].public_key), kKey2);
  // A private key equal to a peer's makes that peer go (it would be ourselves).
  ASSERT_EQ(dev.uapi_set("public_key=" + own + "\n\n"), 0);
  const auto k3_private = crypto::key_from_hex(kKey3, "k");
  ASSERT_EQ(
      dev.uapi_set("public_key=" + crypto::key_to_hex(crypto::public_key(k3_private)) + "\n\n"), 0);
  EXPECT_EQ(dev.status().peers.size(), 2u);
  ASSERT_EQ(dev.uapi_set("private_key=" + kKey3 + "\n\n"), 0);
  EXPECT_EQ(dev.status().peers.size(), 1u);
}

TEST_F(EngineUapi, ErrnosAsWireguardGo) {
  EXPECT_EQ(dev.uapi_set("private_key\n\n"), -EPROTO);
  EXPECT_EQ(dev.uapi_set("listen_port=abc\n\n"), -EINVAL);
  EXPECT_EQ(dev.uapi_set("public_key=" + kKey2 + "\nfwmark=1\n\n"), -EINVAL);
  // Lines before the bad one were applied (the peer exists, its endpoint is set).
  auto st = dev.status();
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_EQ(dev.uapi_set("public_key=" + kKey2 + "\nendpoint=198.18.0.5:1\nbad line\n\n"), -EPROTO);
  EXPECT_EQ(dev.status().peers[0].endpoint->str(), "198.18.0.5:1");

  // A port in use: EADDRINUSE (the device is up, so it really binds).
  MemoryBindFactory other(net, ip("198.18.0.1"));
  auto taken = other.open(51999);
  dev.up();
  EXPECT_EQ(dev.uapi_set("listen_port=51999\n\n"), -EADDRINUSE);
  EXPECT_EQ(dev.uapi_set("listen_port=51998\n\n"), 0);
  EXPECT_EQ(dev.status().listen_port, 51998);
  // apply() of a whole configuration throws with the errno, naming no key.
  wg::DeviceConfig c;
  c.private_key = crypto::key_from_hex(kKey1, "k");
  c.listen_port = 51999;
  try {
    dev.apply(c);
    FAIL() << "expected an error";
  } catch (const SystemError& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(EADDRINUSE)), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find(kKey1), std::string::npos);
  }
}

TEST_F(EngineUapi, ApplyReplacesTheWholeConfiguration) {
  ASSERT_EQ(dev.uapi_set("public_key=" + kKey2 + "\nallowed_ip=10.0.0.0/8\n\n"), 0);
  wg::DeviceConfig c;
  c.private_key = crypto::key_from_hex(kKey1, "k");
  c.listen_port = 51820;
  c.fwmark = 3;
  wg::PeerConfig p;
  p.public_key = crypto::key_from_hex(kKey3, "k");
  p.endpoint = wg::Endpoint::parse("198.18.0.2:51821");
  p.allowed_ips = {*Cidr::parse("10.0.0.2/32")};
  c.peers.push_back(p);
  dev.apply(c);
  dev.up();
  auto st = dev.status();
  EXPECT_EQ(st.listen_port, 51820);
  EXPECT_EQ(st.fwmark, 3u);
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_EQ(crypto::key_to_hex(st.peers[0].public_key), kKey3);
  EXPECT_EQ(static_cast<MemoryBind*>(dev.bind().get())->mark, 3u);
  // The get reply decodes to the same status.
  auto back = wg::uapi::decode_get(dev.uapi_get());
  EXPECT_EQ(back.listen_port, st.listen_port);
  EXPECT_EQ(back.fwmark, 3u);
  ASSERT_EQ(back.peers.size(), 1u);
  EXPECT_EQ(back.peers[0].allowed_ips, st.peers[0].allowed_ips);
  EXPECT_EQ(back.peers[0].endpoint, st.peers[0].endpoint);
}

TEST_F(EngineUapi, GarbageRequestsGetAnErrnoNeverACrash) {
  const std::string lines[] = {"private_key=" + kKey1,
                               "listen_port=0",
                               "listen_port=99999",
                               "fwmark=1",
                               "replace_peers=true",
                               "public_key=" + kKey2,
                               "public_key=" + kKey3,
                               "remove=true",
                               "update_only=true",
                               "preshared_key=" + kKey1,
                               "endpoint=198.18.0.2:1",
                               "endpoint=[::1]:2",
                               "persistent_keepalive_interval=1",
                               "replace_allowed_ips=true",
                               "allowed_ip=10.0.0.0/8",
                               "allowed_ip=-10.0.0.0/8",
                               "allowed_ip=::/0",
                               "protocol_version=1",
                               "garbage",
                               "=",
                               "x=",
                               "public_key=",
                               "allowed_ip=-",
                               std::string("endpoint=\0", 10)};
  dev.up();
  uint32_t x = 3;
  for (int i = 0; i < 2000; i++) {
    std::string body;
    const int n = static_cast<int>((x = x * 1664525 + 1013904223) % 8);
    for (int j = 0; j < n; j++)
      body += lines[(x = x * 1664525 + 1013904223) % std::size(lines)] + "\n";
    body += "\n";
    const int e = dev.uapi_set(body);
    ASSERT_TRUE(e == 0 || e == -EINVAL || e == -EPROTO || e == -EADDRINUSE) << e;
    if (i % 100 == 0) (void)wg::uapi::decode_get(dev.uapi_get());  // always well-formed
  }
  EXPECT_LE(dev.status().peers.size(), 2u);
}
