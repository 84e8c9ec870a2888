// The link watch: follows the links of TUN devices through rtnetlink (their MTU, whether they are
// up, where they moved) in every network namespace, without pinning any, and reports what it
// learns to each device's listener as LinkEvents, as wireguard-go's tun.Device.Events() does. It
// never acts on a device itself: the runtime decides what an event means.
//
// How: two rtnetlink sockets in the namespace the watch was made in (a socket inside a
// container's namespace would keep that namespace alive, and the device in it, after the container
// is gone). Each namespace a device lives in gets a netns id here (which pins nothing);
// NETLINK_LISTEN_ALL_NSID then delivers its link events tagged with that id, and RTM_GETLINK with
// IFLA_TARGET_NETNSID looks its links up. A device that left (RTM_DELLINK: moved or deleted) is
// looked for again from its TUN descriptor (TUNGETDEVNETNS, TUNGETIFF).
#pragma once
#include <linux/net_namespace.h>
#include <linux/netlink.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "engine/tun.h"
#include "netlink/socket.h"
#include "util/fd.h"
#include "util/netns.h"

namespace wgnet::engine {

// What the watch learned about one device's link.
struct LinkEvents {
  int ifindex = 0;              // where the link is now, in the namespace it lives in
  std::optional<uint32_t> mtu;  // its MTU, when the news says
  std::optional<bool> up;       // IFF_UP, when the news says
  // The watch lost sight of the link (deleted, or a kernel without TUNGETDEVNETNS) and no longer
  // watches it; the other fields are empty. A deletion itself the TUN reports (DeviceGone).
  bool gone = false;
};

class LinkListener {
 public:
  virtual ~LinkListener() = default;
  // Called on the thread of watch() or on_readable(), with no lock of the watch held; may call
  // unwatch().
  virtual void link_changed(const LinkEvents& events) = 0;
};

class LinkWatch {
 public:
  // Watches from the calling thread's namespace. Throws SystemError when netlink refuses
  // (NETLINK_LISTEN_ALL_NSID needs CAP_NET_BROADCAST).
  LinkWatch();
  // Readable: call on_readable().
  int poll_fd() const { return events_.get(); }
  // Starts watching the link of `tun` (the listener's: it lives as long as the listener) and
  // reports where it is now; the watch holds the listener weakly.
  void watch(const std::shared_ptr<LinkListener>& listener, const Tun& tun);
  // Stops watching: no report starts after it returns.
  void unwatch(const LinkListener& listener);
  // Reads the link events waiting and reports them. One thread at a time.
  void on_readable();

 private:
  // Where a link is: its namespace's netns id (kOwnNs for the watch's own) and its ifindex there.
  static constexpr int kOwnNs = NETNSA_NSID_NOT_ASSIGNED;
  using LinkKey = std::pair<int, int>;
  struct Watched {
    std::weak_ptr<LinkListener> listener;
    const Tun* tun = nullptr;
    std::optional<LinkKey> link;  // where it was last seen
  };
  struct LinkState {
    int ifindex = 0;
    uint32_t mtu = 0;
    bool up = false;
  };

  // Finds the listener's link again and reports it (or that it is gone).
  void locate(const std::shared_ptr<LinkListener>& listener);
  // The netns id (assigned here if it had none) of the namespace `nsfd` refers to.
  int nsid_of(int nsfd);
  // The ifindex, MTU and state of link `name` in namespace `nsid`.
  std::optional<LinkState> find_link(int nsid, const std::string& name);
  void forget(const LinkListener& listener);  // mu_ held

  std::optional<netns::NsId> own_ns_;
  Fd events_;  // RTMGRP_LINK of every namespace with an id here
  netlink::Socket requests_{NETLINK_ROUTE};
  std::mutex requests_mu_;  // one request at a time on requests_
  std::mutex mu_;           // watched_, by_link_
  std::unordered_map<const LinkListener*, Watched> watched_;
  std::map<LinkKey, const LinkListener*> by_link_;
};

}  // namespace wgnet::engine
