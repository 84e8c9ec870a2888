// The order of operations is what makes wgnet fail closed and restart-safe: validate everything,
// record the endpoint, build the device completely, and only then answer Docker.
#include "driver/driver.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "crypto/secure.h"
#include "keys/derive.h"
#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/log.h"
#include "util/netns.h"

namespace wgnet::driver {

namespace {

std::string short_id(const std::string& id) { return id.substr(0, 12); }

std::optional<Cidr> parse_cidr(const std::string& text, const std::string& what) {
  if (text.empty()) return std::nullopt;
  auto c = Cidr::parse(text);
  if (!c) throw InputError(what + ": '" + text + "' is not a CIDR address");
  return c;
}

NetworkOptions parse_stored(const NetworkRecord& rec, const std::string& seed_dir,
                            bool check_environment) {
  OptionContext ctx{seed_dir, !rec.pools6.empty(), check_environment};
  return parse_network_options(rec.options, ctx);
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

}  // namespace

WgDriver::WgDriver(StateStore& state, wg::Backends& backends, DriverConfig config)
    : state_(state), backends_(backends), config_(std::move(config)) {}

WgDriver::~WgDriver() {
  for (const auto& name : watched_backends_) {
    try {
      backends_.get(name).on_lost(nullptr);
    } catch (const std::exception&) {
    }
  }
}

void WgDriver::watch(const std::string& backend) {
  {
    std::lock_guard lock(mutex_);
    if (!watched_backends_.insert(backend).second) return;
  }
  backends_.get(backend).on_lost([this](const std::string& ifname) { recover(ifname); });
}

std::vector<Cidr> WgDriver::routes_for(const NetworkOptions& o, const EndpointRecord& e) {
  auto a4 = parse_cidr(e.address4, "address"), a6 = parse_cidr(e.address6, "address");
  std::vector<Cidr> out;
  for (const auto& c : o.allowed_ips) {
    const auto& mine = c.address().is_v4() ? a4 : a6;
    if (!mine) continue;  // no address of that family: the route could not be added
    // Docker already adds the pool's connected route with the address; a duplicate would fail.
    if (Cidr(mine->network(), mine->prefix()) == c) continue;
    out.push_back(c);
  }
  return out;
}

void WgDriver::recover(const std::string& ifname) {
  std::string endpoint_id;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, e] : endpoints_)
      if (e.ifname == ifname && !e.sandbox.empty()) endpoint_id = id;
  }
  if (endpoint_id.empty()) return;  // not in a container: Join rebuilds it when needed
  auto ep_lock = endpoint_lock(endpoint_id);
  std::lock_guard ep_guard(*ep_lock);
  EndpointRecord e;
  {
    std::lock_guard lock(mutex_);
    auto it = endpoints_.find(endpoint_id);
    if (it == endpoints_.end() || it->second.sandbox.empty()) return;  // left meanwhile
    e = it->second;
  }
  auto n = network(e.network_id);
  if (!n) return;
  auto& backend = backends_.get(e.backend);
  try {
    auto options = options_of(*n);
    backend.remove(e.ifname);  // what the dead process left (its UAPI socket)
    backend.create(e.ifname, device_config(*n, *options, e), options->mtu);
    // Docker named it DstPrefix + the lowest free number; the old one is gone, so the same.
    std::string inside;
    netns::run_in(e.sandbox, [&] {
      for (int i = 0; inside.empty(); i++)
        if (!netlink::rtnl::ifindex("wg" + std::to_string(i))) inside = "wg" + std::to_string(i);
    });
    Fd ns(::open(e.sandbox.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) throw SystemError("cannot open " + e.sandbox + ": " + std::strerror(errno));
    netlink::rtnl::move_link(e.ifname, ns.get(), inside);
    netns::run_in(e.sandbox, [&] {
      if (auto a = parse_cidr(e.address4, "address")) netlink::rtnl::add_address(inside, *a);
      if (auto a = parse_cidr(e.address6, "address")) netlink::rtnl::add_address(inside, *a);
      netlink::rtnl::set_up(inside, true);
      for (const auto& c : routes_for(*options, e)) netlink::rtnl::add_route(inside, c);
    });
    log::info("endpoint " + short_id(e.endpoint_id) + ": tunnel restored as " + inside +
              " in its container");
  } catch (const std::exception& x) {
    log::error("endpoint " + short_id(e.endpoint_id) + ": cannot restore its tunnel: " + x.what() +
               "; restart the container");
    try {
      backend.remove(e.ifname);
    } catch (const std::exception&) {
    }
  }
}

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
  auto o = std::make_shared<const NetworkOptions>(parse_stored(n.record, config_.seed_dir, true));
  std::lock_guard lock(mutex_);
  if (!n.options) {
    n.options = o;
    log::info("network " + short_id(n.record.id) + ": its options validate again");
  }
  return n.options;
}

std::shared_ptr<std::mutex> WgDriver::endpoint_lock(const std::string& endpoint_id) {
  std::lock_guard lock(mutex_);
  auto& m = endpoint_locks_[endpoint_id];
  if (!m) m = std::make_shared<std::mutex>();
  return m;
}

void WgDriver::restore() {
  for (auto& rec : state_.networks()) {
    auto n = std::make_shared<Network>();
    n->record = rec;
    for (const auto& p : rec.pools4) n->pools.push_back(*Cidr::parse(p));
    for (const auto& p : rec.pools6) n->pools.push_back(*Cidr::parse(p));
    try {
      n->options =
          std::make_shared<const NetworkOptions>(parse_stored(rec, config_.seed_dir, false));
    } catch (const std::exception& e) {
      log::error("network " + short_id(rec.id) +
                 ": its options do not validate now (retried on "
                 "use): " +
                 e.what());
    }
    networks_[rec.id] = n;
  }
  for (auto& e : state_.endpoints()) endpoints_[e.endpoint_id] = e;
  for (auto& [id, n] : networks_) {
    try {
      watch(n->record.backend);
    } catch (const std::exception& e) {
      log::warn("network " + short_id(id) + ": backend " + n->record.backend + ": " + e.what());
    }
  }
  log::info("restored " + std::to_string(networks_.size()) + " network(s) and " +
            std::to_string(endpoints_.size()) + " endpoint(s) from " + state_.path());
  reconcile();
}

void WgDriver::reconcile() {
  // Devices of wgnet that belong to no endpoint are removed.
  std::set<std::string> known;
  std::set<std::string> backends_in_use;
  for (auto& [id, e] : endpoints_) {
    known.insert(e.ifname);
    backends_in_use.insert(e.backend);
  }
  for (auto& [id, n] : networks_) backends_in_use.insert(n->record.backend);
  for (const auto& name : backends_in_use) {
    try {
      auto& b = backends_.get(backends_.resolve(name, "state"));
      for (const auto& dev : b.list(kIfPrefix))
        if (!known.count(dev)) {
          log::info("reconcile: removing " + dev + " (" + b.name() +
                    "): it belongs to no endpoint");
          b.remove(dev);
        }
    } catch (const std::exception& e) {
      log::warn("reconcile: backend " + name + ": " + e.what());
    }
  }
  try {
    for (const auto& link : netlink::rtnl::list_links())
      if (link.name.rfind(kIfPrefix, 0) == 0 && !known.count(link.name)) {
        log::info("reconcile: deleting link " + link.name + ": it belongs to no endpoint");
        try {
          netlink::rtnl::delete_link(link.name);
        } catch (const std::exception& e) {
          log::warn("reconcile: " + link.name + ": " + e.what());
        }
      }
  } catch (const std::exception& e) {
    log::warn(std::string("reconcile: cannot list links: ") + e.what());
  }
  // An endpoint whose container went away while wgnetd was down: Docker gave up on Leave and
  // DeleteEndpoint and moved the device back to the host namespace (or its sandbox is gone).
  // A joined device is otherwise always inside its container.
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    const auto& e = it->second;
    bool back_home = netlink::rtnl::ifindex(e.ifname).has_value();
    bool sandbox_gone = ::access(e.sandbox.c_str(), F_OK) != 0;
    if (e.sandbox.empty() || (!back_home && !sandbox_gone)) {
      ++it;
      continue;
    }
    log::info("reconcile: endpoint " + short_id(e.endpoint_id) + ": its container is gone (" +
              (back_home ? "the device is back in the host namespace" : e.sandbox + " is gone") +
              "); removing " + e.ifname);
    try {
      backends_.get(e.backend).remove(e.ifname);
      state_.delete_endpoint(e.endpoint_id);
      it = endpoints_.erase(it);
    } catch (const std::exception& x) {
      log::warn("reconcile: " + e.ifname + ": " + x.what());
      ++it;
    }
  }
  // Devices of endpoints not yet joined are rebuilt at Join when missing; a joined one lives in
  // its container's namespace, where only some backends can see it.
  std::vector<std::string> lost_while_down;
  for (auto& [id, e] : endpoints_) {
    try {
      // A joined device whose server died while wgnetd was down is rebuilt into its container.
      if (!backends_.get(e.backend).adopt(e.ifname) && !e.sandbox.empty())
        lost_while_down.push_back(e.ifname);
    } catch (const std::exception& x) {
      log::warn("reconcile: " + e.ifname + ": " + x.what());
    }
    if (!e.sandbox.empty()) continue;
    bool present = false;
    try {
      present = backends_.get(e.backend).exists(e.ifname);
    } catch (const std::exception&) {
    }
    if (!present)
      log::info("endpoint " + short_id(id) + ": device " + e.ifname +
                " is missing; it is rebuilt when the endpoint joins");
  }
  for (const auto& ifname : lost_while_down) recover(ifname);
}

void WgDriver::create_network(const CreateNetworkRequest& r) {
  if (r.network_id.empty()) throw InputError("CreateNetwork: NetworkID is empty");
  if (network(r.network_id)) return;  // a retried request
  auto n = std::make_shared<Network>();
  n->record.id = r.network_id;
  n->record.options = r.generic;
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
  n->options =
      std::make_shared<const NetworkOptions>(parse_stored(n->record, config_.seed_dir, true));
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
            ", mtu " + std::to_string(o.mtu) + (o.psk ? ", psk derived" : "") +
            (o.article_names ? " (article option names)" : ""));
  if (o.seed)
    log::warn("network " + short_id(r.network_id) +
              ": the seed is given inline and is visible to `docker network inspect`; prefer "
              "wgnet.seed-file");
}

void WgDriver::delete_network(const std::string& network_id) {
  std::vector<EndpointRecord> leftovers;
  {
    std::lock_guard lock(mutex_);
    if (!networks_.count(network_id)) return;
    for (auto& [id, e] : endpoints_)
      if (e.network_id == network_id) leftovers.push_back(e);
  }
  // Docker deletes endpoints first; anything left is removed here, device before record.
  for (const auto& e : leftovers) delete_endpoint({network_id, e.endpoint_id});
  state_.delete_network(network_id);
  {
    std::lock_guard lock(mutex_);
    networks_.erase(network_id);
  }
  log::info("network " + short_id(network_id) + " deleted");
}

std::string WgDriver::pick_ifname(const std::string& endpoint_id) {
  // Caller holds mutex_. "wgnet-" + 8 hex of the endpoint ID = 14 bytes; on a clash, try further
  // windows of the ID, then a counter.
  auto taken = [&](const std::string& n) {
    if (reserved_ifnames_.count(n)) return true;
    for (auto& [id, e] : endpoints_)
      if (e.ifname == n) return true;
    return netlink::rtnl::ifindex(n).has_value();
  };
  std::string hex;
  for (char c : endpoint_id)
    if (std::isxdigit(static_cast<unsigned char>(c)))
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (size_t off = 0; off + 8 <= hex.size(); off += 8) {
    std::string n = kIfPrefix + hex.substr(off, 8);
    if (!taken(n)) return n;
  }
  for (unsigned i = 0; i < 100000000; i++) {
    std::string n = kIfPrefix + std::to_string(i);
    if (!taken(n)) return n;
  }
  throw SystemError("no free interface name");
}

wg::DeviceConfig WgDriver::device_config(Network& n, const NetworkOptions& o,
                                         const EndpointRecord& e) {
  const std::string& text = e.address4.empty() ? e.address6 : e.address4;
  auto addr = IpAddress::parse(text.substr(0, text.find('/')));
  if (!addr) throw SystemError("endpoint " + short_id(e.endpoint_id) + " has no usable address");
  keys::Deriver d(o.kdf, load_seed(o), o.additional,
                  o.seed_file.empty() ? "wgnet.seed" : "wgnet.seed-file");
  wg::DeviceConfig c;
  c.private_key = d.private_key(*addr);
  c.replace_peers = true;
  if (o.endpoint) {
    wg::PeerConfig hub;
    hub.public_key = *o.endpoint_key;
    try {
      hub.endpoint = resolve(*o.endpoint, "wgnet.endpoint");
      std::lock_guard lock(mutex_);
      n.last_hub_address = hub.endpoint;
    } catch (const InputError& err) {
      std::lock_guard lock(mutex_);
      if (!n.last_hub_address) throw;
      log::warn(std::string(err.what()) + "; using its last address " + n.last_hub_address->str());
      hub.endpoint = n.last_hub_address;
    }
    hub.persistent_keepalive = o.keepalive;
    hub.allowed_ips = o.allowed_ips;
    if (o.psk) hub.preshared_key = d.preshared_key(*addr);
    c.peers.push_back(std::move(hub));
  }
  for (const auto& fp : o.file_peers) {
    wg::PeerConfig p = fp.config;
    if (fp.endpoint) p.endpoint = resolve(*fp.endpoint, "wgnet.peers-file Endpoint");
    if (p.persistent_keepalive == 0 && fp.endpoint) p.persistent_keepalive = o.keepalive;
    c.peers.push_back(std::move(p));
  }
  return c;
}

void WgDriver::create_endpoint(const CreateEndpointRequest& r) {
  auto n = network(r.network_id);
  if (!n)
    throw InputError("network " + short_id(r.network_id) +
                     " is not known to wgnet (its state was lost?); remove and re-create the "
                     "network");
  if (!r.mac_address.empty())
    throw InputError("a MAC address (" + r.mac_address +
                     ") cannot be set: a WireGuard interface has none; remove --mac-address");
  auto a4 = parse_cidr(r.address, "Interface.Address");
  auto a6 = parse_cidr(r.address_ipv6, "Interface.AddressIPv6");
  if (!a4 && !a6) throw InputError("the endpoint has no IP address; wgnet derives the key from it");
  check_in_pools(a4, true, n->pools, "Interface.Address");
  check_in_pools(a6, false, n->pools, "Interface.AddressIPv6");
  auto options = options_of(*n);

  auto ep_lock = endpoint_lock(r.endpoint_id);
  std::lock_guard ep_guard(*ep_lock);
  EndpointRecord e;
  {
    std::lock_guard lock(mutex_);
    if (auto it = endpoints_.find(r.endpoint_id); it != endpoints_.end()) {
      if (it->second.address4 == r.address && it->second.address6 == r.address_ipv6)
        return;  // a retried request for an endpoint that is complete
      throw InputError("endpoint " + short_id(r.endpoint_id) + " exists with other addresses");
    }
    e.network_id = r.network_id;
    e.endpoint_id = r.endpoint_id;
    e.address4 = r.address;
    e.address6 = r.address_ipv6;
    e.backend = n->record.backend;
    e.ifname = pick_ifname(r.endpoint_id);
    reserved_ifnames_.insert(e.ifname);
  }
  try {
    // Recorded first: a crash after the device exists leaves a record that restore can match.
    state_.put_endpoint(e);
    backends_.get(e.backend).create(e.ifname, device_config(*n, *options, e), options->mtu);
  } catch (...) {
    {
      std::lock_guard lock(mutex_);
      reserved_ifnames_.erase(e.ifname);
    }
    try {
      state_.delete_endpoint(r.endpoint_id);
    } catch (const std::exception& x) {
      log::error(std::string("state: ") + x.what());
    }
    throw;
  }
  {
    std::lock_guard lock(mutex_);
    reserved_ifnames_.erase(e.ifname);
    endpoints_[r.endpoint_id] = e;
    completed_here_.insert(r.endpoint_id);
  }
  log::info("endpoint " + short_id(r.endpoint_id) + " on network " + short_id(r.network_id) + ": " +
            e.ifname + " (" + e.backend + ") for " + (a4 ? a4->str() : "") + (a4 && a6 ? " " : "") +
            (a6 ? a6->str() : ""));
}

std::map<std::string, std::string> WgDriver::endpoint_info(const EndpointRef& r) {
  std::lock_guard lock(mutex_);
  auto it = endpoints_.find(r.endpoint_id);
  if (it == endpoints_.end()) return {};
  return {{"wgnet.interface", it->second.ifname}, {"wgnet.backend", it->second.backend}};
}

void WgDriver::delete_endpoint(const EndpointRef& r) {
  auto ep_lock = endpoint_lock(r.endpoint_id);
  std::lock_guard ep_guard(*ep_lock);
  EndpointRecord e;
  {
    std::lock_guard lock(mutex_);
    auto it = endpoints_.find(r.endpoint_id);
    if (it == endpoints_.end()) return;
    e = it->second;
  }
  // Device, then record, then memory: a failure leaves the endpoint for Docker's retry.
  backends_.get(e.backend).remove(e.ifname);
  state_.delete_endpoint(e.endpoint_id);
  {
    std::lock_guard lock(mutex_);
    endpoints_.erase(e.endpoint_id);
    endpoint_locks_.erase(e.endpoint_id);
    completed_here_.erase(e.endpoint_id);
  }
  log::info("endpoint " + short_id(e.endpoint_id) + ": " + e.ifname + " deleted");
}

JoinResponse WgDriver::join(const JoinRequest& r) {
  auto n = network(r.network_id);
  auto ep_lock = endpoint_lock(r.endpoint_id);
  std::lock_guard ep_guard(*ep_lock);
  EndpointRecord e;
  {
    std::lock_guard lock(mutex_);
    auto it = endpoints_.find(r.endpoint_id);
    if (!n || it == endpoints_.end())
      throw InputError("endpoint " + short_id(r.endpoint_id) + " is not known to wgnet");
    e = it->second;
  }
  auto options = options_of(*n);
  // A device this process did not complete (restored from state: wgnetd may have died between
  // creating and configuring it, or it was lost meanwhile) is made complete here: fail closed.
  auto& backend = backends_.get(e.backend);
  bool mine;
  {
    std::lock_guard lock(mutex_);
    mine = completed_here_.count(e.endpoint_id) > 0;
  }
  if (!backend.exists(e.ifname)) {
    log::warn("endpoint " + short_id(e.endpoint_id) + ": rebuilding missing device " + e.ifname);
    backend.remove(e.ifname);
    backend.create(e.ifname, device_config(*n, *options, e), options->mtu);
  } else if (!mine) {
    backend.configure(e.ifname, device_config(*n, *options, e), options->mtu);
  }
  state_.set_sandbox(e.endpoint_id, r.sandbox_key);
  {
    std::lock_guard lock(mutex_);
    completed_here_.insert(e.endpoint_id);
    if (auto it = endpoints_.find(r.endpoint_id); it != endpoints_.end())
      it->second.sandbox = r.sandbox_key;
  }
  JoinResponse resp;
  resp.src_name = e.ifname;
  resp.dst_prefix = "wg";
  resp.disable_gateway_service = true;
  for (const auto& c : routes_for(*options, e)) resp.static_routes.push_back({c.str(), 1});
  return resp;
}

void WgDriver::leave(const EndpointRef& r) {
  {
    std::lock_guard lock(mutex_);
    auto it = endpoints_.find(r.endpoint_id);
    if (it == endpoints_.end()) return;
    it->second.sandbox.clear();
  }
  state_.set_sandbox(r.endpoint_id, "");
}

}  // namespace wgnet::driver
