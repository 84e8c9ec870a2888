// rtnetlink link requests. Links are addressed by name (ifi_index 0 + IFLA_IFNAME), which the
// kernel resolves itself, so no index can go stale between a look-up and the request.
#include "netlink/rtnl.h"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

#include "netlink/message.h"
#include "netlink/socket.h"

namespace wgnet::netlink::rtnl {

namespace {

MessageBuilder link_request(uint16_t type, uint16_t flags, std::string_view name,
                            const ifinfomsg& info = {}) {
  check_ifname(name);
  MessageBuilder b(type, NLM_F_REQUEST | NLM_F_ACK | flags);
  b.fixed(info);
  b.put_string(IFLA_IFNAME, name);
  return b;
}

// Sends a change to an existing link; `what` names it in errors.
void change_link(MessageBuilder b, const std::string& what) {
  auto msg = b.finish();
  Socket(NETLINK_ROUTE).request(msg, what);
}

Link decode_link(const Message& m) {
  Link link;
  auto info = m.fixed<ifinfomsg>();
  link.index = info.ifi_index;
  link.up = (info.ifi_flags & IFF_UP) != 0;
  for (const Attribute& a : m.attributes(sizeof(ifinfomsg))) {
    switch (a.type()) {
      case IFLA_IFNAME:
        link.name = a.str();
        break;
      case IFLA_MTU:
        link.mtu = a.u32();
        break;
      case IFLA_IFALIAS:
        link.alias = a.str();
        break;
      case IFLA_TXQLEN:
        link.txqueuelen = a.u32();
        break;
      case IFLA_LINKINFO:
        if (auto kind = find_attribute(a.nested(), IFLA_INFO_KIND)) link.kind = kind->str();
        break;
      default:
        break;
    }
  }
  return link;
}

// Sends an RTM_GETLINK request; the link it answers with, nullopt when there is none (ENODEV).
std::optional<Link> get_link(MessageBuilder b, const std::string& what) {
  auto msg = b.finish();
  std::vector<uint8_t> reply;
  try {
    reply = Socket(NETLINK_ROUTE).request(msg, what);
  } catch (const NetlinkError& e) {
    if (e.error_number() == ENODEV) return std::nullopt;
    throw;
  }
  for (const Message& m : parse_messages(reply))
    if (m.header.nlmsg_type == RTM_NEWLINK) return decode_link(m);
  return std::nullopt;
}

// The index of link `name`, for requests that must address it by index; ENODEV names `what`.
int require_index(std::string_view name, const std::string& what) {
  auto index = ifindex(name);
  if (!index) throw NetlinkError(ENODEV, what + ": no such link " + std::string(name));
  return *index;
}

}  // namespace

std::vector<uint8_t> encode_create_link(std::string_view name, std::string_view kind) {
  auto b = link_request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, name);
  size_t info = b.begin_nested(IFLA_LINKINFO);
  b.put_string(IFLA_INFO_KIND, kind);
  b.end_nested(info);
  return b.finish();
}

void create_link(std::string_view name, std::string_view kind) {
  auto msg = encode_create_link(name, kind);
  Socket(NETLINK_ROUTE)
      .request(msg, "create link " + std::string(name) + " of kind " + std::string(kind));
}

bool delete_link(std::string_view name) {
  try {
    change_link(link_request(RTM_DELLINK, 0, name), "delete link " + std::string(name));
    return true;
  } catch (const NetlinkError& e) {
    if (e.error_number() == ENODEV) return false;
    throw;
  }
}

void set_mtu(std::string_view name, uint32_t mtu) {
  auto b = link_request(RTM_NEWLINK, 0, name);
  b.put_u32(IFLA_MTU, mtu);
  change_link(std::move(b), "set MTU " + std::to_string(mtu) + " on link " + std::string(name));
}

void set_up(std::string_view name, bool up) {
  ifinfomsg info{};
  info.ifi_flags = up ? IFF_UP : 0;
  info.ifi_change = IFF_UP;  // only this flag changes
  change_link(link_request(RTM_NEWLINK, 0, name, info),
              std::string("set link ") + std::string(name) + (up ? " up" : " down"));
}

void set_alias(std::string_view name, std::string_view alias) {
  // The kernel keeps at most IFALIASZ (256) bytes with the NUL.
  if (alias.size() > 254 || alias.find('\0') != std::string_view::npos)
    throw InputError("invalid interface alias: expected at most 254 bytes without NUL");
  auto b = link_request(RTM_NEWLINK, 0, name);
  if (alias.empty())
    b.put(IFLA_IFALIAS, {});  // an empty attribute removes the alias
  else
    b.put_string(IFLA_IFALIAS, alias);
  change_link(std::move(b), "set alias of link " + std::string(name));
}

std::optional<Link> find_link_by_alias(std::string_view alias) {
  for (Link& link : list_links())
    if (!alias.empty() && link.alias == alias) return std::move(link);
  return std::nullopt;
}

void set_txqueuelen(std::string_view name, uint32_t length) {
  auto b = link_request(RTM_NEWLINK, 0, name);
  b.put_u32(IFLA_TXQLEN, length);
  change_link(std::move(b),
              "set txqueuelen " + std::to_string(length) + " on link " + std::string(name));
}

std::optional<Link> find_link(std::string_view name) {
  return get_link(link_request(RTM_GETLINK, 0, name), "look up link " + std::string(name));
}

std::optional<Link> find_link_by_index(int index) {
  ifinfomsg info{};
  info.ifi_index = index;
  MessageBuilder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
  b.fixed(info);
  return get_link(std::move(b), "look up link " + std::to_string(index));
}

std::optional<int> ifindex(std::string_view name) {
  auto link = find_link(name);
  if (!link) return std::nullopt;
  return link->index;
}

std::vector<Link> list_links() {
  MessageBuilder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
  b.fixed(ifinfomsg{});
  auto msg = b.finish();
  auto reply = Socket(NETLINK_ROUTE).dump(msg, "list links");
  std::vector<Link> links;
  for (const Message& m : parse_messages(reply))
    if (m.header.nlmsg_type == RTM_NEWLINK) links.push_back(decode_link(m));
  return links;
}

void move_link(std::string_view name, int netns_fd, std::string_view new_name) {
  check_ifname(new_name);
  // Addressed by index here: IFLA_IFNAME carries the new name.
  ifinfomsg info{};
  info.ifi_index = require_index(name, "move link");
  MessageBuilder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
  b.fixed(info);
  b.put_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  b.put_string(IFLA_IFNAME, new_name);
  change_link(std::move(b), "move link " + std::string(name) + " to another namespace as " +
                                std::string(new_name));
}

void add_address(std::string_view name, const Cidr& address) {
  ifaddrmsg a{};
  a.ifa_family = address.address().is_v4() ? AF_INET : AF_INET6;
  a.ifa_prefixlen = static_cast<uint8_t>(address.prefix());
  a.ifa_index = static_cast<uint32_t>(require_index(name, "add address " + address.str()));
  MessageBuilder b(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  b.fixed(a);
  b.put(IFA_LOCAL, address.address().bytes());
  b.put(IFA_ADDRESS, address.address().bytes());
  change_link(std::move(b), "add address " + address.str() + " to " + std::string(name));
}

void add_route(std::string_view name, const Cidr& destination) {
  int index = require_index(name, "add route " + destination.str());
  rtmsg r{};
  r.rtm_family = destination.address().is_v4() ? AF_INET : AF_INET6;
  r.rtm_dst_len = static_cast<uint8_t>(destination.prefix());
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = RT_SCOPE_LINK;
  r.rtm_type = RTN_UNICAST;
  MessageBuilder b(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  b.fixed(r);
  if (destination.prefix() > 0) b.put(RTA_DST, destination.network().bytes());
  b.put_u32(RTA_OIF, static_cast<uint32_t>(index));
  change_link(std::move(b), "add route " + destination.str() + " via " + std::string(name));
}

std::vector<uint8_t> encode_route_get(const IpAddress& destination) {
  rtmsg r{};
  r.rtm_family = destination.is_v4() ? AF_INET : AF_INET6;
  r.rtm_dst_len = static_cast<uint8_t>(destination.bits());
  MessageBuilder b(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK);
  b.fixed(r);
  b.put(RTA_DST, destination.bytes());
  return b.finish();
}

std::optional<RouteInfo> decode_route_get(std::span<const uint8_t> reply) {
  for (const Message& m : parse_messages(reply)) {
    if (m.header.nlmsg_type != RTM_NEWROUTE) continue;
    RouteInfo route;
    for (const Attribute& a : m.attributes(sizeof(rtmsg))) {
      if (a.type() == RTA_OIF) {
        route.oif = static_cast<int>(a.u32());
      } else if (a.type() == RTA_METRICS) {
        if (auto mtu = find_attribute(a.nested(), RTAX_MTU)) route.mtu = mtu->u32();
      }
    }
    return route;
  }
  return std::nullopt;
}

std::optional<RouteInfo> route_get(const IpAddress& destination) {
  auto msg = encode_route_get(destination);
  std::vector<uint8_t> reply;
  try {
    reply = Socket(NETLINK_ROUTE).request(msg, "look up the route to " + destination.str());
  } catch (const NetlinkError& e) {
    if (e.error_number() == ENETUNREACH || e.error_number() == EHOSTUNREACH) return std::nullopt;
    throw;
  }
  return decode_route_get(reply);
}

std::optional<uint32_t> path_mtu(const IpAddress& destination) {
  auto route = route_get(destination);
  if (!route) return std::nullopt;
  if (route->mtu != 0) return route->mtu;
  auto link = find_link_by_index(route->oif);
  if (!link || link->mtu == 0) return std::nullopt;
  return link->mtu;
}

}  // namespace wgnet::netlink::rtnl
