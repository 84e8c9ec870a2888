// A joined endpoint whose device died (its wireguard-go exited, its engine device was lost) gets a
// new device with the same key, put back into the container as Docker would: the tunnel is down
// (fail closed) only for as long as that takes.
#include "driver/device_config.h"
#include "driver/driver.h"
#include "driver/metrics.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::driver {

void WgDriver::recover(const std::string& ifname) {
  auto id = endpoints_.by_ifname(ifname);
  if (!id) return;
  auto [entry, op] = lock_endpoint(*id);
  if (!entry || stopping_) return;
  recover_locked(entry);
}

void WgDriver::recover_locked(const EndpointTable::Entry& entry) {
  auto e = endpoints_.record(entry);
  if (e.sandbox.empty()) return;  // not in a container: Join rebuilds it when needed
  if (container_gone(entry, e)) {
    // The container is gone too (its namespace died with it): nothing to put the device back into.
    try {
      remove_endpoint(entry, "its container is gone: " + e.sandbox + " no longer exists");
    } catch (const std::exception& x) {
      log::warn("endpoint " + short_id(e.endpoint_id) + ": removing it: " + x.what());
    }
    return;
  }
  auto n = network(e.network_id);
  if (!n) return;
  auto& backend = backends_.get(e.backend);
  try {
    auto options = options_of(*n);
    // What the dead server left: its UAPI socket, and a persistent link still inside the container
    // (an engine TUN nobody serves), which would otherwise stay there as wg0 beside the new wg1.
    backend.remove(ref(e));
    auto setup = setup_for(*n, e);
    e.handle = backend.create(e.ifname, setup.config, setup.mtu);
    state_.set_handle(e.endpoint_id, e.handle);
    endpoints_.update(entry, [&](EndpointRecord& rec) { rec.handle = e.handle; });
    if (!host_.sandbox_exists(e.sandbox)) {
      // Joined, but Docker has not moved it into the container yet: it will, by its name.
      log::info("endpoint " + short_id(e.endpoint_id) + ": device " + e.ifname + " rebuilt");
      count_recovery(config_.metrics, e.backend, true);
      return;
    }
    // Docker named it DstPrefix + the lowest free number; the old one is gone, so the same.
    std::string inside =
        host_.place_in_sandbox(e.ifname, e.sandbox, "wg", addresses_of(e), routes_for(*options, e));
    log::info("endpoint " + short_id(e.endpoint_id) + ": tunnel restored as " + inside +
              " in its container");
    count_recovery(config_.metrics, e.backend, true);
  } catch (const std::exception& x) {
    log::error("endpoint " + short_id(e.endpoint_id) + ": cannot restore its tunnel: " + x.what() +
               "; restart the container");
    count_recovery(config_.metrics, e.backend, false);
    try {
      backend.remove(ref(e));
    } catch (const std::exception&) {
    }
  }
}

}  // namespace wgnet::driver
