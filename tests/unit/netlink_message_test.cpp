// Netlink builder and parser: byte-exact rtnetlink/genl requests and a parser that refuses
// malformed buffers (truncated, garbage) with SystemError instead of reading past them.
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <random>

#include "netlink/genl.h"
#include "netlink/message.h"
#include "netlink/rtnl.h"
#include "netlink/socket.h"
#include "netlink_test_util.h"
#include "util/error.h"

using namespace wgnet;
using namespace wgnet::netlink;
using Bytes = std::vector<uint8_t>;

// The expected bytes below assume a little-endian host (netlink integers are host order).
static_assert(std::endian::native == std::endian::little);

TEST(NetlinkBuilder, CreateWireguardLinkIsByteExact) {
  const Bytes expected = {
      // nlmsghdr
      0x3c, 0x00, 0x00, 0x00,  // nlmsg_len 60
      0x10, 0x00,              // RTM_NEWLINK (16)
      0x05, 0x06,  // NLM_F_REQUEST 0x1 | NLM_F_ACK 0x4 | NLM_F_EXCL 0x200 | NLM_F_CREATE 0x400
      0x00, 0x00, 0x00, 0x00,  // seq: stamped by the socket
      0x00, 0x00, 0x00, 0x00,  // pid
      // ifinfomsg: family AF_UNSPEC, pad, type, index 0 (by name), flags, change
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //
      // IFLA_IFNAME (3), len 8: "wg0\0"
      0x08, 0x00, 0x03, 0x00, 'w', 'g', '0', 0x00,
      // IFLA_LINKINFO (18) | NLA_F_NESTED, len 20
      0x14, 0x00, 0x12, 0x80,
      //   IFLA_INFO_KIND (1), len 14: "wireguard\0", then 2 bytes of padding
      0x0e, 0x00, 0x01, 0x00, 'w', 'i', 'r', 'e', 'g', 'u', 'a', 'r', 'd', 0x00, 0x00, 0x00};
  EXPECT_EQ(rtnl::encode_create_link("wg0", "wireguard"), expected);
}

TEST(NetlinkBuilder, GetFamilyIsByteExact) {
  const Bytes expected = {
      0x24, 0x00, 0x00, 0x00,                          // nlmsg_len 36
      0x10, 0x00,                                      // GENL_ID_CTRL (16)
      0x05, 0x00,                                      // NLM_F_REQUEST | NLM_F_ACK
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq, pid
      0x03, 0x01, 0x00, 0x00,  // genlmsghdr: CTRL_CMD_GETFAMILY (3), version 1, reserved
      // CTRL_ATTR_FAMILY_NAME (2), len 14: "wireguard\0" + 2 padding bytes
      0x0e, 0x00, 0x02, 0x00, 'w', 'i', 'r', 'e', 'g', 'u', 'a', 'r', 'd', 0x00, 0x00, 0x00};
  EXPECT_EQ(genl::encode_get_family("wireguard"), expected);
}

TEST(NetlinkBuilder, RouteGetIsByteExact) {
  const Bytes expected = {
      0x24, 0x00, 0x00, 0x00,                          // nlmsg_len 36
      0x1a, 0x00,                                      // RTM_GETROUTE (26)
      0x05, 0x00,                                      // NLM_F_REQUEST | NLM_F_ACK
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq, pid
      // rtmsg: AF_INET, dst_len 32, src_len, tos, table, protocol, scope, type, flags
      0x02, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      // RTA_DST (1), len 8: 198.18.5.2
      0x08, 0x00, 0x01, 0x00, 198, 18, 5, 2};
  EXPECT_EQ(rtnl::encode_route_get(*IpAddress::parse("198.18.5.2")), expected);
}

TEST(NetlinkParser, RouteReplyGivesOutputLinkAndMtu) {
  auto reply = [](bool with_mtu) {
    MessageBuilder b(RTM_NEWROUTE, 0);
    rtmsg r{};
    r.rtm_family = AF_INET;
    b.fixed(r);
    b.put_u32(RTA_OIF, 7);
    if (with_mtu) {
      size_t metrics = b.begin_nested(RTA_METRICS);
      b.put_u32(RTAX_MTU, 1400);
      b.end_nested(metrics);
    }
    return b.finish();
  };
  auto plain = rtnl::decode_route_get(reply(false));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->oif, 7);
  EXPECT_EQ(plain->mtu, 0u);
  auto with_mtu = rtnl::decode_route_get(reply(true));
  ASSERT_TRUE(with_mtu);
  EXPECT_EQ(with_mtu->mtu, 1400u);
  EXPECT_FALSE(rtnl::decode_route_get({}));
}

TEST(NetlinkBuilder, IntegersNestsAndTruncate) {
  MessageBuilder b(0x20, NLM_F_REQUEST);
  b.put_u8(1, 0xab);
  size_t nest = b.begin_nested(2);
  b.put_u64(3, 0x0102030405060708ull);
  size_t mark = b.size();
  b.put_u16(4, 0xbeef);
  b.truncate(mark);  // the u16 attribute is undone
  b.end_nested(nest);
  const Bytes expected = {
      0x28, 0x00, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00,  // len 40, type 0x20, NLM_F_REQUEST
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // seq, pid
      0x05, 0x00, 0x01, 0x00, 0xab, 0x00, 0x00, 0x00,  // u8 attribute 1, len 5, padded
      0x10, 0x00, 0x02, 0x80,                          // nest 2, len 16
      0x0c, 0x00, 0x03, 0x00,                          //   u64 attribute 3, len 12
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(b.finish(), expected);
}

TEST(NetlinkBuilder, RejectsBadInterfaceNames) {
  for (const char* bad : {"", "sixteen-bytes-xx", "a/b", "a b", "a:b", ".", ".."})
    EXPECT_THROW(rtnl::encode_create_link(bad, "dummy"), InputError) << bad;
  EXPECT_NO_THROW(rtnl::encode_create_link("fifteen-bytes-x", "dummy"));
}

namespace {

// Two messages: a link (type 16) with an MTU and a nested kind, then one with a string only.
Bytes two_messages() {
  MessageBuilder a(RTM_NEWLINK, NLM_F_MULTI);
  a.fixed(ifinfomsg{});
  a.put_string(IFLA_IFNAME, "veth0");
  a.put_u32(IFLA_MTU, 1400);
  size_t info = a.begin_nested(IFLA_LINKINFO);
  a.put_string(IFLA_INFO_KIND, "veth");
  a.end_nested(info);
  MessageBuilder b(RTM_NEWLINK, NLM_F_MULTI);
  b.fixed(ifinfomsg{});
  b.put_string(IFLA_IFNAME, "lo");
  Bytes out = a.finish();
  Bytes second = b.finish();
  out.insert(out.end(), second.begin(), second.end());
  return out;
}

// Walks everything the parser can reach, so a bad length anywhere is found.
void walk(std::span<const uint8_t> buf) {
  for (const Message& m : parse_messages(buf))
    for (const Attribute& a : m.attributes(sizeof(ifinfomsg)))
      if (a.type() == IFLA_LINKINFO)
        for (const Attribute& n : a.nested()) (void)n.str();
}

}  // namespace

TEST(NetlinkParser, ParsesMessagesAttributesAndNests) {
  Bytes buf = two_messages();
  auto msgs = parse_messages(buf);
  ASSERT_EQ(msgs.size(), 2u);
  auto attrs = msgs[0].attributes(sizeof(ifinfomsg));
  ASSERT_EQ(attrs.size(), 3u);
  EXPECT_EQ(attrs[0].str(), "veth0");
  EXPECT_EQ(attrs[1].u32(), 1400u);
  auto kind = find_attribute(attrs[2].nested(), IFLA_INFO_KIND);
  ASSERT_TRUE(kind);
  EXPECT_EQ(kind->str(), "veth");
  EXPECT_FALSE(find_attribute(attrs, IFLA_ADDRESS));
  EXPECT_EQ(find_attribute(msgs[1].attributes(sizeof(ifinfomsg)), IFLA_IFNAME)->str(), "lo");
}

TEST(NetlinkParser, WrongSizedReadsThrow) {
  Bytes buf = two_messages();
  auto attrs = parse_messages(buf)[0].attributes(sizeof(ifinfomsg));
  EXPECT_THROW(attrs[1].u16(), SystemError);  // a u32 attribute
  EXPECT_THROW(attrs[1].u64(), SystemError);
  Bytes header_only(buf.begin(), buf.begin() + 16);
  header_only[0] = 16;  // nlmsg_len = just the header: no room for ifinfomsg
  header_only[1] = header_only[2] = header_only[3] = 0;
  auto m = parse_messages(header_only);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_THROW(m[0].fixed<ifinfomsg>(), SystemError);
  EXPECT_THROW(m[0].attributes(sizeof(ifinfomsg)), SystemError);
}

TEST(NetlinkParser, BadLengthsThrow) {
  // nlmsg_len smaller than the header.
  Bytes small = {0x08, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_THROW(parse_messages(small), SystemError);
  // nlmsg_len beyond the buffer.
  Bytes big = {0x40, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_THROW(parse_messages(big), SystemError);
  // Attribute lengths: below the 4-byte header, beyond the buffer, trailing bytes.
  EXPECT_THROW(parse_attributes(Bytes{0x03, 0x00, 0x01, 0x00}), SystemError);
  EXPECT_THROW(parse_attributes(Bytes{0x09, 0x00, 0x01, 0x00, 1, 2, 3, 4}), SystemError);
  EXPECT_THROW(parse_attributes(Bytes{0x04, 0x00, 0x01, 0x00, 0xff}), SystemError);
  // The last attribute's padding may be missing.
  EXPECT_EQ(parse_attributes(Bytes{0x05, 0x00, 0x01, 0x00, 0x2a}).at(0).u8(), 0x2a);
  EXPECT_TRUE(parse_messages({}).empty());
}

TEST(NetlinkParser, DamagedBuffersAreRefusedNeverOverread) {
  auto valid = two_messages();
  auto out = test::parse_damaged_copies(valid, walk, 42);
  // A truncated buffer parses only when it ends between whole messages.
  EXPECT_EQ(out.accepted_truncations, test::message_boundaries(valid));
  EXPECT_EQ(out.truncations_refused, valid.size() - out.accepted_truncations.size());
  EXPECT_GT(out.corruptions_refused, 1000u) << "the corruptions never reach the error paths";
}

TEST(NetlinkParser, RandomBytesAreRefusedNeverOverread) {
  std::mt19937 rng(42);
  size_t refused = 0, empty = 0;
  for (int i = 0; i < 10000; ++i) {
    Bytes buf(rng() % 96);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    if (buf.empty()) empty++;
    try {
      walk(buf);
    } catch (const SystemError&) {
      refused++;
    }
  }
  // Random lengths almost never add up: all but the empty buffers (and a rare lucky one) fail.
  EXPECT_GT(refused + empty, 9900u);
}

TEST(NetlinkError, KeepsErrno) {
  try {
    throw NetlinkError(ENODEV, "delete link x: No such device");
  } catch (const SystemError& e) {
    auto* nl = dynamic_cast<const NetlinkError*>(&e);
    ASSERT_NE(nl, nullptr);
    EXPECT_EQ(nl->error_number(), ENODEV);
    EXPECT_STREQ(e.what(), "delete link x: No such device");
  }
}

TEST(NetlinkBuffers, AppendWipingGrowsAndKeepsContent) {
  Bytes buf;
  Bytes chunk(100, 0x5a);
  for (int i = 0; i < 50; ++i) append_wiping(buf, chunk);
  ASSERT_EQ(buf.size(), 5000u);
  EXPECT_EQ(std::count(buf.begin(), buf.end(), 0x5a), 5000);
  crypto::wipe(buf);
  EXPECT_EQ(std::count(buf.begin(), buf.end(), 0), 5000) << "wipe leaves zeros";
}
