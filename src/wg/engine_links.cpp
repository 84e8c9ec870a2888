#include "wg/engine_links.h"

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>
#include <string_view>

#include "netlink/rtnl.h"
#include "util/fd.h"
#include "util/log.h"
#include "util/netns.h"
#include "util/number.h"

namespace wgnet::wg::engine_links {

namespace rtnl = netlink::rtnl;

namespace {

// Runs `fn` in `netns` (a namespace file), or here when it is empty.
template <typename F>
void in_netns(const std::string& netns, F&& fn) {
  if (netns.empty())
    fn();
  else
    netns::run_in(netns, fn);
}

}  // namespace

engine::TunOptions tun_options(const std::string& ifname, uint32_t mtu,
                               std::optional<uid_t> owner) {
  engine::TunOptions o;
  o.name = ifname;
  o.mtu = mtu;
  o.persist = true;
  o.owner = owner;
  o.alias = ifname;
  return o;
}

std::optional<uint16_t> port_of(const std::string& handle) {
  if (!handle.starts_with("port=")) return std::nullopt;
  const auto p = parse_uint(std::string_view(handle).substr(5), 65535);
  if (!p || *p == 0) return std::nullopt;
  return static_cast<uint16_t>(*p);
}

std::unique_ptr<engine::TunLinux> reattach(const std::string& ifname, const std::string& netns,
                                           std::optional<uid_t> owner) {
  std::unique_ptr<engine::TunLinux> tun;
  in_netns(netns,
           [&] { tun = engine::TunLinux::attach_by_alias(ifname, tun_options(ifname, 0, owner)); });
  return tun;
}

std::optional<std::string> tun_name(int tun_fd) {
  ifreq ifr{};
  if (::ioctl(tun_fd, TUNGETIFF, &ifr) != 0) return std::nullopt;
  return std::string(ifr.ifr_name, ::strnlen(ifr.ifr_name, sizeof ifr.ifr_name));
}

bool is_device(int tun_fd, const std::string& ifname, const std::string& netns) {
  const std::optional<std::string> name = tun_name(tun_fd);
  if (!name) return false;
  const Fd ns(::ioctl(tun_fd, TUNGETDEVNETNS));
  const auto its = ns ? netns::id_of(ns.get()) : std::nullopt;
  std::optional<netns::NsId> want;
  std::optional<rtnl::Link> link;
  in_netns(netns, [&] {
    want = netns::id_of_this_thread();
    link = rtnl::find_link_by_alias(ifname);
  });
  return its && want && *its == *want && link && link->name == *name;
}

void set_mtu(const std::string& ifname, const std::string& netns, uint32_t mtu) {
  in_netns(netns, [&] {
    if (auto link = rtnl::find_link_by_alias(ifname)) rtnl::set_mtu(link->name, mtu);
  });
}

void delete_link(const std::string& ifname, const std::string& netns) {
  try {
    in_netns(netns, [&] {
      // Only a TUN that carries our name as its alias: never someone else's link.
      auto link = rtnl::find_link_by_alias(ifname);
      if (link && link->kind == "tun") rtnl::delete_link(link->name);
    });
  } catch (const std::exception& e) {
    log::debug("engine: deleting " + ifname + ": " + e.what());
  }
}

}  // namespace wgnet::wg::engine_links
