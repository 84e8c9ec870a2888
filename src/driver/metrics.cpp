// Families are looked up by name at each count: both happen rarely (a failure, a recovery), and it
// spares the driver from holding references into the registry.
#include "driver/metrics.h"

namespace wgnet::driver {

namespace {

metrics::Family<metrics::Counter>& errors(metrics::Registry& registry) {
  return registry.counter("wgnet_errors_total",
                          "Failures: libnetwork calls answered with an error (request), devices "
                          "that could not be rebuilt (recovery) or read (device_status)",
                          {"source"});
}

metrics::Family<metrics::Counter>& recoveries(metrics::Registry& registry) {
  return registry.counter("wgnet_device_recoveries_total",
                          "Devices of running containers rebuilt after they died, by result",
                          {"backend", "result"});
}

}  // namespace

void register_metrics(metrics::Registry& registry) {
  for (const char* source : {"request", "recovery", "device_status"})
    errors(registry).with({source});
  recoveries(registry);
}

void count_error(metrics::Registry* registry, const std::string& source) {
  if (registry) errors(*registry).with({source}).inc();
}

void count_recovery(metrics::Registry* registry, const std::string& backend, bool ok) {
  if (!registry) return;
  recoveries(*registry).with({backend, ok ? "ok" : "failed"}).inc();
  if (!ok) count_error(registry, "recovery");
}

}  // namespace wgnet::driver
