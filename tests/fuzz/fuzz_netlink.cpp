// Fuzzes the netlink reply parsers: message splitting and attributes (netlink/message.h) read the
// way rtnl (links) and genl (family ids) read them, and the wireguard GET_DEVICE dump decoder
// (netlink/wireguard.h). Checks: only SystemError, every span lies inside the input, and a
// decoded device encodes (SET_DEVICE) and decodes back to the same peers.
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "fuzz_util.h"
#include "netlink/message.h"
#include "netlink/wireguard.h"

using namespace wgnet;
using namespace wgnet::netlink;

namespace {

std::span<const uint8_t> g_input;

void check_inside(std::span<const uint8_t> s) {
  FUZZ_CHECK(s.empty() || (s.data() >= g_input.data() &&
                           s.data() + s.size() <= g_input.data() + g_input.size()));
}

// Every reader of every attribute, nested ones included (to a bounded depth).
void walk(const std::vector<Attribute>& attrs, int depth) {
  for (const Attribute& a : attrs) {
    check_inside(a.payload());
    FUZZ_CHECK(a.type() == (a.type() & NLA_TYPE_MASK));
    fuzz::accepted([&] { a.u8(); });
    fuzz::accepted([&] { a.u16(); });
    fuzz::accepted([&] { a.u32(); });
    fuzz::accepted([&] { a.u64(); });
    FUZZ_CHECK(a.str().size() <= a.payload().size());
    if (depth < 4) fuzz::accepted([&] { walk(a.nested(), depth + 1); });
  }
}

// What rtnl's link decoder and genl's family look-up read from a reply.
void read_like_rtnl_and_genl(const Message& m) {
  fuzz::accepted([&] {
    m.fixed<ifinfomsg>();
    for (const Attribute& a : m.attributes(sizeof(ifinfomsg))) {
      if (a.type() == IFLA_IFNAME || a.type() == IFLA_IFALIAS) a.str();
      if (a.type() == IFLA_MTU || a.type() == IFLA_TXQLEN) a.u32();
      if (a.type() == IFLA_LINKINFO)
        if (auto kind = find_attribute(a.nested(), IFLA_INFO_KIND)) kind->str();
    }
  });
  fuzz::accepted([&] {
    if (auto id = find_attribute(m.attributes(GENL_HDRLEN), CTRL_ATTR_FAMILY_ID)) id->u16();
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_input = {data, size};
  fuzz::accepted([&] {
    for (const Message& m : parse_messages(g_input)) {
      check_inside(m.bytes);
      check_inside(m.payload);
      FUZZ_CHECK(m.bytes.size() == m.header.nlmsg_len);
      for (size_t fixed : {size_t{0}, size_t{GENL_HDRLEN}, sizeof(ifinfomsg)})
        fuzz::accepted([&] { walk(m.attributes(fixed), 0); });
      read_like_rtnl_and_genl(m);
    }
  });
  fuzz::accepted([&] { walk(parse_attributes(g_input), 0); });

  wg::DeviceStatus status;
  if (!fuzz::accepted([&] { status = wireguard::decode_get_device(g_input); })) return 0;
  // Every peer costs at least a 36-byte key attribute.
  FUZZ_CHECK(status.peers.size() <= size / 36);
  for (const auto& p : status.peers)
    for (const Cidr& c : p.allowed_ips) FUZZ_CHECK(c.prefix() <= c.address().bits());

  // SET and GET share the attribute layout: the peers go back through the encoder unchanged.
  wg::DeviceConfig config;
  config.replace_peers = false;
  for (const auto& p : status.peers) {
    wg::PeerConfig c;
    c.public_key = p.public_key;
    c.endpoint = p.endpoint;
    c.persistent_keepalive = p.persistent_keepalive;
    c.allowed_ips = p.allowed_ips;
    config.peers.push_back(c);
  }
  std::vector<uint8_t> all;
  for (const auto& m : wireguard::encode_set_device("wg0", 0x15, config))
    all.insert(all.end(), m.begin(), m.end());
  g_input = all;
  const wg::DeviceStatus again = wireguard::decode_get_device(all);
  FUZZ_CHECK(again.peers.size() == status.peers.size());
  for (size_t i = 0; i < status.peers.size(); i++) {
    const auto &a = status.peers[i], &b = again.peers[i];
    FUZZ_CHECK(a.public_key == b.public_key && a.endpoint == b.endpoint &&
               a.persistent_keepalive == b.persistent_keepalive && a.allowed_ips == b.allowed_ips);
  }
  return 0;
}
