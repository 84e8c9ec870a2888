// The `external` backend: one userspace WireGuard process (wireguard-go by default) per device,
// started in the host namespace and configured over its UAPI socket.
#pragma once
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "util/fd.h"
#include "util/process.h"
#include "wg/backend.h"
#include "wg/lost_slot.h"

namespace wgnet::wg {

class ExternalBackend : public Backend {
 public:
  struct Options {
    std::string program = "wireguard-go";
    std::string log_dir;  // per-device logs of the program; empty = /dev/null
  };
  explicit ExternalBackend(Options options);
  ~ExternalBackend() override;

  std::string name() const override { return "external"; }
  bool devices_outlive_daemon() const override { return true; }
  // The handle is the serving process's ProcessId ("pid=N start=T").
  std::string create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void configure(const DeviceRef& device, const DeviceConfig& config, uint32_t mtu) override;
  void remove(const DeviceRef& device) override;
  bool exists(const DeviceRef& device) override;
  DeviceStatus status(const DeviceRef& device) override;
  bool adopt(const DeviceRef& device, const std::optional<DeviceConfig>& config,
             uint32_t mtu) override;
  void on_lost(LostHandler handler) override;

  // Whether the configured program can be found and run.
  static bool program_available(const std::string& program, std::string* why);

 private:
  // Whether a command line is this backend's program serving `ifname` (its last argument).
  bool serves(const std::vector<std::string>& argv, const std::string& ifname) const;
  std::string log_path(const std::string& ifname) const;
  void watch(const std::string& ifname, process::Process p);
  std::optional<process::Process> unwatch(const std::string& ifname);
  void supervise();

  Options options_;
  std::mutex mutex_;
  std::map<std::string, process::Process> watched_;  // devices whose process we started/adopted
  LostSlot lost_;
  std::atomic<bool> stopping_{false};
  Fd wake_;  // eventfd: the watched set changed, or stop
  std::thread supervisor_;
};

}  // namespace wgnet::wg
