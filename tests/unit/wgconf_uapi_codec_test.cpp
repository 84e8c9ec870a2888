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
