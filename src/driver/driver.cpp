// The order of operations is what makes wgnet fail closed and restart-safe: validate everything,
// record the endpoint, build the device completely, and only then answer Docker.
#include "driver/driver.h"

#include "driver/device_config.h"
#include "driver/ifname.h"
#include "driver/mtu.h"
#include "keys/derive.h"
#include "util/error.h"
#include "util/log.h"

namespace wgnet::driver {

namespace {

std::optional<Cidr> parse_cidr(const std::string& text, const std::string& what) {
  if (text.empty()) return std::nullopt;
  auto c = Cidr::parse(text);
  if (!c) throw InputError(what + ": '" + text + "' is not a CIDR address");
  return c;
}

// The address `a` (of the given family) must lie in one of the network's pools.
void check_in_pools(const std::optional<Cidr>& a, bool v4, const std::vector<Cidr>& pools,
                    const char* what) {
  if (!a) return;
  if (a->address().is_v4() != v4)
    throw InputError(std::string(what) + ": " + a->str() + " is not an " + (v4 ? "IPv4" : "IPv6") +
                     " address");
  for (const auto& p : pools)
    if (p.contains(a->address())) return;
  throw InputError(std::string(what) + ": " + a->str() + " is not in the network's subnets");
}

// How CreateNetwork (and a swarm manager's AllocateNetwork) check options: the seed is loaded
// and hub names are resolved now.
OptionContext checking_context(const std::string& seed_dir, bool ipv4, bool ipv6,
                               HubResolver& hubs) {
  auto c = pools_context(seed_dir, ipv4, ipv6, true);
  c.resolve_hub = [&hubs](const HubEndpoint& e, std::string_view what) {
    hubs.resolve_now(e, what);
  };
  return c;
}

}  // namespace

WgDriver::WgDriver(StateStore& state, wg::Backends& backends, Host& host, portmap::Publisher& ports,
                   DriverConfig config)
    : state_(state),
      backends_(backends),
      host_(host),
      ports_(ports),
      config_(std::move(config)),
      hubs_(host, config_.hub_resolution) {}

WgDriver::~WgDriver() {
  {
    std::lock_guard lock(sweeper_mutex_);
    stopping_ = true;
  }
  sweeper_wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  std::set<std::string> watched;
  {
    std::lock_guard lock(mutex_);
    watched = watched_;
  }
  for (const auto& name : watched) {
    try {
      backends_.get(name).on_lost(nullptr);  // waits for a recovery that is running
    } catch (const std::exception&) {
    }
  }
}

wg::DeviceRef WgDriver::ref(const EndpointRecord& e) { return {e.ifname, e.handle, e.sandbox}; }

std::shared_ptr<WgDriver::Network> WgDriver::network(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = networks_.find(id);
  return it == networks_.end() ? nullptr : it->second;
}

std::shared_ptr<const NetworkOptions> WgDriver::options_of(Network& n) {
  {
    std::lock_guard lock(mutex_);
    if (n.options) return n.options;
  }
  auto ctx =
      pools_context(config_.seed_dir, !n.record.pools4.empty(), !n.record.pools6.empty(), true);
  auto o = std::make_shared<const NetworkOptions>(parse_network_options(n.record.options, ctx));
  std::lock_guard lock(mutex_);
  if (!n.options) {
    n.options = o;
    log::info("network " + short_id(n.record.id) + ": its options validate again");
  }
  return n.options;
}

WgDriver::DeviceSetup WgDriver::setup_for(Network& n, const EndpointRecord& e) {
  auto options = options_of(n);
  DeviceSetup s{device_config(*options, e, config_.seed_dir, hubs_), 0};
  auto mtu = tunnel_mtu(*options, s.config, !n.record.pools6.empty(), host_);
  s.mtu = mtu.mtu;
  log::debug("endpoint " + short_id(e.endpoint_id) + ": mtu " + std::to_string(s.mtu) + " (" +
             mtu.why + ")");
  return s;
}

std::pair<EndpointTable::Entry, std::unique_lock<std::mutex>> WgDriver::lock_endpoint(
    const std::string& endpoint_id) {
  for (;;) {
    auto entry = endpoints_.find(endpoint_id);
    if (!entry) return {EndpointTable::Entry(), std::unique_lock<std::mutex>()};
    std::unique_lock op(entry->op);
    // Removed (or a create that failed) while we waited: look again.
    if (entry->phase == EndpointEntry::Phase::kGone) continue;
    return {entry, std::move(op)};
  }
}

std::string WgDriver::pick_name(const std::string& endpoint_id) {
  return pick_ifname(endpoint_id, [&](const std::string& n) {
    return endpoints_.ifname_taken(n) || host_.link_exists(n);
  });
}

bool WgDriver::container_gone(const EndpointTable::Entry& entry, const EndpointRecord& e) {
  if (e.sandbox.empty()) return false;
  if (host_.sandbox_exists(e.sandbox)) {
    entry->sandbox_seen = true;
    return false;
  }
  return entry->sandbox_seen ||
         std::chrono::steady_clock::now() - entry->joined_at > config_.sandbox_grace;
}

void WgDriver::remove_endpoint(const EndpointTable::Entry& entry, const std::string& why) {
  unpublish_locked(entry);
  EndpointRecord e = endpoints_.record(entry);
  // Device, then record, then memory: a failure leaves the endpoint for a retry.
  backends_.get(e.backend).remove(ref(e));
  state_.delete_endpoint(e.endpoint_id);
  endpoints_.erase(entry);
  log::info("endpoint " + short_id(e.endpoint_id) + ": " + e.ifname + " deleted" +
            (why.empty() ? "" : " (" + why + ")"));
}

void WgDriver::watch(const std::string& backend) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || !watched_.insert(backend).second) return;
  }
  backends_.get(backend).on_lost([this](const std::string& ifname) {
    if (!stopping_) recover(ifname);
  });
}

std::map<std::string, std::string> WgDriver::allocate_network(const AllocateNetworkRequest& r) {
  if (r.network_id.empty()) throw InputError("AllocateNetwork: NetworkID is empty");
  // Swarm sends no IPv6 pools here; the IPv6-only checks run at each node's CreateNetwork.
  // Swarm refuses IPv4-less networks: the IPv4 pools come at each node's CreateNetwork.
  parse_network_options(r.options,
                        checking_context(config_.seed_dir, true, !r.ipv6.empty(), hubs_));
  log::info("network " + short_id(r.network_id) + " allocated for swarm");
  return r.options;
}

void WgDriver::create_network(const CreateNetworkRequest& r) {
  if (r.network_id.empty()) throw InputError("CreateNetwork: NetworkID is empty");
  if (network(r.network_id)) return;  // a retried request
  auto n = std::make_shared<Network>();
  n->record.id = r.network_id;
  n->record.options = r.generic;
  n->record.internal = r.internal;
  auto add_pools = [&](const std::vector<IpamData>& data, bool v4, std::vector<std::string>& out) {
    const std::string what = v4 ? "IPv4Data.Pool" : "IPv6Data.Pool";
    for (const auto& d : data) {
      auto c = parse_cidr(d.pool, what);
      if (!c || c->address().is_v4() != v4)
        throw InputError(what + ": '" + d.pool + "' is not an " + (v4 ? "IPv4" : "IPv6") +
                         " subnet");
      Cidr pool(c->network(), c->prefix());
      out.push_back(pool.str());
      n->pools.push_back(pool);
    }
  };
  add_pools(r.ipv4, true, n->record.pools4);
  add_pools(r.ipv6, false, n->record.pools6);
  if (n->pools.empty())
    throw InputError("the network has no IPv4 or IPv6 subnet; expected --subnet");
  n->options = std::make_shared<const NetworkOptions>(
      parse_network_options(r.generic, checking_context(config_.seed_dir, !n->record.pools4.empty(),
                                                        !n->record.pools6.empty(), hubs_)));
  const auto& o = *n->options;
  bool named = r.generic.count("wgnet.backend") > 0;
  n->record.backend = backends_.resolve(named ? o.backend : config_.default_backend,
                                        named ? "wgnet.backend" : "--backend");
  state_.put_network(n->record);
  {
    std::lock_guard lock(mutex_);
    networks_[r.network_id] = n;
  }
  watch(n->record.backend);
  log::info("network " + short_id(r.network_id) + " created: backend " + n->record.backend +
            ", kdf " + keys::kdf_name(o.kdf) + (o.endpoint ? ", hub " + o.endpoint->str() : "") +
            (o.file_peers.empty()
                 ? ""
                 : ", " + std::to_string(o.file_peers.size()) + " peer(s) from " + o.peers_file) +
            ", mtu " + (o.mtu ? std::to_string(*o.mtu) : "from the path to the hub") +
            (o.psk ? ", psk derived" : "") + (o.article_names ? " (article option names)" : ""));
  if (o.seed)
    log::warn("network " + short_id(r.network_id) +
              ": the seed is given inline and is visible to `docker network inspect`; prefer "
              "wgnet.seed-file");
}

void WgDriver::delete_network(const std::string& network_id) {
  if (!network(network_id)) return;
  // Docker deletes endpoints first; anything left is removed here, device before record.
  for (const auto& e : endpoints_.records())
    if (e.network_id == network_id) delete_endpoint({network_id, e.endpoint_id});
  state_.delete_network(network_id);
  {
    std::lock_guard lock(mutex_);
    networks_.erase(network_id);
  }
  log::info("network " + short_id(network_id) + " deleted");
}

void WgDriver::create_endpoint(const CreateEndpointRequest& r) {
  auto n = network(r.network_id);
  if (!n)
    throw InputError("network " + short_id(r.network_id) +
                     " is not known to wgnet (its state was lost?); remove and re-create the "
                     "network");
  if (r.endpoint_id.empty()) throw InputError("CreateEndpoint: EndpointID is empty");
  if (!r.mac_address.empty())
    throw InputError("a MAC address (" + r.mac_address +
                     ") cannot be set: a WireGuard interface has none; remove --mac-address");
  auto a4 = parse_cidr(r.address, "Interface.Address");
  auto a6 = parse_cidr(r.address_ipv6, "Interface.AddressIPv6");
  if (!a4 && !a6) throw InputError("the endpoint has no IP address; wgnet derives the key from it");
  check_in_pools(a4, true, n->pools, "Interface.Address");
  check_in_pools(a6, false, n->pools, "Interface.AddressIPv6");
  auto options = options_of(*n);

  for (;;) {
    if (auto [entry, op] = lock_endpoint(r.endpoint_id); entry) {
      auto existing = endpoints_.record(entry);
      if (existing.address4 == r.address && existing.address6 == r.address_ipv6)
        return;  // a retried request for an endpoint that is complete
      throw InputError("endpoint " + short_id(r.endpoint_id) + " exists with other addresses");
    }
    EndpointRecord e;
    e.network_id = r.network_id;
    e.endpoint_id = r.endpoint_id;
    e.address4 = r.address;
    e.address6 = r.address_ipv6;
    e.backend = n->record.backend;
    EndpointTable::Entry entry;
    std::unique_lock<std::mutex> op;
    {
      // Picking the name and entering it in the table happen together: no other create can take
      // the same name in between.
      std::lock_guard lock(mutex_);
      e.ifname = pick_name(r.endpoint_id);
      std::tie(entry, op) = endpoints_.insert_creating(e);
    }
    if (!entry) continue;  // a concurrent create of the same endpoint: wait for it
    try {
      // Recorded first: a crash after the device exists leaves a record that restore can match.
      state_.put_endpoint(e);
      auto setup = setup_for(*n, e);
      e.handle = backends_.get(e.backend).create(e.ifname, setup.config, setup.mtu);
      state_.set_handle(e.endpoint_id, e.handle);
    } catch (...) {
      try {
        if (!e.handle.empty()) backends_.get(e.backend).remove(ref(e));
        state_.delete_endpoint(r.endpoint_id);
      } catch (const std::exception& x) {
        log::error(std::string("endpoint ") + short_id(r.endpoint_id) +
                   ": cleaning up: " + x.what());
      }
      endpoints_.erase(entry);
      throw;
    }
    endpoints_.update(entry, [&](EndpointRecord& rec) { rec.handle = e.handle; });
    entry->phase = EndpointEntry::Phase::kReady;
    entry->completed_here = true;
    log::info("endpoint " + short_id(r.endpoint_id) + " on network " + short_id(r.network_id) +
              ": " + e.ifname + " (" + e.backend + ") for " + (a4 ? a4->str() : "") +
              (a4 && a6 ? " " : "") + (a6 ? a6->str() : ""));
    return;
  }
}

std::map<std::string, std::string> WgDriver::endpoint_info(const EndpointRef& r) {
  // Never waits for an operation on the endpoint: Docker calls this on every inspect.
  auto entry = endpoints_.find(r.endpoint_id);
  if (!entry) return {};
  auto e = endpoints_.record(entry);
  return {{"wgnet.interface", e.ifname}, {"wgnet.backend", e.backend}};
}

void WgDriver::delete_endpoint(const EndpointRef& r) {
  auto [entry, op] = lock_endpoint(r.endpoint_id);
  if (!entry) return;  // never known, or deleted already: Docker may ask twice
  remove_endpoint(entry, "");
}

JoinResponse WgDriver::join(const JoinRequest& r) {
  auto n = network(r.network_id);
  auto [entry, op] = lock_endpoint(r.endpoint_id);
  if (!n || !entry)
    throw InputError("endpoint " + short_id(r.endpoint_id) + " is not known to wgnet");
  auto e = endpoints_.record(entry);
  auto options = options_of(*n);
  // A device this process did not complete (restored from state: wgnetd may have died between
  // creating and configuring it, or it was lost meanwhile) is made complete here: fail closed.
  auto& backend = backends_.get(e.backend);
  if (!backend.exists(ref(e))) {
    log::warn("endpoint " + short_id(e.endpoint_id) + ": rebuilding missing device " + e.ifname);
    backend.remove(ref(e));
    auto setup = setup_for(*n, e);
    e.handle = backend.create(e.ifname, setup.config, setup.mtu);
    state_.set_handle(e.endpoint_id, e.handle);
  } else if (!entry->completed_here) {
    auto setup = setup_for(*n, e);
    backend.configure(ref(e), setup.config, setup.mtu);
  }
  state_.set_sandbox(e.endpoint_id, r.sandbox_key);
  endpoints_.update(entry, [&](EndpointRecord& rec) {
    rec.handle = e.handle;
    rec.sandbox = r.sandbox_key;
  });
  entry->completed_here = true;
  entry->sandbox_seen = false;
  entry->joined_at = std::chrono::steady_clock::now();
  JoinResponse resp;
  resp.src_name = e.ifname;
  resp.dst_prefix = "wg";
  resp.disable_gateway_service = true;
  for (const auto& c : routes_for(*options, e)) resp.static_routes.push_back({c.str(), 1});
  return resp;
}

void WgDriver::leave(const EndpointRef& r) {
  auto [entry, op] = lock_endpoint(r.endpoint_id);
  if (!entry) return;
  unpublish_locked(entry);  // Docker 28 revokes first; 20.10 and 26 never programmed
  state_.set_sandbox(r.endpoint_id, "");
  endpoints_.update(entry, [](EndpointRecord& rec) { rec.sandbox.clear(); });
}

void WgDriver::sweep() {
  for (const auto& e : endpoints_.records()) {
    if (stopping_) return;
    if (e.sandbox.empty()) continue;
    auto [entry, op] = lock_endpoint(e.endpoint_id);
    if (!entry) continue;
    auto now = endpoints_.record(entry);
    if (!container_gone(entry, now)) continue;
    try {
      remove_endpoint(entry, "its container is gone: " + now.sandbox + " no longer exists");
    } catch (const std::exception& x) {
      log::warn("endpoint " + short_id(now.endpoint_id) + ": removing it: " + x.what());
    }
  }
}

void WgDriver::sweeper_loop() {
  std::unique_lock lock(sweeper_mutex_);
  while (!stopping_) {
    sweeper_wake_.wait_for(lock, config_.sweep_interval, [&] { return stopping_.load(); });
    if (stopping_) return;
    lock.unlock();
    try {
      sweep();
    } catch (const std::exception& x) {
      log::warn(std::string("sweep: ") + x.what());
    }
    lock.lock();
  }
}

}  // namespace wgnet::driver
