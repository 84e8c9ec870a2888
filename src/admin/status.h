// What `wgnet status` shows of each endpoint, as wgnetd reports it over its admin socket and as
// the command prints it (JSON or a table): the record, the device's counters and, added by the
// command, Docker's names. Pure: no I/O.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wgnet::admin {

// The admin socket both `wgnetd --admin-socket` and `wgnet status --admin-socket` default to.
inline constexpr const char* kDefaultSocket = "/run/wgnet/admin.sock";
// The environment variable that overrides that default for both (wgnetd reads every option from
// WGNETD_<OPTION>): e.g. one wgnetd per test, each with its own socket.
inline constexpr const char* kSocketEnv = "WGNETD_ADMIN_SOCKET";
// A managed plugin's wgnetd keeps its admin socket in its runtime directory: on the host,
// kManagedPluginDir/PLUGIN_ID/admin.sock (packaging/plugin/config.json).
inline constexpr const char* kManagedPluginDir = "/run/docker/plugins";

// A tunnel is healthy while its last handshake is younger than this (REJECT_AFTER_TIME: a
// session older than that carries no traffic).
inline constexpr int64_t kHealthySeconds = 180;

struct PeerStatus {
  std::string public_key;      // base64; a peer's (the hub's) public key is not secret
  std::string endpoint;        // "ip:port", empty when none is known
  int64_t last_handshake = 0;  // Unix seconds, 0 = never
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  std::vector<std::string> allowed_ips;
};

struct EndpointStatus {
  std::string network_id;
  std::string endpoint_id;
  // Docker's names (the command asks Docker); empty when unknown.
  std::string network;
  std::string container;
  std::string container_id;
  std::string interface;  // the device's name in the host namespace
  std::string backend;
  std::string address;     // IPv4 CIDR as Docker gave it, else empty
  std::string address6;    // IPv6 CIDR, else empty
  bool joined = false;     // a container holds the device
  std::string public_key;  // the device's own, base64; empty when it could not be read
  std::vector<PeerStatus> peers;
  std::string error;  // why the device could not be read; empty when it was

  // Over the peers: the latest handshake, the byte counts summed, the first known endpoint.
  int64_t last_handshake() const;
  uint64_t rx_bytes() const;
  uint64_t tx_bytes() const;
  std::string endpoint() const;
  bool healthy(int64_t now) const;
  // Docker's name, else the short ID (the endpoint's, for the container: wgnetd knows no other).
  std::string network_label() const;
  std::string container_label() const;
};

// The admin socket's reply to GET /status: {"endpoints":[...]}.
std::string encode_report(const std::vector<EndpointStatus>& endpoints, int64_t now);
// Reads that reply; throws SystemError when it is not one (the daemon's fault, not the user's).
std::vector<EndpointStatus> decode_report(std::string_view json);

// What `wgnet status --json` prints: an array of endpoint objects, each with the names (or short
// IDs), `healthy` as of `now`, the totals over peers and the peers themselves.
std::string format_json(const std::vector<EndpointStatus>& endpoints, int64_t now);
// What `wgnet status` prints: one row per endpoint, columns aligned, then a line per device that
// could not be read. "no wgnet endpoints" when there are none.
std::string format_table(const std::vector<EndpointStatus>& endpoints, int64_t now);

// "never", "42s ago", "3m 5s ago", "2h 4m ago", "3d 1h ago".
std::string format_age(int64_t last_handshake, int64_t now);
// "0 B", "1023 B", "1.50 KiB", "3.20 MiB", ... as `wg show` writes transfer amounts.
std::string format_bytes(uint64_t bytes);

// Sorted for reading: by network label, then container label, then endpoint ID.
void sort_for_display(std::vector<EndpointStatus>& endpoints);

}  // namespace wgnet::admin
