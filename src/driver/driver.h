// wgnet's network driver: networks and endpoints of Docker, each endpoint one WireGuard device,
// complete (key, peers, MTU) before Join returns. State survives restarts.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "driver/api.h"
#include "driver/options.h"
#include "driver/state.h"
#include "wg/backends.h"

namespace wgnet::driver {

struct DriverConfig {
  std::string seed_dir = "/etc/wgnet";
  std::string default_backend = "auto";  // the daemon's --backend
};

class WgDriver : public Driver {
 public:
  WgDriver(StateStore& state, wg::Backends& backends, DriverConfig config);
  ~WgDriver() override;

  // Loads networks and endpoints from the state store and removes devices of wgnet that belong
  // to no endpoint. Called once at start.
  void restore();

  void create_network(const CreateNetworkRequest& r) override;
  void delete_network(const std::string& network_id) override;
  void create_endpoint(const CreateEndpointRequest& r) override;
  std::map<std::string, std::string> endpoint_info(const EndpointRef& r) override;
  void delete_endpoint(const EndpointRef& r) override;
  JoinResponse join(const JoinRequest& r) override;
  void leave(const EndpointRef& r) override;

  // Name prefix of every device wgnet creates in the host namespace.
  static constexpr const char* kIfPrefix = "wgnet-";

 private:
  struct Network {
    NetworkRecord record;
    // Unset when the stored options did not validate at restore (a seed or peers file missing
    // at boot): retried on every use, so a transient failure heals by itself.
    std::shared_ptr<const NetworkOptions> options;
    std::optional<wg::Endpoint> last_hub_address;  // for a DNS name that stops resolving
    std::vector<Cidr> pools;
  };

  std::shared_ptr<Network> network(const std::string& id);
  std::shared_ptr<const NetworkOptions> options_of(Network& n);
  // Operations on one endpoint are serialised: a retried CreateEndpoint waits for the first.
  std::shared_ptr<std::mutex> endpoint_lock(const std::string& endpoint_id);
  std::string pick_ifname(const std::string& endpoint_id);
  wg::DeviceConfig device_config(Network& n, const NetworkOptions& o, const EndpointRecord& e);
  void reconcile();
  // Connected routes the container gets through the device (besides its pool's own route).
  static std::vector<Cidr> routes_for(const NetworkOptions& o, const EndpointRecord& e);
  // Watches `backend` for devices that die on their own (once per backend).
  void watch(const std::string& backend);
  // A joined endpoint's device died: rebuild it and put it back into the container's namespace.
  void recover(const std::string& ifname);

  StateStore& state_;
  wg::Backends& backends_;
  DriverConfig config_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Network>> networks_;
  std::map<std::string, EndpointRecord> endpoints_;  // endpoints whose device was completed
  std::set<std::string> reserved_ifnames_;           // names of devices being created
  std::set<std::string> completed_here_;  // endpoints whose device this process completed
  std::map<std::string, std::shared_ptr<std::mutex>> endpoint_locks_;
  std::set<std::string> watched_backends_;
};

}  // namespace wgnet::driver
