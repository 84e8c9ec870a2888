// Every table access and every engine call happens under the supervisor's lock (with_engine,
// locked): a replacement engine gets the devices as they are, and no call sees it half-fed.
#include "wg/engine_process_backend.h"

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <variant>

#include "crypto/secure.h"
#include "netlink/rtnl.h"
#include "util/error.h"
#include "util/log.h"
#include "wgconf/apply_ops.h"
#include "wgconf/uapi_codec.h"

namespace wgnet::wg {

namespace rtnl = netlink::rtnl;
namespace control = engine::control;

namespace {

// The most devices one engine hands back: a hub's worth of containers, and a bound.
constexpr size_t kMaxExported = 65536;

control::UdpBinding binding_of(const engine::UdpBindLinux& udp) {
  const engine::UdpFeatures f = udp.features();
  return {udp.port(), f.gro, f.gso, f.ipv6};
}

std::vector<int> udp_fds(const engine::UdpBindLinux& udp) {
  std::vector<int> fds{udp.fd4()};
  if (udp.fd6() >= 0) fds.push_back(udp.fd6());
  return fds;
}

// The configuration as the engine gets it: on the port of the sockets it is handed.
DeviceConfig on_port(DeviceConfig config, uint16_t port) {
  config.listen_port = port;
  return config;
}

}  // namespace

EngineProcessBackend::EngineProcessBackend(Options options)
    : uapi_dir_(options.uapi_dir),
      tun_owner_(options.tun_owner),
      outlive_(!options.process.listen_path.empty()) {
  if (!uapi_dir_.empty())
    uapi_ = std::make_unique<engine::UapiServer>(uapi_dir_, engine::UapiServer::Limits{});
  EngineSupervisor::Hooks hooks;
  hooks.started = [this](EngineClient& engine) {
    // Supervisor lock held: the table is ours. A device the new engine refuses is not served:
    // reported lost (after the lock), so the driver rebuilds it.
    std::vector<control::DeviceLost> refused;
    for (auto& [name, d] : devices_) {
      if (d.lost) continue;
      if (d.imported) {
        // Its configuration was never computed here (no adopt yet): rebuilt instead.
        d.lost = true;
        refused.push_back({name, "taken over without a configuration, not handed on"});
        continue;
      }
      try {
        hand_over(engine, name, d);
      } catch (const EngineRefused& e) {
        d.lost = true;
        refused.push_back({name, std::string("the new engine process refused it: ") + e.what()});
      }
    }
    if (!devices_.empty())
      log::info("engine: handed " + std::to_string(devices_.size() - refused.size()) + " of " +
                std::to_string(devices_.size()) + " devices to the new engine process");
    return refused;
  };
  hooks.lost = [this](const control::DeviceLost& e) { lost(e.name, e.why); };
  supervisor_ = std::make_unique<EngineSupervisor>(std::move(options.process), std::move(hooks));
  if (supervisor_->took_over()) import_devices();
  supervisor_->start();  // from now on its hooks may run
}

void EngineProcessBackend::import_devices() {
  std::vector<EngineClient::Exported> exported;
  try {
    supervisor_->with_engine(
        [&](EngineClient& engine) { exported = engine.export_devices(kMaxExported); });
  } catch (const std::exception& e) {
    // Replaced now, before any device is adopted: its devices are then re-attached as after a
    // crash (a dying engine would still hold them while adopt() tries).
    supervisor_->replace_unstarted(std::string("it did not hand its devices back: ") + e.what());
    return;
  }
  size_t taken = 0;
  for (auto& x : exported) {
    const std::string& name = x.device.name;
    try {
      // Untrusted: each descriptor must be what the engine says it is.
      if (devices_.count(name)) throw SystemError("exported twice");
      struct stat st {};
      if (::fstat(x.fds[0].get(), &st) != 0 || !S_ISCHR(st.st_mode) ||
          st.st_rdev != makedev(10, 200))
        throw SystemError("its TUN descriptor is not /dev/net/tun");
      ifreq ifr{};
      if (::ioctl(x.fds[0].get(), TUNGETIFF, &ifr) != 0 || !(ifr.ifr_flags & IFF_TUN))
        throw SystemError("its TUN descriptor is attached to no TUN device");
      engine::UdpFeatures features;
      features.gro = x.device.udp.gro;
      features.gso = x.device.udp.gso;
      features.ipv6 = x.device.udp.ipv6;
      Device d;
      d.udp = engine::UdpBindLinux::adopt(std::move(x.fds[1]),
                                          x.device.udp.ipv6 ? std::move(x.fds[2]) : Fd(),
                                          x.device.udp.port, features);
      d.tun.fd = std::move(x.fds[0]);
      d.tun.features.vnet_hdr = x.device.tun.vnet_hdr;
      d.tun.features.tso = x.device.tun.tso;
      d.tun.features.uso = x.device.tun.uso;
      d.tun.mtu = x.device.mtu;
      d.imported = true;
      supervisor_->locked([&] { devices_.emplace(name, std::move(d)); });
      taken++;
    } catch (const std::exception& e) {
      log::error("engine: device " + name +
                 " handed back by the engine process is refused: " + e.what());
      try {  // not served from now on: its descriptors are free to be re-attached
        supervisor_->with_engine(
            [&](EngineClient& engine) { engine.call_ok(control::RemoveDevice{name}); });
      } catch (const std::exception&) {
      }
    }
  }
  log::info("engine: " + std::to_string(taken) + " device(s) taken over from the engine process");
}

EngineProcessBackend::~EngineProcessBackend() {
  if (uapi_) uapi_->shutdown();  // no `wg` call reaches the engine any more
  supervisor_->stop();           // no hook runs any more; the engine ends
}

std::unique_ptr<engine::UdpBindLinux> EngineProcessBackend::open_udp(uint16_t port,
                                                                     uint32_t fwmark) {
  engine::UdpOptions o;
  o.mark = fwmark;
  return engine::UdpBindLinux::open(port, o);
}

void EngineProcessBackend::hand_over(EngineClient& engine, const std::string& name,
                                     const Device& d) {
  control::AddDevice add;
  add.name = name;
  add.mtu = d.tun.mtu;
  add.tun = {d.tun.features.vnet_hdr, d.tun.features.tso, d.tun.features.uso};
  add.udp = binding_of(*d.udp);
  add.config = on_port(d.config, d.udp->port());
  std::vector<int> fds{d.tun.fd.get()};
  for (int fd : udp_fds(*d.udp)) fds.push_back(fd);
  engine.call_ok(add, fds);
}

void EngineProcessBackend::add(const std::string& name, Device d) {
  supervisor_->with_engine([&](EngineClient& engine) {
    if (devices_.count(name)) throw InputError("engine: device " + name + " exists already");
    hand_over(engine, name, d);
    devices_.emplace(name, std::move(d));
  });
  serve_uapi(name);
}

void EngineProcessBackend::serve_uapi(const std::string& name) {
  if (!uapi_) return;
  try {
    engine::UapiServer::Handlers h;
    h.set = [this, name](std::string_view body) { return uapi_set(name, body); };
    h.get = [this, name] { return uapi_get(name); };
    uapi_->add(name, std::move(h));
  } catch (const std::exception& e) {
    log::warn("engine: no UAPI socket for " + name + ": " + e.what());
  }
}

std::string EngineProcessBackend::create(const std::string& ifname, const DeviceConfig& config,
                                         uint32_t mtu) {
  rtnl::check_ifname(ifname);
  if (rtnl::ifindex(ifname))
    throw SystemError("a network device named " + ifname + " already exists");
  Device d;
  d.tun = engine::TunLinux::release(
      engine::TunLinux::create(engine_links::tun_options(ifname, mtu, tun_owner_)));
  try {
    d.udp = open_udp(config.listen_port.value_or(0), config.fwmark);
    d.config = config;
    const uint16_t port = d.udp->port();
    add(ifname, std::move(d));
    return "port=" + std::to_string(port);
  } catch (...) {
    // A persistent TUN stays when its descriptors close: delete it, leave nothing behind.
    d.tun.fd.reset();
    engine_links::delete_link(ifname, "");
    throw;
  }
}

void EngineProcessBackend::configure(const DeviceRef& device, const DeviceConfig& config,
                                     uint32_t mtu) {
  supervisor_->with_engine([&](EngineClient& engine) {
    auto it = devices_.find(device.ifname);
    if (it == devices_.end()) throw InputError("engine: no device " + device.ifname);
    Device& d = it->second;
    control::Configure c;
    c.name = device.ifname;
    std::unique_ptr<engine::UdpBindLinux> udp;
    if (config.listen_port && *config.listen_port != d.udp->port()) {
      udp = open_udp(*config.listen_port, config.fwmark);
      c.rebind = binding_of(*udp);
    } else if (config.fwmark != d.config.fwmark) {
      d.udp->set_mark(config.fwmark);
    }
    const engine::UdpBindLinux& now = udp ? *udp : *d.udp;
    c.config = on_port(config, now.port());
    engine.call_ok(c, udp ? udp_fds(*udp) : std::vector<int>{});
    if (udp) d.udp = std::move(udp);
    d.config = config;
    if (mtu && mtu != d.tun.mtu) {
      engine.call_ok(control::SetMtu{device.ifname, mtu});
      d.tun.mtu = mtu;
    }
  });
  if (mtu) engine_links::set_mtu(device.ifname, device.netns, mtu);
}

void EngineProcessBackend::remove(const DeviceRef& device) {
  if (uapi_) uapi_->remove(device.ifname);
  // Out of the table first: an engine started from now on does not get it.
  std::optional<Device> gone;
  supervisor_->locked([&] {
    auto it = devices_.find(device.ifname);
    if (it == devices_.end()) return;
    gone = std::move(it->second);
    devices_.erase(it);
  });
  {
    // Also when the table does not have it: an engine taken over may still serve it (a device it
    // did not hand back, lost, or refused).
    try {
      remove_from_engine(device.ifname);
    } catch (const std::exception& e) {
      // No engine to tell (it is being replaced, and the new one does not get it).
      log::warn("engine: removing " + device.ifname + ": " + e.what());
    }
  }
  if ((!gone || gone->imported) && !uapi_dir_.empty())
    // Not served since a restart (its container went while wgnetd was down): the UAPI socket the
    // killed wgnetd left.
    engine::UapiServer::remove_stale(uapi_dir_, device.ifname);
  gone.reset();  // our descriptors: the persistent device stays until deleted
  // Docker moves the link back to the host before DeleteEndpoint; a recovery may find it still in
  // its container.
  engine_links::delete_link(device.ifname, "");
  if (!device.netns.empty()) engine_links::delete_link(device.ifname, device.netns);
}

bool EngineProcessBackend::exists(const DeviceRef& device) {
  bool there = false;
  supervisor_->locked([&] {
    auto it = devices_.find(device.ifname);
    there = it != devices_.end() && !it->second.lost;
  });
  return there;
}

DeviceStatus EngineProcessBackend::status(const DeviceRef& device) {
  std::string text = uapi_get(device.ifname);
  crypto::ScopedWipe wipe(text);
  DeviceStatus s = uapi::decode_get(text);
  s.private_key.reset();
  for (auto& p : s.peers) p.preshared_key.reset();
  return s;
}

int EngineProcessBackend::uapi_set(const std::string& name, std::string_view body) {
  int result = 0;
  try {
    supervisor_->with_engine([&](EngineClient& engine) {
      auto it = devices_.find(name);
      if (it == devices_.end()) {
        result = -ENODEV;
        return;
      }
      Device& d = it->second;
      // The two operations that need wgnetd's privileges: a new port (new sockets, opened here)
      // and a fwmark (set on our sockets, which the engine's are).
      std::optional<uint16_t> port;
      std::optional<uint32_t> mark;
      const uapi::SetRequest parsed = uapi::parse_set(body);
      if (parsed.error != 0) {
        // Refused whole, before anything changes (wireguard-go applies the lines before a bad
        // one; `wg` never sends one): wgnetd's sockets and the engine stay as they are.
        result = parsed.error;
        return;
      }
      for (const auto& op : parsed.ops) {
        if (op.kind == uapi::SetOp::Kind::kListenPort) port = static_cast<uint16_t>(op.number);
        if (op.kind == uapi::SetOp::Kind::kFwmark) mark = op.number;
      }
      control::UapiSet set;
      set.name = name;
      // The UAPI server hands the lines without the blank one that ended them; the control
      // protocol carries a set body as the socket did, ended by it.
      std::string framed;
      crypto::ScopedWipe wipe_framed(framed);
      framed.reserve(body.size() + 2);  // no reallocation leaves a copy of the keys behind
      framed.append(body);
      if (!framed.empty() && framed.back() != '\n') framed += '\n';  // cut short by EOF
      framed += '\n';
      set.body = crypto::SecretBytes(
          std::span(reinterpret_cast<const uint8_t*>(framed.data()), framed.size()));
      std::unique_ptr<engine::UdpBindLinux> udp;
      if (port && *port != d.udp->port()) {
        try {
          udp = open_udp(*port, mark.value_or(d.config.fwmark));
        } catch (const std::exception& e) {
          log::warn("engine: " + name + ": wg set listen-port " + std::to_string(*port) + ": " +
                    e.what());
          result = -EADDRINUSE;
          return;
        }
        set.rebind = binding_of(*udp);
      }
      try {
        engine.call_ok(control::Request(std::move(set)), udp ? udp_fds(*udp) : std::vector<int>{});
      } catch (const EngineRefused& e) {
        result = e.error();
        return;
      }
      if (udp) d.udp = std::move(udp);
      if (mark && *mark != d.config.fwmark) d.udp->set_mark(*mark);  // the engine's sockets too
      // What `wg set` changed must outlive this engine: wgnetd applies the request to its own copy
      // of the configuration, which a replacement is given (computed from the user's request, not
      // taken from what an engine, maybe compromised, says it has), until wgnetd configures the
      // device again.
      apply_ops(d.config, parsed.ops);
      d.config.listen_port = d.udp->port();
    });
  } catch (const std::exception& e) {
    log::warn("engine: wg set " + name + ": " + e.what());
    return -EIO;
  }
  return result;
}

std::string EngineProcessBackend::uapi_get(const std::string& name) {
  std::string out;
  supervisor_->with_engine([&](EngineClient& engine) {
    const control::FromEngine m = engine.call(control::Get{name});
    const auto* reply = std::get_if<control::GetReply>(&m);
    if (!reply) engine.protocol_error("answered Get with another message");
    if (reply->status.error != 0) {
      out = uapi::encode_errno(reply->status.error);
      return;
    }
    out.assign(reinterpret_cast<const char*>(reply->uapi.data()), reply->uapi.size());
  });
  return out;
}

void EngineProcessBackend::lost(const std::string& name, const std::string& why) {
  bool known = false;
  supervisor_->locked([&] {
    auto it = devices_.find(name);
    if (it == devices_.end()) return;
    it->second.lost = true;
    known = true;
  });
  if (!known) return;
  log::error("engine: device " + name + " is gone (" + why + ")");
  lost_.report(name);
}

void EngineProcessBackend::on_lost(LostHandler handler) { lost_.set(std::move(handler)); }

void EngineProcessBackend::remove_from_engine(const std::string& name) {
  supervisor_->with_engine([&](EngineClient& engine) {
    try {
      engine.call_ok(control::RemoveDevice{name});
    } catch (const EngineRefused& e) {
      if (e.error() != -ENODEV) throw;
    }
  });
}

void EngineProcessBackend::restored(
    const std::function<bool(const std::string& ifname)>& in_state) {
  std::vector<std::pair<std::string, Device>> unclaimed;
  supervisor_->locked([&] {
    for (auto it = devices_.begin(); it != devices_.end();) {
      if (it->second.imported && !in_state(it->first)) {
        unclaimed.emplace_back(it->first, std::move(it->second));
        it = devices_.erase(it);
      } else {
        ++it;
      }
    }
  });
  for (auto& [name, d] : unclaimed) {
    log::warn("engine: " + name +
              ", handed back by the engine taken over, belongs to no endpoint in the state; "
              "deleted");
    try {
      // The engine said this descriptor is that device's: only a TUN of that name loses its
      // persistence (a descriptor of another, served device must not).
      if (engine_links::tun_name(d.tun.fd.get()) != name)
        log::error("engine: the engine process handed back another TUN as " + name +
                   "; only removed from the engine");
      else if (::ioctl(d.tun.fd.get(), TUNSETPERSIST, 0ul) != 0)
        throw SystemError("TUNSETPERSIST: " + errno_text(errno));
      remove_from_engine(name);
    } catch (const std::exception& e) {
      log::warn("engine: deleting " + name + ": " + e.what());
    }
    if (!uapi_dir_.empty()) engine::UapiServer::remove_stale(uapi_dir_, name);
  }
}

bool EngineProcessBackend::adopt(const DeviceRef& device, const std::optional<DeviceConfig>& config,
                                 uint32_t mtu) {
  bool have = false, alive = false, imported = false;
  supervisor_->locked([&] {
    auto it = devices_.find(device.ifname);
    have = it != devices_.end();
    alive = have && !it->second.lost;
    imported = alive && it->second.imported;
  });
  if (imported) {
    // Carried by the engine all along: the configuration computed now replaces the earlier
    // wgnetd's (changes made while wgnetd was down land here). Without one (a seed missing now) it
    // is not served on: rebuilt, as the in-process engine's devices are. The engine said which
    // descriptors are this device's: they must be (same TUN, in its container), else another
    // device's keys would go to them.
    bool same = false;
    try {
      supervisor_->locked([&] {
        same = engine_links::is_device(devices_.at(device.ifname).tun.fd.get(), device.ifname,
                                       device.netns);
      });
    } catch (const std::exception& e) {
      log::warn("engine: checking " + device.ifname + " taken over: " + e.what());
    }
    if (!config || !same) {
      if (!same)
        log::error("engine: the engine process handed back another TUN as " + device.ifname +
                   "; it is rebuilt");
      return false;
    }
    try {
      // Its sockets' mark as the configuration says (the earlier wgnetd's is not known here).
      supervisor_->locked([&] { devices_.at(device.ifname).udp->set_mark(config->fwmark); });
      configure(device, *config, 0);
    } catch (const std::exception& e) {
      log::warn("engine: configuring " + device.ifname + " taken over: " + e.what());
      return false;
    }
    supervisor_->locked([&] {
      if (auto it = devices_.find(device.ifname); it != devices_.end()) it->second.imported = false;
    });
    serve_uapi(device.ifname);
    log::info("engine: took over " + device.ifname + " (served all along)");
    return true;
  }
  if (have) return alive;
  if (!config) return false;  // nothing to serve it with (its seed is missing): not carried
  std::unique_ptr<engine::TunLinux> tun;
  try {
    // The device keeps its MTU (Docker may have changed nothing, but an operator may).
    tun = engine_links::reattach(device.ifname, device.netns, tun_owner_);
  } catch (const std::exception& e) {
    log::warn("engine: re-attaching " + device.ifname + ": " + e.what());
    return false;
  }
  if (!tun) return false;
  Device d;
  d.tun = engine::TunLinux::release(std::move(tun));
  d.config = *config;
  const uint16_t recorded =
      config->listen_port.value_or(engine_links::port_of(device.handle).value_or(0));
  try {
    d.udp = open_udp(recorded, config->fwmark);
  } catch (const SystemError& e) {
    // The recorded port may be taken by now: any port will do, the peer learns the new one.
    log::warn("engine: " + device.ifname + ": " + e.what() + "; trying another port");
    d.udp = open_udp(0, config->fwmark);
  }
  add(device.ifname, std::move(d));
  (void)mtu;
  log::info("engine: re-attached " + device.ifname +
            (device.netns.empty() ? "" : " inside " + device.netns));
  return true;
}

}  // namespace wgnet::wg
