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
};

struct EndpointRecord {
  std::string network_id;
  std::string endpoint_id;
  std::string address4, address6;  // CIDR as Docker gave them; either may be empty
  std::string ifname;
  std::string backend;
  std::string sandbox;  // SandboxKey while joined, else empty
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
  std::vector<NetworkRecord> networks();

  void put_endpoint(const EndpointRecord& e);
  void delete_endpoint(const std::string& endpoint_id);
  void set_sandbox(const std::string& endpoint_id, const std::string& sandbox);
  std::vector<EndpointRecord> endpoints();

 private:
  void exec(const char* sql);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

}  // namespace wgnet::driver
