// rtnetlink link operations (create, delete, MTU, up/down, look-up, list) in the network
// namespace that is current when they are called.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/ifname.h"
#include "util/ip.h"

namespace wgnet::netlink::rtnl {

struct Link {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND ("wireguard", "veth", ...); empty for e.g. lo
  uint32_t mtu = 0;
  bool up = false;          // administratively up (IFF_UP)
  std::string alias;        // IFLA_IFALIAS; survives renames and moves between namespaces
  uint32_t txqueuelen = 0;  // IFLA_TXQLEN
};

// The one interface-name check (util/ifname.h), under the name rtnl's callers know.
using wgnet::check_ifname;

// The RTM_NEWLINK request create_link() sends (pure; exposed for tests).
std::vector<uint8_t> encode_create_link(std::string_view name, std::string_view kind);

// Creates link `name` of `kind`; fails with NetlinkError EEXIST if the name is taken and
// EOPNOTSUPP if the kernel knows no such kind.
void create_link(std::string_view name, std::string_view kind);
// Deletes link `name`; false when it was already gone.
bool delete_link(std::string_view name);
void set_mtu(std::string_view name, uint32_t mtu);
void set_up(std::string_view name, bool up);
std::optional<int> ifindex(std::string_view name);
std::optional<Link> find_link(std::string_view name);
// The link of that index, when there is one (one request, not a dump).
std::optional<Link> find_link_by_index(int index);
std::vector<Link> list_links();

// Sets the alias (IFLA_IFALIAS, at most 254 bytes, no NUL) of link `name`; "" removes it.
void set_alias(std::string_view name, std::string_view alias);
// The first link whose alias is `alias`, in the current namespace.
std::optional<Link> find_link_by_alias(std::string_view alias);
// Sets the transmit queue length of link `name` (for a TUN: packets waiting to be read).
void set_txqueuelen(std::string_view name, uint32_t length);

// Moves link `name` into the network namespace of `netns_fd`, renamed `new_name` on the way.
void move_link(std::string_view name, int netns_fd, std::string_view new_name);
// Adds `address` (its prefix length included) to link `name`.
void add_address(std::string_view name, const Cidr& address);
// Adds (or replaces) a connected route to `destination` through link `name`: no gateway.
void add_route(std::string_view name, const Cidr& destination);

// The route the kernel would use now to reach `destination`, as `ip route get` shows it.
struct RouteInfo {
  int oif = 0;       // output link's index
  uint32_t mtu = 0;  // the route's own MTU (RTAX_MTU), 0 when it has none
};
// The RTM_GETROUTE request route_get() sends (pure; exposed for tests).
std::vector<uint8_t> encode_route_get(const IpAddress& destination);
// The route in a reply to that request; nullopt when the reply holds none (pure).
std::optional<RouteInfo> decode_route_get(std::span<const uint8_t> reply);
// nullopt when there is no route (ENETUNREACH, EHOSTUNREACH).
std::optional<RouteInfo> route_get(const IpAddress& destination);
// The MTU of the path to `destination` as the kernel sends now: the route's MTU, else its output
// link's; nullopt when there is no route.
std::optional<uint32_t> path_mtu(const IpAddress& destination);

}  // namespace wgnet::netlink::rtnl
