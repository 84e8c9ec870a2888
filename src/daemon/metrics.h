// What wgnetd exports to Prometheus besides the driver's own counters: its libnetwork calls
// (count by method and result, latency) and, computed at each scrape, every endpoint's device
// (handshake, bytes, health) and the endpoints per network and backend. Labels carry short IDs,
// backend and method names: never a key.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "daemon/admin.h"
#include "driver/api.h"
#include "metrics/registry.h"

namespace wgnet::daemon {

// The method label of a libnetwork call: its name ("NetworkDriver.Join") when it is one of the
// protocol's, else "other", so no caller can grow the label set.
std::string method_label(std::string_view target);

class RequestMetrics {
 public:
  explicit RequestMetrics(metrics::Registry& registry);
  // One call to `target` answered with `reply` after `took`.
  void observe(std::string_view target, const driver::Reply& reply,
               std::chrono::steady_clock::duration took);

 private:
  metrics::Registry& registry_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Histogram>& latency_;
};

// The families computed from the endpoints at each scrape (none of them is kept between scrapes,
// so removed endpoints disappear).
std::vector<metrics::FamilySnapshot> endpoint_families(
    const std::vector<admin::EndpointStatus>& endpoints, int64_t now);

// Registers wgnet_build_info and the collector of endpoint_families over `status`.
void add_endpoint_metrics(metrics::Registry& registry, StatusSource& status,
                          const std::string& version);

}  // namespace wgnet::daemon
