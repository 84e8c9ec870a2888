// wgnet's network driver: networks and endpoints of Docker, each endpoint one WireGuard device,
// complete (key, peers, MTU) before Join returns. State survives restarts. The driver reaches the
// OS only through its Host and the backends.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "driver/api.h"
#include "driver/endpoints.h"
#include "driver/host.h"
#include "driver/hub_resolver.h"
#include "driver/options.h"
#include "driver/state.h"
#include "metrics/registry.h"
#include "portmap/publisher.h"
#include "wg/backends.h"

namespace wgnet::driver {

struct DriverConfig {
  std::string seed_dir = "/etc/wgnet";
  std::string default_backend = "auto";  // the daemon's --backend
  HubResolver::Settings hub_resolution{};
  // How often joined endpoints are checked for containers that went away without a Leave (a
  // socket plugin gets none for containers that died while dockerd was down); 0 = never.
  std::chrono::milliseconds sweep_interval{10000};
  // A joined endpoint whose namespace file never appeared is taken as gone after this long.
  std::chrono::milliseconds sandbox_grace{120000};
  // GetCapabilities' Scope: "local", or "global" for swarm (wgnetd --scope).
  std::string scope = "local";
  // Where device recoveries and their failures are counted (driver/metrics.h); null: nowhere.
  metrics::Registry* metrics = nullptr;
};

// An endpoint with what its device reports now (status.cpp).
struct DeviceReport {
  EndpointRecord record;
  std::optional<wg::DeviceStatus> device;  // unset when it could not be read
  std::string error;                       // why not
};

class WgDriver : public Driver {
 public:
  WgDriver(StateStore& state, wg::Backends& backends, Host& host, portmap::Publisher& ports,
           DriverConfig config);
  // Stops the sweeper and the backends' lost-device callbacks, waiting for a recovery that is
  // running: nothing of the driver is used after it is destroyed.
  ~WgDriver() override;

  // Loads networks and endpoints from the state store (skipping rows that cannot be used), takes
  // over their devices (rebuilding those that died while wgnetd was down, removing those whose
  // container is gone) and starts watching. Touches no device the state does not record. Throws
  // SystemError, touching nothing, when the state cannot be read. Called once at start.
  void restore();

  void create_network(const CreateNetworkRequest& r) override;
  void delete_network(const std::string& network_id) override;
  void create_endpoint(const CreateEndpointRequest& r) override;
  std::map<std::string, std::string> endpoint_info(const EndpointRef& r) override;
  void delete_endpoint(const EndpointRef& r) override;
  JoinResponse join(const JoinRequest& r) override;
  void leave(const EndpointRef& r) override;
  // ports.cpp: the container's published ports (Docker 28 and later send these to the endpoint
  // that is the container's gateway).
  void program_external_connectivity(const ExternalConnectivityRequest& r) override;
  void revoke_external_connectivity(const EndpointRef& r) override;
  std::string scope() const override { return config_.scope; }
  // Validates the options as CreateNetwork will on every node, so a mistake fails `docker
  // network create` on the swarm manager, and passes them on unchanged.
  std::map<std::string, std::string> allocate_network(const AllocateNetworkRequest& r) override;

  // The endpoints known now (for status reports).
  std::vector<EndpointRecord> endpoints() const { return endpoints_.records(); }
  // Every endpoint with its device's status, read from its backend (status.cpp): for `wgnet
  // status` and metrics. Never waits for an operation on an endpoint: one in progress (a Join, a
  // recovery) is reported without its device.
  std::vector<DeviceReport> device_reports();

  // One pass of the sweeper (tests call it directly): endpoints whose container's namespace is
  // gone lose their device and record.
  void sweep();

 private:
  struct Network {
    NetworkRecord record;
    std::vector<Cidr> pools;
    // Unset when the stored options did not validate at restore (a seed or peers file missing
    // at boot): retried on every use, so a transient failure heals by itself.
    std::shared_ptr<const NetworkOptions> options;
  };

  std::shared_ptr<Network> network(const std::string& id);
  std::shared_ptr<const NetworkOptions> options_of(Network& n);
  // What a device of endpoint `e` is made with: its configuration (keys derived now) and MTU.
  struct DeviceSetup {
    wg::DeviceConfig config;
    uint32_t mtu = 0;
  };
  DeviceSetup setup_for(Network& n, const EndpointRecord& e);
  static wg::DeviceRef ref(const EndpointRecord& e);
  std::string pick_name(const std::string& endpoint_id);
  // Waits for and locks the entry of `endpoint_id`; null (and no lock) when there is none.
  std::pair<EndpointTable::Entry, std::unique_lock<std::mutex>> lock_endpoint(
      const std::string& endpoint_id);
  // Whether the container of a joined endpoint (whose operation lock the caller holds) is gone:
  // its namespace file existed and no longer does, or never appeared long after Join.
  bool container_gone(const EndpointTable::Entry& entry, const EndpointRecord& e);
  // Removes the device and the record of an endpoint whose operation lock the caller holds.
  void remove_endpoint(const EndpointTable::Entry& entry, const std::string& why);

  // ports.cpp. Stops publishing the ports of an endpoint whose operation lock the caller holds
  // and forgets them (in memory and in the state); publishes again at start-up what a joined
  // endpoint published before (Docker does not send it again).
  void unpublish_locked(const EndpointTable::Entry& entry);
  void republish_locked(const EndpointTable::Entry& entry);

  // reconcile.cpp
  // Reads both tables into memory; returns the device names the state has endpoint rows for
  // (usable or not), nullopt when some rows could not be read at all.
  std::optional<std::set<std::string>> load_state();
  void reconcile();
  void reconcile_endpoint(const EndpointTable::Entry& entry);
  // recovery.cpp: a joined endpoint's device died: rebuild it into the container's namespace.
  void recover(const std::string& ifname);
  void recover_locked(const EndpointTable::Entry& entry);
  // Installs the lost-device callback of `backend` (once per backend).
  void watch(const std::string& backend);
  void sweeper_loop();

  StateStore& state_;
  wg::Backends& backends_;
  Host& host_;
  portmap::Publisher& ports_;
  DriverConfig config_;
  HubResolver hubs_;
  EndpointTable endpoints_;
  std::mutex mutex_;  // networks_, reserved_names_, watched_
  std::map<std::string, std::shared_ptr<Network>> networks_;
  std::set<std::string> reserved_names_;  // names picked for devices being created
  std::set<std::string> watched_;
  std::atomic<bool> stopping_{false};
  std::mutex sweeper_mutex_;
  std::condition_variable sweeper_wake_;
  std::thread sweeper_;
};

}  // namespace wgnet::driver
