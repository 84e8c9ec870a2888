// Start-up: what the state records is loaded whole (or not at all), then each recorded device is
// taken over, rebuilt or removed. Devices the state does not record are never touched: they may
// belong to another wgnetd with its own state directory.
#include <algorithm>

#include "driver/device_config.h"
#include "driver/driver.h"
#include "driver/mtu.h"
#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::driver {

namespace {

// Whether a stored record is usable; `why` says why not.
bool usable(const EndpointRecord& e, std::string& why) {
  try {
    netlink::rtnl::check_ifname(e.ifname);
  } catch (const InputError&) {
    why = "its device name is not a valid interface name";
    return false;
  }
  for (const auto* a : {&e.address4, &e.address6})
    if (!a->empty() && !Cidr::parse(*a)) {
      why = "an address is not a CIDR address";
      return false;
    }
  if (e.address4.empty() && e.address6.empty()) {
    why = "it has no address";
    return false;
  }
  return true;
}
}  // namespace

void WgDriver::restore() {
  const std::optional<std::set<std::string>> stated = load_state();
  reconcile();
  // What a backend may let go of after reconcile: devices the state has no row for at all (when
  // every row could be read).
  const auto in_state = [&stated](const std::string& ifname) {
    return !stated || stated->contains(ifname);
  };
  std::set<std::string> backends;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, n] : networks_) backends.insert(n->record.backend);
  }
  for (const auto& e : endpoints_.records()) backends.insert(e.backend);
  for (const auto& name : backends) {
    try {
      backends_.get(name).restored(in_state);
    } catch (const std::exception& x) {
      log::warn("backend " + name + ": " + x.what());
    }
    try {
      watch(name);
    } catch (const std::exception& x) {
      log::warn("backend " + name + ": " + x.what());
    }
  }
  if (config_.sweep_interval.count() > 0) sweeper_ = std::thread([this] { sweeper_loop(); });
}

std::optional<std::set<std::string>> WgDriver::load_state() {
  // Both tables are read before anything is acted on: a read error throws here, with nothing
  // touched, rather than leave a half-loaded state to reconcile against.
  std::vector<std::string> skipped;
  auto networks = state_.networks(&skipped);
  auto endpoints = state_.endpoints(&skipped);
  std::optional<std::set<std::string>> stated;
  if (skipped.empty()) {
    stated.emplace();
    for (const auto& e : endpoints) stated->insert(e.ifname);
  }
  for (auto& rec : networks) {
    auto n = std::make_shared<Network>();
    n->record = rec;
    bool pools_ok = true;
    for (const auto* list : {&rec.pools4, &rec.pools6})
      for (const auto& p : *list) {
        auto c = Cidr::parse(p);
        if (c)
          n->pools.push_back(*c);
        else
          pools_ok = false;
      }
    if (!pools_ok || n->pools.empty()) {
      skipped.push_back("network '" + rec.id + "': its pools are not CIDR subnets");
      continue;
    }
    try {
      auto ctx = pools_context(config_.seed_dir, !rec.pools4.empty(), !rec.pools6.empty(), false);
      n->options = std::make_shared<const NetworkOptions>(parse_network_options(rec.options, ctx));
    } catch (const std::exception& e) {
      log::error("network " + short_id(rec.id) +
                 ": its options do not validate now (retried on use): " + e.what());
    }
    std::lock_guard lock(mutex_);
    networks_[rec.id] = n;
  }
  for (auto& e : endpoints) {
    std::string why;
    if (!usable(e, why)) {
      skipped.push_back("endpoint '" + e.endpoint_id + "': " + why);
      continue;
    }
    endpoints_.insert_ready(e);
  }
  for (const auto& s : skipped) log::error("state: skipped " + s + "; it is left as it is");
  std::lock_guard lock(mutex_);
  log::info("restored " + std::to_string(networks_.size()) + " network(s) and " +
            std::to_string(endpoints_.size()) + " endpoint(s) from " + state_.path() +
            (skipped.empty() ? "" : " (" + std::to_string(skipped.size()) + " row(s) skipped)"));
  return stated;
}

void WgDriver::reconcile() {
  for (const auto& rec : endpoints_.records()) {
    auto [entry, op] = lock_endpoint(rec.endpoint_id);
    if (!entry) continue;
    try {
      reconcile_endpoint(entry);
    } catch (const std::exception& x) {
      log::warn("reconcile: endpoint " + short_id(rec.endpoint_id) + ": " + x.what());
    }
  }
}

void WgDriver::reconcile_endpoint(const EndpointTable::Entry& entry) {
  auto e = endpoints_.record(entry);
  auto n = network(e.network_id);
  if (!n) {
    log::warn("reconcile: endpoint " + short_id(e.endpoint_id) + " belongs to network " +
              short_id(e.network_id) + ", which is not known; its device " + e.ifname +
              " is left as it is");
    return;
  }
  auto& backend = backends_.get(e.backend);
  // A container that went away while wgnetd was down: Docker gave up on Leave and DeleteEndpoint
  // and moved the device back to the host namespace, or its namespace is gone. A joined device is
  // otherwise always inside its container.
  if (!e.sandbox.empty()) {
    // After a restart nothing is in flight: a missing namespace file means the container is gone.
    bool sandbox_gone = !host_.sandbox_exists(e.sandbox);
    entry->sandbox_seen = !sandbox_gone;
    if (sandbox_gone || host_.link_exists(e.ifname)) {
      remove_endpoint(entry, std::string("its container is gone: ") +
                                 (sandbox_gone ? e.sandbox + " no longer exists"
                                               : "the device is back in the host namespace"));
      return;
    }
  }
  std::optional<wg::DeviceConfig> config;
  uint32_t mtu = kDefaultMtu;
  try {
    auto setup = setup_for(*n, e);
    config = std::move(setup.config);
    mtu = setup.mtu;
  } catch (const std::exception& x) {
    log::warn("reconcile: endpoint " + short_id(e.endpoint_id) +
              ": its configuration cannot be computed now: " + x.what());
  }
  if (backend.adopt(ref(e), config, mtu)) {
    republish_locked(entry);
    return;
  }
  if (!e.sandbox.empty()) {
    // Its server died while wgnetd was down: rebuilt into its container.
    recover_locked(entry);
    if (entry->phase != EndpointEntry::Phase::kGone) republish_locked(entry);
  } else {
    log::info("endpoint " + short_id(e.endpoint_id) + ": device " + e.ifname +
              " is missing; it is rebuilt when the endpoint joins");
  }
}

}  // namespace wgnet::driver
