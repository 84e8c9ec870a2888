// What wgnetd must remember across restarts (Docker never re-sends CreateNetwork): networks with
// their options, endpoints with their address and device. SQLite, file mode 0600.
#pragma once
#include <sqlite3.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace wgnet::driver {

struct NetworkRecord {
  std::string id;
  std::map<std::string, std::string> options;  // the generic options as given (may hold a seed)
  std::vector<std::string> pools4, pools6;     // CIDRs of Docker's IPAM pools
  std::string backend;                         // the backend chosen at creation
  bool internal = false;                       // `--internal`: no published ports
};

struct EndpointRecord {
  std::string network_id;
  std::string endpoint_id;
  std::string address4, address6;  // CIDR as Docker gave them; either may be empty
  std::string ifname;
  std::string backend;
  std::string sandbox;  // SandboxKey while joined, else empty
  std::string handle;   // the backend's handle of the device (wg::DeviceRef)
  std::string ports;    // the ports it publishes (portmap::encode), empty when none
};

class StateStore {
 public:
  // Opens (creating) DIR/state.db; DIR is created 0700. Throws SystemError.
  explicit StateStore(const std::string& dir);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::string& path() const { return path_; }

  void put_network(const NetworkRecord& n);
  void delete_network(const std::string& id);
  // Every stored network. A row that cannot be decoded is left out and described in `skipped`
  // (never with option values: they may hold a seed). A failed read throws SystemError: a
  // partial list is never returned.
  std::vector<NetworkRecord> networks(std::vector<std::string>* skipped = nullptr);

  void put_endpoint(const EndpointRecord& e);
  void delete_endpoint(const std::string& endpoint_id);
  void set_sandbox(const std::string& endpoint_id, const std::string& sandbox);
  void set_handle(const std::string& endpoint_id, const std::string& handle);
  void set_ports(const std::string& endpoint_id, const std::string& ports);
  // Every stored endpoint; as networks().
  std::vector<EndpointRecord> endpoints(std::vector<std::string>* skipped = nullptr);

 private:
  void exec(const char* sql);
  void migrate();

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

}  // namespace wgnet::driver
