// What the driver asks of the host it runs on: links in the host namespace, containers' network
// namespaces (sandboxes) and name resolution. The driver never calls the OS itself, so its unit
// tests run against an in-memory host (tests/unit/fake_host.h) and touch nothing real.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/ip.h"

namespace wgnet::driver {

class Host {
 public:
  virtual ~Host() = default;

  // Whether a link of that name exists in the host namespace.
  virtual bool link_exists(const std::string& name) = 0;
  // Whether a container's network namespace (Docker's SandboxKey, a file the namespace is mounted
  // on) is still there.
  virtual bool sandbox_exists(const std::string& sandbox) = 0;
  // Puts host link `ifname` into the sandbox as the lowest free name `prefix`N, with `addresses`
  // (prefix lengths included), up, with a connected route to each of `routes`: what Docker does
  // at Join, done again when a device is rebuilt for a running container. Returns the name.
  virtual std::string place_in_sandbox(const std::string& ifname, const std::string& sandbox,
                                       const std::string& prefix,
                                       const std::vector<Cidr>& addresses,
                                       const std::vector<Cidr>& routes) = 0;
  // The MTU of the path from the host namespace to `destination` (its route's MTU, else its
  // output link's); nullopt when there is no route.
  virtual std::optional<uint32_t> path_mtu(const IpAddress& destination) = 0;
  // Resolves a DNS name (or a numeric address) to one address, IPv4 first, waiting at most
  // `timeout`. Throws InputError naming `what` when it cannot.
  virtual IpAddress resolve(const std::string& name, std::chrono::milliseconds timeout,
                            std::string_view what) = 0;
};

}  // namespace wgnet::driver
