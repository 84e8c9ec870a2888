// The `kernel` backend: WireGuard devices made by the Linux module, created over rtnetlink and
// configured over the `wireguard` generic netlink family (version 1).
#pragma once
#include <string>
#include <vector>

#include "wg/backend.h"

namespace wgnet::wg {

// Whether this kernel can make WireGuard links: creates and deletes a probe link
// (wgnet-probe<n>) in the current namespace. When false, `why` (if given) says why.
bool kernel_wireguard_available(std::string* why);

class KernelBackend final : public Backend {
 public:
  std::string name() const override { return "kernel"; }
  void create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void configure(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void remove(const std::string& ifname) override;
  bool exists(const std::string& ifname) override;
  DeviceStatus status(const std::string& ifname) override;
  std::vector<std::string> list(const std::string& prefix) override;
};

}  // namespace wgnet::wg
