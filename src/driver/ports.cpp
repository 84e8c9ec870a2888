// Published ports (`docker run -p`): Docker 28 and later hand the container's port bindings to the
// endpoint that is its gateway, which a wgnet endpoint is whenever its default route wins. The
// container has only lo and its tunnel, so wgnetd listens on the host and relays into the
// container's namespace (portmap::Publisher). What is published is recorded with the endpoint so
// that a restarted wgnetd publishes it again: Docker never re-sends it.
#include "driver/device_config.h"
#include "driver/driver.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::driver {

namespace {

portmap::Target target_of(const EndpointRecord& e) {
  portmap::Target t;
  t.sandbox = e.sandbox;
  for (const auto& a : addresses_of(e)) (a.address().is_v4() ? t.ipv4 : t.ipv6) = a.address();
  return t;
}

std::string describe_all(const std::vector<portmap::Binding>& bindings) {
  std::string out;
  for (const auto& b : bindings) out += (out.empty() ? "" : ", ") + portmap::describe(b);
  return out;
}

// With another endpoint the container's IPv6 gateway, that one publishes on the host's IPv6
// addresses (as Docker's bridge driver does): this one keeps to IPv4.
std::vector<portmap::Binding> for_family(const ExternalConnectivityRequest& r) {
  if (!r.ipv4_only) return r.bindings;
  std::vector<portmap::Binding> out;
  for (auto b : r.bindings) {
    if (b.host_ip && b.host_ip->is_v6()) continue;
    if (!b.host_ip) b.host_ip = IpAddress::parse("0.0.0.0");
    out.push_back(b);
  }
  return out;
}
}  // namespace

void WgDriver::program_external_connectivity(const ExternalConnectivityRequest& r) {
  for (const auto& b : r.bindings) portmap::validate(b);
  auto n = network(r.network_id);
  auto [entry, op] = lock_endpoint(r.endpoint_id);
  if (!entry || !n)
    throw InputError("endpoint " + short_id(r.endpoint_id) +
                     " is not known to wgnet: its ports cannot be published");
  auto e = endpoints_.record(entry);
  auto bindings = for_family(r);
  if (n->record.internal && !bindings.empty()) {
    // Docker 29 no longer spares internal networks this call; an internal network publishes
    // nothing, as Docker's own drivers do.
    log::info("endpoint " + short_id(r.endpoint_id) +
              ": its network is --internal: " + describe_all(bindings) + " not published");
    bindings.clear();
  }
  if (bindings.empty()) {
    unpublish_locked(entry);
    return;
  }
  if (e.sandbox.empty())
    throw InputError("endpoint " + short_id(r.endpoint_id) +
                     " has not joined a container: its ports cannot be published");
  // Docker 29 repeats itself: the publisher makes the same set again cost nothing, and so a
  // repeat also heals a set that could not be published again at start-up.
  std::string encoded = portmap::encode(bindings);
  ports_.publish(r.endpoint_id, target_of(e), bindings);  // all or nothing; throws InputError
  try {
    state_.set_ports(r.endpoint_id, encoded);
  } catch (...) {
    // Not recorded means not published: a restart would not restore it.
    if (e.ports.empty()) {
      ports_.unpublish(r.endpoint_id);
    } else {
      try {
        ports_.publish(r.endpoint_id, target_of(e), portmap::decode(e.ports));
      } catch (const std::exception& x) {
        log::warn("endpoint " + short_id(r.endpoint_id) + ": restoring its ports: " + x.what());
      }
    }
    throw;
  }
  endpoints_.update(entry, [&](EndpointRecord& rec) { rec.ports = encoded; });
  if (encoded != e.ports)
    log::info("endpoint " + short_id(r.endpoint_id) + ": publishing " + describe_all(bindings));
}

void WgDriver::revoke_external_connectivity(const EndpointRef& r) {
  auto [entry, op] = lock_endpoint(r.endpoint_id);
  if (!entry) return;
  unpublish_locked(entry);
}

void WgDriver::unpublish_locked(const EndpointTable::Entry& entry) {
  auto e = endpoints_.record(entry);
  if (e.ports.empty()) return;
  ports_.unpublish(e.endpoint_id);
  state_.set_ports(e.endpoint_id, "");
  endpoints_.update(entry, [](EndpointRecord& rec) { rec.ports.clear(); });
  log::info("endpoint " + short_id(e.endpoint_id) + ": no longer publishing ports");
}

void WgDriver::republish_locked(const EndpointTable::Entry& entry) {
  auto e = endpoints_.record(entry);
  if (e.ports.empty() || e.sandbox.empty()) return;
  try {
    auto bindings = portmap::decode(e.ports);
    ports_.publish(e.endpoint_id, target_of(e), bindings);
    log::info("endpoint " + short_id(e.endpoint_id) + ": publishing again " +
              describe_all(bindings));
  } catch (const std::exception& x) {
    // Kept in the state: Docker's Revoke or the endpoint's end still clear it.
    log::warn("endpoint " + short_id(e.endpoint_id) +
              ": its ports cannot be published again: " + x.what());
  }
}

}  // namespace wgnet::driver
