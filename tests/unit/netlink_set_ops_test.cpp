// encode_set_ops without a kernel: the WG_CMD_SET_DEVICE messages of an incremental change (what
// `wgnet hub sync` sends a kernel hub) byte for byte, worked out by hand from
// include/uapi/linux/wireguard.h; splitting of a large change; operations the family cannot say.
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>

#include <bit>
#include <cstring>
#include <set>

#include "netlink/message.h"
#include "netlink/wireguard.h"
#include "netlink_test_util.h"
#include "util/error.h"
#include "wgconf/peer_diff.h"

using namespace wgnet;
using namespace wgnet::wg;
using namespace wgnet::netlink::wireguard;
using Bytes = std::vector<uint8_t>;
using K = uapi::SetOp::Kind;

static_assert(std::endian::native == std::endian::little);

namespace {

constexpr uint16_t kFamily = 0x15;

using netlink::test::cat;
using netlink::test::key_of;
using netlink::test::key_of_index;
using netlink::test::rep;

uapi::SetOp op(K kind) { return uapi::SetOp{kind, {}, 0, {}, {}}; }
uapi::SetOp key_op(K kind, uint8_t fill) {
  auto o = op(kind);
  o.key = key_of(fill);
  return o;
}
uapi::SetOp ip_op(const char* cidr) {
  auto o = op(K::kAllowedIp);
  o.prefix = *Cidr::parse(cidr);
  return o;
}

// The header of a SET_DEVICE message of `len` bytes for "wg0", up to its first attribute.
Bytes head(uint16_t len) {
  return {static_cast<uint8_t>(len),
          static_cast<uint8_t>(len >> 8),
          0x00,
          0x00,  // nlmsg_len
          0x15,
          0x00,  // family id
          0x05,
          0x00,  // NLM_F_REQUEST | NLM_F_ACK
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0,  // seq, pid
          0x01,
          0x01,
          0x00,
          0x00,  // WG_CMD_SET_DEVICE, version 1
          0x08,
          0x00,
          0x02,
          0x00,
          'w',
          'g',
          '0',
          0x00};  // WGDEVICE_A_IFNAME "wg0"
}

}  // namespace

// Remove one peer, update another (update_only, new allowed IP, PSK cleared), add a third with a
// PSK: no device attribute at all, and each peer says only what the operations say.
TEST(KernelEncodeOps, PeerChangesAreByteExact) {
  std::vector<uapi::SetOp> ops = {
      key_op(K::kPublicKey, 0x11),    op(K::kRemove),
      key_op(K::kPublicKey, 0x22),    op(K::kUpdateOnly),
      key_op(K::kPresharedKey, 0x00), op(K::kReplaceAllowedIps),
      ip_op("10.0.42.7/32"),          key_op(K::kPublicKey, 0x33),
      key_op(K::kPresharedKey, 0x44), op(K::kReplaceAllowedIps),
      ip_op("10.0.42.8/32"),
  };
  const Bytes expected = cat({
      head(312),
      {
          0x1c, 0x01, 0x08, 0x80,  // WGDEVICE_A_PEERS | NLA_F_NESTED, len 284
          0x30, 0x00, 0x00, 0x80,  //   peer 0x11, len 48
          0x24, 0x00, 0x01, 0x00,  //     WGPEER_A_PUBLIC_KEY
      },
      rep(0x11, 32),
      {
          0x08, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,  //     FLAGS REMOVE_ME; no ALLOWEDIPS
          0x74, 0x00, 0x00, 0x80,                          //   peer 0x22, len 116
          0x24, 0x00, 0x01, 0x00,                          //     WGPEER_A_PUBLIC_KEY
      },
      rep(0x22, 32),
      {
          0x08, 0x00, 0x03, 0x00, 0x06, 0x00, 0x00,
          0x00,                    //     FLAGS UPDATE_ONLY|REPLACE_ALLOWEDIPS
          0x24, 0x00, 0x02, 0x00,  //     WGPEER_A_PRESHARED_KEY: zeros clear it
      },
      rep(0x00, 32),
      {
          0x20, 0x00, 0x09, 0x80,  //     WGPEER_A_ALLOWEDIPS | NLA_F_NESTED, len 32
          0x1c, 0x00, 0x00, 0x80,  //       element, len 28
          0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,  //         FAMILY AF_INET
          0x08, 0x00, 0x02, 0x00, 10,   0,    42,   7,     //         IPADDR 10.0.42.7
          0x05, 0x00, 0x03, 0x00, 32,   0x00, 0x00, 0x00,  //         CIDR_MASK 32
          0x74, 0x00, 0x00, 0x80,                          //   peer 0x33, len 116
          0x24, 0x00, 0x01, 0x00,                          //     WGPEER_A_PUBLIC_KEY
      },
      rep(0x33, 32),
      {
          0x08, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00,  //     FLAGS REPLACE_ALLOWEDIPS
          0x24, 0x00, 0x02, 0x00,                          //     WGPEER_A_PRESHARED_KEY
      },
      rep(0x44, 32),
      {
          0x20, 0x00, 0x09, 0x80, 0x1c, 0x00, 0x00, 0x80,  //     ALLOWEDIPS, element
          0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,  //         FAMILY AF_INET
          0x08, 0x00, 0x02, 0x00, 10,   0,    42,   8,     //         IPADDR 10.0.42.8
          0x05, 0x00, 0x03, 0x00, 32,   0x00, 0x00, 0x00,  //         CIDR_MASK 32
      },
  });
  ASSERT_EQ(expected.size(), 312u);
  auto msgs = encode_set_ops("wg0", kFamily, ops);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], expected);
}

// Device operations (before the first peer) go into the first message's device attributes.
TEST(KernelEncodeOps, DeviceOperationsAreByteExact) {
  auto port = op(K::kListenPort);
  port.number = 51820;
  auto mark = op(K::kFwmark);
  mark.number = 7;
  std::vector<uapi::SetOp> ops = {port, mark, op(K::kReplacePeers)};
  const Bytes expected = cat({
      head(52),
      {
          0x06, 0x00, 0x06, 0x00, 0x6c, 0xca, 0x00, 0x00,  // LISTEN_PORT 51820
          0x08, 0x00, 0x07, 0x00, 0x07, 0x00, 0x00, 0x00,  // FWMARK 7
          0x08, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00,  // FLAGS REPLACE_PEERS
      },
  });
  auto msgs = encode_set_ops("wg0", kFamily, ops);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], expected);
}

// An empty change is one message naming the device and nothing else (the kernel accepts it).
TEST(KernelEncodeOps, NoOperationsIsTheBareMessage) {
  auto msgs = encode_set_ops("wg0", kFamily, {});
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], head(28));
}

// A /16's worth of additions spans many messages, each within the limit, each peer whole where it
// fits, flags only where a peer first appears; decoding them back gives every peer once.
TEST(KernelEncodeOps, LargeChangesSplitAtPeerBoundaries) {
  std::vector<PeerConfig> add;
  for (uint32_t i = 0; i < 3000; ++i) {
    PeerConfig p;
    p.public_key = key_of_index(i);
    p.allowed_ips = {Cidr(IpAddress::v4(0x0a010000 + i), 32)};
    add.push_back(p);
  }
  PeerDiff diff;
  diff.add = add;
  auto msgs = encode_set_ops("wg0", kFamily, diff_ops(diff));
  ASSERT_GT(msgs.size(), 40u);
  std::set<std::string> seen;
  size_t continuations = 0;
  for (const auto& m : msgs) {
    EXPECT_LE(m.size(), kMaxSetDeviceMessage);
    for (const auto& msg : netlink::parse_messages(m))
      for (const auto& a : msg.attributes(GENL_HDRLEN)) {
        if (a.type() != WGDEVICE_A_PEERS) {
          EXPECT_EQ(a.type(), WGDEVICE_A_IFNAME) << "a device attribute in a peer-only change";
          continue;
        }
        for (const auto& p : a.nested()) {
          auto attrs = p.nested();
          auto key = netlink::find_attribute(attrs, WGPEER_A_PUBLIC_KEY);
          ASSERT_TRUE(key);
          auto flags = netlink::find_attribute(attrs, WGPEER_A_FLAGS);
          std::string k(key->payload().begin(), key->payload().end());
          if (seen.insert(k).second) {
            ASSERT_TRUE(flags) << "a peer's first part carries its flags";
            EXPECT_EQ(flags->u32(), static_cast<uint32_t>(WGPEER_F_REPLACE_ALLOWEDIPS));
          } else {
            // Its allowed IP did not fit after its head: the next message continues it, flagless.
            EXPECT_FALSE(flags);
            continuations++;
          }
        }
      }
  }
  EXPECT_EQ(seen.size(), add.size());
  EXPECT_LT(continuations, msgs.size());
}

TEST(KernelEncodeOps, RefusesWhatTheFamilyCannotSay) {
  auto remove_ip = op(K::kRemoveAllowedIp);
  remove_ip.prefix = *Cidr::parse("10.0.0.1/32");
  EXPECT_THROW(encode_set_ops("wg0", kFamily, {key_op(K::kPublicKey, 1), remove_ip}), InputError);
  EXPECT_THROW(encode_set_ops("wg0", kFamily, {op(K::kRemove)}), InputError);  // no peer yet
  EXPECT_THROW(encode_set_ops("wg0", kFamily, {key_op(K::kPublicKey, 1), op(K::kReplacePeers)}),
               InputError);  // a device setting after a peer
  EXPECT_THROW(encode_set_ops("name-longer-than-15", kFamily, {}), InputError);
}
