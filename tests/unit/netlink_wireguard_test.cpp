// The wireguard genl codec without a kernel: WG_CMD_SET_DEVICE byte for byte (the
// expected bytes follow include/uapi/linux/wireguard.h and netlink's 4-byte alignment by hand),
// splitting of large configurations, and GET_DEVICE dumps decoded into DeviceStatus.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <netinet/in.h>

#include <bit>
#include <cstring>

#include "netlink/message.h"
#include "netlink/wireguard.h"
#include "netlink_test_util.h"
#include "util/error.h"

using namespace wgnet;
using namespace wgnet::wg;
using namespace wgnet::netlink::wireguard;
using netlink::Attribute;
using Bytes = std::vector<uint8_t>;

static_assert(std::endian::native == std::endian::little);

namespace {

constexpr uint16_t kFamily = 0x15;  // whatever id the kernel assigned "wireguard"

using netlink::test::cat;
using netlink::test::key_of;
using netlink::test::key_of_index;
using netlink::test::rep;

Cidr cidr(const char* text) { return *Cidr::parse(text); }

}  // namespace

TEST(KernelEncode, SetDeviceWithIpv4PeerIsByteExact) {
  DeviceConfig c;
  c.private_key = key_of(0x11);
  c.listen_port = 51820;
  PeerConfig p;
  p.public_key = key_of(0x22);
  p.endpoint = Endpoint{*IpAddress::parse("192.0.2.1"), 51820};
  p.persistent_keepalive = 25;
  p.allowed_ips = {cidr("10.0.0.0/24"), cidr("fd00::/64")};
  c.peers.push_back(p);

  const Bytes expected = cat({
      {
          0x14, 0x01, 0x00, 0x00,  // nlmsg_len 276
          0x15, 0x00,              // nlmsg_type: the family id
          0x05, 0x00,              // NLM_F_REQUEST | NLM_F_ACK
          0x00, 0x00, 0x00, 0x00,  // seq (stamped by the socket)
          0x00, 0x00, 0x00, 0x00,  // pid
          0x01, 0x01, 0x00, 0x00,  // genlmsghdr: WG_CMD_SET_DEVICE, version 1, reserved
          0x08, 0x00, 0x02, 0x00, 'w', 'g', '0', 0x00,  // WGDEVICE_A_IFNAME "wg0"
          0x24, 0x00, 0x03, 0x00,                       // WGDEVICE_A_PRIVATE_KEY, len 36
      },
      rep(0x11, 32),
      {
          0x06, 0x00, 0x06, 0x00,
          0x6c, 0xca, 0x00, 0x00,  // WGDEVICE_A_LISTEN_PORT 51820 (u16) + pad
          0x08, 0x00, 0x07, 0x00,
          0x00, 0x00, 0x00, 0x00,  // WGDEVICE_A_FWMARK 0
          0x08, 0x00, 0x05, 0x00,
          0x01, 0x00, 0x00, 0x00,  // WGDEVICE_A_FLAGS REPLACE_PEERS
          0xbc, 0x00, 0x08, 0x80,  // WGDEVICE_A_PEERS | NLA_F_NESTED, len 188
          0xb8, 0x00, 0x00, 0x80,  //   peer: list element type 0 | NLA_F_NESTED, len 184
          0x24, 0x00, 0x01, 0x00,  //     WGPEER_A_PUBLIC_KEY, len 36
      },
      rep(0x22, 32),
      {
          0x08, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00,  //     WGPEER_A_FLAGS REPLACE_ALLOWEDIPS
          0x24, 0x00, 0x02, 0x00,  //     WGPEER_A_PRESHARED_KEY, len 36: zeros = none
      },
      rep(0x00, 32),
      {
          0x14, 0x00, 0x04, 0x00,  //     WGPEER_A_ENDPOINT, len 20: struct sockaddr_in
          0x02, 0x00,              //       sin_family AF_INET (host order)
          0xca, 0x6c,              //       sin_port 51820 (network order)
          192,  0,    2,    1,     //       sin_addr
          0,    0,    0,    0,    0,    0,    0,    0,     //       sin_zero
          0x06, 0x00, 0x05, 0x00, 25,   0x00, 0x00, 0x00,  //     KEEPALIVE_INTERVAL 25 (u16) + pad
          0x48, 0x00, 0x09, 0x80,  //     WGPEER_A_ALLOWEDIPS | NLA_F_NESTED, len 72
          0x1c, 0x00, 0x00, 0x80,  //       element 0 | NLA_F_NESTED, len 28
          0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,  //         FAMILY AF_INET + pad
          0x08, 0x00, 0x02, 0x00, 10,   0,    0,    0,     //         IPADDR 10.0.0.0
          0x05, 0x00, 0x03, 0x00, 24,   0x00, 0x00, 0x00,  //         CIDR_MASK 24 + pad
          0x28, 0x00, 0x00, 0x80,                          //       element 0 | NLA_F_NESTED, len 40
          0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00,  //         FAMILY AF_INET6 + pad
          0x14, 0x00, 0x02, 0x00, 0xfd, 0x00,              //         IPADDR fd00::, len 20
      },
      rep(0x00, 14),
      {
          0x05, 0x00, 0x03, 0x00, 64, 0x00, 0x00, 0x00,  //         CIDR_MASK 64 + pad
      },
  });
  ASSERT_EQ(expected.size(), 276u);

  auto msgs = encode_set_device("wg0", kFamily, c);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], expected);
}

TEST(KernelEncode, SetDeviceWithIpv6PeerIsByteExact) {
  DeviceConfig c;  // no private key or port: left as they are
  c.fwmark = 0x42;
  c.replace_peers = false;
  PeerConfig p;
  p.public_key = key_of(0x33);
  p.preshared_key = key_of(0x44);
  p.endpoint = Endpoint{*IpAddress::parse("2001:db8::1"), 51821};
  c.peers.push_back(p);

  const Bytes expected = cat({
      {
          0xa8, 0x00, 0x00, 0x00,                          // nlmsg_len 168
          0x15, 0x00, 0x05, 0x00,                          // family id; NLM_F_REQUEST | NLM_F_ACK
          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq, pid
          0x01, 0x01, 0x00, 0x00,                          // WG_CMD_SET_DEVICE, version 1
          0x08, 0x00, 0x02, 0x00, 'w',  'g',  '1',  0x00,  // WGDEVICE_A_IFNAME "wg1"
          0x08, 0x00, 0x07, 0x00, 0x42, 0x00, 0x00, 0x00,  // WGDEVICE_A_FWMARK 0x42; no FLAGS
          0x84, 0x00, 0x08, 0x80,  // WGDEVICE_A_PEERS | NLA_F_NESTED, len 132
          0x80, 0x00, 0x00, 0x80,  //   peer element, len 128
          0x24, 0x00, 0x01, 0x00,  //     WGPEER_A_PUBLIC_KEY
      },
      rep(0x33, 32),
      {
          0x08, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00,  //     FLAGS REPLACE_ALLOWEDIPS
          0x24, 0x00, 0x02, 0x00,                          //     WGPEER_A_PRESHARED_KEY
      },
      rep(0x44, 32),
      {
          0x20, 0x00, 0x04, 0x00,  //     WGPEER_A_ENDPOINT, len 32: struct sockaddr_in6
          0x0a, 0x00,              //       sin6_family AF_INET6
          0xca, 0x6d,              //       sin6_port 51821 (network order)
          0,    0,    0,    0,     //       sin6_flowinfo
          0x20, 0x01, 0x0d, 0xb8,  //       sin6_addr 2001:db8::1
          0,    0,    0,    0,    0,    0,    0,    0,    0, 0, 0, 0x01,  //
          0,    0,    0,    0,                                            //       sin6_scope_id
          0x06, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,  //     KEEPALIVE 0 (off) + pad
          0x04, 0x00, 0x09, 0x80,                          //     WGPEER_A_ALLOWEDIPS, empty: none
      },
  });
  ASSERT_EQ(expected.size(), 168u);

  auto msgs = encode_set_device("wg1", kFamily, c);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], expected);
}

TEST(KernelEncode, GetDeviceRequestIsByteExact) {
  const Bytes expected = {
      0x1c, 0x00, 0x00, 0x00,  // nlmsg_len 28
      0x15, 0x00,              // family id
      0x05, 0x03,              // NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP (0x300)
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   // seq, pid
      0x00, 0x01, 0x00, 0x00,                           // WG_CMD_GET_DEVICE, version 1
      0x08, 0x00, 0x02, 0x00, 'w',  'g',  '0',  0x00};  // WGDEVICE_A_IFNAME "wg0"
  EXPECT_EQ(encode_get_device("wg0", kFamily), expected);
}

TEST(KernelEncode, RejectsInvalidInput) {
  DeviceConfig c;
  EXPECT_THROW(encode_set_device("name-longer-than-15", kFamily, c), InputError);
  PeerConfig p;
  p.public_key = key_of(1);
  p.allowed_ips = {Cidr(*IpAddress::parse("10.0.0.0"), 33)};
  c.peers = {p};
  EXPECT_THROW(encode_set_device("wg0", kFamily, c), InputError);
  c.peers[0].allowed_ips.clear();
  EXPECT_THROW(encode_set_device("wg0", kFamily, c, 64), InputError);  // no room for a peer
}

namespace {

// What one peer element of a SET message says.
struct PeerPart {
  Bytes key;
  bool has_flags = false;
  uint32_t flags = 0;
  bool has_psk = false;
  std::vector<Cidr> allowed;
};

// Reads SET messages with the parser (independently of the encoder's bookkeeping).
std::vector<PeerPart> peer_parts(const Attribute& peers) {
  std::vector<PeerPart> out;
  for (const Attribute& e : peers.nested()) {
    PeerPart part;
    for (const Attribute& a : e.nested()) {
      if (a.type() == WGPEER_A_PUBLIC_KEY) part.key.assign(a.payload().begin(), a.payload().end());
      if (a.type() == WGPEER_A_FLAGS) part.has_flags = true, part.flags = a.u32();
      if (a.type() == WGPEER_A_PRESHARED_KEY) part.has_psk = true;
      if (a.type() == WGPEER_A_ALLOWEDIPS)
        for (const Attribute& ip : a.nested()) {
          auto f = netlink::find_attribute(ip.nested(), WGALLOWEDIP_A_FAMILY);
          auto addr = netlink::find_attribute(ip.nested(), WGALLOWEDIP_A_IPADDR);
          auto mask = netlink::find_attribute(ip.nested(), WGALLOWEDIP_A_CIDR_MASK);
          EXPECT_TRUE(f && addr && mask);
          part.allowed.emplace_back(IpAddress::from_bytes(addr->payload()), mask->u8());
        }
    }
    out.push_back(part);
  }
  return out;
}

Bytes key_bytes(const crypto::Key& k) { return Bytes(k.data(), k.data() + k.size()); }

void check_split(const DeviceConfig& c, size_t max) {
  auto msgs = encode_set_device("wg0", kFamily, c, max);
  ASSERT_GT(msgs.size(), 1u);
  std::vector<PeerPart> parts;
  for (size_t i = 0; i < msgs.size(); ++i) {
    ASSERT_LE(msgs[i].size(), max);
    auto parsed = netlink::parse_messages(msgs[i]);
    ASSERT_EQ(parsed.size(), 1u);
    EXPECT_EQ(parsed[0].header.nlmsg_len, msgs[i].size());
    auto attrs = parsed[0].attributes(GENL_HDRLEN);
    EXPECT_EQ(netlink::find_attribute(attrs, WGDEVICE_A_IFNAME)->str(), "wg0");
    auto flags = netlink::find_attribute(attrs, WGDEVICE_A_FLAGS);
    auto priv = netlink::find_attribute(attrs, WGDEVICE_A_PRIVATE_KEY);
    if (i == 0) {
      ASSERT_TRUE(flags);
      EXPECT_EQ(flags->u32(), uint32_t{WGDEVICE_F_REPLACE_PEERS});
      EXPECT_TRUE(priv);
    } else {
      EXPECT_FALSE(flags) << "message " << i << " would replace the peers again";
      EXPECT_FALSE(priv);
      EXPECT_FALSE(netlink::find_attribute(attrs, WGDEVICE_A_LISTEN_PORT));
    }
    auto peers = netlink::find_attribute(attrs, WGDEVICE_A_PEERS);
    ASSERT_TRUE(peers);
    for (auto& p : peer_parts(*peers)) parts.push_back(std::move(p));
  }
  // Peers in order; each appears first with REPLACE_ALLOWEDIPS and its keys, and any
  // continuation (next message) only adds allowed IPs.
  size_t at = 0;
  for (const PeerConfig& peer : c.peers) {
    ASSERT_LT(at, parts.size());
    ASSERT_EQ(parts[at].key, key_bytes(peer.public_key));
    ASSERT_TRUE(parts[at].has_flags);
    EXPECT_EQ(parts[at].flags, uint32_t{WGPEER_F_REPLACE_ALLOWEDIPS});
    EXPECT_TRUE(parts[at].has_psk);
    std::vector<Cidr> allowed = parts[at].allowed;
    for (++at; at < parts.size() && parts[at].key == key_bytes(peer.public_key); ++at) {
      EXPECT_FALSE(parts[at].has_flags);
      EXPECT_FALSE(parts[at].has_psk);
      allowed.insert(allowed.end(), parts[at].allowed.begin(), parts[at].allowed.end());
    }
    EXPECT_EQ(allowed, peer.allowed_ips);
  }
  EXPECT_EQ(at, parts.size()) << "peers that are not in the configuration";
}

DeviceConfig big_config(size_t peers) {
  DeviceConfig c;
  c.private_key = key_of(0x11);
  c.listen_port = 51820;
  for (uint32_t i = 0; i < peers; ++i) {
    PeerConfig p;
    p.public_key = key_of_index(i);
    p.endpoint = Endpoint{IpAddress::v4(0xc0000200 + i % 250), static_cast<uint16_t>(1000 + i)};
    p.allowed_ips = {Cidr(IpAddress::v4(0x0a000000 + i), 32)};
    if (i % 3 == 0) p.allowed_ips.push_back(cidr("fd00::/64"));
    c.peers.push_back(p);
  }
  return c;
}

}  // namespace

TEST(KernelEncode, SplitsTwoThousandPeers) { check_split(big_config(2000), kMaxSetDeviceMessage); }

TEST(KernelEncode, SplitsAPeerWithManyAllowedIps) {
  DeviceConfig c = big_config(3);
  for (uint32_t i = 0; i < 1000; ++i)
    c.peers[1].allowed_ips.push_back(Cidr(IpAddress::v4(0x0b000000 + (i << 8)), 24));
  check_split(c, kMaxSetDeviceMessage);
  check_split(c, 512);  // many continuations
}

TEST(KernelEncode, EncodedConfigDecodesBack) {
  // SET and GET share the attribute layout, so the decoder (which merges continued peers)
  // reads a split SET back into the configuration.
  DeviceConfig c = big_config(300);
  for (uint32_t i = 0; i < 200; ++i)
    c.peers[7].allowed_ips.push_back(Cidr(IpAddress::v4(0x0c000000 + i), 32));
  auto msgs = encode_set_device("wg0", kFamily, c, 1024);
  Bytes all;
  for (const auto& m : msgs) all.insert(all.end(), m.begin(), m.end());
  DeviceStatus s = decode_get_device(all);
  ASSERT_EQ(s.peers.size(), c.peers.size());
  for (size_t i = 0; i < c.peers.size(); ++i) {
    EXPECT_EQ(s.peers[i].public_key, c.peers[i].public_key);
    EXPECT_EQ(s.peers[i].endpoint, c.peers[i].endpoint);
    EXPECT_EQ(s.peers[i].allowed_ips, c.peers[i].allowed_ips);
  }
}

namespace {

// One dump message's start: the device is named in every message of a GET dump.
void start_dump_message(netlink::MessageBuilder& m) {
  m.genl(WG_CMD_GET_DEVICE, 1);
  m.put_u32(WGDEVICE_A_IFINDEX, 7);
  m.put_string(WGDEVICE_A_IFNAME, "wg0");
}

// WGPEER_A_ALLOWEDIPS holding one element.
void put_allowed_ip(netlink::MessageBuilder& m, uint16_t family, const char* addr, uint8_t mask) {
  size_t ips = m.begin_nested(WGPEER_A_ALLOWEDIPS);
  size_t ip = m.begin_nested(0);
  m.put_u16(WGALLOWEDIP_A_FAMILY, family);
  m.put(WGALLOWEDIP_A_IPADDR, IpAddress::parse(addr)->bytes());
  m.put_u8(WGALLOWEDIP_A_CIDR_MASK, mask);
  m.end_nested(ip);
  m.end_nested(ips);
}

// A GET_DEVICE dump as the kernel writes it: peer B's allowed IPs continue in message 2.
Bytes get_dump() {
  netlink::MessageBuilder m1(kFamily, NLM_F_MULTI);
  start_dump_message(m1);
  m1.put(WGDEVICE_A_PRIVATE_KEY, key_of(0x11).span());
  m1.put(WGDEVICE_A_PUBLIC_KEY, key_of(0x12).span());
  m1.put_u16(WGDEVICE_A_LISTEN_PORT, 51820);
  m1.put_u32(WGDEVICE_A_FWMARK, 0);
  size_t peers = m1.begin_nested(WGDEVICE_A_PEERS);
  size_t peer = m1.begin_nested(0);  // A: every attribute the kernel reports
  m1.put(WGPEER_A_PUBLIC_KEY, key_of(0xaa).span());
  m1.put(WGPEER_A_PRESHARED_KEY, key_of(0).span());
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(51821);
  sa.sin_addr.s_addr = htonl(0xc0000201);
  m1.put_struct(WGPEER_A_ENDPOINT, sa);
  int64_t ts[2] = {1700000000, 123456789};
  m1.put_struct(WGPEER_A_LAST_HANDSHAKE_TIME, ts);
  m1.put_u64(WGPEER_A_RX_BYTES, 1000);
  m1.put_u64(WGPEER_A_TX_BYTES, 2000);
  m1.put_u16(WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
  put_allowed_ip(m1, AF_INET, "10.0.0.2", 32);
  m1.put_u32(WGPEER_A_PROTOCOL_VERSION, 1);
  m1.end_nested(peer);
  peer = m1.begin_nested(0);  // B, first part
  m1.put(WGPEER_A_PUBLIC_KEY, key_of(0xbb).span());
  sockaddr_in6 sa6{};
  sa6.sin6_family = AF_INET6;
  sa6.sin6_port = htons(443);
  sa6.sin6_addr.s6_addr[0] = 0xfd;
  sa6.sin6_addr.s6_addr[15] = 0x09;
  m1.put_struct(WGPEER_A_ENDPOINT, sa6);
  put_allowed_ip(m1, AF_INET6, "fd00::", 64);
  m1.end_nested(peer);
  m1.end_nested(peers);

  netlink::MessageBuilder m2(kFamily, NLM_F_MULTI);
  start_dump_message(m2);
  peers = m2.begin_nested(WGDEVICE_A_PEERS);
  peer = m2.begin_nested(0);  // B continued: public key and more allowed IPs only
  m2.put(WGPEER_A_PUBLIC_KEY, key_of(0xbb).span());
  put_allowed_ip(m2, AF_INET, "10.9.0.0", 16);
  m2.end_nested(peer);
  peer = m2.begin_nested(0);  // C: nothing but its key
  m2.put(WGPEER_A_PUBLIC_KEY, key_of(0xcc).span());
  m2.end_nested(peer);
  m2.end_nested(peers);
  return cat({m1.finish(), m2.finish()});
}

}  // namespace

TEST(KernelDecode, GetDumpOfTwoMessagesMergesPeers) {
  DeviceStatus s = decode_get_device(get_dump());
  ASSERT_TRUE(s.public_key);
  EXPECT_EQ(*s.public_key, key_of(0x12));
  EXPECT_EQ(s.listen_port, 51820);
  ASSERT_EQ(s.peers.size(), 3u);

  const PeerStatus& a = s.peers[0];
  EXPECT_EQ(a.public_key, key_of(0xaa));
  ASSERT_TRUE(a.endpoint);
  EXPECT_EQ(a.endpoint->address.str(), "192.0.2.1");
  EXPECT_EQ(a.endpoint->port, 51821);
  EXPECT_EQ(a.last_handshake_sec, 1700000000);
  EXPECT_EQ(a.last_handshake_nsec, 123456789);
  EXPECT_EQ(a.rx_bytes, 1000u);
  EXPECT_EQ(a.tx_bytes, 2000u);
  EXPECT_EQ(a.persistent_keepalive, 25);
  EXPECT_EQ(a.allowed_ips, std::vector<Cidr>{cidr("10.0.0.2/32")});

  const PeerStatus& b = s.peers[1];
  EXPECT_EQ(b.public_key, key_of(0xbb));
  ASSERT_TRUE(b.endpoint);
  EXPECT_EQ(b.endpoint->address.str(), "fd00::9");
  EXPECT_EQ(b.endpoint->port, 443);
  EXPECT_EQ(b.allowed_ips, (std::vector<Cidr>{cidr("fd00::/64"), cidr("10.9.0.0/16")}));

  EXPECT_EQ(s.peers[2].public_key, key_of(0xcc));
  EXPECT_FALSE(s.peers[2].endpoint);
  EXPECT_TRUE(s.peers[2].allowed_ips.empty());
}

TEST(KernelDecode, DamagedDumpsAreRefusedNeverOverread) {
  auto valid = get_dump();
  auto out = netlink::test::parse_damaged_copies(
      valid, [](const Bytes& b) { decode_get_device(b); }, 7);
  EXPECT_EQ(out.accepted_truncations, netlink::test::message_boundaries(valid));
  EXPECT_GT(out.corruptions_refused, 1000u) << "the corruptions never reach the error paths";
  EXPECT_GT(out.corruptions_accepted, 0u) << "every corruption refused: the harness is broken";
}

TEST(KernelDecode, RefusesWrongSizedKeysAndMasks) {
  netlink::MessageBuilder key(kFamily, NLM_F_MULTI);
  key.genl(WG_CMD_GET_DEVICE, 1);
  key.put(WGDEVICE_A_PUBLIC_KEY, rep(1, 31));
  EXPECT_THROW(decode_get_device(key.finish()), SystemError);

  netlink::MessageBuilder mask(kFamily, NLM_F_MULTI);
  start_dump_message(mask);
  size_t peers = mask.begin_nested(WGDEVICE_A_PEERS);
  size_t peer = mask.begin_nested(0);
  mask.put(WGPEER_A_PUBLIC_KEY, key_of(0xaa).span());
  put_allowed_ip(mask, AF_INET, "10.0.0.0", 33);
  mask.end_nested(peer);
  mask.end_nested(peers);
  EXPECT_THROW(decode_get_device(mask.finish()), SystemError);
}
