// Reading every endpoint's device for status reports and metrics. A read never waits behind an
// operation on the endpoint: Docker's calls must not be slowed by someone watching.
#include "driver/driver.h"

namespace wgnet::driver {

std::vector<DeviceReport> WgDriver::device_reports() {
  std::vector<DeviceReport> out;
  for (const auto& listed : endpoints_.records()) {
    DeviceReport report;
    report.record = listed;
    auto entry = endpoints_.find(listed.endpoint_id);
    if (!entry) continue;  // removed meanwhile
    // Backends expect calls for one device one at a time (backend.h): take the endpoint's
    // operation lock, but only if it is free. Its phase may be read only under that lock.
    std::unique_lock op(entry->op, std::try_to_lock);
    if (op.owns_lock() && entry->phase == EndpointEntry::Phase::kGone) continue;
    if (!op.owns_lock() || entry->phase != EndpointEntry::Phase::kReady) {
      report.error = "busy: an operation on this endpoint is in progress";
      out.push_back(std::move(report));
      continue;
    }
    report.record = endpoints_.record(entry);
    try {
      report.device = backends_.get(report.record.backend).status(ref(report.record));
    } catch (const std::exception& x) {
      report.error = x.what();
    }
    out.push_back(std::move(report));
  }
  return out;
}

}  // namespace wgnet::driver
