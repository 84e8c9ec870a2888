// The `external` backend: one userspace WireGuard process (wireguard-go by default) per device,
// started in the host namespace and configured over its UAPI socket.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "wg/backend.h"

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
  void create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void configure(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void remove(const std::string& ifname) override;
  bool exists(const std::string& ifname) override;
  DeviceStatus status(const std::string& ifname) override;
  bool adopt(const std::string& ifname) override;
  void on_lost(LostHandler handler) override;
  std::vector<std::string> list(const std::string& prefix) override;

  // Whether the configured program can be found and run.
  static bool program_available(const std::string& program, std::string* why);

 private:
  // Whether a process's command line is this backend's program serving a device (last argument).
  bool serves(const std::vector<std::string>& argv) const;
  std::vector<pid_t> pids_of(const std::string& ifname);
  std::string log_path(const std::string& ifname) const;
  void supervise();

  Options options_;
  std::mutex mutex_;
  std::map<std::string, pid_t> started_;  // devices whose process we started (or adopted)
  LostHandler lost_;
  std::atomic<bool> stopping_{false};
  std::condition_variable wake_;
  std::thread supervisor_;
};

}  // namespace wgnet::wg
