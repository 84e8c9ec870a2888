// The endpoint status in JSON, both ways: one object layout for the admin socket's report and
// for `wgnet status --json`, so a field means the same wherever it appears.
#include "admin/status.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>

#include "util/error.h"

namespace wgnet::admin {

using json = nlohmann::json;

int64_t EndpointStatus::last_handshake() const {
  int64_t latest = 0;
  for (const auto& p : peers) latest = std::max(latest, p.last_handshake);
  return latest;
}

uint64_t EndpointStatus::rx_bytes() const {
  uint64_t sum = 0;
  for (const auto& p : peers) sum += p.rx_bytes;
  return sum;
}

uint64_t EndpointStatus::tx_bytes() const {
  uint64_t sum = 0;
  for (const auto& p : peers) sum += p.tx_bytes;
  return sum;
}

std::string EndpointStatus::endpoint() const {
  for (const auto& p : peers)
    if (!p.endpoint.empty()) return p.endpoint;
  return "";
}

bool EndpointStatus::healthy(int64_t now) const {
  int64_t last = last_handshake();
  return last > 0 && now - last < kHealthySeconds;
}

std::string EndpointStatus::network_label() const {
  return network.empty() ? short_id(network_id) : network;
}

std::string EndpointStatus::container_label() const {
  return container.empty() ? short_id(endpoint_id) : container;
}

namespace {

// `labels`: the command's output, where names are never empty (short IDs stand in for them);
// else the daemon's report, which has no names to give.
json to_json(const EndpointStatus& e, int64_t now, bool labels) {
  json j;
  if (labels) {
    j["network"] = e.network_label();
    j["container"] = e.container_label();
  } else {
    if (!e.network.empty()) j["network"] = e.network;
    if (!e.container.empty()) j["container"] = e.container;
  }
  j["network_id"] = e.network_id;
  j["endpoint_id"] = e.endpoint_id;
  if (!e.container_id.empty()) j["container_id"] = e.container_id;
  j["interface"] = e.interface;
  j["backend"] = e.backend;
  j["address"] = e.address;
  if (!e.address6.empty()) j["address6"] = e.address6;
  j["joined"] = e.joined;
  j["public_key"] = e.public_key;
  j["endpoint"] = e.endpoint();
  j["last_handshake"] = e.last_handshake();
  j["rx_bytes"] = e.rx_bytes();
  j["tx_bytes"] = e.tx_bytes();
  j["healthy"] = e.healthy(now);
  json peers = json::array();
  for (const auto& p : e.peers)
    peers.push_back({{"public_key", p.public_key},
                     {"endpoint", p.endpoint},
                     {"last_handshake", p.last_handshake},
                     {"rx_bytes", p.rx_bytes},
                     {"tx_bytes", p.tx_bytes},
                     {"allowed_ips", p.allowed_ips}});
  j["peers"] = std::move(peers);
  if (!e.error.empty()) j["error"] = e.error;
  return j;
}

template <typename T>
T field(const json& j, const char* name, T fallback) {
  auto it = j.find(name);
  return it == j.end() || it->is_null() ? fallback : it->get<T>();
}

EndpointStatus from_json(const json& j) {
  EndpointStatus e;
  e.network_id = field<std::string>(j, "network_id", "");
  e.endpoint_id = field<std::string>(j, "endpoint_id", "");
  e.network = field<std::string>(j, "network", "");
  e.container = field<std::string>(j, "container", "");
  e.container_id = field<std::string>(j, "container_id", "");
  e.interface = field<std::string>(j, "interface", "");
  e.backend = field<std::string>(j, "backend", "");
  e.address = field<std::string>(j, "address", "");
  e.address6 = field<std::string>(j, "address6", "");
  e.joined = field<bool>(j, "joined", false);
  e.public_key = field<std::string>(j, "public_key", "");
  e.error = field<std::string>(j, "error", "");
  for (const auto& p : field<json>(j, "peers", json::array())) {
    PeerStatus peer;
    peer.public_key = field<std::string>(p, "public_key", "");
    peer.endpoint = field<std::string>(p, "endpoint", "");
    peer.last_handshake = field<int64_t>(p, "last_handshake", 0);
    peer.rx_bytes = field<uint64_t>(p, "rx_bytes", 0);
    peer.tx_bytes = field<uint64_t>(p, "tx_bytes", 0);
    peer.allowed_ips = field<std::vector<std::string>>(p, "allowed_ips", {});
    e.peers.push_back(std::move(peer));
  }
  return e;
}

}  // namespace

std::string encode_report(const std::vector<EndpointStatus>& endpoints, int64_t now) {
  json list = json::array();
  for (const auto& e : endpoints) list.push_back(to_json(e, now, false));
  return json{{"endpoints", std::move(list)}}.dump() + "\n";
}

std::vector<EndpointStatus> decode_report(std::string_view text) {
  try {
    json j = json::parse(text);
    if (!j.is_object() || !j.contains("endpoints") || !j["endpoints"].is_array())
      throw SystemError("no \"endpoints\" array");
    std::vector<EndpointStatus> out;
    for (const auto& e : j["endpoints"]) {
      if (!e.is_object()) throw SystemError("an endpoint is not an object");
      out.push_back(from_json(e));
    }
    return out;
  } catch (const json::exception& x) {
    // The reply is wgnetd's: no user input to quote, but its shape is wrong.
    throw SystemError(std::string("wgnetd's status report is malformed: ") + x.what());
  } catch (const SystemError& x) {
    throw SystemError(std::string("wgnetd's status report is malformed: ") + x.what());
  }
}

std::string format_json(const std::vector<EndpointStatus>& endpoints, int64_t now) {
  json list = json::array();
  for (const auto& e : endpoints) list.push_back(to_json(e, now, true));
  return list.dump(2) + "\n";
}

void sort_for_display(std::vector<EndpointStatus>& endpoints) {
  std::stable_sort(endpoints.begin(), endpoints.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(a.network_label(), a.container_label(), a.endpoint_id) <
           std::make_tuple(b.network_label(), b.container_label(), b.endpoint_id);
  });
}

}  // namespace wgnet::admin
