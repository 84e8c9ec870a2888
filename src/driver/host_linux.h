// The driver's Host on Linux: rtnetlink in the host namespace and in sandboxes, getaddrinfo.
#pragma once
#include "driver/host.h"

namespace wgnet::driver {

class LinuxHost final : public Host {
 public:
  bool link_exists(const std::string& name) override;
  bool sandbox_exists(const std::string& sandbox) override;
  std::string place_in_sandbox(const std::string& ifname, const std::string& sandbox,
                               const std::string& prefix, const std::vector<Cidr>& addresses,
                               const std::vector<Cidr>& routes) override;
  std::optional<uint32_t> path_mtu(const IpAddress& destination) override;
  IpAddress resolve(const std::string& name, std::chrono::milliseconds timeout,
                    std::string_view what) override;
};

}  // namespace wgnet::driver
