// The link watch: one rtnetlink watch that follows each TUN device's MTU, link state and
// namespace moves (in every namespace, without pinning any: netns ids).
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "engine/linux/engine_impl.h"
#include "netlink/message.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::engine {

// ---- namespaces: MTU and moves ----

void Engine::Impl::open_link_watch() {
  auto w = std::make_unique<LinkWatch>();
  w->events.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!w->events) throw SystemError("netlink socket: " + errno_text(errno));
  const int on = 1;
  if (::setsockopt(w->events.get(), SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &on, sizeof on) != 0)
    throw SystemError("NETLINK_LISTEN_ALL_NSID: " + errno_text(errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (::bind(w->events.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw SystemError("netlink bind: " + errno_text(errno));
  w->source = add_source(Source(Source::Kind::kNetlink, w->events.get()));
  links = std::move(w);
}

int Engine::Impl::nsid_of(int nsfd) {
  auto ask = [&](uint16_t type, int32_t want) {
    rtgenmsg g{};
    g.rtgen_family = AF_UNSPEC;
    netlink::MessageBuilder b(type, 0);
    b.fixed(g).put_u32(NETNSA_FD, static_cast<uint32_t>(nsfd));
    if (type == RTM_NEWNSID) b.put_struct(NETNSA_NSID, want);
    auto msg = b.finish();
    return links->requests.request(msg, type == RTM_NEWNSID ? "RTM_NEWNSID" : "RTM_GETNSID");
  };
  std::lock_guard lock(links->requests_mu);
  for (int attempt = 0; attempt < 2; attempt++) {
    const auto reply = ask(RTM_GETNSID, 0);
    for (const auto& m : netlink::parse_messages(reply)) {
      if (m.header.nlmsg_type != RTM_NEWNSID) continue;
      if (auto id = netlink::find_attribute(m.attributes(sizeof(rtgenmsg)), NETNSA_NSID)) {
        const auto nsid = static_cast<int32_t>(id->u32());
        if (nsid >= 0) return nsid;
      }
    }
    try {
      ask(RTM_NEWNSID, -1);  // any free id
    } catch (const netlink::NetlinkError& e) {
      if (e.error_number() != EEXIST) throw;  // assigned meanwhile: ask again
    }
  }
  throw SystemError("no netns id for a device's namespace");
}

std::optional<Engine::Impl::LinkState> Engine::Impl::find_link(int nsid, const std::string& name) {
  ifinfomsg ifi{};
  netlink::MessageBuilder b(RTM_GETLINK, 0);
  b.fixed(ifi).put_string(IFLA_IFNAME, name);
  if (nsid != kOwnNs) b.put_struct(IFLA_TARGET_NETNSID, static_cast<int32_t>(nsid));
  auto msg = b.finish();
  std::vector<uint8_t> reply;
  try {
    std::lock_guard lock(links->requests_mu);
    reply = links->requests.request(msg, "RTM_GETLINK");
  } catch (const netlink::NetlinkError&) {
    return std::nullopt;  // not there (any more)
  }
  for (const auto& m : netlink::parse_messages(reply)) {
    if (m.header.nlmsg_type != RTM_NEWLINK) continue;
    const auto attrs = m.attributes(sizeof(ifinfomsg));
    const auto mtu = netlink::find_attribute(attrs, IFLA_MTU);
    const auto ifi = m.fixed<ifinfomsg>();
    return LinkState{ifi.ifi_index, mtu ? mtu->u32() : 0u, (ifi.ifi_flags & IFF_UP) != 0};
  }
  return std::nullopt;
}

void Engine::Impl::unwatch(Interface& i) {
  if (!i.watched) return;
  i.watched = false;
  if (auto it = watched.find(i.link); it != watched.end()) {
    auto sp = it->second.lock();
    if (!sp || sp.get() == &i) watched.erase(it);
  }
}

void Engine::Impl::link_state(Interface& i, bool up) {
  // Changes only: the device starts up whatever its link says, as wireguard-go's does.
  const int was = i.link_up.exchange(up ? 1 : 0);
  if (!i.follow_link || was < 0 || was == (up ? 1 : 0) || i.removed || i.lost) return;
  if (!up) {
    i.device->down();
    log::debug("engine: " + i.name + ": down");
    return;
  }
  // The port may still be held for a moment by a worker finishing a batch on the old socket.
  for (int attempt = 0;; attempt++) {
    try {
      i.device->up();
      log::debug("engine: " + i.name + ": up");
      return;
    } catch (const std::exception& e) {
      if (attempt < 3) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      // As wireguard-go: the link is up, the device is not (its port is taken); `wg` says so.
      log::error("engine: " + i.name + ": cannot go up: " + e.what());
      return;
    }
  }
}

void Engine::Impl::locate(const std::shared_ptr<Interface>& i) {
  if (!links) return;
  // The device may move again while we look: done when it is still where we found it.
  for (int attempt = 0; attempt < 3; attempt++) {
    Fd nsfd(::ioctl(i->tun->poll_fd(), TUNGETDEVNETNS));
    const auto ns = nsfd ? ns_of_fd(nsfd.get()) : std::nullopt;
    std::string ifname;
    try {
      if (ns) ifname = i->tun->name();
    } catch (const std::exception&) {
    }
    if (!ns || ifname.empty() || i->removed || i->lost) {
      // Gone (the TUN's EPOLLERR reports that), or a kernel without TUNGETDEVNETNS.
      std::lock_guard lock(watch_mu);
      unwatch(*i);
      return;
    }
    try {
      const int nsid = ns == ns_of_fd(own_ns.get()) ? kOwnNs : nsid_of(nsfd.get());
      const auto link = find_link(nsid, ifname);
      if (!link) continue;  // renamed or moved meanwhile
      {
        std::lock_guard lock(watch_mu);
        if (i->removed) return;
        unwatch(*i);
        i->link = {nsid, link->ifindex};
        i->watched = true;
        watched[i->link] = i;
      }
      if (link->mtu) i->tun->note_mtu(link->mtu);
      link_state(*i, link->up);
    } catch (const std::exception& e) {
      log::debug("engine: " + i->name + ": cannot watch its link: " + e.what());
      return;
    }
    Fd again(::ioctl(i->tun->poll_fd(), TUNGETDEVNETNS));
    if (again && ns_of_fd(again.get()) == ns) return;
  }
}

void Engine::Impl::on_netlink() {
  alignas(nlmsghdr) uint8_t buf[16384];
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int))];
  std::vector<std::shared_ptr<Interface>> relocate;
  bool resync = false;
  for (;;) {
    iovec iov{buf, sizeof buf};
    sockaddr_nl from{};
    msghdr h{};
    h.msg_name = &from;
    h.msg_namelen = sizeof from;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    const ssize_t r = ::recvmsg(links->events.get(), &h, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == ENOBUFS) {
      resync = true;  // events were lost: look at every device again
      continue;
    }
    if (r <= 0) break;
    // Any process of the namespace can send to this socket's port: only the kernel's (port 0)
    // link events are believed, or one could take a device down or change its MTU.
    if (h.msg_namelen < sizeof from || from.nl_pid != 0) continue;
    int nsid = kOwnNs;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
      if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID)
        std::memcpy(&nsid, CMSG_DATA(c), sizeof nsid);
    try {
      for (const auto& m : netlink::parse_messages({buf, static_cast<size_t>(r)})) {
        const auto type = m.header.nlmsg_type;
        if (type != RTM_NEWLINK && type != RTM_DELLINK) continue;
        const LinkKey key{nsid, m.fixed<ifinfomsg>().ifi_index};
        std::shared_ptr<Interface> i;
        {
          std::lock_guard lock(watch_mu);
          if (auto it = watched.find(key); it != watched.end()) i = it->second.lock();
        }
        if (!i) continue;
        if (type == RTM_DELLINK) {
          relocate.push_back(i);  // moved to another namespace, or deleted
          continue;
        }
        if (auto mtu = netlink::find_attribute(m.attributes(sizeof(ifinfomsg)), IFLA_MTU))
          i->tun->note_mtu(mtu->u32());
        link_state(*i, (m.fixed<ifinfomsg>().ifi_flags & IFF_UP) != 0);
      }
    } catch (const std::exception& e) {
      log::debug(std::string("engine: netlink: ") + e.what());
    }
  }
  if (resync) {
    std::lock_guard lock(watch_mu);
    for (auto& [key, weak] : watched)
      if (auto i = weak.lock()) relocate.push_back(i);
  }
  for (auto& i : relocate) locate(i);
}

}  // namespace wgnet::engine
