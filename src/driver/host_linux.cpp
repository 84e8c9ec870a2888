// Sandboxes are entered on a thread of their own (util/netns), so the daemon's namespace never
// changes; name look-ups run on a thread of their own too, so a hung resolver costs a thread,
// never a caller past its deadline.
#include "driver/host_linux.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <memory>
#include <thread>

#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/netns.h"

namespace wgnet::driver {

namespace rtnl = netlink::rtnl;

bool LinuxHost::link_exists(const std::string& name) { return rtnl::ifindex(name).has_value(); }

bool LinuxHost::sandbox_exists(const std::string& sandbox) {
  if (sandbox.empty()) return false;
  // Docker's SandboxKey is a file with the namespace bind-mounted on it. When the container dies
  // Docker unmounts it and the file may linger, empty: only a mounted namespace counts.
  Fd fd(::open(sandbox.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return errno != ENOENT && errno != ENOTDIR;  // there, but not for us to open: alive
  struct statfs fs {};
  return ::fstatfs(fd.get(), &fs) == 0 && fs.f_type == NSFS_MAGIC;
}

std::string LinuxHost::place_in_sandbox(const std::string& ifname, const std::string& sandbox,
                                        const std::string& prefix,
                                        const std::vector<Cidr>& addresses,
                                        const std::vector<Cidr>& routes) {
  std::string inside;
  netns::run_in(sandbox, [&] {
    for (int i = 0; inside.empty(); i++)
      if (!rtnl::ifindex(prefix + std::to_string(i))) inside = prefix + std::to_string(i);
  });
  Fd ns(::open(sandbox.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) throw SystemError("cannot open " + sandbox + ": " + std::strerror(errno));
  rtnl::move_link(ifname, ns.get(), inside);
  netns::run_in(sandbox, [&] {
    for (const auto& a : addresses) rtnl::add_address(inside, a);
    rtnl::set_up(inside, true);
    for (const auto& r : routes) rtnl::add_route(inside, r);
  });
  return inside;
}

std::optional<uint32_t> LinuxHost::path_mtu(const IpAddress& destination) {
  return rtnl::path_mtu(destination);
}

IpAddress LinuxHost::resolve(const std::string& name, std::chrono::milliseconds timeout,
                             std::string_view what) {
  if (auto a = IpAddress::parse(name)) return *a;
  struct Result {
    int rc = 0;
    std::optional<IpAddress> v4, v6;
  };
  auto promise = std::make_shared<std::promise<Result>>();
  auto future = promise->get_future();
  // Detached: getaddrinfo cannot be cancelled. It owns copies of everything it touches.
  std::thread([promise, name] {
    Result r;
    addrinfo hints{};
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    r.rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res);
    for (addrinfo* p = r.rc == 0 ? res : nullptr; p; p = p->ai_next) {
      if (p->ai_family == AF_INET && !r.v4)
        r.v4 = IpAddress::from_bytes(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr),
            4));
      else if (p->ai_family == AF_INET6 && !r.v6)
        r.v6 = IpAddress::from_bytes(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(
                                         &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr),
                                     16));
    }
    if (res) ::freeaddrinfo(res);
    promise->set_value(r);
  }).detach();
  if (future.wait_for(timeout) != std::future_status::ready)
    throw InputError(std::string(what) + ": resolving '" + name + "' took longer than " +
                     std::to_string(timeout.count() / 1000.0).substr(0, 4) + " s");
  Result r = future.get();
  if (r.rc != 0)
    throw InputError(std::string(what) + ": cannot resolve '" + name + "': " + gai_strerror(r.rc));
  if (r.v4) return *r.v4;
  if (r.v6) return *r.v6;
  throw InputError(std::string(what) + ": '" + name + "' has no IPv4 or IPv6 address");
}

}  // namespace wgnet::driver
