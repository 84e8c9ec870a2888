// Metric names follow Prometheus' conventions (base units, _total for counters, _timestamp_seconds
// for points in time), which `promtool check metrics` enforces in the tests.
#include "daemon/metrics.h"

#include <array>
#include <ctime>
#include <map>

#include "driver/metrics.h"
#include "util/error.h"

namespace wgnet::daemon {

namespace {

// libnetwork's remote driver methods (docker-driver.md) and the plugin handshake.
constexpr std::array<std::string_view, 15> kMethods = {
    "Plugin.Activate",
    "NetworkDriver.GetCapabilities",
    "NetworkDriver.CreateNetwork",
    "NetworkDriver.DeleteNetwork",
    "NetworkDriver.CreateEndpoint",
    "NetworkDriver.EndpointOperInfo",
    "NetworkDriver.DeleteEndpoint",
    "NetworkDriver.Join",
    "NetworkDriver.Leave",
    "NetworkDriver.DiscoverNew",
    "NetworkDriver.DiscoverDelete",
    "NetworkDriver.ProgramExternalConnectivity",
    "NetworkDriver.RevokeExternalConnectivity",
    "NetworkDriver.AllocateNetwork",
    "NetworkDriver.FreeNetwork",
};

bool is_error(const driver::Reply& reply) {
  // driver::error_reply is the one way an error is answered, with or without a 200.
  return reply.status != 200 || reply.body.rfind("{\"Err\"", 0) == 0;
}

}  // namespace

std::string method_label(std::string_view target) {
  auto slash = target.rfind('/');
  auto name = slash == std::string_view::npos ? target : target.substr(slash + 1);
  for (auto m : kMethods)
    if (m == name) return std::string(m);
  return "other";
}

RequestMetrics::RequestMetrics(metrics::Registry& registry)
    : registry_(registry),
      requests_(registry.counter("wgnet_requests_total",
                                 "libnetwork calls from Docker, by method and result (ok, error)",
                                 {"method", "result"})),
      latency_(registry.histogram("wgnet_request_duration_seconds",
                                  "Time wgnetd took to answer a libnetwork call, by method",
                                  {"method"}, metrics::latency_buckets())) {}

void RequestMetrics::observe(std::string_view target, const driver::Reply& reply,
                             std::chrono::steady_clock::duration took) {
  std::string method = method_label(target);
  bool error = is_error(reply);
  requests_.with({method, error ? "error" : "ok"}).inc();
  latency_.with({method}).observe(std::chrono::duration<double>(took).count());
  if (error) driver::count_error(&registry_, "request");
}

std::vector<metrics::FamilySnapshot> endpoint_families(
    const std::vector<admin::EndpointStatus>& endpoints, int64_t now) {
  using metrics::Type;
  metrics::FamilySnapshot count{"wgnet_endpoints",
                                "Endpoints (devices) wgnetd serves, by network "
                                "and backend",
                                Type::kGauge,
                                {}};
  metrics::FamilySnapshot joined{"wgnet_endpoints_joined",
                                 "Endpoints whose device a container holds, by network and backend",
                                 Type::kGauge,
                                 {}};
  metrics::FamilySnapshot handshake{
      "wgnet_endpoint_last_handshake_timestamp_seconds",
      "Unix time of the endpoint's latest handshake with any peer (0: never)",
      Type::kGauge,
      {}};
  metrics::FamilySnapshot rx{"wgnet_endpoint_received_bytes_total",
                             "Bytes the endpoint's device received from its peers (reset when the "
                             "device is rebuilt)",
                             Type::kCounter,
                             {}};
  metrics::FamilySnapshot tx{"wgnet_endpoint_sent_bytes_total",
                             "Bytes the endpoint's device sent to its peers (reset when the device "
                             "is rebuilt)",
                             Type::kCounter,
                             {}};
  metrics::FamilySnapshot healthy{
      "wgnet_endpoint_healthy",
      "1 while the endpoint's latest handshake is younger than 180 s, else 0",
      Type::kGauge,
      {}};
  std::map<std::pair<std::string, std::string>, std::pair<double, double>> per_network;
  for (const auto& e : endpoints) {
    auto& n = per_network[{short_id(e.network_id), e.backend}];
    n.first += 1;
    n.second += e.joined ? 1 : 0;
    if (!e.error.empty()) continue;  // no device read: no device samples
    metrics::LabelPairs labels{{"network", short_id(e.network_id)},
                               {"endpoint", short_id(e.endpoint_id)}};
    handshake.samples.push_back({"", labels, static_cast<double>(e.last_handshake())});
    rx.samples.push_back({"", labels, static_cast<double>(e.rx_bytes())});
    tx.samples.push_back({"", labels, static_cast<double>(e.tx_bytes())});
    healthy.samples.push_back({"", labels, e.healthy(now) ? 1.0 : 0.0});
  }
  for (const auto& [key, n] : per_network) {
    metrics::LabelPairs labels{{"network", key.first}, {"backend", key.second}};
    count.samples.push_back({"", labels, n.first});
    joined.samples.push_back({"", labels, n.second});
  }
  return {count, joined, handshake, rx, tx, healthy};
}

void add_endpoint_metrics(metrics::Registry& registry, StatusSource& status,
                          const std::string& version) {
  registry.gauge("wgnet_build_info", "wgnetd's version; always 1", {"version"})
      .with({version})
      .set(1);
  registry.add_collector([&status] {
    try {
      return endpoint_families(status.endpoints(), std::time(nullptr));
    } catch (const std::exception&) {
      return std::vector<metrics::FamilySnapshot>{};  // a scrape without them beats none
    }
  });
}

}  // namespace wgnet::daemon
