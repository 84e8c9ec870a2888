// The `engine` backend with the engine in a sandboxed process of its own (docs/PRIVSEP-PLAN.md):
// wgnetd keeps the seeds, the privileges and every descriptor — it creates each device's
// persistent TUN (host namespace, alias = its wgnet name) and its UDP sockets, keeps a copy of
// each, and hands them to `wgnet-engine --supervised` with the device's keys only. The engine moves
// packets; wgnetd serves the UAPI sockets (`wg`) and relays them. When the engine process dies,
// the EngineSupervisor starts another and this backend hands it every device again with the same
// descriptors: containers keep their wg0 (same ifindex) and the hub sees the same port.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/linux/tun_linux.h"
#include "engine/linux/uapi_server.h"
#include "engine/linux/udp_linux.h"
#include "wg/backend.h"
#include "wg/engine_links.h"
#include "wg/engine_supervisor.h"
#include "wg/lost_slot.h"

namespace wgnet::wg {

class EngineProcessBackend final : public Backend {
 public:
  struct Options {
    std::string uapi_dir = "/var/run/wireguard";  // `wg` works on every engine device
    std::optional<uid_t> tun_owner;               // TUNSETOWNER (the engine's uid)
    EngineProcessOptions process;
  };
  // Starts the engine process (throws SystemError when it cannot).
  explicit EngineProcessBackend(Options options);
  ~EngineProcessBackend() override;

  std::string name() const override { return "engine"; }
  // With a listen_path the engine carries its devices on while wgnetd is down and the next wgnetd
  // takes it over (adopt() then configures them); without one it ends with wgnetd and a restarted
  // wgnetd re-attaches the devices.
  bool devices_outlive_daemon() const override { return outlive_; }
  // The handle is "port=N", as the in-process engine's: the port is reused after a restart.
  std::string create(const std::string& ifname, const DeviceConfig& config, uint32_t mtu) override;
  void configure(const DeviceRef& device, const DeviceConfig& config, uint32_t mtu) override;
  void remove(const DeviceRef& device) override;
  bool exists(const DeviceRef& device) override;
  DeviceStatus status(const DeviceRef& device) override;
  bool adopt(const DeviceRef& device, const std::optional<DeviceConfig>& config,
             uint32_t mtu) override;
  // Devices handed back by a taken-over engine that no adopt() claimed and the state has no row
  // for: removed from the engine and deleted (their TUN, when it is the device's by name, made
  // non-persistent, so the last descriptor's close deletes the link wherever it is).
  void restored(const std::function<bool(const std::string& ifname)>& in_state) override;
  void on_lost(LostHandler handler) override;

  // The engine process now (0 while it is being replaced), and how many were started after the
  // first: for status, metrics and tests.
  pid_t engine_pid() const { return supervisor_->pid(); }
  uint64_t engine_restarts() const { return supervisor_->restarts(); }

 private:
  // What wgnetd keeps of a device: its own copies of the descriptors (what keeps ifindex and port
  // across engines), and the last whole configuration (what a new engine is given).
  struct Device {
    engine::TunHandoff tun;
    std::unique_ptr<engine::UdpBindLinux> udp;
    DeviceConfig config;
    bool lost = false;
    // Handed back by an engine an earlier wgnetd left (Export): served with that wgnetd's
    // configuration until adopt() gives it the one computed now.
    bool imported = false;
  };

  // Opens the UDP sockets of a device in wgnetd's (the host's) namespace, with `fwmark`.
  static std::unique_ptr<engine::UdpBindLinux> open_udp(uint16_t port, uint32_t fwmark);
  // AddDevice for `d` (supervisor lock held).
  static void hand_over(EngineClient& engine, const std::string& name, const Device& d);
  // Adds `d` to the table and the engine, and serves its UAPI socket.
  void add(const std::string& name, Device d);
  // Serves the UAPI socket of `name` (relayed to the engine).
  void serve_uapi(const std::string& name);
  // The devices of a taken-over engine, checked (they come from the untrusted engine).
  void import_devices();
  // RemoveDevice `name` in the engine (one it does not have is no error). Throws when the engine
  // refuses otherwise or is not there.
  void remove_from_engine(const std::string& name);
  void lost(const std::string& name, const std::string& why);
  int uapi_set(const std::string& name, std::string_view body);
  std::string uapi_get(const std::string& name);

  const std::string uapi_dir_;
  const std::optional<uid_t> tun_owner_;
  const bool outlive_;
  std::map<std::string, Device> devices_;  // under the supervisor's lock

  LostSlot lost_;

  std::unique_ptr<engine::UapiServer> uapi_;
  std::unique_ptr<EngineSupervisor> supervisor_;  // last: its thread calls into the rest
};

}  // namespace wgnet::wg
