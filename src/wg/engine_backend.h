// The `engine` backend: wgnet's own userspace WireGuard inside wgnetd. One engine (a fixed pool of
// workers) serves every device: a persistent TUN created in the host namespace, where its UDP
// socket stays after Docker moves the link into a container. The TUN carries its wgnet name as its
// alias, so after a restart it is found again inside the container's namespace, renamed or not.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/linux/engine.h"
#include "engine/linux/tun_linux.h"
#include "wg/backend.h"
#include "wg/engine_links.h"
#include "wg/lost_slot.h"

namespace wgnet::wg {

class EngineBackend final : public Backend {
 public:
  struct Options {
    std::string uapi_dir = "/var/run/wireguard";  // `wg` works on every engine device
    unsigned workers = 0;                         // 0: one per CPU
    std::optional<engine::Timings> test_timings;  // engine::test_hooks: shortened protocol timers
    // Owner of every TUN device (TUNSETOWNER, set on create and re-attach): a persistent device
    // with none can be attached by any process that opens /dev/net/tun in its namespace.
    std::optional<uid_t> tun_owner;
  };
  explicit EngineBackend(Options options);
  ~EngineBackend() override;

  std::string name() const override { return "engine"; }
  // wgnetd itself serves them: while it is down they carry nothing (fail closed), and a
  // restarted wgnetd re-attaches them (adopt).
  bool devices_outlive_daemon() const override { return false; }
  // The handle is the UDP port the device listens on ("port=N"), reused after a restart so the
  // hub's idea of the container's endpoint stays right.
  std::string create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void configure(const DeviceRef& device, const DeviceConfig& config, uint32_t mtu) override;
  void remove(const DeviceRef& device) override;
  bool exists(const DeviceRef& device) override;
  DeviceStatus status(const DeviceRef& device) override;
  // Re-attaches a persistent TUN left by an earlier wgnetd (inside device.netns when set), opens
  // its UDP socket again on the recorded port and applies `config`. False when the TUN is gone or
  // there is no configuration to serve it with.
  bool adopt(const DeviceRef& device, const std::optional<DeviceConfig>& config,
             uint32_t mtu) override;
  void on_lost(LostHandler handler) override;

  // Whether this host can make TUN devices (/dev/net/tun opens).
  static bool available(std::string* why);

 private:
  const std::string uapi_dir_;
  const std::optional<uid_t> tun_owner_;
  LostSlot lost_;
  std::unique_ptr<engine::Engine> engine_;  // last: its threads call lost()
};

}  // namespace wgnet::wg
