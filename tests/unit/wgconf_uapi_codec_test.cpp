// The UAPI text protocol, checked against what wireguard.md and wireguard-go specify.
#include <gtest/gtest.h>

#include "crypto/encoding.h"
#include "util/error.h"
#include "wgconf/uapi_codec.h"

using namespace wgnet;

namespace {
crypto::Key k(const char* b64) { return crypto::key_from_base64(b64, "k"); }
}  // namespace

TEST(Uapi, EncodeSetIsWhatWgSends) {
  wg::DeviceConfig c;
  c.private_key = k("uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=");
  c.listen_port = 10101;
  wg::PeerConfig p;
  p.public_key = k("ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=");
  p.endpoint = wg::Endpoint::parse("[fd00::1]:51820");
  p.persistent_keepalive = 25;
  p.allowed_ips = {*Cidr::parse("0.0.0.0/0"), *Cidr::parse("::/0")};
  c.peers.push_back(p);
  EXPECT_EQ(wg::uapi::encode_set(c),
            "set=1\n"
            "private_key=b897ab1abe9e8432ca29b97c471afee85322ae193af560bd937a291cc1499a55\n"
            "listen_port=10101\n"
            "fwmark=0\n"
            "replace_peers=true\n"
            "public_key=6434fae07f7db7f98ae51140c5c651c762932b83cdf1c54fe79cd68641575a09\n"
            "endpoint=[fd00::1]:51820\n"
            "persistent_keepalive_interval=25\n"
            "replace_allowed_ips=true\n"
            "allowed_ip=0.0.0.0/0\n"
            "allowed_ip=::/0\n"
            "\n");
}

TEST(Uapi, ConfigOfInvertsOpsOf) {
  wg::DeviceConfig c;
  c.private_key = k("uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=");
  c.listen_port = 10101;
  c.fwmark = 7;
  wg::PeerConfig p;
  p.public_key = k("ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=");
  p.preshared_key = k("uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU=");
  p.endpoint = wg::Endpoint::parse("198.18.0.1:51820");
  p.persistent_keepalive = 25;
  p.allowed_ips = {*Cidr::parse("10.0.0.0/8"), *Cidr::parse("fd00::/64")};
  c.peers.push_back(p);
  c.peers.push_back(
      wg::PeerConfig{k("ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk="), {}, {}, 0, {}});
  for (bool replace : {true, false}) {
    c.replace_peers = replace;
    auto back = wg::uapi::config_of(wg::uapi::parse_set(wg::uapi::encode_set(c).substr(6)).ops);
    ASSERT_TRUE(back);
    EXPECT_EQ(wg::uapi::encode_set(*back), wg::uapi::encode_set(c));
    EXPECT_EQ(back->replace_peers, replace);
  }
  // Operations only a change carries have no whole configuration.
  const std::string peer =
      "public_key=6434fae07f7db7f98ae51140c5c651c762932b83cdf1c54fe79cd68641575a09\n";
  for (const char* change : {"remove=true\n", "update_only=true\n", "allowed_ip=-10.0.0.0/8\n"})
    EXPECT_FALSE(wg::uapi::config_of(wg::uapi::parse_set(peer + change).ops)) << change;
  using K = wg::uapi::SetOp::Kind;
  EXPECT_FALSE(wg::uapi::config_of({{K::kEndpoint, {}, 0, {}, {}}}));  // a peer's, before any peer
}

TEST(Uapi, GrammarPieces) {
  wg::uapi::LineReader lines("a=1\n\nb\nlast");
  EXPECT_EQ(lines.next(), "a=1");
  EXPECT_EQ(lines.rest(), "\nb\nlast");
  EXPECT_EQ(lines.next(), "");
  EXPECT_EQ(lines.next(), "b");
  EXPECT_EQ(lines.next(), "last");
  EXPECT_EQ(lines.next(), std::nullopt);
  const auto kv = wg::uapi::split_key_value("k=v=w");
  ASSERT_TRUE(kv);
  EXPECT_EQ(kv->key, "k");
  EXPECT_EQ(kv->value, "v=w");
  EXPECT_FALSE(wg::uapi::split_key_value("novalue"));
  EXPECT_EQ(wg::uapi::parse_uint("65535", 0xffff), 65535u);
  for (const char* bad : {"", "65536", "-1", "+1", "1 ", "0x10", "18446744073709551616"})
    EXPECT_EQ(wg::uapi::parse_uint(bad, 0xffff), std::nullopt) << bad;
  EXPECT_EQ(wg::uapi::parse_uint("18446744073709551615", UINT64_MAX), UINT64_MAX);
  EXPECT_EQ(wg::uapi::parse_key("b897ab1abe9e8432ca29b97c471afee85322ae193af560bd937a291cc1499a55"),
            k("uJerGr6ehDLKKbl8Rxr+6FMirhk69WC9k3opHMFJmlU="));
  EXPECT_EQ(wg::uapi::parse_key("b897ab"), std::nullopt);
  EXPECT_EQ(wg::uapi::parse_key("zz97ab1abe9e8432ca29b97c471afee85322ae193af560bd937a291cc1499a55"),
            std::nullopt);
}

TEST(Uapi, DecodeGet) {
  auto st = wg::uapi::decode_get(
      "private_key=b897ab1abe9e8432ca29b97c471afee85322ae193af560bd937a291cc1499a55\n"
      "listen_port=10101\n"
      "public_key=6434fae07f7db7f98ae51140c5c651c762932b83cdf1c54fe79cd68641575a09\n"
      "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
      "protocol_version=1\n"
      "endpoint=198.18.42.2:10101\n"
      "last_handshake_time_sec=1700000000\n"
      "last_handshake_time_nsec=5\n"
      "tx_bytes=148\n"
      "rx_bytes=92\n"
      "persistent_keepalive_interval=25\n"
      "allowed_ip=0.0.0.0/0\n"
      "errno=0\n\n");
  ASSERT_TRUE(st.public_key);
  EXPECT_EQ(crypto::key_to_base64(*st.public_key), "ZDT64H99t/mK5RFAxcZRx2KTK4PN8cVP55zWhkFXWgk=");
  EXPECT_EQ(st.listen_port, 10101);
  ASSERT_EQ(st.peers.size(), 1u);
  EXPECT_EQ(st.peers[0].endpoint->str(), "198.18.42.2:10101");
  EXPECT_EQ(st.peers[0].last_handshake_sec, 1700000000);
  EXPECT_EQ(st.peers[0].tx_bytes, 148u);
  EXPECT_EQ(st.peers[0].rx_bytes, 92u);
  EXPECT_EQ(st.peers[0].persistent_keepalive, 25);
  ASSERT_EQ(st.peers[0].allowed_ips.size(), 1u);
}

TEST(Uapi, DecodeRejectsErrorsAndGarbage) {
  EXPECT_THROW(wg::uapi::decode_get("errno=-22\n\n"), SystemError);
  EXPECT_THROW(wg::uapi::decode_get("listen_port=1\n"), SystemError);
  EXPECT_THROW(wg::uapi::decode_get("garbage\nerrno=0\n\n"), SystemError);
  EXPECT_THROW(wg::uapi::decode_get("listen_port=x\nerrno=0\n\n"), SystemError);
  // Found by tests/fuzz/fuzz_uapi.cpp (corpus/uapi/bad-key-in-reply): a malformed key threw
  // InputError, which blames the user for what the other side sent.
  EXPECT_THROW(wg::uapi::decode_get("private_key=zz\nerrno=0\n\n"), SystemError);
  EXPECT_THROW(wg::uapi::decode_get("public_key=" + std::string(63, '0') + "\nerrno=0\n\n"),
               SystemError);
}

TEST(Endpoint, ParsesAndPrints) {
  EXPECT_EQ(wg::Endpoint::parse("198.18.42.2:10101")->str(), "198.18.42.2:10101");
  EXPECT_EQ(wg::Endpoint::parse("[fd00::1]:1")->str(), "[fd00::1]:1");
  for (const char* bad : {"198.18.42.2", "198.18.42.2:0", "198.18.42.2:65536", "fd00::1:5",
                          "[fd00::1]", "host:1", ":1"})
    EXPECT_FALSE(wg::Endpoint::parse(bad)) << bad;
}
