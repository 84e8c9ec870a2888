// The admin socket's answers. The device's public key and the peers' counters come from the
// backend's status; the private key is never read out (DeviceStatus carries none here).
#include "daemon/admin.h"

#include <ctime>

#include "crypto/encoding.h"
#include "driver/metrics.h"

namespace wgnet::daemon {

admin::EndpointStatus to_endpoint_status(const driver::DeviceReport& report) {
  const auto& r = report.record;
  admin::EndpointStatus e;
  e.network_id = r.network_id;
  e.endpoint_id = r.endpoint_id;
  e.interface = r.ifname;
  e.backend = r.backend;
  e.address = r.address4;
  e.address6 = r.address6;
  e.joined = !r.sandbox.empty();
  e.error = report.error;
  if (!report.device) return e;
  const auto& d = *report.device;
  if (d.public_key) e.public_key = crypto::key_to_base64(*d.public_key);
  for (const auto& p : d.peers) {
    admin::PeerStatus peer;
    peer.public_key = crypto::key_to_base64(p.public_key);
    if (p.endpoint) peer.endpoint = p.endpoint->str();
    peer.last_handshake = p.last_handshake_sec;
    peer.rx_bytes = p.rx_bytes;
    peer.tx_bytes = p.tx_bytes;
    for (const auto& ip : p.allowed_ips) peer.allowed_ips.push_back(ip.str());
    e.peers.push_back(std::move(peer));
  }
  return e;
}

StatusSource::StatusSource(Read read, metrics::Registry* registry,
                           std::chrono::milliseconds max_age)
    : read_(std::move(read)), registry_(registry), max_age_(max_age) {}

std::vector<admin::EndpointStatus> StatusSource::endpoints() {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (have_ && now - read_at_ < max_age_) return cached_;
  std::vector<admin::EndpointStatus> out;
  for (const auto& report : read_()) {
    out.push_back(to_endpoint_status(report));
    if (!report.error.empty()) driver::count_error(registry_, "device_status");
  }
  cached_ = out;
  read_at_ = std::chrono::steady_clock::now();
  have_ = true;
  return out;
}

http::Response serve_admin(const http::Request& request, StatusSource& status,
                           const metrics::Registry& registry) {
  if (request.target != "/status" && request.target != "/metrics")
    return http::plain_error(404, request.target + " is not here; try GET /status or /metrics");
  if (request.method != "GET") return http::plain_error(405, "use GET");
  if (request.target == "/metrics")
    return {200, std::string(metrics::kContentType), registry.render()};
  return {200, "application/json", admin::encode_report(status.endpoints(), std::time(nullptr))};
}

}  // namespace wgnet::daemon
