// libnetwork's remote driver API: one typed request and response per method, the Driver
// interface they are served by, and the dispatcher that turns "/NetworkDriver.X" + JSON into a
// call. Knows nothing of HTTP or WireGuard.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "portmap/binding.h"

namespace wgnet::driver {

struct IpamData {
  std::string pool;     // "10.1.0.0/24"
  std::string gateway;  // "10.1.0.1/24", may be empty
};

struct CreateNetworkRequest {
  std::string network_id;
  std::map<std::string, std::string> generic;  // Options["com.docker.network.generic"]
  bool enable_ipv6 = false;
  bool internal = false;  // Options["com.docker.network.internal"]: `--internal`
  std::vector<IpamData> ipv4, ipv6;
};

struct EndpointRef {
  std::string network_id, endpoint_id;
};

// Swarm only: the manager's AllocateNetwork for a global-scope network. `options` are the
// network's -o options, flat; what the driver returns reaches CreateNetwork on every node.
struct AllocateNetworkRequest {
  std::string network_id;
  std::map<std::string, std::string> options;
  std::vector<IpamData> ipv4, ipv6;
};

struct CreateEndpointRequest {
  std::string network_id, endpoint_id;
  std::string address, address_ipv6, mac_address;  // CIDR strings, may be empty
};

struct JoinRequest {
  std::string network_id, endpoint_id, sandbox_key;
};

// ProgramExternalConnectivity: Docker (28 and later) asks the endpoint that is the container's
// gateway to publish the container's ports (`docker run -p`). Docker 29 sends it again whenever
// the endpoint's gateway role changes, with the ports of Join's time.
struct ExternalConnectivityRequest {
  std::string network_id, endpoint_id;
  std::vector<portmap::Binding> bindings;  // Options["com.docker.network.portmap"]
  // Options["com.docker.network.driver.private.no_proxy_6to4"] (28, 29): another endpoint is the
  // container's IPv6 gateway and publishes on the host's IPv6 addresses; this one only on IPv4.
  bool ipv4_only = false;
};

struct StaticRoute {
  std::string destination;
  int route_type = 1;  // 1 = connected
};

struct JoinResponse {
  std::string src_name, dst_prefix;
  std::vector<StaticRoute> static_routes;
  bool disable_gateway_service = true;
};

// One method per libnetwork call. Throw InputError/SystemError to answer {"Err": message}.
class Driver {
 public:
  virtual ~Driver() = default;
  virtual void create_network(const CreateNetworkRequest& r) = 0;
  virtual void delete_network(const std::string& network_id) = 0;
  virtual void create_endpoint(const CreateEndpointRequest& r) = 0;
  virtual std::map<std::string, std::string> endpoint_info(const EndpointRef& r) = 0;
  virtual void delete_endpoint(const EndpointRef& r) = 0;
  virtual JoinResponse join(const JoinRequest& r) = 0;
  virtual void leave(const EndpointRef& r) = 0;
  // Publishes the endpoint's container's ports, replacing what it published before (repeatable);
  // revoking stops publishing them (repeatable; unknown endpoints are ignored).
  virtual void program_external_connectivity(const ExternalConnectivityRequest& r) = 0;
  virtual void revoke_external_connectivity(const EndpointRef& r) = 0;
  // GetCapabilities' Scope: "local" (each host's IPAM assigns addresses) or "global" (swarm:
  // the manager allocates them cluster-wide; such a driver cannot serve networks outside swarm).
  virtual std::string scope() const { return "local"; }
  // The options every node's CreateNetwork will get (Docker passes on exactly these).
  virtual std::map<std::string, std::string> allocate_network(const AllocateNetworkRequest& r) {
    return r.options;
  }
};

struct Reply {
  unsigned status = 200;
  std::string body;  // JSON
};

// The one builder of Docker's error reply: {"Err":"<message>"} with the given status (Docker
// shows the message to the user). Bytes that are not UTF-8 are replaced, never refused.
Reply error_reply(unsigned status, std::string_view message);

// Serves `path` ("/NetworkDriver.Join") with `body` (JSON, possibly empty) by calling `driver`.
// Never throws: every failure is a {"Err": ...} reply.
Reply dispatch(Driver& driver, std::string_view path, std::string_view body);

}  // namespace wgnet::driver
