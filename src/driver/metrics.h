// The driver's own metrics (device recoveries, errors), counted in the daemon's registry; the
// names and help texts live here so the daemon and the driver count errors the same way.
#pragma once
#include <string>

#include "metrics/registry.h"

namespace wgnet::driver {

// Registers both families below, with the error sources at 0, so a scrape shows them before
// anything happened (a rate over a series that does not exist yet is no rate at all).
void register_metrics(metrics::Registry& registry);

// wgnet_errors_total{source}: something failed that nobody was told about directly (a device
// that could not be rebuilt) or that a caller got an error for (source "request"). No-op when
// `registry` is null.
void count_error(metrics::Registry* registry, const std::string& source);

// wgnet_device_recoveries_total{backend,result}: a device that died was rebuilt into its
// container (result "ok") or could not be ("failed").
void count_recovery(metrics::Registry* registry, const std::string& backend, bool ok);

}  // namespace wgnet::driver
