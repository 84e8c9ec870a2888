// wgnetd's admin socket: what `wgnet status` asks (GET /status) and, for a scraper on the host
// without TCP, the metrics (GET /metrics). Root only (the socket is 0600); never the plugin socket,
// which Docker alone should use.
#pragma once
#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "admin/status.h"
#include "driver/driver.h"
#include "http/message.h"
#include "metrics/registry.h"

namespace wgnet::daemon {

// One endpoint as `wgnet status` shows it, from what the driver and its backend report.
admin::EndpointStatus to_endpoint_status(const driver::DeviceReport& report);

// Reads the driver's device reports for the admin socket and the metrics collector. Calls that
// come within `max_age` of a read share it, so a burst of scrapes reads each device once.
class StatusSource {
 public:
  using Read = std::function<std::vector<driver::DeviceReport>()>;
  StatusSource(Read read, metrics::Registry* registry,
               std::chrono::milliseconds max_age = std::chrono::milliseconds(1000));
  std::vector<admin::EndpointStatus> endpoints();

 private:
  const Read read_;
  metrics::Registry* const registry_;
  const std::chrono::milliseconds max_age_;
  std::mutex mutex_;  // one read at a time; the cache
  std::chrono::steady_clock::time_point read_at_{};
  std::vector<admin::EndpointStatus> cached_;
  bool have_ = false;
};

// The admin socket's handler: GET /status (admin/status.h's report), GET /metrics.
http::Response serve_admin(const http::Request& request, StatusSource& status,
                           const metrics::Registry& registry);

}  // namespace wgnet::daemon
