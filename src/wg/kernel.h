// The `kernel` backend: WireGuard devices made by the Linux module, created over rtnetlink and
// configured over the `wireguard` generic netlink family (version 1).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "wg/backend.h"

namespace wgnet::wg {

// Like wireguard-tools: SET messages stay within a page, which every kernel accepts.
inline constexpr size_t kMaxSetDeviceMessage = 4096;

// The WG_CMD_SET_DEVICE messages that apply `config` to `ifname`, in order. A configuration too
// large for one message is split: device attributes and WGDEVICE_F_REPLACE_PEERS only in the
// first, each peer's WGPEER_F_REPLACE_ALLOWEDIPS only where the peer first appears, and a peer
// whose allowed IPs overflow continues (public key + allowed IPs) in the next message.
// Sequence numbers are left 0 (the socket stamps them). Pure: no kernel needed.
// The result holds key material: wipe it (netlink::wipe / WipeGuard) when done.
std::vector<std::vector<uint8_t>> encode_set_device(std::string_view ifname, uint16_t family_id,
                                                    const DeviceConfig& config,
                                                    size_t max_message_size = kMaxSetDeviceMessage);

// The WG_CMD_GET_DEVICE dump request for `ifname`.
std::vector<uint8_t> encode_get_device(std::string_view ifname, uint16_t family_id);

// Decodes the messages of a WG_CMD_GET_DEVICE dump (concatenated, as Socket::dump returns
// them); a peer continued across messages is merged into one. Throws SystemError when malformed.
DeviceStatus decode_get_device(std::span<const uint8_t> dump);

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
