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
  bool devices_outlive_daemon() const override { return true; }
  // Kernel devices need no handle: the returned one is empty.
  std::string create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void configure(const DeviceRef& device, const DeviceConfig& config, uint32_t mtu) override;
  void remove(const DeviceRef& device) override;
  bool exists(const DeviceRef& device) override;
  DeviceStatus status(const DeviceRef& device) override;
  // A kernel device cannot die on its own: it is there unless someone deleted it.
  bool adopt(const DeviceRef& device, const std::optional<DeviceConfig>& config,
             uint32_t mtu) override;
};

}  // namespace wgnet::wg
