// The link watch (link_watch.h): rtnetlink link events of every namespace a watched TUN device
// lives in, and the device found again from its descriptor when it moves.
#include "engine/linux/link_watch.h"

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "netlink/message.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::engine {

LinkWatch::LinkWatch() : own_ns_(netns::id_of_this_thread()) {
  events_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!events_) throw SystemError("netlink socket: " + errno_text(errno));
  const int on = 1;
  if (::setsockopt(events_.get(), SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &on, sizeof on) != 0)
    throw SystemError("NETLINK_LISTEN_ALL_NSID: " + errno_text(errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (::bind(events_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw SystemError("netlink bind: " + errno_text(errno));
}

void LinkWatch::watch(const std::shared_ptr<LinkListener>& listener, const Tun& tun) {
  {
    std::lock_guard lock(mu_);
    forget(*listener);
    watched_[listener.get()] = Watched{listener, &tun, std::nullopt};
  }
  locate(listener);
}

void LinkWatch::unwatch(const LinkListener& listener) {
  std::lock_guard lock(mu_);
  forget(listener);
}

void LinkWatch::forget(const LinkListener& listener) {
  auto it = watched_.find(&listener);
  if (it == watched_.end()) return;
  if (it->second.link) by_link_.erase(*it->second.link);
  watched_.erase(it);
}

int LinkWatch::nsid_of(int nsfd) {
  auto ask = [&](uint16_t type, int32_t want) {
    rtgenmsg g{};
    g.rtgen_family = AF_UNSPEC;
    netlink::MessageBuilder b(type, 0);
    b.fixed(g).put_u32(NETNSA_FD, static_cast<uint32_t>(nsfd));
    if (type == RTM_NEWNSID) b.put_struct(NETNSA_NSID, want);
    auto msg = b.finish();
    return requests_.request(msg, type == RTM_NEWNSID ? "RTM_NEWNSID" : "RTM_GETNSID");
  };
  std::lock_guard lock(requests_mu_);
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

std::optional<LinkWatch::LinkState> LinkWatch::find_link(int nsid, const std::string& name) {
  ifinfomsg ifi{};
  netlink::MessageBuilder b(RTM_GETLINK, 0);
  b.fixed(ifi).put_string(IFLA_IFNAME, name);
  if (nsid != kOwnNs) b.put_struct(IFLA_TARGET_NETNSID, static_cast<int32_t>(nsid));
  auto msg = b.finish();
  std::vector<uint8_t> reply;
  try {
    std::lock_guard lock(requests_mu_);
    reply = requests_.request(msg, "RTM_GETLINK");
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

void LinkWatch::locate(const std::shared_ptr<LinkListener>& listener) {
  const Tun* tun = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = watched_.find(listener.get());
    if (it == watched_.end()) return;
    tun = it->second.tun;
  }
  // The device may move again while we look: done when it is still where we found it.
  for (int attempt = 0; attempt < 3; attempt++) {
    Fd nsfd(::ioctl(tun->poll_fd(), TUNGETDEVNETNS));
    const auto ns = nsfd ? netns::id_of(nsfd.get()) : std::nullopt;
    std::string ifname;
    try {
      if (ns) ifname = tun->name();
    } catch (const std::exception&) {
    }
    if (!ns || ifname.empty()) {
      // Gone (the TUN's EPOLLERR reports that), or a kernel without TUNGETDEVNETNS.
      {
        std::lock_guard lock(mu_);
        if (!watched_.count(listener.get())) return;
        forget(*listener);
      }
      LinkEvents gone;
      gone.gone = true;
      listener->link_changed(gone);
      return;
    }
    LinkEvents found;
    try {
      const int nsid = ns == own_ns_ ? kOwnNs : nsid_of(nsfd.get());
      const auto link = find_link(nsid, ifname);
      if (!link) continue;  // renamed or moved meanwhile
      {
        std::lock_guard lock(mu_);
        auto it = watched_.find(listener.get());
        if (it == watched_.end()) return;  // unwatched meanwhile
        if (it->second.link) by_link_.erase(*it->second.link);
        it->second.link = LinkKey{nsid, link->ifindex};
        by_link_[*it->second.link] = listener.get();
      }
      found.ifindex = link->ifindex;
      if (link->mtu) found.mtu = link->mtu;
      found.up = link->up;
    } catch (const std::exception& e) {
      log::debug("engine: " + ifname + ": cannot watch its link: " + e.what());
      return;
    }
    listener->link_changed(found);
    Fd again(::ioctl(tun->poll_fd(), TUNGETDEVNETNS));
    if (again && netns::id_of(again.get()) == ns) return;
  }
}

void LinkWatch::on_readable() {
  alignas(nlmsghdr) uint8_t buf[16384];
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(int))];
  std::vector<std::shared_ptr<LinkListener>> relocate;
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
    const ssize_t r = ::recvmsg(events_.get(), &h, MSG_DONTWAIT);
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
        std::shared_ptr<LinkListener> listener;
        {
          std::lock_guard lock(mu_);
          if (auto it = by_link_.find(key); it != by_link_.end())
            listener = watched_.at(it->second).listener.lock();
        }
        if (!listener) continue;
        if (type == RTM_DELLINK) {
          relocate.push_back(listener);  // moved to another namespace, or deleted
          continue;
        }
        LinkEvents news;
        news.ifindex = key.second;
        if (auto mtu = netlink::find_attribute(m.attributes(sizeof(ifinfomsg)), IFLA_MTU))
          news.mtu = mtu->u32();
        news.up = (m.fixed<ifinfomsg>().ifi_flags & IFF_UP) != 0;
        listener->link_changed(news);
      }
    } catch (const std::exception& e) {
      log::debug(std::string("engine: netlink: ") + e.what());
    }
  }
  if (resync) {
    std::lock_guard lock(mu_);
    for (auto& [key, w] : watched_)
      if (w.link)
        if (auto l = w.listener.lock()) relocate.push_back(l);
  }
  for (auto& l : relocate) locate(l);
}

}  // namespace wgnet::engine
